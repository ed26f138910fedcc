//! The real feed files of `../shared/data` (skipped, with a line saying so, in a clone without
//! them): every file loads in order, the database then holds exactly what the last file says, the
//! history of a ten-minute pair is exactly the set of price changes between the two files, and
//! the API serves the file's values.

use std::collections::{BTreeMap, BTreeSet};

use carburoam::db::Db;
use carburoam::db::etl_runs::RunStatus;
use carburoam::feed::{self, ImportOptions};
use carburoam::feed::{archive, parse};
use carburoam::on_db;

use crate::db_test;
use crate::helpers::shared_file;
use crate::load::fingerprint;

const SERIES: [&str; 9] = [
    "instantane_2019-05-10.zip",
    "instantane_2022-08-02T2000.zip",
    "instantane_2023-11-22T2220.zip",
    "instantane_2023-11-23T0820.zip",
    "instantane_2025-02-07T0200.zip",
    "instantane_2025-02-07T0220.zip",
    "instantane_2025-02-07T0730.zip",
    "instantane_2025-02-07T0740.zip",
    "instantane_ruptures_2026-06-05T1010.zip",
];

type PriceKey = (i64, i16);

/// (station, fuel) → (price, time) as the file says.
fn file_prices(name: &str) -> BTreeMap<PriceKey, (i32, i64)> {
    let path = shared_file(name).expect("shared file");
    let bytes = std::fs::read(path).expect("read");
    let reader = archive::open(&bytes, &archive::Limits::default()).expect("open");
    let mut out = BTreeMap::new();
    parse::parse_stream(reader, |st| {
        for p in st.prices {
            out.insert((st.id.get(), p.fuel.id()), (p.price.milli(), p.updated_at.timestamp()));
        }
    })
    .expect("parse");
    out
}

async fn db_prices(db: &Db) -> BTreeMap<PriceKey, (i32, i64)> {
    let rows: Vec<(i64, i16, i32, i64)> =
        on_db!(db, p => sqlx::query_as("SELECT station_id, fuel, price, updated_at FROM prices").fetch_all(p).await)
            .expect("prices");
    rows.into_iter().map(|(s, f, p, t)| ((s, f), (p, t))).collect()
}

async fn history_rows(db: &Db) -> BTreeSet<(i64, i16, i64, i32)> {
    on_db!(db, p => sqlx::query_as("SELECT station_id, fuel, at, price FROM price_history").fetch_all(p).await)
        .expect("history")
        .into_iter()
        .collect()
}

fn opts() -> ImportOptions {
    ImportOptions { trigger: carburoam::domain::Trigger::Cli, ..ImportOptions::default() }
}

