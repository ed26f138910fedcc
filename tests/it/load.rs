//! The loader: exact data from the fixtures, history rules, idempotency, and "never half-way"
//! for every kind of bad input, on both backends.

use std::io::Write;

use carburoam::db::Db;
use carburoam::db::etl_runs::RunStatus;
use carburoam::feed::FeedKind;
use carburoam::feed::{self, ImportError, ImportOptions};
use carburoam::on_db;
use sha2::{Digest, Sha256};

use crate::db_test;
use crate::helpers::{TestDb, fixture};

/// Every row of the data tables, in a stable order, hashed: equal fingerprints mean equal data.
pub async fn fingerprint(db: &Db) -> String {
    let mut h = Sha256::new();
    type Row = (i64, f64, f64, String, String, String, String, bool, Option<String>, String);
    let stations: Vec<Row> = on_db!(db, p => sqlx::query_as(
        "SELECT id, latitude, longitude, postcode, city, address, road_type, automate_24_24, opening_hours, services \
         FROM stations ORDER BY id",
    ).fetch_all(p).await)
    .expect("stations");
    h.update(format!("{stations:?}"));
    let seen: Vec<(i64, i64, i64, Option<i64>)> = on_db!(db, p => sqlx::query_as(
        "SELECT id, first_seen_at, last_seen_at, missing_since FROM stations ORDER BY id",
    ).fetch_all(p).await)
    .expect("stations seen");
    h.update(format!("{seen:?}"));
    let prices: Vec<(i64, i16, i32, i64)> =
        on_db!(db, p => sqlx::query_as("SELECT station_id, fuel, price, updated_at FROM prices ORDER BY station_id, fuel").fetch_all(p).await)
            .expect("prices");
    h.update(format!("{prices:?}"));
    let history: Vec<(i64, i16, i64, i32)> = on_db!(db, p => sqlx::query_as(
        "SELECT station_id, fuel, at, price FROM price_history ORDER BY station_id, fuel, at"
    ).fetch_all(p).await)
    .expect("history");
    h.update(format!("{history:?}"));
    let shortages: Vec<(i64, i16, String, Option<i64>)> = on_db!(db, p => sqlx::query_as(
        "SELECT station_id, fuel, kind, since FROM shortages ORDER BY station_id, fuel"
    ).fetch_all(p).await)
    .expect("shortages");
    h.update(format!("{shortages:?}"));
    hex::encode(h.finalize())
}

pub async fn price(db: &Db, station: i64, fuel: i16) -> Option<(i32, i64)> {
    on_db!(db, p => sqlx::query_as("SELECT price, updated_at FROM prices WHERE station_id = $1 AND fuel = $2")
        .bind(station).bind(fuel).fetch_optional(p).await)
    .expect("price")
}

pub async fn history(db: &Db, station: i64, fuel: i16) -> Vec<(i64, i32)> {
    on_db!(db, p => sqlx::query_as("SELECT at, price FROM price_history WHERE station_id = $1 AND fuel = $2 ORDER BY at")
        .bind(station).bind(fuel).fetch_all(p).await)
    .expect("history")
}

async fn shortages(db: &Db, station: i64) -> Vec<(i16, String, Option<i64>)> {
    on_db!(db, p => sqlx::query_as("SELECT fuel, kind, since FROM shortages WHERE station_id = $1 ORDER BY fuel")
        .bind(station).fetch_all(p).await)
    .expect("shortages")
}

async fn run_statuses(db: &Db) -> Vec<(String, i32, Option<String>)> {
    on_db!(db, p => sqlx::query_as("SELECT status, rejected, error FROM etl_runs ORDER BY id").fetch_all(p).await)
        .expect("runs")
}

fn ts(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s).expect("rfc3339").timestamp()
}

fn opts() -> ImportOptions {
    ImportOptions { trigger: carburoam::domain::Trigger::Cli, ..ImportOptions::default() }
}

async fn import_fixture(db: &Db, name: &str) -> feed::ImportReport {
    feed::import_file(db, &fixture(name), &opts()).await.unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A ZIP holding one entry, like the publisher's.
pub fn zip_of(name: &str, xml: &[u8]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut out);
        let o = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        z.start_file(name, o).expect("zip entry");
        z.write_all(xml).expect("zip write");
        z.finish().expect("zip finish");
    }
    out.into_inner()
}

