//! Route search: `GET`/`POST /api/v1/route` over HTTP on both backends, with the
//! Géoplateforme and OSRM clients against local servers answering in their documented formats
//! (and garbage, 429, 500, slowness), GPX paths, and the corridor against a brute-force scan.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path as AxPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use carburoam::db::Db;
use carburoam::domain::Fuel;
use carburoam::domain::geo::haversine_km;
use carburoam::index::{PriceIndex, cumulative_km, nearest_on_path};
use carburoam::route::{LatLon, Router, RouterKind, RouterSettings};
use serde_json::{Value, json};

use crate::app::{TestApp, spawn_app_with};
use crate::db_test;
use crate::helpers::{fixture, shared_file};
use crate::seed::{Station, insert_price, insert_shortage, insert_station};

// ---------------------------------------------------------------------------------------------
// Seeding: a trip from Rennes to Laval (due east, ~67 km) and stations around it.

pub const RENNES: (f64, f64) = (48.1147, -1.6794);
pub const LAVAL: (f64, f64) = (48.0707, -0.7734);
/// Km per degree of latitude.
const KM_LAT: f64 = 111.195;

pub const ON_ROUTE: i64 = 35000001;
pub const OFF_2KM: i64 = 35000002;
pub const FAR: i64 = 35000003;
pub const SHORT: i64 = 53000004;
pub const OLD: i64 = 53000005;
pub const CLOSED_SUNDAY: i64 = 53000006;

/// The point `t` (0 to 1) of the straight line from Rennes to Laval, moved `north_km` north.
pub fn on_line(t: f64, north_km: f64) -> (f64, f64) {
    (RENNES.0 + (LAVAL.0 - RENNES.0) * t + north_km / KM_LAT, RENNES.1 + (LAVAL.1 - RENNES.1) * t)
}

async fn station(
    db: &Db,
    id: i64,
    at: (f64, f64),
    city: &'static str,
    postcode: &'static str,
    road: &'static str,
    hours: Option<&'static str>,
) {
    let s = Station {
        id,
        lat: at.0,
        lon: at.1,
        address: "1 route de Laval",
        city,
        postcode,
        road_type: road,
        automate: false,
        opening_hours: hours,
        services: "[]",
        first_seen_at: 1_700_000_000,
        last_seen_at: 1_700_000_000,
        missing_since: None,
    };
    insert_station(db, &s).await;
}

/// Open 07:00–20:00 Monday to Saturday, closed on Sunday.
const WEEK_HOURS: &str = r#"{"days":[{"day":1,"closed":false,"slots":[{"open":420,"close":1200}]},{"day":2,"closed":false,"slots":[{"open":420,"close":1200}]},{"day":3,"closed":false,"slots":[{"open":420,"close":1200}]},{"day":4,"closed":false,"slots":[{"open":420,"close":1200}]},{"day":5,"closed":false,"slots":[{"open":420,"close":1200}]},{"day":6,"closed":false,"slots":[{"open":420,"close":1200}]},{"day":7,"closed":true,"slots":[]}]}"#;

pub async fn seed(db: &Db) {
    let now = carburoam::db::now();
    station(db, ON_ROUTE, on_line(0.1, 0.0), "RENNES", "35000", "road", None).await;
    station(db, OFF_2KM, on_line(0.4, 2.0), "RENNES", "35000", "motorway", None).await;
    station(db, FAR, on_line(0.5, 10.0), "VITRE", "35500", "road", None).await;
    station(db, SHORT, on_line(0.8, 0.2), "LAVAL", "53000", "road", None).await;
    station(db, OLD, on_line(0.9, 0.1), "LAVAL", "53000", "road", None).await;
    station(db, CLOSED_SUNDAY, on_line(0.95, 0.0), "LAVAL", "53000", "road", Some(WEEK_HOURS)).await;
    insert_price(db, ON_ROUTE, 1, 1_800, now - 3600).await;
    insert_price(db, OFF_2KM, 1, 1_700, now - 3600).await;
    insert_price(db, FAR, 1, 1_500, now - 3600).await;
    insert_price(db, SHORT, 1, 1_650, now - 3600).await;
    insert_price(db, OLD, 1, 1_400, now - 60 * 86_400).await;
    insert_price(db, CLOSED_SUNDAY, 1, 1_790, now - 3600).await;
    insert_price(db, ON_ROUTE, 5, 1_750, now - 3600).await;
    insert_shortage(db, SHORT, 1, "temporary", None).await;
}

