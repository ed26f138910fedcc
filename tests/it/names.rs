//! Station names from OpenStreetMap: both file formats, canonical brands, multi-ref rows,
//! unknown refs, every bad input (nothing changes), the coverage guard, and the Overpass
//! download against a local fake server, on both backends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use carburoam::db::Db;
use carburoam::db::station_names;
use carburoam::domain::StationId;
use carburoam::feed::{self, ImportOptions};
use carburoam::names::overpass::OverpassOptions;
use carburoam::names::{NamesImportOptions, import_bytes, import_source};

use crate::db_test;
use crate::helpers::{fixture, shared_file};

async fn load_snapshot_a(db: &Db) {
    let opts = ImportOptions { trigger: carburoam::domain::Trigger::Cli, ..ImportOptions::default() };
    feed::import_file(db, &fixture("snapshot_a.xml"), &opts).await.expect("snapshot_a imports");
}

fn opts() -> NamesImportOptions {
    NamesImportOptions { trigger: carburoam::domain::Trigger::Cli, ..NamesImportOptions::default() }
}

fn id(v: i64) -> StationId {
    StationId::new(v).expect("id")
}

fn path(name: &str) -> String {
    fixture(name).display().to_string()
}

db_test!(names_csv_fixture, |t| {
    load_snapshot_a(&t.db).await;
    let r = import_source(&t.db, &path("names_a.csv"), &opts()).await.expect("csv imports");
    println!("{r}");
    assert_eq!(r.rows_read, 8);
    assert_eq!(r.stations_named, 6, "92330002, 6110002, 29200003, 44100004, 13001005, 5240001");
    assert_eq!((r.refs_unknown, r.refs_invalid, r.rows_without_ref), (1, 1, 1));
    assert_eq!((r.before.branded, r.after.branded, r.after.current), (0, 5, 8));
    let all = station_names::all(&t.db).await.expect("all");
    assert_eq!(all.len(), 6);
    let total = &all[&id(92330002)];
    assert_eq!(total.brand.as_deref(), Some("TotalEnergies"));
    assert_eq!(total.brand_wikidata.as_deref(), Some("Q154037"));
    assert_eq!(total.osm_brand.as_deref(), Some("Total Access"));
    assert_eq!(total.display().as_deref(), Some("TotalEnergies — Total Access"));
    // One row, two refs: both stations named.
    for s in [6110002, 29200003] {
        assert_eq!(all[&id(s)].brand.as_deref(), Some("E.Leclerc"), "{s}");
        assert_eq!(all[&id(s)].display().as_deref(), Some("E.Leclerc"), "{s}");
    }
    assert_eq!(all[&id(44100004)].brand.as_deref(), Some("Système U"));
    assert_eq!(all[&id(13001005)].brand.as_deref(), Some("Esso"));
    let garage = &all[&id(5240001)];
    assert_eq!((garage.brand.as_deref(), garage.display().as_deref()), (None, Some("Garage du Col")));
    let (_, tags) = station_names::get(&t.db, id(92330002)).await.expect("get").expect("named");
    assert_eq!(tags, r#"{"brand":"Total Access","ref:FR:prix-carburants":"92330002"}"#);
    let last = station_names::last_import(&t.db).await.expect("last").expect("logged");
    assert_eq!((last.rows_read, last.stations_named, last.refs_unknown, last.refs_invalid), (8, 6, 1, 1));
    assert_eq!((last.branded_before, last.branded_after, last.stations_current, last.forced), (0, 5, 8, false));
    let brands = station_names::brands(&t.db).await.expect("brands");
    assert_eq!(brands[0], ("E.Leclerc".to_owned(), 2));
    assert_eq!(station_names::coverage(&t.db).await.expect("coverage").branded, 5);
});

db_test!(names_json_fixture_replaces_all, |t| {
    load_snapshot_a(&t.db).await;
    import_source(&t.db, &path("names_a.csv"), &opts()).await.expect("csv imports");
    // The JSON names 3 stations: coverage 5/8 → 3/8 is a drop of 25 points.
    let refused = import_source(&t.db, &path("names_a.json"), &opts()).await.expect_err("guard");
    assert!(refused.is_coverage_drop(), "{refused}");
    assert!(refused.to_string().contains("--force"), "{refused}");
    assert_eq!(station_names::all(&t.db).await.expect("all").len(), 6, "refused: nothing changed");
    let forced = NamesImportOptions { force: true, ..opts() };
    let r = import_source(&t.db, &path("names_a.json"), &forced).await.expect("forced import");
    assert_eq!((r.rows_read, r.stations_named, r.refs_unknown, r.refs_invalid, r.rows_without_ref), (5, 3, 1, 1, 1));
    let all = station_names::all(&t.db).await.expect("all");
    assert_eq!(all.len(), 3, "an import replaces every name");
    assert_eq!(all[&id(75013008)].display().as_deref(), Some("TotalEnergies — Relais Paris 13"));
    assert_eq!(all[&id(10150002)].display().as_deref(), Some("Intermarché"));
    assert_eq!(all[&id(92330002)].brand.as_deref(), Some("Système U"));
    let osm: Option<(String, i64)> = carburoam::on_db!(&t.db, p => sqlx::query_as(
        "SELECT osm_type, osm_id FROM station_names WHERE station_id = $1",
    ).bind(92330002_i64).fetch_optional(p).await)
    .expect("osm");
    assert_eq!(osm, Some(("relation".to_owned(), 3003)));
    assert!(station_names::last_import(&t.db).await.expect("last").expect("logged").forced);
});

db_test!(names_bad_inputs_change_nothing, |t| {
    load_snapshot_a(&t.db).await;
    import_source(&t.db, &path("names_a.csv"), &opts()).await.expect("csv imports");
    let before = station_names::all(&t.db).await.expect("all");
    let last = station_names::last_import(&t.db).await.expect("last");
    let header = "ref:FR:prix-carburants,brand,name,operator,branch\n";
    let bad: Vec<(&str, Vec<u8>)> = vec![
        (
            "html",
            b"<!DOCTYPE html><html><body><p><strong>Error</strong>: runtime error: out of memory</p></body></html>"
                .to_vec(),
        ),
        (
            "truncated json",
            br#"{"elements":[{"type":"node","id":1,"tags":{"ref:FR:prix-carburants":"92330002""#.to_vec(),
        ),
        (
            "timeout remark",
            br#"{"elements":[],"remark":"runtime error: Query timed out in \"query\" at line 3 after 180 seconds."}"#
                .to_vec(),
        ),
        ("other header", b"id,brand,name\n92330002,Shell,Shell\n".to_vec()),
        ("short row", format!("{header}92330002,Shell,Shell,,\n6110002,Shell\n").into_bytes()),
        ("garbage", vec![0x50, 0x4b, 0x03, 0x04, 0, 0xff, 0xfe, 0x00]),
        ("empty", Vec::new()),
        ("header only", header.as_bytes().to_vec()),
        ("no elements", b"{\"elements\":[]}".to_vec()),
    ];
    for (what, bytes) in bad {
        let err = import_bytes(&t.db, what, bytes.into(), &opts()).await.expect_err(what);
        println!("{what}: {err}");
        assert_eq!(station_names::all(&t.db).await.expect("all"), before, "{what} changed the names");
        assert_eq!(station_names::last_import(&t.db).await.expect("last"), last, "{what} was logged");
    }
    let missing = import_source(&t.db, "/nonexistent/names.csv", &opts()).await.expect_err("missing file");
    assert!(missing.to_string().contains("names.csv"), "{missing}");
});

/// A fake Overpass server: answers 429 to the first `fail` requests, then `body`. Records the
/// `data` parameter and User-Agent of the last request.
pub(crate) async fn fake_overpass(
    fail: usize,
    body: &'static str,
) -> (String, Arc<AtomicUsize>, Arc<std::sync::Mutex<(String, String)>>) {
    use axum::extract::{Query, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::get;
    use std::collections::HashMap;
    type Seen = Arc<std::sync::Mutex<(String, String)>>;
    let hits = Arc::new(AtomicUsize::new(0));
    let seen: Seen = Arc::default();
    let state = (hits.clone(), seen.clone());
    let app = axum::Router::new()
        .route(
            "/api/interpreter",
            get(
                move |State((hits, seen)): State<(Arc<AtomicUsize>, Seen)>,
                      Query(q): Query<HashMap<String, String>>,
                      headers: HeaderMap| async move {
                    let n = hits.fetch_add(1, Ordering::SeqCst);
                    let ua = headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    *seen.lock().expect("lock") = (q.get("data").cloned().unwrap_or_default(), ua);
                    if n < fail {
                        (StatusCode::TOO_MANY_REQUESTS, "rate limited".to_owned())
                    } else {
                        (StatusCode::OK, body.to_owned())
                    }
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/api/interpreter"), hits, seen)
}

fn overpass_opts(endpoint: String) -> NamesImportOptions {
    NamesImportOptions {
        overpass: OverpassOptions {
            endpoint,
            public_url: Some("https://fuel.example".into()),
            retries: 2,
            backoff_base: Duration::from_millis(10),
            ..OverpassOptions::default()
        },
        ..opts()
    }
}

pub(crate) const FAKE_JSON: &str = include_str!("../fixtures/names_a.json");

db_test!(names_overpass_retries_429, |t| {
    load_snapshot_a(&t.db).await;
    let (url, hits, seen) = fake_overpass(1, FAKE_JSON).await;
    let r = import_source(&t.db, "overpass", &overpass_opts(url.clone())).await.expect("overpass import");
    assert_eq!(hits.load(Ordering::SeqCst), 2, "one 429, then success");
    assert_eq!((r.source.as_str(), r.stations_named), (url.as_str(), 3));
    let (data, ua) = seen.lock().expect("lock").clone();
    assert_eq!(data, carburoam::names::overpass::QUERY);
    assert!(data.contains("out tags center;") && data.contains("[out:json]"));
    assert!(ua.starts_with("carburoam/") && ua.contains("+https://fuel.example"), "{ua}");
    assert_eq!(station_names::all(&t.db).await.expect("all").len(), 3);
});

db_test!(names_overpass_gives_up_and_changes_nothing, |t| {
    load_snapshot_a(&t.db).await;
    import_source(&t.db, &path("names_a.csv"), &opts()).await.expect("csv imports");
    let (url, hits, _) = fake_overpass(usize::MAX, FAKE_JSON).await;
    let err = import_source(&t.db, "overpass", &overpass_opts(url)).await.expect_err("429 every time");
    assert!(err.to_string().contains("429"), "{err}");
    assert_eq!(hits.load(Ordering::SeqCst), 3, "first attempt + 2 retries");
    assert_eq!(station_names::all(&t.db).await.expect("all").len(), 6);
    // An Overpass timeout answers 200 with a remark: refused, names kept.
    let (url, _, _) = fake_overpass(
        0,
        r#"{"elements":[],"remark":"runtime error: Query timed out in \"query\" at line 3 after 180 seconds."}"#,
    )
    .await;
    let err = import_source(&t.db, "overpass", &overpass_opts(url)).await.expect_err("remark");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(station_names::all(&t.db).await.expect("all").len(), 6);
});

db_test!(names_shared_csv, |t| {
    let (Some(feed), Some(csv)) = (
        shared_file("instantane_ruptures_2026-06-05T1010.zip"),
        shared_file("osm_fuel_names_dept01-49_2026-08-17.csv"),
    ) else {
        eprintln!("../shared/data absent: skipped");
        return;
    };
    let opts_feed = ImportOptions { trigger: carburoam::domain::Trigger::Cli, ..ImportOptions::default() };
    feed::import_file(&t.db, &feed, &opts_feed).await.expect("feed imports");
    let started = Instant::now();
    let r = import_source(&t.db, &csv.display().to_string(), &opts()).await.expect("shared csv imports");
    println!("{r} (wall {:?}, backend {:?})", started.elapsed(), t.db.backend());
    assert_eq!(r.rows_read, 7182);
    assert!(r.stations_named > 4000, "{r}");
    assert!(r.after.percent() > 35.0, "{r}");
    let all = station_names::all(&t.db).await.expect("all");
    assert_eq!(all.len(), r.stations_named);
    let brands = station_names::brands(&t.db).await.expect("brands");
    println!("top brands: {:?}", &brands[..brands.len().min(12)]);
    let names: Vec<&str> = brands.iter().map(|(b, _)| b.as_str()).collect();
    for gone in ["Total", "Total Access", "E. Leclerc", "Super U", "Station U", "Esso Express"] {
        assert!(!names.contains(&gone), "{gone} should be canonicalised");
    }
    for kept in ["TotalEnergies", "E.Leclerc", "Système U", "Esso", "Intermarché"] {
        assert!(names.contains(&kept), "{kept}");
    }
    // Importing the same file again changes nothing and keeps coverage.
    let again = import_source(&t.db, &csv.display().to_string(), &opts()).await.expect("again");
    assert_eq!((again.before, again.after), (r.after, r.after));
});