db_test!(snapshot_a_loads_exactly, |t| {
    let r = import_fixture(&t.db, "snapshot_a.xml").await;
    assert_eq!(r.status, RunStatus::Success);
    assert_eq!(r.stations_in_file, 8);
    assert_eq!(r.counts.stations_new, 8);
    assert_eq!(r.counts.rejected, 3);
    let db = &t.db;

    // Mojibake repaired, 24/24 contradiction kept as published, coordinates in degrees.
    let (addr, city, lat, lon, auto): (String, String, f64, f64, bool) = on_db!(db, p => sqlx::query_as(
        "SELECT address, city, latitude, longitude, automate_24_24 FROM stations WHERE id = 92330002"
    ).fetch_one(p).await)
    .unwrap();
    assert_eq!((addr.as_str(), city.as_str(), auto), ("77 Avenue Édouard Depreux", "SCEAUX", true));
    assert!((lat - 48.774).abs() < 1e-9 && (lon - 2.28).abs() < 1e-9, "{lat} {lon}");

    // Ambiguous autumn hour: the earlier instant. Leading zero of the postcode kept.
    assert_eq!(price(db, 6110002, 1).await, Some((1659, ts("2025-10-26T00:30:00Z"))));
    let (cp, dept): (String, String) =
        on_db!(db, p => sqlx::query_as("SELECT postcode, department FROM stations WHERE id = 6110002").fetch_one(p).await).unwrap();
    assert_eq!((cp.as_str(), dept.as_str()), ("06110", "06"));

    // Placeholders rejected, the station's valid price still loads.
    assert_eq!(price(db, 5240001, 1).await, None);
    assert_eq!(price(db, 5240001, 2).await, None);
    assert_eq!(price(db, 5240001, 5).await, Some((1749, ts("2025-10-25T06:00:00Z"))));
    assert_eq!(price(db, 10150002, 6).await, None);

    // A station without prices loads; its shortages with their kinds.
    assert_eq!(
        shortages(db, 44100004).await,
        vec![
            (1, "temporary".to_owned(), Some(ts("2025-10-25T07:00:00Z"))),
            (2, "permanent".to_owned(), Some(ts("2020-03-21T15:13:39Z"))),
            (5, "unknown".to_owned(), Some(ts("2019-01-09T11:12:42Z"))),
        ]
    );
    // The same fuel listed twice: merged to the more definite kind and the earlier start.
    assert_eq!(shortages(db, 75013008).await, vec![(3, "permanent".to_owned(), Some(ts("2025-09-01T10:00:00Z")))]);

    // One history point per price on a first import.
    assert_eq!(history(db, 6110002, 1).await, vec![(ts("2025-10-26T00:30:00Z"), 1659)]);

    // The run and its rejections are recorded.
    let runs = run_statuses(db).await;
    assert_eq!(runs, vec![("success".to_owned(), 3, None)]);
    let run = carburoam::db::etl_runs::recent(db, 1).await.unwrap().remove(0);
    let rej = carburoam::db::etl_runs::rejections(db, run.id).await.unwrap();
    let mut got: Vec<(Option<i64>, Option<i16>, String)> =
        rej.into_iter().map(|r| (r.station_id.map(|s| s.get()), r.fuel, r.value)).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (Some(5240001), Some(1), "9.999".to_owned()),
            (Some(5240001), Some(2), "9.999".to_owned()),
            (Some(10150002), Some(6), "7.849".to_owned()),
        ]
    );
});