async fn import(db: &Db, name: &str) -> feed::ImportReport {
    let path = shared_file(name).expect("shared file");
    feed::import_file(db, &path, &opts()).await.unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn have_shared() -> bool {
    let ok = SERIES.iter().all(|f| shared_file(f).is_some());
    if !ok {
        eprintln!("../shared/data not found: real-data test not run");
    }
    ok
}

db_test!(whole_series_loads_and_matches_the_last_file, |t| {
    if !have_shared() {
        return;
    }
    for name in SERIES {
        import(&t.db, name).await;
    }
    // Every price of the last file is in the database exactly (value and UTC time), and the
    // stations of that file carry no other current price.
    let last = SERIES[SERIES.len() - 1];
    let want = file_prices(last);
    let got = db_prices(&t.db).await;
    let stations: BTreeSet<i64> = want.keys().map(|k| k.0).collect();
    let got_for_file: BTreeMap<PriceKey, (i32, i64)> =
        got.into_iter().filter(|(k, _)| stations.contains(&k.0)).collect();
    assert_eq!(got_for_file.len(), want.len());
    assert!(got_for_file == want, "current prices differ from {last}");

    // Coordinates and attributes exactly as parsed.
    let bytes = std::fs::read(shared_file(last).unwrap()).unwrap();
    let parsed = {
        let mut xml = Vec::new();
        std::io::Read::read_to_end(&mut archive::open(&bytes, &archive::Limits::default()).unwrap(), &mut xml).unwrap();
        parse::parse(&xml).unwrap()
    };
    let rows: Vec<(i64, f64, f64, String, String, Option<i64>)> = on_db!(&t.db, p => sqlx::query_as(
        "SELECT id, latitude, longitude, postcode, address, missing_since FROM stations"
    ).fetch_all(p).await)
    .unwrap();
    let by_id: BTreeMap<i64, _> = rows.into_iter().map(|r| (r.0, r)).collect();
    for st in &parsed.stations {
        let r = &by_id[&st.id.get()];
        assert_eq!((r.1, r.2), (st.latitude, st.longitude), "{}", st.id);
        assert_eq!((&r.3, &r.4), (&st.postcode, &st.address), "{}", st.id);
        assert_eq!(r.5, None, "{} is in the latest snapshot", st.id);
    }
    // Stations of earlier files that are not in the last one are kept, marked missing.
    let missing = by_id.values().filter(|r| r.5.is_some()).count();
    assert_eq!(missing, by_id.len() - parsed.stations.len());
    // 92330002's address, mojibake repaired, through the whole pipeline.
    let addr: String =
        on_db!(&t.db, p => sqlx::query_scalar("SELECT address FROM stations WHERE id = 92330002").fetch_one(p).await)
            .unwrap();
    assert!(addr.contains("Édouard"), "{addr}");
});

db_test!(history_of_a_pair_is_exactly_the_changes, |t| {
    if !have_shared() {
        return;
    }
    let (a, b) = ("instantane_2025-02-07T0730.zip", "instantane_2025-02-07T0740.zip");
    import(&t.db, a).await;
    let before = history_rows(&t.db).await;
    let r = import(&t.db, b).await;
    let after = history_rows(&t.db).await;
    let added: BTreeSet<_> = after.difference(&before).cloned().collect();
    assert!(before.is_subset(&after), "history points were lost");

    let (pa, pb) = (file_prices(a), file_prices(b));
    let mut expected = BTreeSet::new();
    let mut redated = 0;
    for (k, &(price, at)) in &pb {
        match pa.get(k) {
            None => {
                expected.insert((k.0, k.1, at, price));
            }
            Some(&(old, old_at)) if at > old_at && price != old => {
                expected.insert((k.0, k.1, at, price));
            }
            Some(&(old, old_at)) if at > old_at && price == old => redated += 1,
            _ => {}
        }
    }
    assert_eq!(added, expected);
    assert_eq!(r.counts.history_added as usize, expected.len());
    assert_eq!(r.counts.prices_redated, redated);
    // And the current prices are those of the second file.
    let got = db_prices(&t.db).await;
    for (k, v) in &pb {
        assert_eq!(got.get(k), Some(v), "{k:?}");
    }
});

db_test!(idempotency_pair_changes_nothing, |t| {
    if !have_shared() {
        return;
    }
    import(&t.db, "instantane_2025-02-07T0200.zip").await;
    let before = fingerprint(&t.db).await;
    // The XML inside is byte-identical, the ZIPs differ: the content diff finds nothing to do.
    let r = import(&t.db, "instantane_2025-02-07T0220.zip").await;
    assert_eq!(r.status, RunStatus::Success);
    assert_eq!(r.counts.stations_unchanged as usize, r.stations_in_file, "{r}");
    assert_eq!(r.counts.history_added, 0);
    assert_eq!(fingerprint(&t.db).await, before);
});

db_test!(typo_is_rejected_then_fixed, |t| {
    if !have_shared() {
        return;
    }
    import(&t.db, "instantane_2023-11-22T2220.zip").await;
    let sp98 = crate::load::price(&t.db, 10150002, 6).await;
    assert!(sp98.is_none_or(|(p, _)| p != 7849), "the 7.849 typo must not be a current price: {sp98:?}");
    import(&t.db, "instantane_2023-11-23T0820.zip").await;
    assert_eq!(crate::load::price(&t.db, 10150002, 6).await.map(|p| p.0), Some(1849));
});

db_test!(api_serves_the_file_values, |t| {
    if !have_shared() {
        return;
    }
    let name = "instantane_ruptures_2026-06-05T1010.zip";
    import(&t.db, name).await;
    let app = crate::app::spawn_app(t.db.clone()).await;
    let want = file_prices(name);
    // A sample of stations across the file: every price, time and coordinate as in the file.
    let ids: BTreeSet<i64> = want.keys().map(|k| k.0).collect();
    for id in ids.iter().step_by(97) {
        let j = app.get(&format!("/api/v1/stations/{id}")).await.json();
        for p in j["prices"].as_array().unwrap() {
            let fuel: carburoam::domain::Fuel = p["fuel"].as_str().unwrap().parse().unwrap();
            let (milli, at) = want[&(*id, fuel.id())];
            assert_eq!((p["price"].as_f64().unwrap() * 1000.0).round() as i32, milli, "{id} {fuel}");
            let t = chrono::DateTime::parse_from_rfc3339(p["updated_at"].as_str().unwrap()).unwrap();
            assert_eq!(t.timestamp(), at, "{id} {fuel}");
        }
        let n = want.keys().filter(|k| k.0 == *id).count();
        assert_eq!(j["prices"].as_array().unwrap().len(), n, "{id}");
    }
});
