//! The JSON API, over HTTP against the real router, on both backends.
//!
//! Data is seeded with plain SQL so every expected value is known exactly (the feed loader is
//! tested on its own).

use carburoam::db::{Db, now};
use carburoam::on_db;
use serde_json::{Value, json};

use crate::app::{Reply, TestApp, spawn_app};
use crate::db_test;
use crate::seed::{Station, insert_price, insert_shortage, insert_station};

// ---------------------------------------------------------------------------------------------
// Seeding

/// Centre of the nearby searches: Paris, Hôtel de Ville.
const P_LAT: f64 = 48.8566;
const P_LON: f64 = 2.3522;
/// Degrees of latitude per km, and of longitude per km at `P_LAT`.
const KM_LAT: f64 = 0.008_993;
const KM_LON: f64 = 0.013_662;

const GAZOLE: i16 = 1;
const SP95: i16 = 2;
const E85: i16 = 3;
const GPLC: i16 = 4;
const E10: i16 = 5;
const SP98: i16 = 6;

/// The station of the exact-JSON test, in Marseille.
const MARSEILLE: i64 = 13001008;
/// A station that dropped out of the snapshots.
const GONE: i64 = 13001009;

impl Station {
    fn near_paris(id: i64, km_north: f64, km_east: f64) -> Station {
        Station {
            id,
            lat: P_LAT + km_north * KM_LAT,
            lon: P_LON + km_east * KM_LON,
            address: "1 Rue de Rivoli",
            city: "Paris",
            postcode: "75004",
            road_type: "road",
            automate: false,
            opening_hours: None,
            services: "[]",
            first_seen_at: 1_577_836_800,
            last_seen_at: 1_577_836_800,
            missing_since: None,
        }
    }
}

