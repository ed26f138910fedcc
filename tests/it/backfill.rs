//! `carburoam backfill` against a local fake archive server: yearly and daily files, a missing
//! day, a cut file, an HTML page, a second run that skips what is done, and a run killed with
//! SIGKILL then resumed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use carburoam::db::Db;
use carburoam::feed::download::FetchOptions;
use carburoam::feed::synth::zip_xml_as;
use carburoam::history::backfill::{self, BackfillOptions, FileOutcome};
use carburoam::on_db;
use chrono::{Datelike, NaiveDate};

use crate::db_test;
use crate::helpers::TestDb;

/// (station, fuel name, fuel id, maj, value)
type Row = (i64, &'static str, u8, &'static str, &'static str);

/// An archive-format document: stations in the order first met, every `<prix>` as given.
fn archive_xml(rows: &[Row]) -> Vec<u8> {
    let mut ids: Vec<i64> = Vec::new();
    for r in rows {
        if !ids.contains(&r.0) {
            ids.push(r.0);
        }
    }
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"ISO-8859-1\" standalone=\"yes\"?>\n<pdv_liste>\n");
    for id in ids {
        xml.push_str(&format!(
            "  <pdv id=\"{id}\" latitude=\"4620114\" longitude=\"519791\" cp=\"01000\" pop=\"R\">\n    \
             <adresse>Route Nationale</adresse>\n    <ville>Bourg-en-Bresse</ville>\n"
        ));
        for (_, name, fuel, maj, value) in rows.iter().filter(|r| r.0 == id) {
            xml.push_str(&format!("    <prix nom=\"{name}\" id=\"{fuel}\" maj=\"{maj}\" valeur=\"{value}\"/>\n"));
        }
        xml.push_str("  </pdv>\n");
    }
    xml.push_str("</pdv_liste>\n");
    xml.into_bytes()
}

fn year_2025() -> Vec<u8> {
    zip_xml_as(
        "PrixCarburants_annuel_2025.xml",
        &archive_xml(&[
            (1000001, "Gazole", 1, "2025-03-01 08:00:00", "1.699"),
            (1000001, "Gazole", 1, "2025-06-01 08:00:00", "1.719"),
            // The same value again: not a change point.
            (1000001, "Gazole", 1, "2025-06-02 08:00:00", "1.719"),
            (1000001, "Gazole", 1, "2025-12-30 08:00:00", "1.689"),
            (1000002, "E10", 5, "2025-05-05 09:00:00", "1.749"),
        ]),
    )
}

fn day(name: &str) -> Option<Vec<u8>> {
    let rows: &[Row] = match name {
        "20260101" => &[
            (1000001, "Gazole", 1, "2026-01-01 08:00:00", "1.679"),
            (1000002, "E10", 5, "2026-01-01 09:00:00", "1.749"),
        ],
        "20260105" => &[
            (1000001, "Gazole", 1, "2026-01-05 07:00:00", "1.669"),
            (1000003, "SP98", 6, "2026-01-05 10:00:00", "1.899"),
        ],
        _ => return None,
    };
    Some(zip_xml_as(&format!("PrixCarburants_quotidien_{name}.xml"), &archive_xml(rows)))
}

/// The history points expected once everything good is imported: change points only.
const EXPECTED_HISTORY: usize = 7;

#[derive(Clone, Default)]
struct Archive {
    /// With `hang`, the day 20260104 does not answer until it is cleared.
    hang: Arc<AtomicBool>,
    /// Serve the damaged days (20260103 cut, 20260104 HTML).
    damaged: bool,
    /// Serve a file for any other day: station 1000001's Gazole at 08:00 that day, its price
    /// going down a tenth of a cent a day (a change point each day).
    every_day: bool,
    /// Daily files served.
    served: Arc<std::sync::atomic::AtomicUsize>,
}

