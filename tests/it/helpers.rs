//! Shared test helpers: fresh databases on both backends, paths to fixtures and real data.
#![allow(dead_code)]

use std::path::PathBuf;

use carburoam::db::Db;
use carburoam::domain::StationId;

/// A station id written as a literal in a test.
pub fn sid(n: i64) -> StationId {
    StationId::new(n).expect("a station id")
}

/// Once per test process, what `main` does before anything else: the rustls provider that the
/// HTTP clients (the tests' own and the app's) need. Called by the [`TestDb`] constructors, and
/// by the tests that build a client without a database.
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(carburoam::tls::install_provider);
}

/// A fresh, migrated database that disappears with the value.
pub struct TestDb {
    pub db: Db,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        init();
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("carburoam.db").display());
        let db = Db::connect(&url).await.expect("open sqlite");
        TestDb { db, url, _dir: Some(dir), pg_drop: None }
    }

    /// `None` when `TEST_POSTGRES_URL` is not set.
    pub async fn postgres() -> Option<TestDb> {
        init();
        let admin = std::env::var("TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty())?;
        let name = format!("carburoam_test_{}", uuid::Uuid::new_v4().simple());
        let admin_db = Db::connect_without_migrating(&admin).await.expect("connect TEST_POSTGRES_URL");
        if let Db::Postgres(p) = &admin_db {
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(p)
                .await
                .expect("create test database");
        }
        admin_db.close().await;
        let url = with_database(&admin, &name);
        let db = Db::connect(&url).await.expect("open test database");
        Some(TestDb { db, url, _dir: None, pg_drop: Some((admin, name)) })
    }

    /// The backend named by a test: "sqlite" or "postgres".
    pub async fn for_backend(backend: &str) -> Option<TestDb> {
        match backend {
            "sqlite" => Some(TestDb::sqlite().await),
            "postgres" => TestDb::postgres().await,
            other => panic!("unknown backend {other}"),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg_drop.take() {
            // Best effort, on a thread of its own: Drop cannot await. The test's own pool is not
            // closed here (its runtime may be the one blocked on this join): `WITH (FORCE)` ends
            // its connections on the server side.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                rt.block_on(async move {
                    let admin_db = Db::connect_without_migrating(&admin).await.ok()?;
                    if let Db::Postgres(p) = &admin_db {
                        let _ =
                            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                                .execute(p)
                                .await;
                    }
                    admin_db.close().await;
                    Some(())
                })
            })
            .join();
        }
    }
}

fn with_database(url: &str, name: &str) -> String {
    let mut u = url::Url::parse(url).expect("TEST_POSTGRES_URL is a URL");
    u.set_path(&format!("/{name}"));
    u.to_string()
}

/// Generates `NAME::sqlite` and `NAME::postgres` tests from one async body taking a `TestDb`.
/// The PostgreSQL one passes without running when `TEST_POSTGRES_URL` is unset (CI sets it).
#[macro_export]
macro_rules! db_test {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($db: $crate::helpers::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::helpers::TestDb::sqlite().await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::helpers::TestDb::postgres().await {
                    Some(db) => run(db).await,
                    None => eprintln!("TEST_POSTGRES_URL unset: PostgreSQL variant not run"),
                }
            }
        }
    };
}

/// `../shared/data` beside the project, when it exists (not in a user's clone).
pub fn shared_data() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    p.is_dir().then_some(p)
}

pub fn shared_file(name: &str) -> Option<PathBuf> {
    shared_data().map(|d| d.join(name)).filter(|p| p.is_file())
}

/// Small feed fixtures written in the repository.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}