// ---------------------------------------------------------------------------------------------
// Local engines answering in the documented formats

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Ok,
    Garbage,
    Busy,
    Down,
    Slow,
}

#[derive(Clone)]
pub struct Fake {
    mode: Arc<Mutex<Mode>>,
    pub calls: Arc<AtomicUsize>,
}

impl Fake {
    fn set(&self, m: Mode) {
        *self.mode.lock().expect("mode") = m;
    }
}

/// The straight line through the points, 20 points per leg, as GeoJSON [lon, lat].
fn line(stops: &[(f64, f64)]) -> Vec<[f64; 2]> {
    let mut out = Vec::new();
    for w in stops.windows(2) {
        for k in 0..20 {
            let t = k as f64 / 20.0;
            out.push([w[0].1 + (w[1].1 - w[0].1) * t, w[0].0 + (w[1].0 - w[0].0) * t]);
        }
    }
    let last = stops[stops.len() - 1];
    out.push([last.1, last.0]);
    out
}

fn lon_lat(s: &str) -> (f64, f64) {
    let (lon, lat) = s.split_once(',').expect("lon,lat");
    (lat.parse().expect("lat"), lon.parse().expect("lon"))
}

fn road_km(stops: &[(f64, f64)]) -> f64 {
    stops.windows(2).map(|w| haversine_km(w[0].0, w[0].1, w[1].0, w[1].1)).sum()
}

async fn misbehave(f: &Fake) -> Option<Response> {
    f.calls.fetch_add(1, Ordering::SeqCst);
    let mode = *f.mode.lock().expect("mode");
    match mode {
        Mode::Ok => None,
        Mode::Garbage => Some((StatusCode::OK, "<html>maintenance</html>").into_response()),
        Mode::Busy => Some((StatusCode::TOO_MANY_REQUESTS, "slow down").into_response()),
        Mode::Down => Some((StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response()),
        Mode::Slow => {
            tokio::time::sleep(std::time::Duration::from_secs(12)).await;
            None
        }
    }
}

/// `GET /navigation/itineraire?resource=bdtopo-osrm&…`: the Géoplateforme's answer.
async fn geoplateforme(State(f): State<Fake>, Query(q): Query<std::collections::HashMap<String, String>>) -> Response {
    if let Some(r) = misbehave(&f).await {
        return r;
    }
    assert_eq!(q.get("resource").map(String::as_str), Some("bdtopo-osrm"));
    assert_eq!(q.get("profile").map(String::as_str), Some("car"));
    let mut stops = vec![lon_lat(&q["start"])];
    if let Some(i) = q.get("intermediates") {
        stops.extend(i.split('|').map(lon_lat));
    }
    stops.push(lon_lat(&q["end"]));
    let km = road_km(&stops);
    axum::Json(json!({
        "resource": "bdtopo-osrm", "profile": "car", "optimization": "fastest",
        "start": q["start"], "end": q["end"], "crs": "EPSG:4326",
        "distance": km * 1000.0, "duration": km / 80.0 * 3600.0,
        "distanceUnit": "meter", "timeUnit": "second",
        "geometry": {"type": "LineString", "coordinates": line(&stops)},
        "portions": []
    }))
    .into_response()
}

fn osrm_points(coords: &str) -> Vec<(f64, f64)> {
    coords.split(';').map(lon_lat).collect()
}

/// `GET /route/v1/driving/{coords}` and `GET /table/v1/driving/{coords}`: OSRM's answers.
async fn osrm(
    State(f): State<Fake>,
    AxPath((service, coords)): AxPath<(String, String)>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if let Some(r) = misbehave(&f).await {
        return r;
    }
    let pts = osrm_points(&coords);
    if service == "route" {
        let km = road_km(&pts);
        return axum::Json(json!({"code": "Ok", "waypoints": [], "routes": [{
            "distance": km * 1000.0, "duration": km / 80.0 * 3600.0, "weight": 1.0,
            "geometry": {"type": "LineString", "coordinates": line(&pts)}, "legs": []
        }]}))
        .into_response();
    }
    let idx = |k: &str| -> Vec<usize> { q[k].split(';').map(|i| i.parse().expect("index")).collect() };
    let (src, dst) = (idx("sources"), idx("destinations"));
    // Roads 1.2 times the straight line, at 60 km/h.
    let cell = |a: usize, b: usize| 1.2 * haversine_km(pts[a].0, pts[a].1, pts[b].0, pts[b].1);
    let distances: Vec<Vec<f64>> = src.iter().map(|&a| dst.iter().map(|&b| cell(a, b) * 1000.0).collect()).collect();
    let durations: Vec<Vec<f64>> = src.iter().map(|&a| dst.iter().map(|&b| cell(a, b) * 60.0).collect()).collect();
    axum::Json(json!({"code": "Ok", "distances": distances, "durations": durations, "sources": [], "destinations": []}))
        .into_response()
}

/// Serves a fake engine on 127.0.0.1; returns its base URL.
pub async fn serve_fake(kind: RouterKind) -> (String, Fake) {
    let fake = Fake { mode: Arc::new(Mutex::new(Mode::Ok)), calls: Arc::new(AtomicUsize::new(0)) };
    let app = match kind {
        RouterKind::Geoplateforme => {
            axum::Router::new().route("/navigation/itineraire", axum::routing::get(geoplateforme))
        }
        RouterKind::Osrm => axum::Router::new().route("/{service}/v1/driving/{coords}", axum::routing::get(osrm)),
        other => panic!("no fake {other:?}"),
    }
    .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("fake engine") });
    let base = match kind {
        RouterKind::Geoplateforme => format!("http://{addr}/navigation/itineraire"),
        _ => format!("http://{addr}"),
    };
    (base, fake)
}

