//! The in-memory price index against the database it is built from, on both backends: every
//! answer equals a brute-force computation over the table rows (the definition the former SQL
//! queries implemented), on the fixtures and on the real national file; averages equal the former
//! SQL aggregates; a new import is picked up, by this instance and by another one on the same
//! database.

use std::time::Duration;

use carburoam::db::Db;
use carburoam::db::stations::latest_snapshot_at;
use carburoam::domain::Fuel;
use carburoam::domain::geo::haversine_km;
use carburoam::feed::import_file;
use carburoam::index::{AVERAGE_WINDOW_SECS, CHECK_EVERY, FuelAverage, IndexHandle, NearbyQuery, Order, PriceIndex};
use carburoam::on_db;

use crate::app::spawn_app;
use crate::db_test;
use crate::helpers::{fixture, shared_file, sid};

// ---------------------------------------------------------------------------------------------
// The reference: plain rows and brute force

/// A station as stored, with its current prices and shortages by fuel id − 1.
struct RawStation {
    id: i64,
    lat: f64,
    lon: f64,
    department: String,
    automate: bool,
    services: String,
    missing: bool,
    /// (price, updated_at, shortage kind) of each fuel sold.
    prices: [Option<(i32, i64, Option<String>)>; 6],
    /// (fuel, kind, since) of every shortage, sold fuel or not, in fuel order.
    shortages: Vec<(i16, String, Option<i64>)>,
}

async fn raw_stations(db: &Db) -> Vec<RawStation> {
    type Row = (i64, f64, f64, String, bool, String, Option<i64>);
    let rows: Vec<Row> = on_db!(db, p => sqlx::query_as(
        "SELECT id, latitude, longitude, department, automate_24_24, services, missing_since FROM stations ORDER BY id"
    )
    .fetch_all(p)
    .await)
    .expect("stations");
    let prices: Vec<(i64, i16, i32, i64)> =
        on_db!(db, p => sqlx::query_as("SELECT station_id, fuel, price, updated_at FROM prices").fetch_all(p).await)
            .expect("prices");
    let shortages: Vec<(i64, i16, String, Option<i64>)> = on_db!(db, p => sqlx::query_as(
        "SELECT station_id, fuel, kind, since FROM shortages ORDER BY station_id, fuel"
    )
    .fetch_all(p)
    .await)
    .expect("shortages");
    let mut out: Vec<RawStation> = rows
        .into_iter()
        .map(|(id, lat, lon, department, automate, services, missing)| RawStation {
            id,
            lat,
            lon,
            department,
            automate,
            services,
            missing: missing.is_some(),
            prices: Default::default(),
            shortages: Vec::new(),
        })
        .collect();
    let find = |out: &[RawStation], id: i64| out.binary_search_by_key(&id, |s| s.id).expect("station of a price");
    for (station, fuel, price, at) in prices {
        let i = find(&out, station);
        out[i].prices[(fuel - 1) as usize] = Some((price, at, None));
    }
    for (station, fuel, kind, since) in shortages {
        let i = find(&out, station);
        if let Some(p) = &mut out[i].prices[(fuel - 1) as usize] {
            p.2 = Some(kind.clone());
        }
        out[i].shortages.push((fuel, kind, since));
    }
    out
}

/// One result, comparable bit for bit: id, price, time, shortage kind, distance.
type Row = (i64, i32, i64, Option<String>, f64);

/// The definition of a nearby search, straight from the rows: what the former SQL queries (a
/// bounding box, then the exact distance) computed, minus stations gone from the feed.
fn brute_nearby(raw: &[RawStation], q: &NearbyQuery<'_>) -> Vec<Row> {
    let service = q.service.map(|s| serde_json::to_string(s).expect("JSON string"));
    let mut out: Vec<Row> = raw
        .iter()
        .filter(|s| !s.missing)
        .filter_map(|s| {
            let (price, at, shortage) = s.prices[(q.fuel.id() - 1) as usize].as_ref()?;
            let keep = *at >= q.updated_since
                && !(q.hide_shortages && shortage.is_some())
                && (!q.only_24_24 || s.automate)
                && service.as_deref().is_none_or(|x| s.services.contains(x));
            if !keep {
                return None;
            }
            let d = haversine_km(q.latitude, q.longitude, s.lat, s.lon);
            (d <= q.radius_km).then(|| (s.id, *price, *at, shortage.clone(), d))
        })
        .collect();
    out.sort_by(|a, b| {
        let by_price = a.1.cmp(&b.1);
        let by_distance = a.4.total_cmp(&b.4);
        let first = match q.order {
            Order::Price => by_price.then(by_distance),
            Order::Distance => by_distance.then(by_price),
        };
        first.then(a.0.cmp(&b.0))
    });
    out.truncate(q.limit);
    out
}