db_test!(snapshot_b_applies_changes, |t| {
    let db = &t.db;
    import_fixture(db, "snapshot_a.xml").await;
    let r = import_fixture(db, "snapshot_b.xml").await;
    assert_eq!(r.counts.stations_new, 1, "{r}");
    assert_eq!(r.counts.stations_missing, 1, "{r}");
    assert_eq!(r.counts.stations_unchanged, 3, "{r}");

    // Changed value: current moves, one history point added.
    assert_eq!(price(db, 6110002, 1).await, Some((1649, ts("2025-10-26T09:05:00Z"))));
    assert_eq!(
        history(db, 6110002, 1).await,
        vec![(ts("2025-10-26T00:30:00Z"), 1659), (ts("2025-10-26T09:05:00Z"), 1649)]
    );
    // Re-dated only: the current row's time moves, the history does not grow.
    assert_eq!(price(db, 29200003, 1).await, Some((1699, ts("2025-10-26T09:06:00Z"))));
    assert_eq!(history(db, 29200003, 1).await, vec![(ts("2025-10-25T18:00:00Z"), 1699)]);
    // The typo fixed: now a current price.
    assert_eq!(price(db, 10150002, 6).await, Some((1849, ts("2025-10-26T09:07:00Z"))));
    // The ended shortage is gone, the others stay.
    let s: Vec<i16> = shortages(db, 44100004).await.into_iter().map(|s| s.0).collect();
    assert_eq!(s, vec![2, 5]);
    // The station gone from the snapshot is kept, marked missing since this snapshot.
    let (missing, cnt): (Option<i64>, i64) = on_db!(db, p => sqlx::query_as(
        "SELECT missing_since, (SELECT COUNT(*) FROM prices WHERE station_id = 13001005) FROM stations WHERE id = 13001005"
    ).fetch_one(p).await).unwrap();
    assert!(missing.is_some());
    assert_eq!(cnt, 3, "its last prices are kept");
    // The new station.
    assert_eq!(price(db, 69003009, 5).await, Some((1719, ts("2025-10-26T09:02:00Z"))));

    // Coming back from missing clears the mark.
    import_fixture(db, "snapshot_a.xml").await;
    let back: Option<i64> =
        on_db!(db, p => sqlx::query_scalar("SELECT missing_since FROM stations WHERE id = 13001005").fetch_one(p).await).unwrap();
    // snapshot_a is a bare XML file dated by its latest `maj`, older than b: it cannot bring the
    // station back, nor move b's prices backwards.
    assert!(back.is_some());
    assert_eq!(price(db, 6110002, 1).await, Some((1649, ts("2025-10-26T09:05:00Z"))));
});

db_test!(reimport_is_idempotent, |t| {
    let db = &t.db;
    import_fixture(db, "snapshot_a.xml").await;
    let before = fingerprint(db).await;
    // Byte-identical: skipped by hash.
    let r = import_fixture(db, "snapshot_a.xml").await;
    assert_eq!(r.status, RunStatus::Unchanged);
    // Forced through the content diff: nothing changes either.
    let forced = ImportOptions { force: true, ..opts() };
    let r = feed::import_file(db, &fixture("snapshot_a.xml"), &forced).await.unwrap();
    assert_eq!(r.status, RunStatus::Success);
    assert_eq!(r.counts.stations_unchanged, 8, "{r}");
    assert_eq!(r.counts.history_added, 0);
    assert_eq!(fingerprint(db).await, before);
    // The same XML in a ZIP (other bytes, same content): unchanged too.
    let xml = std::fs::read(fixture("snapshot_a.xml")).unwrap();
    let r = feed::import_bytes(db, "a.zip", zip_of("PrixCarburants_instantane_ruptures.xml", &xml).into(), &opts())
        .await
        .unwrap();
    assert_eq!(r.counts.history_added, 0, "{r}");
    assert_eq!(r.counts.prices_changed, 0, "{r}");
    let prices_after: i64 =
        on_db!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM prices").fetch_one(p).await).unwrap();
    assert_eq!(prices_after, 13);
});

db_test!(archive_fills_history_in_time_order, |t| {
    let db = &t.db;
    let r = import_fixture(db, "archive_day.xml").await;
    assert_eq!(r.kind, Some(FeedKind::Archive));
    // Document order is not time order: the history is sorted, the current price is the latest.
    assert_eq!(
        history(db, 1000001, 1).await,
        vec![
            (ts("2025-10-25T04:00:00Z"), 1709),
            (ts("2025-10-25T05:00:00Z"), 1699),
            (ts("2025-10-25T13:30:00Z"), 1689),
        ]
    );
    assert_eq!(price(db, 1000001, 1).await, Some((1689, ts("2025-10-25T13:30:00Z"))));
    assert_eq!(price(db, 1000002, 5).await, Some((1749, ts("2025-10-25T10:00:00Z"))));
    assert_eq!(
        history(db, 1000002, 5).await,
        vec![(ts("2025-10-25T06:00:00Z"), 1739), (ts("2025-10-25T10:00:00Z"), 1749)]
    );
});

