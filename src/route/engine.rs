//! Routing engines behind one type: the French Géoplateforme (IGN's `itineraire`, no key, at
//! most 5 requests/s per client), a self-hosted Valhalla (`/route`, `/sources_to_targets`) or
//! OSRM (`/route/v1/driving`, `/table/v1/driving`), or none (`off`: GPX and point paths only).
//!
//! Every call has a 10 s timeout and a cap on the answer's size; an engine that is down, slow,
//! rate-limiting or answering garbage is an [`EngineError`] the web layer turns into a clear
//! message, never a stuck request. Routes are cached for a day by their rounded end points
//! (bounded), and the Géoplateforme is called at most 5 times a second by the whole process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{LatLon, MAX_POINTS, Path, Source, Trip};

/// The public Géoplateforme route service.
pub const GEOPLATEFORME_URL: &str = "https://data.geopf.fr/navigation/itineraire";
/// Longest wait for an engine's answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a matrix (the route came first; the request's budget is 15 s).
pub const MATRIX_TIMEOUT: Duration = Duration::from_secs(4);
/// Largest answer read (a route across France at full resolution is a few MB).
pub const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;
/// The Géoplateforme's limit: 5 requests a second per client; one every 200 ms.
pub const GEOPLATEFORME_EVERY: Duration = Duration::from_millis(200);
/// A request that would wait longer than this for its turn is refused (rate-limited) at once.
pub const MAX_QUEUE_WAIT: Duration = Duration::from_secs(2);
/// How long a route stays cached, and how many are kept.
pub const CACHE_TTL: Duration = Duration::from_secs(86_400);
pub const CACHE_ENTRIES: usize = 2_000;

/// Which engine plans routes (`--router`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterKind {
    Geoplateforme,
    Valhalla,
    Osrm,
    Off,
}

impl std::str::FromStr for RouterKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "geoplateforme" | "ign" => Ok(RouterKind::Geoplateforme),
            "valhalla" => Ok(RouterKind::Valhalla),
            "osrm" => Ok(RouterKind::Osrm),
            "off" | "none" => Ok(RouterKind::Off),
            other => Err(format!("{other:?} is not a router: geoplateforme, valhalla, osrm or off")),
        }
    }
}

impl RouterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RouterKind::Geoplateforme => "geoplateforme",
            RouterKind::Valhalla => "valhalla",
            RouterKind::Osrm => "osrm",
            RouterKind::Off => "off",
        }
    }
}

/// `--router` and `--router-url`, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterSettings {
    pub kind: RouterKind,
    /// The engine's base URL; `None`: the Géoplateforme's public one (Valhalla and OSRM need one).
    pub url: Option<String>,
}

impl Default for RouterSettings {
    fn default() -> Self {
        RouterSettings { kind: RouterKind::Geoplateforme, url: None }
    }
}

/// What went wrong with the engine. Shown to clients (with an offer of the GPX path).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("route planning is off on this server")]
    Off,
    #[error("the routing service did not answer within {} s", TIMEOUT.as_secs())]
    Timeout,
    #[error("the routing service is busy (rate limit)")]
    RateLimited,
    #[error("the routing service is unavailable ({0})")]
    Unavailable(String),
    #[error("the routing service answered something unreadable ({0})")]
    Garbage(String),
    #[error("the routing service found no road route between these points")]
    NoRoute,
}

impl EngineError {
    /// Busy or slow: worth retrying later (503); the others are the engine's fault (502).
    pub fn is_transient(&self) -> bool {
        matches!(self, EngineError::Timeout | EngineError::RateLimited)
    }
}

/// Distances (km) and times (minutes) from each source to each target; `None` when the engine
/// found no way.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix(pub Vec<Vec<Option<(f64, f64)>>>);

impl Matrix {
    pub fn get(&self, from: usize, to: usize) -> Option<(f64, f64)> {
        self.0.get(from).and_then(|r| r.get(to)).copied().flatten()
    }
}

