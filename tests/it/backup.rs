//! Backups, restore and the cleaning job: the real binary backing up a database it serves and
//! imports into, the restored copy served again, every refusal of `restore`, the retention of
//! scheduled backups, and the rows the cleaning job deletes on both backends.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use carburoam::backup::{self, BackupError};
use carburoam::db::Db;
use carburoam::on_db;
use tokio_util::sync::CancellationToken;

use crate::db_test;
use crate::helpers::{TestDb, fixture};
use crate::offline::{Carburoam, carburoam};

/// The binary with no outbound address beyond loopback and no inherited setting (see
/// [`crate::offline`]).
fn bin() -> Carburoam {
    let mut c = carburoam();
    c.env("RUST_LOG", "warn");
    c
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run carburoam")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

struct Server {
    child: Child,
    base: String,
    /// Fails the test, once the process is gone, if it tried to reach a public service.
    _bin: Carburoam,
}

impl Server {
    fn start(db: &Path, data_dir: &Path, extra: &[&str]) -> Server {
        let mut bin = bin();
        let mut child = bin
            .arg("serve")
            .args(["--database", &sqlite_url(db), "--data-dir", s(data_dir), "--bind", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("first line: {line:?}")).to_owned();
        Server { child, base, _bin: bin }
    }

    fn terminate(mut self) {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit status after SIGTERM: {status:?}");
                return;
            }
            assert!(Instant::now() < deadline, "the server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    async fn json(&self, client: &reqwest::Client, path: &str) -> serde_json::Value {
        let resp = client.get(format!("{}{path}", self.base)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let text = resp.text().await.unwrap();
        text.parse().unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
    }

    /// Waits (30 s at most) until `/api/v1/status` satisfies `done`.
    async fn wait_status(
        &self,
        client: &reqwest::Client,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let st = self.json(client, "/api/v1/status").await;
            if done(&st) {
                return st;
            }
            assert!(Instant::now() < deadline, "status not reached after 30 s: {st}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What must survive a backup and restore: the counts of the status (not the last run, which
/// moves on every tick) and a station's whole JSON.
async fn served_data(server: &Server, client: &reqwest::Client) -> (serde_json::Value, serde_json::Value) {
    let st = server.json(client, "/api/v1/status").await;
    let counts = serde_json::json!({
        "stations": st["stations"],
        "prices": st["prices"],
        "history_points": st["history_points"],
        "shortages": st["shortages"],
        "last_success_at": st["last_success_at"],
    });
    (counts, server.json(client, "/api/v1/stations/6110002").await)
}

async fn open(path: &Path) -> Db {
    Db::connect_without_migrating(&sqlite_url(path)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_serving_and_importing_then_restore_round_trip() {
    crate::helpers::init();
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.db");
    let feed = dir.path().join("feed.xml");
    std::fs::copy(fixture("snapshot_a.xml"), &feed).unwrap();
    let server =
        Server::start(&live, dir.path(), &["--feed-url", s(&feed), "--etl-every", "10s", "--backup-every", "off"]);
    let client = reqwest::Client::new();
    let first = server.wait_status(&client, |st| st["stations"] == 8 && !st["last_success_at"].is_null()).await;
    let first_station = server.json(&client, "/api/v1/stations/6110002").await;

    // Readers hit the server the whole time the backups are written.
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let readers = {
        let (stop, served, base, client) = (stop.clone(), served.clone(), server.base.clone(), client.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for path in ["/api/v1/status", "/api/v1/stations/6110002"] {
                    let resp = client.get(format!("{base}{path}")).send().await.unwrap();
                    assert_eq!(resp.status(), 200, "{path} during a backup");
                    served.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    // The next tick of the feed job imports another snapshot: back up until it has.
    std::fs::copy(fixture("snapshot_b.xml"), &feed).unwrap();
    let url = sqlite_url(&live);
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut during = Vec::new();
    loop {
        let path = dir.path().join(format!("during-{}.db", during.len()));
        let out = tokio::task::spawn_blocking({
            let (url, path) = (url.clone(), path.clone());
            move || run(&["backup", "--database", &url, s(&path)])
        })
        .await
        .unwrap();
        assert!(out.status.success(), "backup while serving failed: {}", stderr(&out));
        let line = stdout(&out);
        assert_eq!(line.lines().count(), 1, "one summary line: {line}");
        assert!(line.contains(s(&path)) && line.contains(" in ") && line.contains("integrity ok"), "{line}");
        during.push(path);
        let st = server.json(&client, "/api/v1/status").await;
        if st["history_points"] != first["history_points"] {
            break;
        }
        assert!(Instant::now() < deadline, "the second snapshot was not imported: {st}");
    }
    stop.store(true, Ordering::Relaxed);
    readers.await.unwrap();
    assert!(served.load(Ordering::Relaxed) > 0);
    assert!(during.len() >= 2, "backups taken while the job ran: {}", during.len());

    // A last backup once the import is done, and what the server serves at that point. The
    // station's answer comes from the page cache, keyed by the price index's data version: it
    // follows the import once the index has reloaded (within `index::CHECK_EVERY`), while the
    // status reads the database at once.
    let follow = Instant::now() + carburoam::index::CHECK_EVERY * 3;
    while server.json(&client, "/api/v1/stations/6110002").await == first_station {
        assert!(Instant::now() < follow, "the station's answer did not follow the import");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let expected = served_data(&server, &client).await;
    let last = dir.path().join("last.db");
    let out = run(&["backup", "--database", &url, s(&last)]);
    assert!(out.status.success(), "{}", stderr(&out));
    server.terminate();

    // Restored into a fresh path, the backup serves the same data.
    let fresh = dir.path().join("restored").join("carburoam.db");
    let out = run(&["restore", "--database", &sqlite_url(&fresh), s(&last)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("there was no database there before"), "{}", stdout(&out));
    {
        // The leases of the processes that served the original are gone with them.
        let db = open(&fresh).await;
        let held: i64 = on_db!(&db, p => sqlx::query_scalar("SELECT COUNT(*) FROM job_leases WHERE holder IS NOT NULL")
            .fetch_one(p)
            .await)
        .unwrap();
        db.close().await;
        assert_eq!(held, 0);
    }
    let restored = Server::start(&fresh, dir.path(), &["--etl-every", "off", "--backup-every", "off"]);
    assert_eq!(served_data(&restored, &client).await, expected);
    restored.terminate();

    // Restored over the original (server stopped): the previous database is kept aside, whole.
    let out = run(&["restore", "--database", &url, s(&during[0])]);
    assert!(out.status.success(), "{}", stderr(&out));
    let kept = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("the previous database is kept as ").map(PathBuf::from))
        .unwrap_or_else(|| panic!("{}", stdout(&out)));
    assert!(kept.is_file());
    assert!(!dir.path().join("live.db-wal").exists());
    backup::check_restorable(&kept).await.unwrap();
    let out = run(&["restore", "--database", &url, s(&kept)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let back = Server::start(&live, dir.path(), &["--etl-every", "off", "--backup-every", "off"]);
    assert_eq!(served_data(&back, &client).await, expected, "undoing the restore brings the data back");
    back.terminate();
}

/// A database holding the fixture, and a backup of it.
async fn database_and_backup(dir: &Path) -> (PathBuf, PathBuf) {
    let db_path = dir.join("carburoam.db");
    let out = run(&["import", "--database", &sqlite_url(&db_path), s(&fixture("snapshot_a.xml"))]);
    assert!(out.status.success(), "{}", stderr(&out));
    let good = dir.join("good.db");
    let out = run(&["backup", "--database", &sqlite_url(&db_path), s(&good)]);
    assert!(out.status.success(), "{}", stderr(&out));
    (db_path, good)
}

#[tokio::test]
async fn restore_refuses_what_is_not_a_carburoam_database_of_a_known_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (target, good) = database_and_backup(dir.path()).await;
    let before = std::fs::read(&target).unwrap();
    let url = sqlite_url(&target);

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "SQLite is great, but this is text.\n").unwrap();

    let truncated = dir.path().join("truncated.db");
    std::fs::copy(&good, &truncated).unwrap();
    let len = std::fs::metadata(&truncated).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&truncated).unwrap().set_len(len / 2).unwrap();

    let future = dir.path().join("future.db");
    std::fs::copy(&good, &future).unwrap();
    {
        let db = open(&future).await;
        let version = carburoam::db::latest_migration(carburoam::db::Backend::Sqlite) + 1;
        on_db!(&db, p => sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ($1, 'from the future', TRUE, X'00', 0)",
        )
        .bind(version)
        .execute(p)
        .await
        .map(|_| ()))
        .unwrap();
        db.close().await;
    }

    let foreign = dir.path().join("foreign.db");
    {
        let db = open(&foreign).await;
        on_db!(&db, p => sqlx::query("CREATE TABLE stations (id INTEGER PRIMARY KEY)").execute(p).await.map(|_| ()))
            .unwrap();
        db.close().await;
    }

    for (file, why) in [
        (&text, "is not a SQLite database"),
        (&truncated, "integrity check"),
        (&future, "newer than this binary"),
        (&foreign, "no _sqlx_migrations table"),
        (&dir.path().join("missing.db"), "No such file"),
    ] {
        let out = run(&["restore", "--database", &url, s(file)]);
        assert!(!out.status.success(), "{} was restored", file.display());
        let err = stderr(&out);
        assert!(err.starts_with("error: ") && err.contains(why), "{}: {err}", file.display());
        assert_eq!(std::fs::read(&target).unwrap(), before, "the database was changed");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains("restore"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The fresh path of a refused restore is not created either.
    let fresh = dir.path().join("fresh.db");
    let out = run(&["restore", "--database", &sqlite_url(&fresh), s(&future)]);
    assert!(!out.status.success());
    assert!(!fresh.exists());
}

#[tokio::test]
async fn restore_refuses_while_a_server_runs_on_the_database() {
    crate::helpers::init();
    let dir = tempfile::tempdir().unwrap();
    let (target, good) = database_and_backup(dir.path()).await;
    let url = sqlite_url(&target);
    let server = Server::start(&target, dir.path(), &["--etl-every", "off", "--backup-every", "off"]);
    let client = reqwest::Client::new();
    let before = server.json(&client, "/api/v1/status").await;

    let out = run(&["restore", "--database", &url, s(&good)]);
    assert!(!out.status.success(), "restored under a running server");
    let err = stderr(&out);
    assert!(err.contains("in use") && err.contains("stop the server"), "{err}");
    assert!(!dir.path().join("carburoam.db.restore-tmp").exists());
    assert_eq!(server.json(&client, "/api/v1/status").await, before, "the server still serves the same data");

    server.terminate();
    let out = run(&["restore", "--database", &url, s(&good)]);
    assert!(out.status.success(), "once the server is stopped: {}", stderr(&out));
}

#[tokio::test]
async fn backup_refuses_to_overwrite_a_file_or_to_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let (db_path, _) = database_and_backup(dir.path()).await;
    let existing = dir.path().join("existing.db");
    std::fs::write(&existing, "keep me").unwrap();
    let out = run(&["backup", "--database", &sqlite_url(&db_path), s(&existing)]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
    assert!(!dir.path().join("existing.db.tmp").exists());

    let missing = dir.path().join("nothing-here.db");
    let out = run(&["backup", "--database", &sqlite_url(&missing), s(&dir.path().join("b.db"))]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no SQLite database"), "{}", stderr(&out));
    assert!(!missing.exists() && !dir.path().join("b.db").exists());
}

#[test]
fn backup_and_restore_on_postgres_say_to_use_pg_dump() {
    // No server is contacted: the advice is given from the URL alone.
    let url = "postgres://carb:s3cret@127.0.0.1:1/fuel_prod";
    let out = run(&["backup", "--database", url, "/tmp/carburoam.dump"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(
            "pg_dump --format=custom --file=/tmp/carburoam.dump --host=127.0.0.1 --port=1 --username=carb fuel_prod"
        ),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
    let out = run(&["restore", "--database", url, "/tmp/carburoam.dump"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("pg_restore"), "{}", stderr(&out));
}

db_test!(backup_now_writes_a_verified_copy_or_points_to_pg_dump, |t| {
    let dir = tempfile::tempdir().unwrap();
    match backup::backup_now(&t.db, dir.path()).await {
        Ok(f) => {
            assert_eq!(t.db.backend(), carburoam::db::Backend::Sqlite);
            assert!(backup::parse_backup_name(&f.name).is_some(), "{}", f.name);
            assert_eq!(f.size, std::fs::metadata(&f.path).unwrap().len());
            assert_eq!(backup::list_backups(dir.path()).await, vec![f.clone()]);
            backup::check_restorable(&f.path).await.unwrap();
        }
        Err(BackupError::Postgres { command }) => {
            let name = t.url.rsplit('/').next().unwrap();
            assert!(command.starts_with("pg_dump ") && command.ends_with(name), "{command}");
            assert!(backup::list_backups(dir.path()).await.is_empty());
        }
        Err(e) => panic!("{e}"),
    }
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_backups_each_get_a_file_of_their_own() {
    let t = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = tokio::join!(backup::backup_now(&t.db, dir.path()), backup::backup_now(&t.db, dir.path()));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.name, b.name);
    assert_eq!(backup::list_backups(dir.path()).await.len(), 2);
}

#[tokio::test]
async fn retention_keeps_exactly_the_newest_n_and_touches_nothing_else() {
    let t = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let day = chrono::Duration::days(1);
    let start = chrono::DateTime::parse_from_rfc3339("2025-01-01T03:00:00Z").unwrap().to_utc();
    let names: Vec<String> = (0..5).map(|i| backup::backup_name(start + day * i)).collect();
    for name in &names {
        backup::write_backup(&t.db, &dir.path().join(name)).await.unwrap();
    }
    let others = ["notes.txt", "carburoam-manual.db", "carburoam-20200101T000000Z.db.tmp", "carburoam.db"];
    for other in others {
        std::fs::write(dir.path().join(other), "not a scheduled backup").unwrap();
    }
    let deleted = backup::prune(dir.path(), 3).await.unwrap();
    assert_eq!(deleted.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), [&names[1], &names[0]]);
    let listed = backup::list_backups(dir.path()).await;
    assert_eq!(listed.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), [&names[4], &names[3], &names[2]]);
    assert_eq!(listed[0].created, (start + day * 4).timestamp());
    for other in others {
        assert!(dir.path().join(other).exists(), "{other} was deleted");
    }
    // Pruning again changes nothing; keeping more than there are deletes nothing.
    assert!(backup::prune(dir.path(), 3).await.unwrap().is_empty());
    assert!(backup::prune(dir.path(), 10).await.unwrap().is_empty());
    assert!(backup::list_backups(&dir.path().join("no-such-folder")).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_write_one_scheduled_backup_per_interval() {
    let t = TestDb::sqlite().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let shutdown = CancellationToken::new();
    let every = Duration::from_secs(10);
    let a = tokio::spawn(backup::scheduler(
        t.db.clone(),
        dir_a.path().to_owned(),
        every,
        1,
        "instance-a".into(),
        shutdown.clone(),
    ));
    let b = tokio::spawn(backup::scheduler(
        t.db.clone(),
        dir_b.path().to_owned(),
        every,
        1,
        "instance-b".into(),
        shutdown.clone(),
    ));
    // The first backup is due one interval after start (no backup in the folders yet).
    tokio::time::sleep(every + Duration::from_secs(3)).await;
    shutdown.cancel();
    a.await.unwrap();
    b.await.unwrap();
    let (la, lb) = (backup::list_backups(dir_a.path()).await, backup::list_backups(dir_b.path()).await);
    assert_eq!(la.len() + lb.len(), 1, "a: {la:?}, b: {lb:?}");
    let made = la.first().or(lb.first()).unwrap();
    backup::check_restorable(&made.path).await.unwrap();
    let lease = carburoam::db::leases::current(&t.db, backup::BACKUP_LEASE).await.unwrap().unwrap();
    assert!(lease.holder == "instance-a" || lease.holder == "instance-b");
    assert!(lease.expires_at - lease.acquired_at == 9, "held for 90% of the interval: {lease:?}");
}

db_test!(cleanup_deletes_exactly_what_has_expired, |t| {
    use carburoam::services::cleanup;
    let db = &t.db;
    let now: i64 = 1_760_000_000;
    let day = 86_400;
    let user: carburoam::domain::UserId = on_db!(db, p => sqlx::query_scalar(
        "INSERT INTO users (username, username_key, display_name, email, email_key, password_hash, \
                            created_at, password_changed_at) \
         VALUES ('ada', 'ada', 'Ada', 'ada@example.org', 'ada@example.org', 'x', $1, $1) RETURNING id",
    )
    .bind(now - 60 * day)
    .fetch_one(p)
    .await)
    .unwrap();
    for (id, expires_at) in [("expired", now - 1), ("at-now", now), ("live", now + 1)] {
        carburoam::db::sessions::insert(db, id, user, now - day, expires_at, false).await.unwrap();
    }
    for expires_at in [now - 31 * day, now - 29 * day, now + 600] {
        on_db!(db, p => sqlx::query(
            "INSERT INTO reset_codes (user_id, code_hash, created_at, expires_at) VALUES ($1, 'h', $2, $2)",
        )
        .bind(user)
        .bind(expires_at)
        .execute(p)
        .await
        .map(|_| ()))
        .unwrap();
    }
    for (token, expires_at) in [("old", now - 10), ("pending", now + 3_600)] {
        on_db!(db, p => sqlx::query(
            "INSERT INTO email_changes (token_hash, user_id, new_email, created_at, expires_at) \
             VALUES ($1, $2, 'new@example.org', $3, $3)",
        )
        .bind(token)
        .bind(user)
        .bind(expires_at)
        .execute(p)
        .await
        .map(|_| ()))
        .unwrap();
    }
    let today = now / day * day;
    for (n, day_start) in [401, 400, 0].into_iter().map(|n| (n, today - n * day)) {
        on_db!(db, p => sqlx::query("INSERT INTO usage_daily (day, route, api, count) VALUES ($1, '/', FALSE, $2)")
            .bind(day_start)
            .bind(n)
            .execute(p)
            .await
            .map(|_| ()))
        .unwrap();
    }

    let report = cleanup::run_once(db, now).await.unwrap();
    assert_eq!(
        report,
        cleanup::CleanupReport { sessions: 2, reset_codes: 1, email_changes: 1, usage_rows: 1, unsubscribe_tokens: 0 },
        "{report}"
    );
    let sessions: Vec<String> =
        on_db!(db, p => sqlx::query_scalar("SELECT id_hash FROM sessions").fetch_all(p).await).unwrap();
    assert_eq!(sessions, ["live"]);
    let codes: Vec<i64> =
        on_db!(db, p => sqlx::query_scalar("SELECT expires_at FROM reset_codes ORDER BY expires_at").fetch_all(p).await)
            .unwrap();
    assert_eq!(codes, [now - 29 * day, now + 600]);
    let changes: Vec<String> =
        on_db!(db, p => sqlx::query_scalar("SELECT token_hash FROM email_changes").fetch_all(p).await).unwrap();
    assert_eq!(changes, ["pending"]);
    let days: Vec<i64> =
        on_db!(db, p => sqlx::query_scalar("SELECT day FROM usage_daily ORDER BY day").fetch_all(p).await).unwrap();
    assert_eq!(days, [today - 400 * day, today]);
    // The user is untouched, and a second run finds nothing.
    assert!(carburoam::db::users::by_id(db, user).await.unwrap().is_some());
    assert_eq!(cleanup::run_once(db, now).await.unwrap(), cleanup::CleanupReport::default());
});

// ---------------------------------------------------------------------------------------------
// File modes: SQLite only, PostgreSQL keeps no file of ours.

/// The permission bits of `path`, in octal (`"600"`).
fn mode(path: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!("{:o}", meta.permissions().mode() & 0o777)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The database file and, while it is open, its `-wal` and `-shm`: the test process runs under
/// the usual umask (022), which gave them 0644 before.
#[tokio::test]
async fn sqlite_file_modes_database_wal_and_shm_are_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/carburoam.db");
    let db = Db::connect(&sqlite_url(&path)).await.unwrap();
    let mut conn = match &db {
        Db::Sqlite(p) => p.acquire().await.unwrap(),
        Db::Postgres(_) => unreachable!(),
    };
    // A write, so that the WAL has content, on a connection kept open (the last close removes
    // the -wal and -shm files).
    sqlx::query("INSERT INTO job_leases (name, holder, expires_at) VALUES ('mode-test', NULL, 0)")
        .execute(&mut *conn)
        .await
        .unwrap();
    for file in [path.clone(), sibling(&path, "-wal"), sibling(&path, "-shm")] {
        assert_eq!(mode(&file), "600", "{}", file.display());
    }
    drop(conn);
    db.close().await;
}

/// A scheduled backup (the function the scheduler and the admin console call) and a restored
/// database are 0600, even when the backup restored was readable by all.
#[tokio::test]
async fn sqlite_file_modes_scheduled_backup_and_restored_database_are_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("carburoam.db");
    let db = Db::connect(&sqlite_url(&path)).await.unwrap();
    let written = backup::backup_now(&db, &dir.path().join("backups")).await.unwrap();
    db.close().await;
    assert_eq!(mode(&written.path), "600", "{}", written.path.display());

    std::fs::set_permissions(&written.path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let target = dir.path().join("restored.db");
    backup::restore(&written.path, &sqlite_url(&target)).await.unwrap();
    assert_eq!(mode(&target), "600");
}

/// `carburoam import` and `carburoam backup` run with umask 000 (files 0666 by default): the
/// database and the backup copy are still 0600.
#[test]
fn sqlite_file_modes_cli_database_and_backup_are_0600_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("carburoam.db");
    let copy = dir.path().join("copy.db");
    let url = sqlite_url(&db);
    let script = r#"umask 000 && "$0" import --database "$1" "$2" && "$0" backup --database "$1" "$3""#;
    let mut sh = Command::new("sh");
    sh.args(["-c", script, env!("CARGO_BIN_EXE_carburoam"), &url, s(&fixture("snapshot_a.xml")), s(&copy)]);
    // The environment `bin()` gives the binary (kept until the commands are done).
    let bin = bin();
    for (k, v) in bin.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    let out = sh.output().expect("run sh");
    drop(bin);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&db), "600");
    assert_eq!(mode(&copy), "600");
}