db_test!(older_file_never_moves_prices_backwards, |t| {
    let db = &t.db;
    import_fixture(db, "snapshot_b.xml").await;
    let current = price(db, 6110002, 1).await;
    // A late archive for that station: older prices, out of order, one equal to its neighbour.
    let xml = r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<pdv_liste>
  <pdv id="6110002" latitude="4357200" longitude="701600" cp="06110" pop="R">
    <adresse>Rue du Coeur Volant</adresse><ville>Le Cannet</ville>
    <prix nom="Gazole" id="1" maj="2025-10-20 08:00:00" valeur="1.600"/>
    <prix nom="Gazole" id="1" maj="2025-10-18 08:00:00" valeur="1.620"/>
    <prix nom="Gazole" id="1" maj="2025-10-19 08:00:00" valeur="1.620"/>
    <prix nom="Gazole" id="1" maj="2025-10-20 08:00:00" valeur="1.600"/>
  </pdv>
</pdv_liste>"#;
    // Bare XML: dated by its latest `maj`, older than the snapshot.
    let r = feed::import_bytes(db, "jour.xml", xml.as_bytes().to_vec().into(), &opts()).await.unwrap();
    assert_eq!(r.kind, Some(FeedKind::Archive));
    assert_eq!(price(db, 6110002, 1).await, current, "the current price did not move");
    // History: change points only, in time order, before the snapshot's points.
    assert_eq!(
        history(db, 6110002, 1).await,
        vec![
            (ts("2025-10-18T06:00:00Z"), 1620),
            (ts("2025-10-20T06:00:00Z"), 1600),
            (ts("2025-10-26T09:05:00Z"), 1649),
        ]
    );
    // The attributes of the station are not overwritten by the older file.
    let addr: String =
        on_db!(db, p => sqlx::query_scalar("SELECT address FROM stations WHERE id = 6110002").fetch_one(p).await)
            .unwrap();
    assert_eq!(addr, "Rue du Cœur Volant");
});

db_test!(old_schema_loads, |t| {
    let db = &t.db;
    let r = import_fixture(db, "old_2014.xml").await;
    assert_eq!(r.stations_in_file, 3);
    assert_eq!(price(db, 1000001, 1).await, Some((1255, ts("2014-09-27T08:01:27Z"))));
    assert_eq!(shortages(db, 1000002).await, vec![(3, "unknown".to_owned(), Some(ts("2009-11-03T11:19:00Z")))]);
});

/// Every bad input: a clear error, a failed run recorded, the data exactly as before.
async fn refused(db: &Db, name: &str, bytes: Vec<u8>, expect: &str) {
    let before = fingerprint(db).await;
    let err = feed::import_bytes(db, name, bytes.into(), &opts()).await.expect_err(name);
    let text = err.to_string();
    assert!(text.to_lowercase().contains(expect), "{name}: {text:?} should mention {expect:?}");
    assert_eq!(fingerprint(db).await, before, "{name} changed the data");
    crate::series::assert_series_rebuilds(db, &format!("after the refused {name}")).await;
    let last = carburoam::db::etl_runs::recent(db, 1).await.unwrap().remove(0);
    assert_eq!(last.status, RunStatus::Failed, "{name}");
    assert_eq!(last.error.as_deref(), Some(text.as_str()));
}