/// Every station of the index holds exactly the prices and shortages of its rows (what the
/// station page shows), and only stations gone from the feed are left out.
fn compare_stations(raw: &[RawStation], index: &PriceIndex) {
    let kept: Vec<&RawStation> = raw.iter().filter(|s| !s.missing).collect();
    assert_eq!(index.stations().len(), kept.len());
    for (s, r) in index.stations().iter().zip(kept) {
        assert_eq!((s.id.get(), s.latitude, s.longitude, &*s.department), (r.id, r.lat, r.lon, r.department.as_str()));
        let prices: Vec<(i16, i32, i64)> = s.prices.iter().map(|o| (o.fuel.id(), o.price, o.updated_at)).collect();
        let want: Vec<(i16, i32, i64)> = (1..=6)
            .zip(&r.prices)
            .filter_map(|(fuel, p)| p.as_ref().map(|(price, at, _)| (fuel, *price, *at)))
            .collect();
        assert_eq!(prices, want, "{}", s.id);
        let shortages: Vec<(i16, String, Option<i64>)> =
            s.shortages.iter().map(|x| (x.fuel.id(), x.kind.as_str().to_owned(), x.since)).collect();
        assert_eq!(shortages, r.shortages, "{}", s.id);
    }
}

fn index_nearby(index: &PriceIndex, q: &NearbyQuery<'_>) -> Vec<Row> {
    index
        .nearby(q)
        .iter()
        .map(|h| {
            let shortage = h.offer.shortage.map(|k| k.as_str().to_owned());
            (h.station.id.get(), h.offer.price, h.offer.updated_at, shortage, h.distance_km)
        })
        .collect()
}

/// The `n` stations with a price nearest to a point within `max_km`, nearest first then by id.
fn brute_nearest(raw: &[RawStation], lat: f64, lon: f64, n: usize, max_km: f64) -> Vec<(i64, f64)> {
    let mut out: Vec<(i64, f64)> = raw
        .iter()
        .filter(|s| !s.missing && s.prices.iter().any(Option::is_some))
        .map(|s| (s.id, haversine_km(lat, lon, s.lat, s.lon)))
        .filter(|(_, d)| *d <= max_km)
        .collect();
    out.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    out.truncate(n);
    out
}

/// The averages as SQL computed them before the index (the text of the former
/// `db::stats::averages`).
async fn sql_averages(db: &Db, department: Option<&str>, since: i64) -> Vec<FuelAverage> {
    type Avg = (i16, f64, i64);
    let rows: Vec<Avg> = match department {
        Some(d) => on_db!(db, p => sqlx::query_as(
            "SELECT p.fuel, CAST(AVG(p.price) AS DOUBLE PRECISION) AS average, COUNT(*) AS stations \
             FROM prices p JOIN stations s ON s.id = p.station_id \
             WHERE s.department = $1 AND p.updated_at >= $2 AND s.missing_since IS NULL \
             GROUP BY p.fuel ORDER BY p.fuel",
        )
        .bind(d)
        .bind(since)
        .fetch_all(p)
        .await),
        None => on_db!(db, p => sqlx::query_as(
            "SELECT p.fuel, CAST(AVG(p.price) AS DOUBLE PRECISION) AS average, COUNT(*) AS stations \
             FROM prices p JOIN stations s ON s.id = p.station_id \
             WHERE p.updated_at >= $1 AND s.missing_since IS NULL \
             GROUP BY p.fuel ORDER BY p.fuel",
        )
        .bind(since)
        .fetch_all(p)
        .await),
    }
    .expect("averages");
    rows.into_iter().map(|(fuel, average, stations)| FuelAverage { fuel, average, stations }).collect()
}