#[derive(Debug, Clone)]
enum Engine {
    Geoplateforme(String),
    Valhalla(String),
    Osrm(String),
    Off,
}

/// The configured engine with its client, limiter and cache. Cheap to clone (shared).
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    http: Option<reqwest::Client>,
    /// When the next Géoplateforme request may leave.
    next_slot: Mutex<Instant>,
    cache: Mutex<HashMap<String, (Instant, Arc<Trip>)>>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").field("engine", &self.inner.engine).finish_non_exhaustive()
    }
}

impl Router {
    /// The engine of `settings`. Valhalla and OSRM need `--router-url`.
    pub fn new(settings: &RouterSettings) -> Result<Router, String> {
        let url = settings.url.as_deref().map(|u| u.trim().trim_end_matches('/').to_owned()).filter(|u| !u.is_empty());
        if let Some(u) = &url {
            let parsed = url::Url::parse(u).map_err(|e| format!("--router-url {u:?}: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!("--router-url {u:?}: only http and https URLs"));
            }
        }
        let engine = match (settings.kind, url) {
            (RouterKind::Off, _) => Engine::Off,
            (RouterKind::Geoplateforme, u) => Engine::Geoplateforme(u.unwrap_or_else(|| GEOPLATEFORME_URL.to_owned())),
            (RouterKind::Valhalla, Some(u)) => Engine::Valhalla(u),
            (RouterKind::Osrm, Some(u)) => Engine::Osrm(u),
            (k, None) => return Err(format!("--router {} needs --router-url (the engine's address)", k.as_str())),
        };
        let http = match engine {
            Engine::Off => None,
            _ => {
                crate::tls::require_provider()?;
                Some(
                    reqwest::Client::builder()
                        .redirect(reqwest::redirect::Policy::none())
                        .timeout(TIMEOUT)
                        .connect_timeout(Duration::from_secs(5))
                        .user_agent(concat!("carburoam/", env!("CARGO_PKG_VERSION")))
                        .build()
                        .map_err(|e| e.without_url().to_string())?,
                )
            }
        };
        Ok(Router {
            inner: Arc::new(Inner {
                engine,
                http,
                next_slot: Mutex::new(Instant::now()),
                cache: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// No engine: GPX and point paths only.
    pub fn off() -> Router {
        Router {
            inner: Arc::new(Inner {
                engine: Engine::Off,
                http: None,
                next_slot: Mutex::new(Instant::now()),
                cache: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn kind(&self) -> RouterKind {
        match self.inner.engine {
            Engine::Geoplateforme(_) => RouterKind::Geoplateforme,
            Engine::Valhalla(_) => RouterKind::Valhalla,
            Engine::Osrm(_) => RouterKind::Osrm,
            Engine::Off => RouterKind::Off,
        }
    }

    /// Whether the engine gives distance matrices (exact detours).
    pub fn has_matrix(&self) -> bool {
        matches!(self.inner.engine, Engine::Valhalla(_) | Engine::Osrm(_))
    }

    /// The road route through `stops` (start, via points, end), from the cache when the same
    /// rounded points were asked within a day.
    #[tracing::instrument(skip(self), fields(engine = self.kind().as_str()))]
    pub async fn route(&self, stops: &[LatLon]) -> Result<Arc<Trip>, EngineError> {
        let http = self.inner.http.as_ref().ok_or(EngineError::Off)?;
        // ~100 m: the engine snaps to the road anyway.
        let stops: Vec<LatLon> = stops
            .iter()
            .map(|p| LatLon { lat: (p.lat * 1000.0).round() / 1000.0, lon: (p.lon * 1000.0).round() / 1000.0 })
            .collect();
        let key: String = stops.iter().map(|p| format!("{:.3},{:.3};", p.lat, p.lon)).collect();
        if let Some(hit) = self.cached(&key) {
            return Ok(hit);
        }
        let (points, distance_km, duration_min, source) = match &self.inner.engine {
            Engine::Off => return Err(EngineError::Off),
            Engine::Geoplateforme(url) => {
                self.wait_turn().await?;
                let (p, d, t) = geoplateforme_route(http, url, &stops).await?;
                (p, d, t, Source::Geoplateforme)
            }
            Engine::Valhalla(url) => {
                let (p, d, t) = valhalla_route(http, url, &stops).await?;
                (p, d, t, Source::Valhalla)
            }
            Engine::Osrm(url) => {
                let (p, d, t) = osrm_route(http, url, &stops).await?;
                (p, d, t, Source::Osrm)
            }
        };
        let path = Path::new(thin(points)).map_err(|e| EngineError::Garbage(e.to_string()))?;
        let cum = crate::index::cumulative_km(&path.pairs());
        let pairs = path.pairs();
        let waypoints = stops
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let along = if i == 0 {
                    0.0
                } else if i + 1 == stops.len() {
                    cum.last().copied().unwrap_or(0.0)
                } else {
                    crate::index::nearest_on_path(s.pair(), &pairs, &cum).map_or(0.0, |x| x.1)
                };
                (*s, along)
            })
            .collect();
        let trip = Arc::new(Trip { path, distance_km, duration_min: Some(duration_min), source, waypoints });
        self.remember(key, Arc::clone(&trip));
        Ok(trip)
    }

    /// Distances and times from every source to every target (Valhalla and OSRM only).
    #[tracing::instrument(skip(self, sources, targets), fields(sources = sources.len(), targets = targets.len()))]
    pub async fn matrix(&self, sources: &[LatLon], targets: &[LatLon]) -> Result<Matrix, EngineError> {
        let http = self.inner.http.as_ref().ok_or(EngineError::Off)?;
        let answer = async {
            match &self.inner.engine {
                Engine::Valhalla(url) => valhalla_matrix(http, url, sources, targets).await,
                Engine::Osrm(url) => osrm_matrix(http, url, sources, targets).await,
                Engine::Geoplateforme(_) | Engine::Off => Err(EngineError::Off),
            }
        };
        tokio::time::timeout(MATRIX_TIMEOUT, answer).await.map_err(|_| EngineError::Timeout)?
    }

    fn cached(&self, key: &str) -> Option<Arc<Trip>> {
        let cache = self.inner.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(key).filter(|(at, _)| at.elapsed() < CACHE_TTL).map(|(_, t)| Arc::clone(t))
    }

    fn remember(&self, key: String, trip: Arc<Trip>) {
        let mut cache = self.inner.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_ENTRIES {
            cache.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
        }
        if cache.len() >= CACHE_ENTRIES
            && let Some(oldest) = cache.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone())
        {
            cache.remove(&oldest);
        }
        cache.insert(key, (Instant::now(), trip));
    }

    /// Waits for this process's next Géoplateforme slot (one every 200 ms, whichever worker
    /// asks); refuses at once when the queue is longer than [`MAX_QUEUE_WAIT`].
    async fn wait_turn(&self) -> Result<(), EngineError> {
        let slot = {
            let mut next = self.inner.next_slot.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = (*next).max(now);
            if slot.duration_since(now) > MAX_QUEUE_WAIT {
                return Err(EngineError::RateLimited);
            }
            *next = slot + GEOPLATEFORME_EVERY;
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
        Ok(())
    }
}

/// At most [`MAX_POINTS`] points: a longer answer keeps every k-th point and the last.
fn thin(points: Vec<LatLon>) -> Vec<LatLon> {
    if points.len() <= MAX_POINTS {
        return points;
    }
    let step = points.len().div_ceil(MAX_POINTS - 1);
    let last = points[points.len() - 1];
    let mut out: Vec<LatLon> = points.into_iter().step_by(step).collect();
    if out.last() != Some(&last) {
        out.push(last);
    }
    out
}

/// Sends a request and reads its body, at most [`MAX_ANSWER_BYTES`]. 429 is a rate limit,
/// 5xx and connection failures the engine being down, other 4xx "no route".
async fn fetch(req: reqwest::RequestBuilder) -> Result<Vec<u8>, EngineError> {
    let mut resp = req.send().await.map_err(transport)?;
    let status = resp.status();
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(EngineError::RateLimited);
    }
    if status.is_server_error() {
        return Err(EngineError::Unavailable(format!("HTTP {}", status.as_u16())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(EngineError::Garbage(format!("answer larger than {} MB", MAX_ANSWER_BYTES >> 20)));
        }
        body.extend_from_slice(&chunk);
    }
    if status.is_client_error() {
        tracing::info!(status = status.as_u16(), body = %String::from_utf8_lossy(&body[..body.len().min(300)]), "engine refused");
        return Err(EngineError::NoRoute);
    }
    if !status.is_success() {
        return Err(EngineError::Unavailable(format!("HTTP {}", status.as_u16())));
    }
    Ok(body)
}

/// `base` with the pairs appended to its query string, encoded.
fn with_query<V: AsRef<str>>(base: &str, pairs: &[(&str, V)]) -> Result<url::Url, EngineError> {
    let mut u = url::Url::parse(base).map_err(|e| EngineError::Unavailable(format!("bad engine URL: {e}")))?;
    u.query_pairs_mut().extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_ref())));
    Ok(u)
}

fn transport(e: reqwest::Error) -> EngineError {
    if e.is_timeout() { EngineError::Timeout } else { EngineError::Unavailable(e.without_url().to_string()) }
}

fn json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, EngineError> {
    serde_json::from_slice(body).map_err(|e| EngineError::Garbage(format!("JSON: {e}")))
}

/// `[lon, lat]` pairs (GeoJSON order) as points, each in range.
fn lon_lat(coords: &[[f64; 2]]) -> Result<Vec<LatLon>, EngineError> {
    coords.iter().map(|c| LatLon::new(c[1], c[0]).map_err(|e| EngineError::Garbage(e.to_string()))).collect()
}

fn positive(v: f64, what: &str) -> Result<f64, EngineError> {
    if v.is_finite() && v >= 0.0 { Ok(v) } else { Err(EngineError::Garbage(format!("{what} {v}"))) }
}

// ---------------------------------------------------------------------------------------------
// Géoplateforme: GET itineraire?resource=bdtopo-osrm&profile=car&…; the answer has `distance`
// and `duration` in the units asked (and echoed as `distanceUnit`, `timeUnit`) and `geometry`,
// a GeoJSON LineString of [lon, lat].

#[derive(Deserialize)]
struct GeoplateformeAnswer {
    distance: f64,
    duration: f64,
    #[serde(rename = "distanceUnit", default)]
    distance_unit: Option<String>,
    #[serde(rename = "timeUnit", default)]
    time_unit: Option<String>,
    geometry: LineString,
}

#[derive(Deserialize)]
struct LineString {
    coordinates: Vec<[f64; 2]>,
}

type Routed = (Vec<LatLon>, f64, f64);

async fn geoplateforme_route(http: &reqwest::Client, url: &str, stops: &[LatLon]) -> Result<Routed, EngineError> {
    let ll = |p: &LatLon| format!("{},{}", p.lon, p.lat);
    let mut query = vec![
        ("resource", "bdtopo-osrm".to_owned()),
        ("profile", "car".to_owned()),
        ("optimization", "fastest".to_owned()),
        ("start", ll(&stops[0])),
        ("end", ll(&stops[stops.len() - 1])),
        ("geometryFormat", "geojson".to_owned()),
        ("getSteps", "false".to_owned()),
        ("getBbox", "false".to_owned()),
        ("distanceUnit", "meter".to_owned()),
        ("timeUnit", "second".to_owned()),
    ];
    if stops.len() > 2 {
        query.push(("intermediates", stops[1..stops.len() - 1].iter().map(ll).collect::<Vec<_>>().join("|")));
    }
    let body = fetch(http.get(with_query(url, &query)?)).await?;
    let a: GeoplateformeAnswer = json(&body)?;
    let km = match a.distance_unit.as_deref().unwrap_or("meter") {
        "meter" | "m" => a.distance / 1000.0,
        "kilometer" | "km" => a.distance,
        other => return Err(EngineError::Garbage(format!("distance unit {other:?}"))),
    };
    let min = match a.time_unit.as_deref().unwrap_or("second") {
        "second" | "s" => a.duration / 60.0,
        "minute" => a.duration,
        "hour" => a.duration * 60.0,
        other => return Err(EngineError::Garbage(format!("time unit {other:?}"))),
    };
    Ok((lon_lat(&a.geometry.coordinates)?, positive(km, "distance")?, positive(min, "duration")?))
}

// ---------------------------------------------------------------------------------------------
// OSRM: GET /route/v1/driving/LON,LAT;…?overview=full&geometries=geojson → {"code":"Ok",
// "routes":[{"distance" m,"duration" s,"geometry":{"coordinates":[[lon,lat]…]}}]};
// GET /table/v1/driving/…?sources=…&destinations=…&annotations=distance,duration.

/// OSRM's answer `code`: `Ok`, or why there is no answer (the other codes are kept as text for
/// the error message).
#[derive(Deserialize, Debug, PartialEq)]
enum OsrmCode {
    Ok,
    NoRoute,
    #[serde(untagged)]
    Other(String),
}

impl OsrmCode {
    /// The answer's data when the code is `Ok`; otherwise the error it stands for.
    fn check(self) -> Result<(), EngineError> {
        match self {
            OsrmCode::Ok => Ok(()),
            OsrmCode::NoRoute => Err(EngineError::NoRoute),
            OsrmCode::Other(code) => Err(EngineError::Garbage(code)),
        }
    }
}

#[derive(Deserialize)]
struct OsrmRouteAnswer {
    code: OsrmCode,
    #[serde(default)]
    routes: Vec<OsrmRoute>,
}

#[derive(Deserialize)]
struct OsrmRoute {
    distance: f64,
    duration: f64,
    geometry: LineString,
}

#[derive(Deserialize)]
struct OsrmTableAnswer {
    code: OsrmCode,
    #[serde(default)]
    distances: Vec<Vec<Option<f64>>>,
    #[serde(default)]
    durations: Vec<Vec<Option<f64>>>,
}

fn osrm_coords(points: &[LatLon]) -> String {
    points.iter().map(|p| format!("{:.6},{:.6}", p.lon, p.lat)).collect::<Vec<_>>().join(";")
}

async fn osrm_route(http: &reqwest::Client, url: &str, stops: &[LatLon]) -> Result<Routed, EngineError> {
    let u = format!("{url}/route/v1/driving/{}", osrm_coords(stops));
    let u = with_query(&u, &[("overview", "full"), ("geometries", "geojson"), ("steps", "false")])?;
    let body = fetch(http.get(u)).await?;
    let a: OsrmRouteAnswer = json(&body)?;
    a.code.check()?;
    let r = a.routes.into_iter().next().ok_or(EngineError::NoRoute)?;
    Ok((
        lon_lat(&r.geometry.coordinates)?,
        positive(r.distance / 1000.0, "distance")?,
        positive(r.duration / 60.0, "duration")?,
    ))
}

async fn osrm_matrix(
    http: &reqwest::Client,
    url: &str,
    sources: &[LatLon],
    targets: &[LatLon],
) -> Result<Matrix, EngineError> {
    let all: Vec<LatLon> = sources.iter().chain(targets).copied().collect();
    let list = |r: std::ops::Range<usize>| r.map(|i| i.to_string()).collect::<Vec<_>>().join(";");
    let u = format!("{url}/table/v1/driving/{}", osrm_coords(&all));
    let u = with_query(
        &u,
        &[
            ("sources", list(0..sources.len())),
            ("destinations", list(sources.len()..all.len())),
            ("annotations", "distance,duration".to_owned()),
        ],
    )?;
    let body = fetch(http.get(u)).await?;
    let a: OsrmTableAnswer = json(&body)?;
    a.code.check()?;
    if a.distances.len() != sources.len() || a.durations.len() != sources.len() {
        return Err(EngineError::Garbage("matrix of the wrong size".into()));
    }
    let rows = a
        .distances
        .iter()
        .zip(&a.durations)
        .map(|(d, t)| {
            if d.len() != targets.len() || t.len() != targets.len() {
                return Err(EngineError::Garbage("matrix of the wrong size".into()));
            }
            Ok(d.iter().zip(t).map(|(d, t)| Some((d.as_ref()? / 1000.0, t.as_ref()? / 60.0))).collect())
        })
        .collect::<Result<Vec<_>, EngineError>>()?;
    Ok(Matrix(rows))
}

// ---------------------------------------------------------------------------------------------
// Valhalla: POST /route {"locations":[{"lat","lon"}],"costing":"auto","units":"kilometers"} →
// {"trip":{"summary":{"length" km,"time" s},"legs":[{"shape": polyline, 6 decimals}]}};
// POST /sources_to_targets → {"sources_to_targets":[[{"distance" km,"time" s}…]…]}.

#[derive(Deserialize)]
struct ValhallaRouteAnswer {
    trip: ValhallaTrip,
}

#[derive(Deserialize)]
struct ValhallaTrip {
    summary: ValhallaSummary,
    legs: Vec<ValhallaLeg>,
}

#[derive(Deserialize)]
struct ValhallaSummary {
    length: f64,
    time: f64,
}

#[derive(Deserialize)]
struct ValhallaLeg {
    shape: String,
}

#[derive(Deserialize)]
struct ValhallaMatrixAnswer {
    sources_to_targets: Vec<Vec<ValhallaCell>>,
}

#[derive(Deserialize)]
struct ValhallaCell {
    distance: Option<f64>,
    time: Option<f64>,
}

fn valhalla_locations(points: &[LatLon]) -> Vec<serde_json::Value> {
    points.iter().map(|p| serde_json::json!({"lat": p.lat, "lon": p.lon})).collect()
}

async fn valhalla_route(http: &reqwest::Client, url: &str, stops: &[LatLon]) -> Result<Routed, EngineError> {
    let req = serde_json::json!({
        "locations": valhalla_locations(stops),
        "costing": "auto",
        "units": "kilometers",
        "directions_type": "none",
    });
    let body =
        fetch(http.post(format!("{url}/route")).header("content-type", "application/json").body(req.to_string()))
            .await?;
    let a: ValhallaRouteAnswer = json(&body)?;
    let mut points = Vec::new();
    for leg in &a.trip.legs {
        let mut p = decode_polyline6(&leg.shape)?;
        // A leg starts where the previous one ended.
        if points.last().is_some() && points.last() == p.first() {
            p.remove(0);
        }
        points.extend(p);
    }
    Ok((points, positive(a.trip.summary.length, "length")?, positive(a.trip.summary.time / 60.0, "time")?))
}

async fn valhalla_matrix(
    http: &reqwest::Client,
    url: &str,
    sources: &[LatLon],
    targets: &[LatLon],
) -> Result<Matrix, EngineError> {
    let req = serde_json::json!({
        "sources": valhalla_locations(sources),
        "targets": valhalla_locations(targets),
        "costing": "auto",
        "units": "kilometers",
    });
    let body = fetch(
        http.post(format!("{url}/sources_to_targets")).header("content-type", "application/json").body(req.to_string()),
    )
    .await?;
    let a: ValhallaMatrixAnswer = json(&body)?;
    if a.sources_to_targets.len() != sources.len() || a.sources_to_targets.iter().any(|r| r.len() != targets.len()) {
        return Err(EngineError::Garbage("matrix of the wrong size".into()));
    }
    Ok(Matrix(
        a.sources_to_targets.iter().map(|r| r.iter().map(|c| Some((c.distance?, c.time? / 60.0))).collect()).collect(),
    ))
}

/// Google's encoded polyline with 6 decimals (Valhalla's shapes).
pub fn decode_polyline6(s: &str) -> Result<Vec<LatLon>, EngineError> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut next = || -> Result<Option<i64>, EngineError> {
        if i >= bytes.len() {
            return Ok(None);
        }
        let (mut result, mut shift) = (0i64, 0u32);
        loop {
            let b = *bytes.get(i).ok_or_else(|| EngineError::Garbage("truncated shape".into()))? as i64 - 63;
            i += 1;
            if !(0..64).contains(&b) || shift > 60 {
                return Err(EngineError::Garbage("bad shape".into()));
            }
            result |= (b & 0x1f) << shift;
            shift += 5;
            if b < 0x20 {
                break;
            }
        }
        Ok(Some(if result & 1 == 1 { !(result >> 1) } else { result >> 1 }))
    };
    let (mut lat, mut lon) = (0i64, 0i64);
    let mut out = Vec::new();
    while let Some(dlat) = next()? {
        let dlon = next()?.ok_or_else(|| EngineError::Garbage("truncated shape".into()))?;
        lat += dlat;
        lon += dlon;
        out.push(LatLon::new(lat as f64 / 1e6, lon as f64 / 1e6).map_err(|e| EngineError::Garbage(e.to_string()))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polyline6() {
        // Valhalla's documentation example shape prefix (two points).
        let pts = decode_polyline6("_izlhA~rlgdF_{geC~ywl@").expect("decode");
        assert_eq!(pts.len(), 2);
        assert!((pts[0].lat - 38.5).abs() < 1e-6 && (pts[0].lon + 120.2).abs() < 1e-6, "{pts:?}");
        assert!((pts[1].lat - 40.7).abs() < 1e-6 && (pts[1].lon + 120.95).abs() < 1e-6, "{pts:?}");
        assert!(decode_polyline6("_izlhA").is_err());
    }

    #[test]
    fn settings() {
        assert_eq!("Valhalla".parse::<RouterKind>(), Ok(RouterKind::Valhalla));
        assert!("google".parse::<RouterKind>().is_err());
        let need_url = Router::new(&RouterSettings { kind: RouterKind::Osrm, url: None });
        assert!(need_url.is_err_and(|e| e.contains("--router-url")));
        let off = Router::new(&RouterSettings { kind: RouterKind::Off, url: None }).expect("off");
        assert_eq!(off.kind(), RouterKind::Off);
        assert!(!off.has_matrix());
    }

    #[test]
    fn osrm_codes() {
        let code = |text: &str| serde_json::from_str::<OsrmCode>(text).expect("a code");
        assert_eq!(code(r#""Ok""#), OsrmCode::Ok);
        assert_eq!(code(r#""NoRoute""#), OsrmCode::NoRoute);
        assert_eq!(code(r#""TooBig""#), OsrmCode::Other("TooBig".into()));
        assert!(code(r#""Ok""#).check().is_ok());
        assert!(matches!(code(r#""NoRoute""#).check(), Err(EngineError::NoRoute)));
        assert!(matches!(code(r#""NoSegment""#).check(), Err(EngineError::Garbage(c)) if c == "NoSegment"));
    }

    #[test]
    fn thinning_keeps_the_ends() {
        let pts: Vec<LatLon> = (0..MAX_POINTS * 3 + 7).map(|i| LatLon { lat: 45.0, lon: i as f64 * 1e-5 }).collect();
        let last = pts[pts.len() - 1];
        let t = thin(pts);
        assert!(t.len() <= MAX_POINTS, "{}", t.len());
        assert_eq!(t.last(), Some(&last));
    }
}