db_test!(bad_inputs_change_nothing, |t| {
    let db = &t.db;
    import_fixture(db, "snapshot_a.xml").await;
    let xml = std::fs::read(fixture("snapshot_b.xml")).unwrap();
    let zip = zip_of("PrixCarburants_instantane_ruptures.xml", &xml);

    refused(db, "truncated.zip", zip[..zip.len() * 2 / 3].to_vec(), "zip").await;
    refused(db, "cut.xml", xml[..xml.len() - 40].to_vec(), "truncated").await;
    refused(db, "cut-in-zip.zip", zip_of("x.xml", &xml[..xml.len() / 2]), "truncated").await;
    refused(db, "error.html", b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>".to_vec(), "html").await;
    refused(db, "garbage.bin", (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect(), "not a feed")
        .await;
    refused(db, "empty", Vec::new(), "empty").await;
    refused(db, "other-root.xml", b"<?xml version=\"1.0\"?><stations><pdv id=\"1\"/></stations>".to_vec(), "root")
        .await;
    // A ZIP bomb: 3 GB of spaces inside a tiny ZIP. Refused by the decompressed-size cap.
    let bomb = {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut z = zip::ZipWriter::new(&mut out);
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        z.start_file("PrixCarburants_instantane.xml", o).unwrap();
        z.write_all(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><pdv_liste>").unwrap();
        let block = vec![b' '; 1 << 20];
        for _ in 0..300 {
            z.write_all(&block).unwrap();
        }
        z.finish().unwrap();
        out.into_inner()
    };
    let small = ImportOptions {
        limits: carburoam::feed::archive::Limits { max_xml_bytes: 64 << 20, ..Default::default() },
        ..opts()
    };
    let before = fingerprint(db).await;
    let err = feed::import_bytes(db, "bomb.zip", bomb.into(), &small).await.expect_err("bomb");
    assert!(err.to_string().contains("too large") || err.to_string().contains("exceeds"), "{err}");
    assert_eq!(fingerprint(db).await, before);
    crate::series::assert_series_rebuilds(db, "after the refused bomb.zip").await;

    // A flipped byte inside the deflate stream: CRC or inflate error, nothing loaded.
    let mut flipped = zip.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    let before = fingerprint(db).await;
    assert!(feed::import_bytes(db, "flipped.zip", flipped.into(), &opts()).await.is_err());
    assert_eq!(fingerprint(db).await, before);
    crate::series::assert_series_rebuilds(db, "after the refused flipped.zip").await;
});

db_test!(far_fewer_stations_refused_unless_forced, |t| {
    let db = &t.db;
    import_fixture(db, "snapshot_a.xml").await;
    // A newer snapshot with 2 of the 8 stations: a truncated upstream file.
    let xml = r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<pdv_liste>
  <pdv id="6110002" latitude="4357200" longitude="701600" cp="06110" pop="R"><adresse>a</adresse><ville>b</ville>
    <prix nom="Gazole" id="1" maj="2025-10-27 08:00:00" valeur="1.600"/></pdv>
  <pdv id="29200003" latitude="4839000" longitude="-448600" cp="29200" pop="R"><adresse>a</adresse><ville>b</ville>
    <prix nom="Gazole" id="1" maj="2025-10-27 08:00:00" valeur="1.600"/></pdv>
</pdv_liste>"#;
    let zip = zip_of("PrixCarburants_instantane_ruptures.xml", xml.as_bytes());
    let before = fingerprint(db).await;
    let err = feed::import_bytes(db, "short.zip", zip.clone().into(), &opts()).await.expect_err("refused");
    assert!(matches!(err, ImportError::TooFewStations { found: 2, loaded: 8 }), "{err}");
    assert!(err.to_string().contains("--force"));
    assert_eq!(fingerprint(db).await, before);
    crate::series::assert_series_rebuilds(db, "after the refused short.zip").await;
    let forced = ImportOptions { force: true, ..opts() };
    let r = feed::import_bytes(db, "short.zip", zip.into(), &forced).await.unwrap();
    assert_eq!(r.counts.stations_missing, 6);
});

db_test!(concurrent_imports_serialise, |t| {
    // Two imports at once on one database: both succeed, one after the other, and the result
    // is the same as importing them in sequence.
    let db = t.db.clone();
    let other = Db::connect(&t.url).await.unwrap();
    let a = tokio::spawn(async move { feed::import_file(&db, &fixture("snapshot_a.xml"), &opts()).await.map(|_| ()) });
    let b = tokio::spawn(async move {
        let r = feed::import_file(&other, &fixture("archive_day.xml"), &opts()).await.map(|_| ());
        other.close().await;
        r
    });
    a.await.unwrap().unwrap();
    b.await.unwrap().unwrap();
    let n: i64 = on_db!(&t.db, p => sqlx::query_scalar("SELECT COUNT(*) FROM stations").fetch_one(p).await).unwrap();
    assert_eq!(n, 10);
});

/// Random truncations and byte flips of a feed never panic and never load part of a file.
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// ~150 stations of the real ruptures file (a synthetic feed without ../shared), zipped, and
    /// how many stations it holds.
    fn sample() -> &'static (Vec<u8>, usize) {
        static S: std::sync::OnceLock<(Vec<u8>, usize)> = std::sync::OnceLock::new();
        S.get_or_init(|| {
            let xml = crate::parse::sample_xml();
            let n = carburoam::feed::parse::parse(&xml).expect("sample parses").stations.len();
            (zip_of("PrixCarburants_instantane_ruptures.xml", &xml), n)
        })
    }

    fn check(t: &TestDb, rt: &tokio::runtime::Runtime, bytes: Vec<u8>, before: &str, min_stations: usize) {
        rt.block_on(async {
            match feed::import_bytes(&t.db, "fuzz", bytes.into(), &ImportOptions { force: true, ..opts() }).await {
                Ok(r) => {
                    // A damaged file may only load if it still held the whole document (a flipped
                    // digit may merge two station ids, nothing more).
                    assert!(r.stations_in_file >= min_stations, "{r}");
                }
                Err(_) => {
                    assert_eq!(fingerprint(&t.db).await, before);
                    crate::series::assert_series_rebuilds(&t.db, "after a refused damaged file").await;
                }
            }
        });
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]
        #[test]
        fn truncated_or_flipped_never_half_loads(cut in 0.0f64..1.0, flips in proptest::collection::vec((0.0f64..1.0, 1u8..=255), 0..4)) {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            let t = rt.block_on(TestDb::sqlite());
            // Load a first version so that there is something to protect.
            let base = zip_of("PrixCarburants_instantane_ruptures.xml", &carburoam::feed::synth::generate_xml_with(60, 7, 1));
            rt.block_on(feed::import_bytes(&t.db, "base", base.into(), &opts())).unwrap();
            let before = rt.block_on(fingerprint(&t.db));
            let (sample, stations) = sample();
            let min = stations - flips.len();
            let mut bytes = sample.clone();
            let len = bytes.len();
            for (pos, x) in flips {
                let i = ((len as f64) * pos) as usize % len;
                bytes[i] ^= x;
            }
            let keep = ((len as f64) * cut) as usize;
            if keep > 0 && keep < len { bytes.truncate(keep); }
            check(&t, &rt, bytes, &before, min);
        }
    }
}