/// Equal fuels and counts; averages equal bit for bit on SQLite, whose `AVG` divides the integer
/// sum like the index does, and to the last bit or so on PostgreSQL, whose `AVG` goes through
/// `numeric` (the pages round to the thousandth anyway).
fn assert_same_averages(db: &Db, got: &[FuelAverage], want: &[FuelAverage], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!((g.fuel, g.stations), (w.fuel, w.stations), "{what}");
        match db.backend() {
            carburoam::db::Backend::Sqlite => assert_eq!(g.average, w.average, "{what}"),
            carburoam::db::Backend::Postgres => {
                assert!((g.average - w.average).abs() <= w.average.abs() * 1e-12, "{what}: {g:?} vs {w:?}")
            }
        }
    }
}

/// Compares the index with the brute force for every combination of the given points, fuels,
/// radii and filter sets; returns how many queries were compared and how many results they had.
fn compare_nearby(
    raw: &[RawStation],
    index: &PriceIndex,
    points: &[(f64, f64)],
    radii: &[f64],
    filters: &[NearbyQuery<'_>],
) -> (usize, usize) {
    let (mut queries, mut results) = (0, 0);
    for &(lat, lon) in points {
        for fuel in Fuel::ALL {
            for &radius_km in radii {
                for f in filters {
                    let q = NearbyQuery { latitude: lat, longitude: lon, radius_km, fuel, ..*f };
                    let want = brute_nearby(raw, &q);
                    assert_eq!(index_nearby(index, &q), want, "{q:?}");
                    queries += 1;
                    results += want.len();
                }
            }
        }
    }
    (queries, results)
}

/// The filter sets of the API and the pages (position, fuel and radius are overwritten).
fn filter_sets(since: i64) -> Vec<NearbyQuery<'static>> {
    let base = NearbyQuery {
        latitude: 0.0,
        longitude: 0.0,
        radius_km: 0.0,
        fuel: Fuel::Gazole,
        updated_since: since,
        hide_shortages: true,
        only_24_24: false,
        service: None,
        brands: &[],
        words: &[],
        order: Order::Price,
        limit: 20,
    };
    vec![
        // The API.
        base,
        // Everything within the radius, shortages flagged.
        NearbyQuery { updated_since: 0, hide_shortages: false, limit: usize::MAX, ..base },
        // The stations page with its filters, by distance.
        NearbyQuery {
            hide_shortages: false,
            only_24_24: true,
            service: Some("Toilettes publiques"),
            order: Order::Distance,
            limit: 50,
            ..base
        },
        NearbyQuery { service: Some("Boutique alimentaire"), order: Order::Distance, limit: 3, ..base },
        NearbyQuery { service: Some("Pas un service"), ..base },
    ]
}