pub async fn app_with_router(db: Db, kind: RouterKind, url: Option<String>) -> TestApp {
    spawn_app_with(db, |cfg| cfg.router = RouterSettings { kind, url }).await
}

fn json_post(app: &TestApp, body: &Value) -> reqwest::RequestBuilder {
    app.client.post(app.url("/api/v1/route")).header("content-type", "application/json").body(body.to_string())
}

pub fn ids(v: &Value) -> Vec<i64> {
    v["stations"].as_array().expect("stations").iter().map(|s| s["id"].as_i64().expect("id")).collect()
}

pub fn gpx(points: &[(f64, f64)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\"?>\n<gpx version=\"1.1\" creator=\"test\" xmlns=\"http://www.topografix.com/GPX/1/1\"><trk><trkseg>",
    );
    for p in points {
        s.push_str(&format!("<trkpt lat=\"{}\" lon=\"{}\"><ele>40</ele></trkpt>", p.0, p.1));
    }
    s.push_str("</trkseg></trk></gpx>");
    s
}

pub fn straight(n: usize) -> Vec<(f64, f64)> {
    (0..=n).map(|i| on_line(i as f64 / n as f64, 0.0)).collect()
}

// ---------------------------------------------------------------------------------------------
// The API

db_test!(route_api_points_gpx_and_geoplateforme, |t| {
    seed(&t.db).await;
    let (url, fake) = serve_fake(RouterKind::Geoplateforme).await;
    let app = app_with_router(t.db.clone(), RouterKind::Geoplateforme, Some(url)).await;

    // A client's own points: no engine.
    let points: Vec<[f64; 2]> = straight(10).iter().map(|p| [p.0, p.1]).collect();
    let r = app.send(json_post(&app, &json!({"points": points, "fuel": "Gazole"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["route"]["source"], "points");
    assert!(v["route"]["duration_min"].is_null());
    let d = v["route"]["distance_km"].as_f64().expect("km");
    assert!((d - 67.3).abs() < 1.0, "{d}");
    assert_eq!(v["route"]["points"].as_array().map(Vec::len), Some(11));
    // Within 3 km, fresh, by net cost; the short one last; FAR (10 km) and OLD (60 days) out.
    assert_eq!(ids(&v), [OFF_2KM, CLOSED_SUNDAY, ON_ROUTE, SHORT]);
    let s = &v["stations"][0];
    let keys: Vec<&str> = s.as_object().expect("object").keys().map(String::as_str).collect();
    let mut want = vec![
        "id",
        "brand",
        "name",
        "latitude",
        "longitude",
        "fuel",
        "price",
        "updated_at",
        "km_from_start",
        "off_route_km",
        "detour_km",
        "detour_min",
        "detour_estimated",
        "fill_cost",
        "detour_cost",
        "net_cost",
        "motorway",
        "open_on_arrival",
        "shortage",
    ];
    let mut got = keys.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    // The OpenAPI file describes both methods and exactly these fields.
    let doc = app.get("/api/openapi.json").await.json();
    assert!(doc["paths"]["/api/v1/route"]["get"].is_object() && doc["paths"]["/api/v1/route"]["post"].is_object());
    let mut described: Vec<&str> = doc["components"]["schemas"]["RouteStation"]["required"]
        .as_array()
        .expect("required")
        .iter()
        .map(|k| k.as_str().expect("name"))
        .collect();
    described.sort_unstable();
    assert_eq!(described, want);
    assert_eq!(s["fuel"], "Gazole");
    assert_eq!(s["price"], 1.7);
    assert_eq!(s["motorway"], true);
    assert_eq!(s["detour_estimated"], true);
    let off = s["off_route_km"].as_f64().expect("off");
    assert!((off - 2.0).abs() < 0.05, "{off}");
    let detour = s["detour_km"].as_f64().expect("detour");
    assert!((detour - 2.0 * off * 1.3).abs() < 0.01, "{detour}");
    assert_eq!(s["fill_cost"], 68.0);
    let dc = s["detour_cost"].as_f64().expect("detour cost");
    assert!((dc - detour * 6.5 / 100.0 * 1.7).abs() < 0.006, "{dc}");
    assert!((s["net_cost"].as_f64().expect("net") - 68.0 - dc).abs() < 0.006);
    let along = s["km_from_start"].as_f64().expect("along");
    assert!((along - 0.4 * d).abs() < 0.5, "{along}");
    // No time on a bare path: nobody knows when the trip gets there.
    assert!(s["open_on_arrival"].is_null());
    assert_eq!(v["stations"][3]["shortage"], "temporary");

    // Sorts, filters, max age.
    let post = |body: Value| app.send(json_post(&app, &body));
    let v = post(json!({"points": points, "fuel": "Gazole", "sort": "along"})).await.json();
    assert_eq!(ids(&v), [ON_ROUTE, OFF_2KM, SHORT, CLOSED_SUNDAY]);
    let v = post(json!({"points": points, "fuel": "Gazole", "sort": "price"})).await.json();
    assert_eq!(ids(&v), [OFF_2KM, CLOSED_SUNDAY, ON_ROUTE, SHORT]);
    let v = post(json!({"points": points, "fuel": "Gazole", "avoid_motorway": true})).await.json();
    assert_eq!(ids(&v), [CLOSED_SUNDAY, ON_ROUTE, SHORT]);
    let v = post(json!({"points": points, "fuel": 1, "max_age_days": 90, "corridor_km": 20})).await.json();
    assert_eq!(ids(&v)[0], OLD);
    assert!(ids(&v).contains(&FAR));
    let v = post(json!({"points": points, "fuel": "E10", "litres": 10, "consumption": 5})).await.json();
    assert_eq!(ids(&v), [ON_ROUTE]);
    assert_eq!(v["stations"][0]["fill_cost"], 17.5);

    // A GPX track, fields in the query string.
    let r = app
        .send(
            app.client
                .post(app.url("/api/v1/route?fuel=Gazole&sort=along"))
                .header("content-type", "application/gpx+xml")
                .body(gpx(&straight(30))),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["route"]["source"], "gpx");
    assert_eq!(ids(&v), [ON_ROUTE, OFF_2KM, SHORT, CLOSED_SUNDAY]);

    // Routed by the Géoplateforme, by place names from the site's own index, on a Sunday at
    // noon (Paris): the station closed on Sundays says so.
    let r = app.get("/api/v1/route?from=Rennes&to=Laval&fuel=Gazole&corridor_km=8&depart=2026-06-07T10:00:00Z").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["route"]["source"], "geoplateforme");
    let min = v["route"]["duration_min"].as_f64().expect("duration");
    let km = v["route"]["distance_km"].as_f64().expect("distance");
    assert!((min - km / 80.0 * 60.0).abs() < 0.1, "{min} {km}");
    let closed = v["stations"].as_array().expect("list").iter().find(|s| s["id"] == CLOSED_SUNDAY).expect("in");
    assert_eq!(closed["open_on_arrival"], false);
    let v = app
        .get("/api/v1/route?from=Rennes&to=Laval&fuel=Gazole&corridor_km=8&depart=2026-06-08T10:00:00Z")
        .await
        .json();
    let open = v["stations"].as_array().expect("list").iter().find(|s| s["id"] == CLOSED_SUNDAY).expect("in");
    assert_eq!(open["open_on_arrival"], true);
    // The same rounded ends again: from the cache (one call for the two searches above).
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
    // Positions and a via point.
    let r = app
        .get(&format!(
            "/api/v1/route?from={},{}&to={},{}&via={},{}&fuel=Gazole",
            RENNES.0,
            RENNES.1,
            LAVAL.0,
            LAVAL.1,
            on_line(0.5, 1.0).0,
            on_line(0.5, 1.0).1
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2);

    // The engine misbehaving: a clear message offering the GPX path, never a 500.
    for (mode, status, code) in
        [(Mode::Busy, 503, "unavailable"), (Mode::Garbage, 502, "bad_gateway"), (Mode::Down, 502, "bad_gateway")]
    {
        fake.set(mode);
        let r = app.get("/api/v1/route?from=48.2,-1.5&to=48.0,-0.9&fuel=Gazole").await;
        assert_eq!(r.status, status, "{mode:?}: {}", r.text);
        let e = r.json();
        assert_eq!(e["error"]["code"], code);
        assert!(e["error"]["message"].as_str().expect("message").contains("GPX"), "{e}");
    }
});

db_test!(route_api_refuses_bad_input_clearly, |t| {
    seed(&t.db).await;
    let app = app_with_router(t.db.clone(), RouterKind::Off, None).await;
    let gpx_post = |body: Vec<u8>| {
        app.send(
            app.client
                .post(app.url("/api/v1/route?fuel=Gazole"))
                .header("content-type", "application/gpx+xml")
                .body(body),
        )
    };
    let unprocessable = |r: crate::app::Reply, needle: &str| {
        assert_eq!(r.status, 422, "{needle}: {}", r.text);
        let e = r.json();
        assert_eq!(e["error"]["code"], "unprocessable");
        let m = e["error"]["message"].as_str().expect("message").to_owned();
        assert!(m.contains(needle), "{needle} in {m}");
    };
    unprocessable(gpx_post(b"this is not xml <<".to_vec()).await, "not XML");
    unprocessable(gpx_post(Vec::new()).await, "empty");
    unprocessable(gpx_post(b"<kml><Document/></kml>".to_vec()).await, "not a GPX file");
    let mut big = gpx(&straight(10)).into_bytes();
    big.extend(std::iter::repeat_n(b' ', 5 * 1024 * 1024));
    unprocessable(gpx_post(big).await, "larger than 5 MB");
    let mut many = String::from("<gpx><rte>");
    for _ in 0..50_001 {
        many.push_str("<rtept lat=\"48.1\" lon=\"-1.6\"/>");
    }
    many.push_str("</rte></gpx>");
    unprocessable(gpx_post(many.into_bytes()).await, "more than 50000 points");
    unprocessable(gpx_post(gpx(&[(48.1, -1.6), (95.0, -1.5)]).into_bytes()).await, "point 2: latitude 95");
    unprocessable(
        gpx_post(br#"<!DOCTYPE gpx [<!ENTITY x "1">]><gpx><rte><rtept lat="&x;" lon="1"/></rte></gpx>"#.to_vec()).await,
        "DTD",
    );
    // Paths.
    let post = |body: Value| app.send(json_post(&app, &body));
    unprocessable(post(json!({"points": [[40.4, -3.7], [41.4, 2.17]], "fuel": "Gazole"})).await, "outside France");
    unprocessable(post(json!({"points": [[48.1, -1.6], [48.1, -1.6]], "fuel": "Gazole"})).await, "same place");
    unprocessable(post(json!({"points": [[48.1, -1.6]], "fuel": "Gazole"})).await, "at least 2 points");
    unprocessable(post(json!({"points": [[48.1, 200.0], [48.1, -1.6]], "fuel": "Gazole"})).await, "longitude 200");
    unprocessable(post(json!({"pointz": [], "fuel": "Gazole"})).await, "unknown field");
    // Parameters: a 400 naming them.
    for (query, needle) in [
        ("from=Rennes&to=Laval", "fuel"),
        ("from=Rennes&to=Laval&fuel=Gazole&corridor_km=25", "corridor_km"),
        ("from=Rennes&to=Laval&fuel=Gazole&corridor_km=0.2", "corridor_km"),
        ("from=Rennes&to=Laval&fuel=Kerosene", "fuel"),
        ("from=Rennes&to=Laval&fuel=Gazole&sort=cheap", "sort"),
        ("from=Rennes&to=Laval&fuel=Gazole&radius_km=3", "radius_km"),
        ("to=Laval&fuel=Gazole", "from"),
        ("from=Rennes&to=Laval&fuel=Gazole&via=1,1&via=1,1&via=1,1&via=1,1", "via"),
    ] {
        let r = app.get(&format!("/api/v1/route?{query}")).await;
        assert_eq!(r.status, 400, "{query}: {}", r.text);
        assert!(r.json()["error"]["message"].as_str().expect("message").contains(needle), "{query}: {}", r.text);
    }
    // Places: unknown, or the same at both ends; the engine off.
    unprocessable(app.get("/api/v1/route?from=Atlantis&to=Laval&fuel=Gazole").await, "no place \"Atlantis\"");
    unprocessable(app.get("/api/v1/route?from=Rennes&to=Rennes&fuel=Gazole").await, "same place");
    let r = app.get("/api/v1/route?from=Rennes&to=Laval&fuel=Gazole").await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(r.text.contains("off") && r.text.contains("GPX"), "{}", r.text);
    // The page says the engine is switched off, not that it is down.
    let r = app.get("/trajet?from=Rennes&to=Laval&fuel=Gazole").await;
    assert!(r.text.contains("ne calcule pas d’itinéraire entre deux lieux"), "{}", r.text);
    assert!(!r.text.contains("ne répond pas pour le moment"), "{}", r.text);
    let r = app.send(app.client.post(app.url("/api/v1/route")).header("content-type", "text/plain").body("x")).await;
    assert_eq!(r.status, 400, "{}", r.text);
});

db_test!(route_api_exact_detours_from_osrm, |t| {
    seed(&t.db).await;
    let (url, fake) = serve_fake(RouterKind::Osrm).await;
    let app = app_with_router(t.db.clone(), RouterKind::Osrm, Some(url)).await;
    let r = app.get("/api/v1/route?from=Rennes&to=Laval&fuel=Gazole").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["route"]["source"], "osrm");
    // One route and one matrix.
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
    let from =
        v["route"]["points"][0].as_array().expect("start").iter().map(|x| x.as_f64().expect("f")).collect::<Vec<_>>();
    let to = v["route"]["points"]
        .as_array()
        .and_then(|p| p.last())
        .expect("end")
        .as_array()
        .expect("end")
        .iter()
        .map(|x| x.as_f64().expect("f"))
        .collect::<Vec<_>>();
    for s in v["stations"].as_array().expect("list") {
        assert_eq!(s["detour_estimated"], false, "{s}");
        // start → station → end minus start → end, all 1.2 × the straight line.
        let (lat, lon) = (s["latitude"].as_f64().expect("lat"), s["longitude"].as_f64().expect("lon"));
        let want = 1.2
            * (haversine_km(from[0], from[1], lat, lon) + haversine_km(lat, lon, to[0], to[1])
                - haversine_km(from[0], from[1], to[0], to[1]));
        let got = s["detour_km"].as_f64().expect("detour");
        assert!((got - want).abs() < 0.01, "{got} {want}");
        assert!((s["detour_min"].as_f64().expect("min") - want).abs() < 0.1);
    }
    // The matrix failing keeps the estimates (and says so); the route is cached.
    fake.set(Mode::Down);
    let v = app.get("/api/v1/route?from=Rennes&to=Laval&fuel=Gazole").await.json();
    assert!(v["stations"].as_array().expect("list").iter().all(|s| s["detour_estimated"] == true), "{v}");
});

/// The Géoplateforme client gives up after 10 s, and the limiter spaces calls by 200 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn geoplateforme_slow_and_limited() {
    crate::helpers::init();
    let (url, fake) = serve_fake(RouterKind::Geoplateforme).await;
    let router = Router::new(&RouterSettings { kind: RouterKind::Geoplateforme, url: Some(url) }).expect("router");
    let stops = |i: usize| vec![LatLon { lat: 48.0 + i as f64 * 0.01, lon: -1.6 }, LatLon { lat: 48.0, lon: -0.8 }];
    let started = std::time::Instant::now();
    for i in 0..6 {
        router.route(&stops(i)).await.expect("route");
    }
    let took = started.elapsed();
    assert!(took >= std::time::Duration::from_millis(1000), "6 calls in {took:?}: at most 5 a second");
    fake.set(Mode::Slow);
    let started = std::time::Instant::now();
    let e = router.route(&stops(99)).await.expect_err("slow");
    assert_eq!(e, carburoam::route::EngineError::Timeout);
    assert!(started.elapsed() < std::time::Duration::from_secs(11));
}

// ---------------------------------------------------------------------------------------------
// The corridor equals a brute-force scan of every station

fn brute_force(index: &PriceIndex, path: &[(f64, f64)], width: f64, fuel: Fuel) -> Vec<(i64, f64, f64)> {
    let cum = cumulative_km(path);
    let mut out: Vec<(i64, f64, f64)> = index
        .offers_of(fuel)
        .filter_map(|(s, _)| {
            let (d, along) = nearest_on_path((s.latitude, s.longitude), path, &cum)?;
            (d <= width).then_some((s.id.get(), d, along))
        })
        .collect();
    out.sort_by(|a, b| a.2.total_cmp(&b.2).then(a.0.cmp(&b.0)));
    out
}

fn compare_corridors(index: &PriceIndex, paths: &[Vec<(f64, f64)>]) -> usize {
    let mut found = 0;
    for path in paths {
        for width in [0.5, 3.0, 20.0] {
            for fuel in [Fuel::Gazole, Fuel::E10, Fuel::GPLc] {
                let got: Vec<(i64, f64, f64)> = index
                    .corridor(path, width, fuel, 0)
                    .iter()
                    .map(|h| (h.station.id.get(), h.off_route_km, h.along_km))
                    .collect();
                let want = brute_force(index, path, width, fuel);
                assert_eq!(got.len(), want.len(), "{} points, {width} km, {fuel:?}", path.len());
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!(g.0, w.0);
                    assert!((g.1 - w.1).abs() < 1e-9 && (g.2 - w.2).abs() < 1e-9, "{g:?} {w:?}");
                }
                found += got.len();
            }
        }
    }
    found
}

/// Paths across France: Paris → Marseille by Lyon (2,000 points), Brest → Strasbourg (a few long
/// straight segments), a loop around Bordeaux, Lille → Nice as 2 points.
fn test_paths() -> Vec<Vec<(f64, f64)>> {
    let through = |stops: &[(f64, f64)], per_leg: usize| {
        let mut out = Vec::new();
        for w in stops.windows(2) {
            for k in 0..per_leg {
                let t = k as f64 / per_leg as f64;
                // A little wiggle, like a road.
                let wiggle = (k as f64 * 0.7).sin() * 0.01;
                out.push((w[0].0 + (w[1].0 - w[0].0) * t + wiggle, w[0].1 + (w[1].1 - w[0].1) * t));
            }
        }
        out.push(stops[stops.len() - 1]);
        out
    };
    vec![
        through(&[(48.8566, 2.3522), (47.32, 5.04), (45.764, 4.8357), (44.93, 4.89), (43.2965, 5.3698)], 500),
        through(&[(48.39, -4.49), (48.11, -1.68), (48.58, 7.75)], 3),
        through(&[(44.9, -0.6), (44.8, -0.4), (44.7, -0.6), (44.8, -0.8), (44.9, -0.6)], 50),
        vec![(50.63, 3.06), (43.70, 7.27)],
    ]
}

db_test!(corridor_equals_brute_force_on_fixtures, |t| {
    for name in ["old_2014.xml", "archive_day.xml", "snapshot_a.xml", "snapshot_b.xml"] {
        carburoam::feed::import_file(&t.db, &fixture(name), &Default::default()).await.expect("import");
    }
    seed(&t.db).await;
    let index = PriceIndex::load(&t.db).await.expect("index");
    let mut paths = test_paths();
    paths.push(straight(40));
    // Every station's own position as a tiny path: distance 0 at the ends.
    let found = compare_corridors(&index, &paths);
    assert!(found > 10, "{found}");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corridor_equals_brute_force_on_real_snapshots() {
    let Some(path) = shared_file("instantane_2025-02-07T0730.zip") else {
        eprintln!("../shared/data/instantane_2025-02-07T0730.zip absent: corridor test on real data skipped");
        return;
    };
    let t = crate::helpers::TestDb::sqlite().await;
    carburoam::feed::import_file(&t.db, &path, &Default::default()).await.expect("import");
    let index = PriceIndex::load(&t.db).await.expect("index");
    assert!(index.stats().stations > 9000);
    let found = compare_corridors(&index, &test_paths());
    assert!(found > 1000, "{found}");
}

// ---------------------------------------------------------------------------------------------
// The page

db_test!(route_page_without_javascript, |t| {
    seed(&t.db).await;
    let (url, fake) = serve_fake(RouterKind::Geoplateforme).await;
    let app = app_with_router(t.db.clone(), RouterKind::Geoplateforme, Some(url)).await;
    // The empty form, in the menu.
    let r = app.get("/trajet").await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("data-testid=\"route-form\"") && r.text.contains("href=\"/trajet\""), "{}", r.text);
    assert!(!r.text.contains("data-testid=\"route-summary\""));
    // A search: the summary, the best stop, the list, the map's data.
    let r = app.get("/trajet?from=Rennes&to=Laval&fuel=Gazole&corridor_km=8&depart=2026-06-07T12%3A00").await;
    assert_eq!(r.status, 200, "{}", r.text);
    for needle in [
        "data-testid=\"route-summary\"",
        "Meilleur arrêt",
        "data-testid=\"route-results\"",
        "id=\"route-data\"",
        "Fermé à votre passage",
    ] {
        assert!(r.text.contains(needle), "{needle} in {}", r.text);
    }
    assert!(r.text.contains(&format!("/stations/{OFF_2KM}")));
    // In English at /route.
    let r =
        app.send(app.client.get(app.url("/route?from=Rennes&to=Laval&fuel=Gazole")).header("cookie", "lang=en")).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("Best stop") || r.text.contains("Meilleur arrêt"), "{}", r.text);
    // An unknown place, then the engine down: the form again with a clear message.
    let r = app.get("/trajet?from=Atlantide&to=Laval&fuel=Gazole").await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("Lieu inconnu") && r.text.contains("Atlantide"), "{}", r.text);
    fake.set(Mode::Down);
    let r = app.get("/trajet?from=48.2,-1.5&to=48.0,-0.9&fuel=Gazole").await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("data-testid=\"route-error\"") && r.text.contains("GPX"), "{}", r.text);
});
