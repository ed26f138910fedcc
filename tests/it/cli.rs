//! The real binary, as users and scripts run it (in the spirit of lldap's end-to-end tests):
//! exit codes, one-line errors, the server's scheduler importing a feed, graceful shutdown.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::fixture;
use crate::offline::{Carburoam, carburoam};

/// The binary with no outbound address beyond loopback (see [`crate::offline`]).
fn bin() -> Carburoam {
    let mut c = carburoam();
    c.env("RUST_LOG", "warn");
    c
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("c.db").display())
}

#[test]
fn import_prints_one_line_per_file_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["import", "--database", &sqlite_url(&dir)])
        .arg(fixture("snapshot_a.xml"))
        .arg(fixture("snapshot_b.xml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].contains("snapshot_a.xml") && lines[0].contains("new 8"), "{}", lines[0]);
    assert!(lines[1].contains("snapshot_b.xml") && lines[1].contains("missing 1"), "{}", lines[1]);
}

/// `bench` measures an import's memory with the hidden `--report-peak-rss` flag of `import`;
/// without it, stderr says nothing of memory.
#[test]
fn import_reports_its_peak_rss_on_request_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["import", "--report-peak-rss", "--database", &sqlite_url(&dir)])
        .arg(fixture("snapshot_a.xml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.lines().any(|l| l.starts_with("peak RSS: ")), "{stderr}");
    let out = bin().args(["import", "--database", &sqlite_url(&dir)]).arg(fixture("snapshot_a.xml")).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("peak RSS"));
    let help = bin().args(["import", "--help"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains("peak"), "a hidden flag");
}

#[test]
fn a_bad_file_fails_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("instantane.zip");
    std::fs::write(&bad, "<html><body>Service Unavailable</body></html>").unwrap();
    let out = bin().args(["import", "--database", &sqlite_url(&dir)]).arg(&bad).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let line = stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains("instantane.zip") && line.contains("HTML"), "{line}");
    // A missing file too.
    let out = bin().args(["import", "--database", &sqlite_url(&dir), "/nonexistent/feed.zip"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/feed.zip"));
    // And a bad command line: clap's usage error, exit 2.
    let out = bin().args(["serve", "--etl-every", "sometimes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn etl_run_imports_a_local_feed_then_finds_it_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let feed = fixture("snapshot_a.xml");
    let run = || bin().args(["etl", "run", "--database", &sqlite_url(&dir), "--feed-url"]).arg(&feed).output().unwrap();
    let first = run();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stdout).contains("new 8"));
    let second = run();
    assert!(second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("unchanged"),
        "{}",
        String::from_utf8_lossy(&second.stdout)
    );
}

struct Server {
    child: Child,
    base: String,
    /// Fails the test, once the process is gone, if it tried to reach a public service.
    _bin: Carburoam,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut bin = bin();
        let mut child = bin.arg("serve").args(args).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("first line: {line:?}")).to_owned();
        Server { child, base, _bin: bin }
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        // SAFETY-free: `kill -TERM` through the shell keeps the test free of libc.
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "the server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Server {
    /// GET a JSON document from the server.
    async fn json(&self, client: &reqwest::Client, path: &str) -> serde_json::Value {
        let text = client.get(format!("{}{path}", self.base)).send().await.unwrap().text().await.unwrap();
        text.parse().unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
    }

    /// Waits (30 s at most) until `/api/v1/status` reports `stations` stations.
    async fn wait_for_stations(&self, client: &reqwest::Client, stations: i64) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.json(client, "/api/v1/status").await;
            if s["stations"] == stations && !s["last_success_at"].is_null() {
                return s;
            }
            assert!(Instant::now() < deadline, "no import after 30 s: {s}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[tokio::test]
async fn serve_imports_on_schedule_serves_the_api_and_stops_on_sigterm() {
    crate::helpers::init();
    let dir = tempfile::tempdir().unwrap();
    let feed = fixture("snapshot_a.xml");
    let server = Server::start(&[
        "--database",
        &sqlite_url(&dir),
        "--bind",
        "127.0.0.1:0",
        "--feed-url",
        feed.to_str().unwrap(),
        "--etl-every",
        "10m",
    ]);
    let client = reqwest::Client::new();
    assert_eq!(client.get(format!("{}/healthz", server.base)).send().await.unwrap().status(), 200);
    // The scheduler imports at once: wait for the first successful run.
    server.wait_for_stations(&client, 8).await;
    let st = server.json(&client, "/api/v1/stations/6110002").await;
    assert_eq!(st["postcode"], "06110");
    assert_eq!(st["prices"][0]["fuel"], "Gazole");
    assert_eq!(st["prices"][0]["price"], 1.659);
    assert_eq!(st["prices"][0]["updated_at"], "2025-10-26T00:30:00Z");
    let status = server.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
}

/// Two server processes on one database (SQLite file, or PostgreSQL when `TEST_POSTGRES_URL` is
/// set): both tick at start, the schedule lease lets exactly one of them run the job, both serve
/// the result.
async fn two_servers_import_once(db: &str) {
    crate::helpers::init();
    let feed = fixture("snapshot_a.xml");
    let args = ["--database", db, "--bind", "127.0.0.1:0", "--feed-url", feed.to_str().unwrap(), "--etl-every", "1h"];
    let a = Server::start(&args);
    let b = Server::start(&args);
    let client = reqwest::Client::new();
    for s in [&a, &b] {
        s.wait_for_stations(&client, 8).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let conn = carburoam::db::Db::connect(db).await.unwrap();
    let runs: i64 =
        carburoam::on_db!(&conn, p => sqlx::query_scalar("SELECT COUNT(*) FROM etl_runs").fetch_one(p).await).unwrap();
    conn.close().await;
    assert_eq!(runs, 1, "exactly one of the two instances ran the job");
    assert!(a.terminate().success());
    assert!(b.terminate().success());
}

#[tokio::test]
async fn two_servers_on_one_sqlite_file_import_once() {
    let dir = tempfile::tempdir().unwrap();
    two_servers_import_once(&sqlite_url(&dir)).await;
}

#[tokio::test]
async fn two_servers_on_one_postgres_database_import_once() {
    match crate::helpers::TestDb::postgres().await {
        Some(t) => two_servers_import_once(&t.url).await,
        None => eprintln!("TEST_POSTGRES_URL unset: PostgreSQL variant not run"),
    }
}

/// One `SELECT COUNT(*)`-like scalar.
async fn scalar(db: &carburoam::db::Db, sql: &'static str) -> i64 {
    carburoam::on_db!(db, p => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await).unwrap()
}

/// Several stateless instances on one database: the instance importing is
/// killed (SIGKILL) in the middle of its import; the other takes over at its next tick once the
/// dead holder's lease has expired, and the history holds every price exactly once. Then a user
/// logged in on one instance is logged in on another.
async fn killed_importer_is_taken_over(db_url: &str) {
    crate::helpers::init();
    let dir = tempfile::tempdir().unwrap();
    // National size, so that the import lasts long enough to be interrupted.
    let feed = dir.path().join("national.zip");
    std::fs::write(&feed, carburoam::feed::synth::generate_zip(10_000, 42)).unwrap();
    let args =
        ["--database", db_url, "--bind", "127.0.0.1:0", "--feed-url", feed.to_str().unwrap(), "--etl-every", "10s"];
    let mut servers = vec![Server::start(&args), Server::start(&args)];
    let db = carburoam::db::Db::connect(db_url).await.unwrap();

    // Wait for an import in progress, and kill the instance that runs it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let holder = loop {
        let running = scalar(&db, "SELECT COUNT(*) FROM etl_runs WHERE status = 'running'").await;
        let lease = carburoam::db::leases::current(&db, carburoam::etl::IMPORT_LEASE).await.unwrap();
        if running == 1
            && let Some(l) = lease.filter(|l| l.is_live(carburoam::db::now()))
        {
            break l.holder;
        }
        assert!(Instant::now() < deadline, "no import started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // Holder ids are `host:pid:tag`.
    let pid: u32 = holder.split(':').nth(1).and_then(|p| p.parse().ok()).unwrap();
    let victim = servers.iter().position(|s| s.child.id() == pid).expect("the holder is one of ours");
    let mut dead = servers.remove(victim);
    dead.child.kill().unwrap();
    dead.child.wait().unwrap();
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM etl_runs WHERE status = 'success'").await, 0, "killed mid-run");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM stations").await, 0, "the killed transaction left nothing");

    // The survivor takes over: lease expiry (30 s) plus a tick.
    let survivor = &servers[0];
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if scalar(&db, "SELECT COUNT(*) FROM etl_runs WHERE status = 'success'").await == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the surviving instance never took over");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = survivor.json(&client, "/api/v1/status").await;
    assert_eq!(status["stations"], 10_000, "{status}");
    // The interrupted run is closed as failed (the survivor keeps ticking every 10 s, so a later
    // run may be in progress: only runs before the success count); every price has exactly one
    // history point.
    let before_success = "FROM etl_runs WHERE id < (SELECT MIN(id) FROM etl_runs WHERE status = 'success')";
    let q = |what: &str| -> &'static str {
        Box::leak(format!("SELECT COUNT(*) {before_success} AND status = '{what}'").into_boxed_str())
    };
    assert_eq!(scalar(&db, q("running")).await, 0);
    assert_eq!(scalar(&db, q("failed")).await, 1);
    let prices = scalar(&db, "SELECT COUNT(*) FROM prices").await;
    assert!(prices > 30_000, "{prices}");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM price_history").await, prices);

    // A user logged in on one instance is logged in on another (sessions live in the database).
    let other = Server::start(&args);
    let jar = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = jar.get(format!("{}/register", survivor.base)).send().await.unwrap();
    let csrf_cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("carburoam_csrf="))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let form = [
        ("csrf", csrf_cookie.as_str()),
        ("username", "partagee"),
        ("display_name", "Partagée"),
        ("email", "partagee@example.org"),
        ("password", "plume cerise fenêtre 42"),
        ("confirm", "plume cerise fenêtre 42"),
    ];
    let r = jar
        .post(format!("{}/register", survivor.base))
        .header("cookie", format!("carburoam_csrf={csrf_cookie}"))
        .header("origin", &survivor.base)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("carburoam_session="))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    for s in [survivor, &other] {
        let me = jar
            .get(format!("{}/me", s.base))
            .header("cookie", format!("carburoam_session={session}"))
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200, "{}", s.base);
        assert!(me.text().await.unwrap().contains("Partagée"));
    }
    db.close().await;
    assert!(other.terminate().success());
    for s in servers {
        assert!(s.terminate().success());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_importer_is_taken_over_on_postgres() {
    match crate::helpers::TestDb::postgres().await {
        Some(t) => killed_importer_is_taken_over(&t.url).await,
        None => eprintln!("TEST_POSTGRES_URL unset: PostgreSQL variant not run"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_importer_is_taken_over_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    killed_importer_is_taken_over(&sqlite_url(&dir)).await;
}