async fn import(db: &Db, path: &std::path::Path) {
    import_file(db, path, &Default::default()).await.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

// ---------------------------------------------------------------------------------------------
// Same answers as the database

db_test!(index_matches_brute_force_on_fixtures, |t| {
    for name in ["old_2014.xml", "archive_day.xml", "snapshot_a.xml", "snapshot_b.xml"] {
        import(&t.db, &fixture(name)).await;
    }
    let index = PriceIndex::load(&t.db).await.expect("index");
    let raw = raw_stations(&t.db).await;
    assert_eq!(index.version(), carburoam::db::stations::latest_import(&t.db).await.expect("version"));
    compare_stations(&raw, &index);

    // Every station's own position (distance 0, ties), Paris, a point far from all.
    let mut points: Vec<(f64, f64)> = raw.iter().map(|s| (s.lat, s.lon)).collect();
    points.extend([(48.8566, 2.3522), (47.0, -6.0)]);
    let snapshot = latest_snapshot_at(&t.db).await.expect("snapshot").expect("a snapshot was imported");
    let (queries, results) =
        compare_nearby(&raw, &index, &points, &[0.0, 1.0, 10.0, 100.0, 1000.0], &filter_sets(snapshot - 86_400));
    assert!(queries >= 2000 && results > 400, "{queries} queries, {results} results");

    // 13001005 left the feed with snapshot_b but keeps its prices in the table: never listed.
    let gone = raw.iter().find(|s| s.id == 13001005).expect("13001005");
    assert!(gone.missing && gone.prices[0].is_some());
    assert!(index.station(sid(13001005)).is_none());

    // The demo's nearest stations.
    for &(lat, lon) in &points {
        let got: Vec<(i64, f64)> = index.nearest(lat, lon, 12, 50.0).iter().map(|(s, d)| (s.id.get(), *d)).collect();
        assert_eq!(got, brute_nearest(&raw, lat, lon, 12, 50.0), "{lat} {lon}");
    }

    // Averages: the precomputed window and others, nationally and by département.
    let mut departments: Vec<&str> = raw.iter().map(|s| s.department.as_str()).collect();
    departments.sort();
    departments.dedup();
    for since in [snapshot - AVERAGE_WINDOW_SECS, 0, snapshot - 3600, snapshot + 1] {
        for d in departments.iter().map(|d| Some(*d)).chain([None, Some("2A")]) {
            let want = sql_averages(&t.db, d, since).await;
            assert_same_averages(&t.db, &index.averages(d, since), &want, &format!("{d:?} since {since}"));
        }
    }
});

db_test!(index_matches_brute_force_on_the_national_file, |t| {
    let Some(file) = shared_file("instantane_ruptures_2026-06-05T1010.zip") else {
        eprintln!("../shared/data not found: national index test not run");
        return;
    };
    import(&t.db, &file).await;
    let index = PriceIndex::load(&t.db).await.expect("index");
    let raw = raw_stations(&t.db).await;
    let stats = index.stats();
    eprintln!(
        "national index: {} stations, {} prices, read {:?}, build {:?}, {} KiB",
        stats.stations,
        stats.prices,
        stats.read,
        stats.build,
        stats.heap_bytes / 1024
    );
    assert_eq!(stats.stations, raw.len());
    compare_stations(&raw, &index);
    assert!(stats.stations > 9000 && stats.prices > 30_000, "{stats:?}");

    // Stations spread over the file (mainland, Corsica, overseas), city centres, the sea.
    let mut points: Vec<(f64, f64)> = raw.iter().step_by(450).map(|s| (s.lat, s.lon)).collect();
    points.extend([(48.85, 2.35), (45.76, 4.84), (43.30, 5.37), (41.92, 8.74), (-20.88, 55.45), (47.0, -6.0)]);
    let snapshot = latest_snapshot_at(&t.db).await.expect("snapshot").expect("a snapshot was imported");
    let (queries, results) =
        compare_nearby(&raw, &index, &points, &[0.5, 5.0, 10.0, 30.0, 100.0], &filter_sets(snapshot - 30 * 86_400));
    assert!(queries >= 4000 && results > 50_000, "{queries} queries, {results} results");

    for &(lat, lon) in &points {
        let got: Vec<(i64, f64)> = index.nearest(lat, lon, 12, 50.0).iter().map(|(s, d)| (s.id.get(), *d)).collect();
        assert_eq!(got, brute_nearest(&raw, lat, lon, 12, 50.0), "{lat} {lon}");
    }

    let mut departments: Vec<&str> = raw.iter().map(|s| s.department.as_str()).collect();
    departments.sort();
    departments.dedup();
    assert!(departments.len() > 90, "{departments:?}");
    let since = snapshot - AVERAGE_WINDOW_SECS;
    for d in departments.iter().map(|d| Some(*d)).chain([None]) {
        let want = sql_averages(&t.db, d, since).await;
        assert_same_averages(&t.db, &index.averages(d, since), &want, &format!("{d:?}"));
    }
    let want = sql_averages(&t.db, None, since + 3600).await;
    assert_same_averages(&t.db, &index.averages(None, since + 3600), &want, "an hour later");
});

// ---------------------------------------------------------------------------------------------
// New imports

/// The current Gazole price of a station according to the index.
fn gazole(index: &PriceIndex, id: i64) -> Option<i32> {
    index.station(sid(id)).and_then(|s| s.price_of(Fuel::Gazole)).map(|o| o.price)
}

/// Calls `get` until the index's version differs from `old`: the background rebuild.
async fn wait_for_new_version(handle: &IndexHandle, old: Option<i64>) -> std::sync::Arc<PriceIndex> {
    for _ in 0..200 {
        let index = handle.get().await.expect("index");
        if index.version() != old {
            return index;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the index never moved past version {old:?}");
}

db_test!(new_import_is_picked_up, |t| {
    let handle = IndexHandle::with_check_every(t.db.clone(), Duration::from_millis(100));
    // Empty database: an empty index, and nothing to rebuild.
    let empty = handle.get().await.expect("index");
    assert_eq!((empty.version(), empty.stations().len()), (None, 0));
    assert!(!handle.refresh().await.expect("refresh"));

    import(&t.db, &fixture("snapshot_a.xml")).await;
    let a = wait_for_new_version(&handle, None).await;
    assert_eq!(gazole(&a, 6110002), Some(1659));
    assert_eq!(gazole(&a, 13001005), Some(1679));

    // A handle that checks once and then not for an hour: its first request after the import
    // starts the check and, like every request meanwhile, keeps the snapshot it has.
    let slow = IndexHandle::with_check_every(t.db.clone(), Duration::from_secs(3600));
    assert_eq!(slow.get().await.expect("index").version(), a.version());

    import(&t.db, &fixture("snapshot_b.xml")).await;
    assert_eq!(slow.get().await.expect("index").version(), a.version());
    let b = wait_for_new_version(&slow, a.version()).await;
    assert_eq!(wait_for_new_version(&handle, a.version()).await.version(), b.version());
    assert!(b.version() > a.version());
    assert_eq!(gazole(&b, 6110002), Some(1649));
    assert_eq!(gazole(&b, 13001005), None, "gone from the feed");
    assert_eq!(gazole(&b, 69003009), Some(1689), "new in the feed");
    // The snapshot handed out before is untouched.
    assert_eq!(gazole(&a, 6110002), Some(1659));

    // The same file again is `unchanged`: not a new version.
    import(&t.db, &fixture("snapshot_b.xml")).await;
    assert!(!handle.refresh().await.expect("refresh"));
    assert_eq!(handle.current().version(), b.version());
    // An importing instance need not wait for its next check.
    import(&t.db, &fixture("archive_day.xml")).await;
    assert!(slow.refresh().await.expect("refresh"));
    assert!(slow.current().version() > b.version());
});

/// The Gazole price of 6110002 (Le Cannet) as the nearby API of `address` gives it.
async fn api_price(client: &reqwest::Client, address: &str) -> Option<f64> {
    let url = format!("{address}/api/v1/stations?lat=43.572&lon=7.016&fuel=Gazole&radius_km=1&max_age_days=3650");
    let text = client.get(url).send().await.expect("request").text().await.expect("body");
    let body: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    body["stations"].as_array().expect("stations").iter().find(|s| s["id"] == 6110002).and_then(|s| s["price"].as_f64())
}

db_test!(another_instance_sees_the_new_import, |t| {
    import(&t.db, &fixture("snapshot_a.xml")).await;
    // Two servers, each with its own pool on the database, as two processes would be.
    let mut addresses = Vec::new();
    for _ in 0..2 {
        let db = Db::connect(&t.url).await.expect("second pool");
        addresses.push(spawn_app(db).await.address);
    }
    let client = reqwest::Client::new();
    for a in &addresses {
        assert_eq!(api_price(&client, a).await, Some(1.659), "{a}");
    }

    // The import happens elsewhere (here, the test's own pool): both see it within a check
    // (every CHECK_EVERY, 5 s).
    import(&t.db, &fixture("snapshot_b.xml")).await;
    for a in &addresses {
        let mut price = None;
        for _ in 0..(2 * CHECK_EVERY.as_millis() / 50 + 40) {
            price = api_price(&client, a).await;
            if price == Some(1.649) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(price, Some(1.649), "{a} never saw the new price");
        // The pages read the same index.
        let page = client.get(format!("{a}/stations?lat=43.572&lon=7.016&fuel=Gazole&radius_km=1")).send().await;
        let page = page.expect("page").text().await.expect("body");
        assert!(page.contains("/stations/6110002") && page.contains("1,649 €"), "{page}");
    }
});

db_test!(empty_database_serves_empty_lists, |t| {
    let address = spawn_app(t.db.clone()).await.address;
    let client = reqwest::Client::new();
    for path in [
        "/",
        "/?q=paris",
        "/stations?lat=48.85&lon=2.35&fuel=E10",
        "/demo",
        "/api/v1/stations?lat=48.85&lon=2.35&fuel=E10",
    ] {
        let r = client.get(format!("{address}{path}")).send().await.expect("request");
        assert_eq!(r.status(), 200, "{path}");
    }
    let r = client.get(format!("{address}/api/v1/stations?lat=48.85&lon=2.35&fuel=E10")).send().await;
    let text = r.expect("request").text().await.expect("body");
    assert_eq!(text, r#"{"stations":[]}"#);
});