async fn annee(Path(year): Path<String>) -> Response {
    if year == "2025" {
        ([(header::CONTENT_TYPE, "application/zip")], year_2025()).into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

async fn jour(State(a): State<Archive>, Path(name): Path<String>) -> Response {
    if name == "20260104" {
        while a.hang.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    if a.damaged {
        match name.as_str() {
            "20260103" => {
                let whole = day("20260101").unwrap_or_default();
                return ([(header::CONTENT_TYPE, "application/zip")], whole[..whole.len() / 2].to_vec())
                    .into_response();
            }
            "20260104" => {
                return ([(header::CONTENT_TYPE, "text/html")], "<html><body>Maintenance</body></html>")
                    .into_response();
            }
            _ => {}
        }
    }
    a.served.fetch_add(1, Ordering::SeqCst);
    if a.every_day
        && day(&name).is_none()
        && let Ok(date) = NaiveDate::parse_from_str(&name, "%Y%m%d")
    {
        let maj: &'static str = format!("{} 08:00:00", date.format("%Y-%m-%d")).leak();
        let price: &'static str = format!("{:.3}", 1.7 - f64::from(date.ordinal()) / 1000.0).leak();
        let xml = archive_xml(&[(1000001, "Gazole", 1, maj, price)]);
        return zip_xml_as(&format!("PrixCarburants_quotidien_{name}.xml"), &xml).into_response();
    }
    match day(&name) {
        Some(bytes) => ([(header::CONTENT_TYPE, "application/zip")], bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn serve(archive: Archive) -> String {
    let app = Router::new()
        .route("/opendata/annee/{year}", get(annee))
        .route("/opendata/jour/{name}", get(jour))
        .with_state(archive);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    format!("http://{addr}/opendata")
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn opts() -> BackfillOptions {
    BackfillOptions {
        fetch: FetchOptions { retries: 0, timeout: Duration::from_secs(30), ..FetchOptions::default() },
        lease_wait: Duration::from_secs(5),
        ..BackfillOptions::default()
    }
}

async fn history(db: &Db) -> Vec<(i64, i16, i64, i32)> {
    on_db!(db, p => sqlx::query_as("SELECT station_id, fuel, at, price FROM price_history ORDER BY station_id, fuel, at")
        .fetch_all(p)
        .await)
    .expect("history")
}

/// Successful runs per source, for the files of the archive.
async fn loaded_runs(db: &Db) -> Vec<(String, i64)> {
    on_db!(db, p => sqlx::query_as(
        "SELECT source, COUNT(*) FROM etl_runs WHERE status = 'success' GROUP BY source ORDER BY source")
        .fetch_all(p)
        .await)
    .expect("runs")
}

db_test!(backfill_imports_years_then_days_and_skips_what_is_done, |t| {
    let base = serve(Archive { damaged: true, ..Archive::default() }).await;
    let files = backfill::plan(&base, d("2024-01-01"), d("2026-01-05"));
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "annee/2024",
            "annee/2025",
            "jour/20260101",
            "jour/20260102",
            "jour/20260103",
            "jour/20260104",
            "jour/20260105"
        ]
    );
    let mut lines = Vec::new();
    let summary = backfill::run(&t.db, &files, &opts(), |r| lines.push(r.to_string())).await.expect("run");
    assert_eq!(lines.len(), 7, "{lines:#?}");
    assert_eq!(
        (summary.imported(), summary.skipped(), summary.missing(), summary.failed()),
        (3, 0, 2, 2),
        "{lines:#?}"
    );
    // Each failure names its file.
    for (i, name) in [(4, "jour/20260103"), (5, "jour/20260104")] {
        assert!(matches!(summary.files[i].outcome, FileOutcome::Failed(_)), "{}", lines[i]);
        assert!(lines[i].starts_with(name), "{}", lines[i]);
    }
    assert!(lines[0].contains("404"), "{}", lines[0]);
    let first = history(&t.db).await;
    assert_eq!(first.len(), EXPECTED_HISTORY, "{first:#?}");
    // Gazole at 1000001: the repeated 1.719 is one point, the daily file adds its two changes.
    let gazole: Vec<i32> = first.iter().filter(|r| r.0 == 1000001 && r.1 == 1).map(|r| r.3).collect();
    assert_eq!(gazole, [1699, 1719, 1689, 1679, 1669]);
    assert!(summary.to_string().contains("3 imported"), "{summary}");

    // Again: the files done are skipped (same source, same bytes), the failed ones fail again.
    let again = backfill::run(&t.db, &files, &opts(), |_| {}).await.expect("run");
    assert_eq!((again.imported(), again.skipped(), again.missing(), again.failed()), (0, 3, 2, 2));
    assert_eq!(history(&t.db).await, first);
    // A failed file left nothing behind: the data equal those of the good files alone.
    let runs = loaded_runs(&t.db).await;
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert!(runs.iter().all(|(_, n)| *n == 1), "{runs:?}");
});

/// The binary with no outbound address beyond loopback (see [`crate::offline`]).
fn carburoam() -> crate::offline::Carburoam {
    let mut c = crate::offline::carburoam();
    c.env("RUST_LOG", "warn");
    c
}

db_test!(backfill_killed_with_sigkill_resumes_without_duplicates, |t| {
    let archive = Archive { hang: Arc::new(AtomicBool::new(true)), ..Archive::default() };
    let base = serve(archive.clone()).await;
    let data = tempfile::tempdir().expect("tempdir");
    let args = |c: &mut std::process::Command| {
        c.args(["backfill", "--since", "2025", "--until", "2026-01-05", "--archive-url", &base, "--database", &t.url])
            .arg("--data-dir")
            .arg(data.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
    };
    let mut first = carburoam();
    args(&mut first);
    let mut child = first.spawn().expect("spawn");
    // Wait until the files before the hanging day are in, then kill the process mid-run.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if loaded_runs(&t.db).await.len() == 2 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the first run never reached the hanging day");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert_eq!(history(&t.db).await.len(), 5, "annee/2025 and jour/20260101 were in when killed");

    archive.hang.store(false, Ordering::SeqCst);
    let mut second = carburoam();
    args(&mut second);
    let out = tokio::task::spawn_blocking(move || second.output()).await.expect("join").expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("annee/2025: already imported"), "{stdout}");
    assert!(stdout.contains("jour/20260101: already imported"), "{stdout}");
    assert!(stdout.contains("jour/20260102: not on the server (404)"), "{stdout}");
    assert!(stdout.contains("jour/20260105: imported"), "{stdout}");
    assert!(stdout.contains("1 imported, 2 already imported, 3 missing, 0 failed"), "{stdout}");

    // The same history as one clean run into a fresh database, each file loaded once.
    let resumed = history(&t.db).await;
    let fresh = TestDb::for_backend(if t.url.starts_with("sqlite") { "sqlite" } else { "postgres" })
        .await
        .expect("a fresh database of the same backend");
    let files = backfill::plan(&base, d("2025-01-01"), d("2026-01-05"));
    backfill::run(&fresh.db, &files, &opts(), |_| {}).await.expect("clean run");
    assert_eq!(resumed, history(&fresh.db).await);
    assert_eq!(resumed.len(), EXPECTED_HISTORY);
    let runs = loaded_runs(&t.db).await;
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert!(runs.iter().all(|(_, n)| *n == 1), "{runs:?}");
});

#[test]
fn backfill_refuses_bad_dates() {
    let out = carburoam().args(["backfill", "--since", "2006"]).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("2007"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = carburoam().args(["backfill", "--since", "soon"]).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--since"), "{}", String::from_utf8_lossy(&out.stderr));
}

db_test!(serve_backfills_the_last_days_once_under_a_lease, |t| {
    let archive = Archive { every_day: true, ..Archive::default() };
    let base = serve(archive.clone()).await;
    // Two instances start on the same database: one takes the lease and loads the days.
    let configure = |cfg: &mut carburoam::startup::ServeConfig| {
        cfg.backfill_days = 3;
        cfg.archive_url = base.clone();
    };
    let _a = crate::app::spawn_app_with(t.db.clone(), configure).await;
    let _b = crate::app::spawn_app_with(t.db.clone(), configure).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if loaded_runs(&t.db).await.len() == 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the last 3 days were not loaded: {:?}",
            loaded_runs(&t.db).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Yesterday is the last day; each file was loaded once, by one instance.
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).date_naive();
    let runs = loaded_runs(&t.db).await;
    for back in 1..=3 {
        let day = today - chrono::Duration::days(back);
        let url = format!("{base}/jour/{}", day.format("%Y%m%d"));
        assert!(runs.contains(&(url.clone(), 1)), "{url} in {runs:?}");
    }
    assert_eq!(history(&t.db).await.len(), 3);
    // The lease is released once done, and nothing is downloaded twice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(archive.served.load(Ordering::SeqCst), 3);
    let lease = carburoam::db::leases::current(&t.db, backfill::STARTUP_LEASE).await.expect("lease");
    assert!(lease.as_ref().is_none_or(|l| !l.is_live(carburoam::db::now())), "{lease:?}");

    // A restart finds the days loaded: nothing fetched again.
    let _c = crate::app::spawn_app_with(t.db.clone(), configure).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(archive.served.load(Ordering::SeqCst), 3);
    assert_eq!(loaded_runs(&t.db).await.len(), 3);
});

async fn import(db: &Db, name: &str, bytes: Vec<u8>) -> carburoam::feed::ImportReport {
    let opts = carburoam::feed::ImportOptions { force: true, ..Default::default() };
    carburoam::feed::import_bytes(db, name, bytes.into(), &opts).await.expect(name)
}

/// A daily file of 2025-12-30, as the yearly archive holds that day.
fn day_20251230() -> Vec<u8> {
    zip_xml_as(
        "PrixCarburants_quotidien_20251230.xml",
        &archive_xml(&[(1000001, "Gazole", 1, "2025-12-30 08:00:00", "1.689")]),
    )
}

db_test!(a_daily_file_after_the_yearly_of_its_year_adds_nothing, |t| {
    import(&t.db, "annee/2025", year_2025()).await;
    let before = history(&t.db).await;
    assert_eq!(before.len(), 4, "{before:#?}");
    let report = import(&t.db, "jour/20251230", day_20251230()).await;
    assert_eq!(report.counts.history_added, 0, "{report}");
    assert_eq!(history(&t.db).await, before);
});

db_test!(history_keeps_change_points_whatever_order_files_arrive_in, |t| {
    let files = || {
        vec![
            ("annee/2025", year_2025()),
            ("jour/20251230", day_20251230()),
            ("jour/20260101", day("20260101").expect("day")),
            ("jour/20260105", day("20260105").expect("day")),
        ]
    };
    for (name, bytes) in files().into_iter().rev() {
        import(&t.db, name, bytes).await;
    }
    let reversed = history(&t.db).await;
    let fresh = TestDb::for_backend(if t.url.starts_with("sqlite") { "sqlite" } else { "postgres" })
        .await
        .expect("a fresh database of the same backend");
    for (name, bytes) in files() {
        import(&fresh.db, name, bytes).await;
    }
    let in_order = history(&fresh.db).await;
    assert_eq!(reversed, in_order);
    assert_eq!(in_order.len(), EXPECTED_HISTORY, "{in_order:#?}");
    // No two consecutive points of a (station, fuel) hold the same price.
    for w in in_order.windows(2) {
        if (w[0].0, w[0].1) == (w[1].0, w[1].1) {
            assert_ne!(w[0].3, w[1].3, "{w:?}");
        }
    }
});