/// Logs written to a pipe (journald, a file) carry no ANSI colour codes.
#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let out = crate::offline::carburoam()
        .args(["import", "--database", &url])
        .arg(fixture("snapshot_a.xml"))
        .env("RUST_LOG", "info")
        .output()
        .expect("run carburoam");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("import done"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

db_test!(snapshot_time_is_the_zip_entry_time_else_the_latest_maj, |t| {
    // A bare XML file: the latest `maj` in it, read by the one parse of the file.
    let r = import_fixture(&t.db, "snapshot_a.xml").await;
    let latest = carburoam::domain::paris_local_to_utc("2025-10-26 02:30:00").expect("maj");
    assert_eq!(r.snapshot_at, Some(latest));
    // A ZIP with a real entry time: that time (UTC), whatever the `maj` inside.
    let xml = std::fs::read(fixture("snapshot_a.xml")).expect("fixture");
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut out);
        let time = zip::DateTime::from_date_and_time(2025, 11, 2, 10, 0, 0).expect("time");
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(time);
        z.start_file("PrixCarburants_instantane.xml", o).expect("entry");
        z.write_all(&xml).expect("write");
        z.finish().expect("finish");
    }
    let forced = ImportOptions { force: true, ..opts() };
    let r = feed::import_bytes(&t.db, "timed.zip", out.into_inner().into(), &forced).await.expect("import");
    assert_eq!(r.snapshot_at.map(|t| t.to_rfc3339()).as_deref(), Some("2025-11-02T10:00:00+00:00"));
    // A ZIP without a time (1980, the DOS epoch): taken as of now, as before.
    let before = chrono::Utc::now();
    let r = feed::import_bytes(&t.db, "untimed.zip", zip_of("x.xml", &xml).into(), &forced).await.expect("import");
    assert!(r.snapshot_at.is_some_and(|s| s >= before - chrono::Duration::seconds(1)), "{:?}", r.snapshot_at);
});

/// Where `needle` first occurs in `hay` from `from` (the fixtures are ISO-8859-1 bytes).
fn find_bytes(hay: &[u8], needle: &[u8], from: usize) -> usize {
    from + hay[from..].windows(needle.len()).position(|w| w == needle).expect("in the fixture")
}