async fn insert_history(db: &Db, station: i64, fuel: i16, milli: i32, at: i64) {
    on_db!(db, p => sqlx::query(
        "INSERT INTO price_history (station_id, fuel, at, price) VALUES ($1, $2, $3, $4)",
    )
    .bind(station)
    .bind(fuel)
    .bind(at)
    .bind(milli)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("insert history");
}

async fn insert_run(
    db: &Db,
    status: &str,
    started_at: i64,
    finished_at: Option<i64>,
    snapshot_at: Option<i64>,
    error: Option<&str>,
) {
    on_db!(db, p => sqlx::query(
        "INSERT INTO etl_runs (source, trigger, started_at, finished_at, status, snapshot_at, error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind("https://donnees.roulez-eco.fr/opendata/instantane_ruptures")
    .bind("schedule")
    .bind(started_at)
    .bind(finished_at)
    .bind(status)
    .bind(snapshot_at)
    .bind(error)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("insert run");
}

/// What [`seed`] inserted that tests compare against.
struct Seeded {
    /// "Fresh" price time of the Paris stations (an hour ago).
    fresh: i64,
    /// History times of Marseille Gazole, oldest first.
    history: [i64; 3],
}

/// Paris stations around `P` for the nearby searches (distance from `P`, Gazole price):
///
/// | id | where | Gazole | note |
/// |---|---|---|---|
/// | 75001001 | 1 km N | 1.799 | also SP98 1.899 |
/// | 75002002 | 2 km E | 1.699 | |
/// | 75003003 | 3 km S | 1.699 | same price, farther |
/// | 75004004 | 4 km W | 1.599 | Gazole shortage; SP98 1.850 without |
/// | 75005005 | 5 km N | 1.500 | price 40 days old |
/// | 78000006 | 20 km S | 1.400 | outside 10 km |
/// | 92000007 | 7.8 km N, 7.8 km E | 1.300 | inside the 10 km box, 11 km away |
///
/// plus Marseille (exact JSON, history) and a station gone from the snapshots, and two ETL runs.
/// The snapshot time of the seeded successful run (2026-06-05T08:50:00Z).
const SNAPSHOT_AT: i64 = 1_780_649_400;

async fn seed(db: &Db) -> Seeded {
    let now = now();
    // Prices are aged from the newest snapshot (the successful run below), not from now.
    let snapshot = SNAPSHOT_AT;
    let fresh = snapshot - 3600;
    let paris = [
        (75001001, 1.0, 0.0, 1799, fresh),
        (75002002, 0.0, 2.0, 1699, fresh),
        (75003003, -3.0, 0.0, 1699, fresh),
        (75004004, 0.0, -4.0, 1599, fresh),
        (75005005, 5.0, 0.0, 1500, snapshot - 40 * 86_400),
        (78000006, -20.0, 0.0, 1400, fresh),
        (92000007, 7.8, 7.8, 1300, fresh),
    ];
    for (id, n, e, price, at) in paris {
        insert_station(db, &Station::near_paris(id, n, e)).await;
        insert_price(db, id, GAZOLE, price, at).await;
    }
    insert_price(db, 75001001, SP98, 1899, fresh).await;
    insert_price(db, 75004004, SP98, 1850, fresh).await;
    insert_shortage(db, 75004004, GAZOLE, "temporary", Some(fresh)).await;

    insert_station(
        db,
        &Station {
            id: MARSEILLE,
            lat: 43.29695,
            lon: 5.38107,
            address: "12 Boulevard des Dames",
            city: "Marseille",
            postcode: "13001",
            road_type: "motorway",
            automate: true,
            opening_hours: Some(
                r#"{"days":[{"day":1,"closed":false,"slots":[{"open":360,"close":1200}]},{"day":7,"closed":true,"slots":[]}]}"#,
            ),
            services: r#"["Boutique alimentaire","Lavage automatique"]"#,
            first_seen_at: 1_577_836_800,
            last_seen_at: 1_738_913_400,
            missing_since: None,
        },
    )
    .await;
    // Out of fuel order on purpose.
    insert_price(db, MARSEILLE, SP98, 1859, 1_738_900_000).await;
    insert_price(db, MARSEILLE, GAZOLE, 1739, 1_738_913_400).await;
    insert_price(db, MARSEILLE, E10, 1789, 1_738_913_460).await;
    insert_shortage(db, MARSEILLE, GPLC, "permanent", None).await;
    insert_shortage(db, MARSEILLE, E85, "temporary", Some(1_738_800_000)).await;
    let history = [now - 100 * 86_400, now - 20 * 86_400, now - 5 * 86_400];
    insert_history(db, MARSEILLE, GAZOLE, 1739, history[2]).await;
    insert_history(db, MARSEILLE, GAZOLE, 1800, history[0]).await;
    insert_history(db, MARSEILLE, GAZOLE, 1760, history[1]).await;
    insert_history(db, MARSEILLE, SP95, 1900, history[1]).await;

    insert_station(
        db,
        &Station {
            id: GONE,
            last_seen_at: 1_700_000_000,
            missing_since: Some(1_700_600_000),
            ..Station::near_paris(GONE, 100.0, 100.0)
        },
    )
    .await;

    insert_run(db, "success", 1_780_650_000, Some(1_780_650_060), Some(SNAPSHOT_AT), None).await;
    insert_run(db, "failed", 1_780_653_600, Some(1_780_653_630), None, Some("download failed: timed out")).await;
    Seeded { fresh, history }
}

fn rfc3339(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).expect("time in range").to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

// ---------------------------------------------------------------------------------------------
// Assertions

fn ids(body: &Value) -> Vec<i64> {
    body["stations"].as_array().expect("stations array").iter().map(|s| s["id"].as_i64().expect("id")).collect()
}

/// A 400 in the API's JSON envelope whose message names `param`.
fn assert_bad_request(r: &Reply, param: &str) {
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.header("content-type").starts_with("application/json"), "{:?}", r.headers);
    let body = r.json();
    assert_eq!(body["error"]["code"], "bad_request", "{body}");
    let msg = body["error"]["message"].as_str().expect("message");
    assert!(msg.contains(param), "message {msg:?} does not name {param:?}");
    assert_eq!(r.header("cache-control"), "no-store");
}

fn assert_not_found(r: &Reply) {
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.json()["error"]["code"], "not_found", "{}", r.text);
    assert_eq!(r.header("cache-control"), "no-store");
}

async fn nearby(app: &TestApp, query: &str) -> Value {
    let r = app.get(&format!("/api/v1/stations?lat={P_LAT}&lon={P_LON}&{query}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

// ---------------------------------------------------------------------------------------------
// Tests

db_test!(station_json_exact, |t| {
    seed(&t.db).await;
    let app = spawn_app(t.db.clone()).await;
    let r = app.get(&format!("/api/v1/stations/{MARSEILLE}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.header("content-type").starts_with("application/json"));
    assert_eq!(r.header("cache-control"), "public, max-age=60");
    assert!(!r.header("x-request-id").is_empty());
    assert_eq!(
        r.json(),
        json!({
            "id": MARSEILLE,
            "brand": null,
            "name": null,
            "latitude": 43.29695,
            "longitude": 5.38107,
            "address": "12 Boulevard des Dames",
            "city": "Marseille",
            "postcode": "13001",
            "department": "13",
            "road_type": "motorway",
            "automate_24_24": true,
            "services": ["Boutique alimentaire", "Lavage automatique"],
            "opening_hours": {"days": [
                {"day": 1, "closed": false, "slots": [{"open": 360, "close": 1200}]},
                {"day": 7, "closed": true, "slots": []},
            ]},
            "prices": [
                {"fuel": "Gazole", "price": 1.739, "updated_at": "2025-02-07T07:30:00Z"},
                {"fuel": "E10", "price": 1.789, "updated_at": "2025-02-07T07:31:00Z"},
                {"fuel": "SP98", "price": 1.859, "updated_at": "2025-02-07T03:46:40Z"},
            ],
            "shortages": [
                {"fuel": "E85", "kind": "temporary", "since": "2025-02-06T00:00:00Z"},
                {"fuel": "GPLc", "kind": "permanent", "since": null},
            ],
            "first_seen": "2020-01-01T00:00:00Z",
            // Not missing: seen in the latest snapshot imported (the successful run's).
            "last_seen": "2026-06-05T08:50:00Z",
        })
    );
    // The price is written with its three decimals, not as 1.7390000000000001.
    assert!(r.text.contains(r#""price":1.739,"#), "{}", r.text);

    // A station gone from the snapshots keeps its own last_seen; no hours, no services.
    let gone = app.get(&format!("/api/v1/stations/{GONE}")).await.json();
    assert_eq!(gone["last_seen"], "2023-11-14T22:13:20Z");
    assert_eq!(gone["opening_hours"], Value::Null);
    assert_eq!(gone["services"], json!([]));
    assert_eq!(gone["prices"], json!([]));
    assert_eq!(gone["road_type"], "road");
});

db_test!(station_not_found_and_bad_ids, |t| {
    seed(&t.db).await;
    let app = spawn_app(t.db.clone()).await;
    let r = app.get("/api/v1/stations/99999999").await;
    assert_not_found(&r);
    assert_eq!(r.json(), json!({"error": {"code": "not_found", "message": "station 99999999 not found"}}));
    // Numbers that cannot be station ids are just not found.
    assert_not_found(&app.get("/api/v1/stations/0").await);
    assert_not_found(&app.get("/api/v1/stations/1234567890").await);
    assert_not_found(&app.get("/api/v1/stations/99999999/history?fuel=Gazole").await);
    // Not numbers at all: the client's mistake.
    for bad in ["abc", "-5", "12.5", "1e6", "%20", "99999999999999999999999"] {
        assert_bad_request(&app.get(&format!("/api/v1/stations/{bad}")).await, "station id");
    }
    assert_bad_request(&app.get("/api/v1/stations/abc/history?fuel=Gazole").await, "station id");
    // Unknown endpoints under the API answer in JSON too.
    assert_not_found(&app.get("/api/v1/nope").await);
    assert_bad_request(&app.get(&format!("/api/v1/stations/{MARSEILLE}?verbose=1")).await, "verbose");
});

db_test!(nearby_bad_parameters, |t| {
    let app = spawn_app(t.db.clone()).await;
    let ok = "lat=48.85&lon=2.35&fuel=Gazole";
    let cases: &[(&str, &str)] = &[
        ("lon=2.35&fuel=Gazole", "`lat`"),
        ("lat=&lon=2.35&fuel=Gazole", "`lat`"),
        ("lat=abc&lon=2.35&fuel=Gazole", "`lat`"),
        ("lat=91&lon=2.35&fuel=Gazole", "`lat`"),
        ("lat=NaN&lon=2.35&fuel=Gazole", "`lat`"),
        ("lat=48.85&fuel=Gazole", "`lon`"),
        ("lat=48.85&lon=-180.5&fuel=Gazole", "`lon`"),
        ("lat=48.85&lon=inf&fuel=Gazole", "`lon`"),
        ("lat=48.85&lon=2.35", "`fuel`"),
        ("lat=48.85&lon=2.35&fuel=Diesel", "`fuel`"),
        ("lat=48.85&lon=2.35&fuel=7", "`fuel`"),
        ("lat=48.85&lat=48.86&lon=2.35&fuel=Gazole", "`lat`"),
    ];
    for (query, param) in cases {
        assert_bad_request(&app.get(&format!("/api/v1/stations?{query}")).await, param);
    }
    let extra: &[(&str, &str)] = &[
        ("radius_km=101", "`radius_km`"),
        ("radius_km=-1", "`radius_km`"),
        ("radius_km=ten", "`radius_km`"),
        ("limit=0", "`limit`"),
        ("limit=201", "`limit`"),
        ("limit=2.5", "`limit`"),
        ("max_age_days=0", "`max_age_days`"),
        ("max_age_days=abc", "`max_age_days`"),
        ("radius=5", "`radius`"),
    ];
    for (query, param) in extra {
        assert_bad_request(&app.get(&format!("/api/v1/stations?{ok}&{query}")).await, param);
    }
    // The limits themselves are fine.
    let r = app.get(&format!("/api/v1/stations?{ok}&radius_km=100&limit=200&max_age_days=3650")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!({"stations": []}));
});

db_test!(nearby_order_and_filters, |t| {
    let seeded = seed(&t.db).await;
    let app = spawn_app(t.db.clone()).await;

    // Defaults: 10 km, 30 days. Cheapest first, equal prices by distance; the shortage, the
    // stale price, the far station and the one in the box corner are left out.
    let body = nearby(&app, "fuel=Gazole").await;
    assert_eq!(ids(&body), [75002002, 75003003, 75001001]);
    let first = &body["stations"][0];
    let d = first["distance_km"].as_f64().expect("distance");
    assert!((d - 2.0).abs() < 0.01, "{d}");
    assert_eq!(
        first.as_object().expect("object").keys().map(String::as_str).collect::<std::collections::BTreeSet<_>>(),
        [
            "address",
            "brand",
            "city",
            "distance_km",
            "fuel",
            "id",
            "latitude",
            "longitude",
            "name",
            "postcode",
            "price",
            "updated_at"
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(first["fuel"], "Gazole");
    assert_eq!(first["price"], json!(1.699));
    assert_eq!(first["updated_at"], rfc3339(seeded.fresh));
    assert_eq!(first["city"], "Paris");
    assert_eq!(first["postcode"], "75004");

    // Radius: 11 km away but inside the 10 km bounding box, so only the exact distance cuts it.
    assert_eq!(ids(&nearby(&app, "fuel=Gazole&radius_km=12").await), [92000007, 75002002, 75003003, 75001001]);
    assert_eq!(
        ids(&nearby(&app, "fuel=Gazole&radius_km=25").await),
        [92000007, 78000006, 75002002, 75003003, 75001001]
    );
    assert_eq!(ids(&nearby(&app, "fuel=Gazole&radius_km=1.5").await), [75001001]);

    // Staleness is relative to now.
    assert_eq!(ids(&nearby(&app, "fuel=Gazole&max_age_days=60").await), [75005005, 75002002, 75003003, 75001001]);

    // Limit, and the fuel given by id.
    assert_eq!(ids(&nearby(&app, "fuel=1&limit=2").await), [75002002, 75003003]);

    // The shortage is of Gazole only: the same station sells SP98.
    let sp98 = nearby(&app, "fuel=sp98").await;
    assert_eq!(ids(&sp98), [75004004, 75001001]);
    assert_eq!(sp98["stations"][0]["fuel"], "SP98");

    // A fuel nobody sells here.
    assert_eq!(nearby(&app, "fuel=E85").await, json!({"stations": []}));
});

db_test!(history_order_and_window, |t| {
    let seeded = seed(&t.db).await;
    let app = spawn_app(t.db.clone()).await;
    let [h0, h1, h2] = seeded.history;

    let r = app.get(&format!("/api/v1/stations/{MARSEILLE}/history?fuel=Gazole")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), "public, max-age=60");
    assert_eq!(
        r.json(),
        json!({
            "station_id": MARSEILLE,
            "fuel": "Gazole",
            "points": [
                {"price": 1.8, "at": rfc3339(h0)},
                {"price": 1.76, "at": rfc3339(h1)},
                {"price": 1.739, "at": rfc3339(h2)},
            ],
        })
    );

    let r = app.get(&format!("/api/v1/stations/{MARSEILLE}/history?fuel=Gazole&days=30")).await;
    let points = r.json()["points"].clone();
    assert_eq!(
        points,
        json!([
            {"price": 1.76, "at": rfc3339(h1)},
            {"price": 1.739, "at": rfc3339(h2)},
        ])
    );
    let r = app.get(&format!("/api/v1/stations/{MARSEILLE}/history?fuel=Gazole&days=1")).await;
    assert_eq!(r.json()["points"], json!([]));

    // Another fuel has its own history; a fuel without any gives an empty list, not a 404.
    let sp95 = app.get(&format!("/api/v1/stations/{MARSEILLE}/history?fuel=SP95")).await.json();
    assert_eq!(sp95["fuel"], "SP95");
    assert_eq!(sp95["points"].as_array().map(Vec::len), Some(1));
    let e85 = app.get(&format!("/api/v1/stations/{MARSEILLE}/history?fuel=E85")).await.json();
    assert_eq!(e85["points"], json!([]));

    // Bad parameters.
    let base = format!("/api/v1/stations/{MARSEILLE}/history");
    assert_bad_request(&app.get(&base).await, "`fuel`");
    assert_bad_request(&app.get(&format!("{base}?fuel=Fioul")).await, "`fuel`");
    for days in ["0", "-3", "x", "36501"] {
        assert_bad_request(&app.get(&format!("{base}?fuel=Gazole&days={days}")).await, "`days`");
    }
});

db_test!(status_counts_and_runs, |t| {
    let app = spawn_app(t.db.clone()).await;
    // An empty database.
    let r = app.get("/api/v1/status").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({
            "last_success_at": null,
            "last_run": null,
            "stations": 0,
            "prices": 0,
            "history_points": 0,
            "shortages": 0,
        })
    );

    seed(&t.db).await;
    let r = app.get("/api/v1/status").await;
    assert_eq!(
        r.json(),
        json!({
            "last_success_at": "2026-06-05T09:01:00Z",
            "last_run": {
                "status": "failed",
                "started_at": "2026-06-05T10:00:00Z",
                "finished_at": "2026-06-05T10:00:30Z",
                "error": "download failed: timed out",
            },
            "stations": 9,
            "prices": 12,
            "history_points": 4,
            "shortages": 3,
        })
    );
    assert_bad_request(&app.get("/api/v1/status?x=1").await, "`x`");
});

db_test!(healthz, |t| {
    let app = spawn_app(t.db.clone()).await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text, "ok");
    assert_eq!(r.header("cache-control"), "no-store");

    // Without a database the instance is unhealthy.
    t.db.close().await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("cache-control"), "no-store");
});

db_test!(api_docs_served, |t| {
    let app = spawn_app(t.db.clone()).await;
    let r = app.get("/api").await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").starts_with("text/html"));
    for needle in [
        "/api/v1/stations/{id}/history",
        "/api/v1/stations/{id}",
        "/api/v1/stations?",
        "/api/v1/status",
        "/healthz",
        "/api/openapi.json",
        "Licence Ouverte",
        "prix-carburants.gouv.fr",
        "max_age_days",
        "radius_km",
        "bad_request",
        "not_found",
    ] {
        assert!(r.text.contains(needle), "/api does not mention {needle}");
    }

    let r = app.get("/api/openapi.json").await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").starts_with("application/json"));
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in
        ["/healthz", "/api/v1/stations", "/api/v1/stations/{id}", "/api/v1/stations/{id}/history", "/api/v1/status"]
    {
        assert!(doc["paths"][path]["get"].is_object(), "{path} not described");
    }

    // Compressed for clients that ask (reqwest here does not decode, so the header is what we
    // see).
    let r = app.send(app.client.get(app.url("/api")).header("accept-encoding", "gzip")).await;
    assert_eq!(r.header("content-encoding"), "gzip");
});