// ZIP files dated by no entry time are taken as of now, the newest: the parser's sieve (which
// drops stations whose stored hash is the same) runs for them, unlike bare XML files.
db_test!(zipped_snapshots_keep_the_first_occurrence_and_bring_missing_stations_back, |t| {
    let db = &t.db;
    let a = std::fs::read(fixture("snapshot_a.xml")).unwrap();
    let b = std::fs::read(fixture("snapshot_b.xml")).unwrap();
    let entry = "PrixCarburants_instantane.xml";
    feed::import_bytes(db, "a.zip", zip_of(entry, &a).into(), &opts()).await.unwrap();
    let before = fingerprint(db).await;

    // The first station listed again at the end with another address: the first occurrence
    // (unchanged) wins, and the second is not counted.
    let start = find_bytes(&a, b"<pdv ", 0);
    let end = find_bytes(&a, b"</pdv>", start) + b"</pdv>".len();
    let address = find_bytes(&a, b"<adresse>", start) + b"<adresse>".len();
    let mut dup = a[start..address].to_vec();
    dup.extend_from_slice(b"Autre ");
    dup.extend_from_slice(&a[address..end]);
    let close = find_bytes(&a, b"</pdv_liste>", 0);
    let with_dup = [&a[..close], &dup, &a[close..]].concat();
    let r = feed::import_bytes(db, "dup.zip", zip_of(entry, &with_dup).into(), &opts()).await.unwrap();
    assert_eq!((r.counts.stations_unchanged, r.counts.stations_updated, r.counts.stations_new), (8, 0, 0), "{r}");
    assert_eq!(fingerprint(db).await, before);

    // b lacks 13001005: marked missing. a again, newer, lists it unchanged: it comes back.
    feed::import_bytes(db, "b.zip", zip_of(entry, &b).into(), &opts()).await.unwrap();
    let missing = || async {
        on_db!(db, p => sqlx::query_scalar::<_, Option<i64>>("SELECT missing_since FROM stations WHERE id = 13001005")
            .fetch_one(p)
            .await)
        .unwrap()
    };
    assert!(missing().await.is_some());
    let r = feed::import_bytes(db, "a2.zip", zip_of(entry, &a).into(), &opts()).await.unwrap();
    assert!(missing().await.is_none(), "{r}");
    assert_eq!(r.counts.stations_missing, 1, "b's new station is missing from a: {r}");
});

// The raw hashes of the `<pdv>` elements: stored by a first import, brought back for unchanged
// stations stored without them, and an element dropped unparsed counts as a parsed one.
db_test!(raw_hashes_are_stored_refreshed_and_skip_the_same, |t| {
    let db = &t.db;
    let a = std::fs::read(fixture("snapshot_a.xml")).unwrap();
    let zip = zip_of("PrixCarburants_instantane_ruptures.xml", &a);
    feed::import_bytes(db, "a.zip", zip.clone().into(), &opts()).await.unwrap();
    let hashes = || async {
        on_db!(db, p => sqlx::query_as::<_, (i64, Option<i64>)>("SELECT id, raw_hash FROM stations ORDER BY id")
            .fetch_all(p)
            .await)
        .unwrap()
    };
    let stored = hashes().await;
    // Not those with a rejected price or two shortages of one fuel merged.
    assert_eq!(stored.iter().filter(|s| s.1.is_some()).count(), 5, "{stored:?}");
    let before = fingerprint(db).await;
    let forced = ImportOptions { force: true, ..opts() };

    // Every element the parser vouched for is dropped unparsed: the same report as the parse.
    let skipped = feed::import_bytes(db, "a.zip", zip.clone().into(), &forced).await.unwrap();
    on_db!(db, p => sqlx::query("UPDATE stations SET raw_hash = NULL").execute(p).await.map(|_| ())).unwrap();
    let parsed = feed::import_bytes(db, "a.zip", zip.clone().into(), &forced).await.unwrap();
    assert_eq!(skipped.counts, parsed.counts);
    assert_eq!(skipped.counts.stations_unchanged, 8, "{skipped}");
    assert_eq!(
        (skipped.stations_in_file, skipped.price_elements, skipped.shortages_changed),
        (parsed.stations_in_file, parsed.price_elements, parsed.shortages_changed)
    );
    // The parse stored the hashes again, and changed nothing else.
    assert_eq!(hashes().await, stored);
    assert_eq!(fingerprint(db).await, before);
});
