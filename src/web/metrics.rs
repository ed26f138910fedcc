//! Request metrics for Prometheus (`GET /metrics`) and the in-house usage counts of the admin
//! console, both fed by one middleware ([`track`]).
//!
//! The exposition is written by `prometheus-client` (OpenMetrics text). The registry lives in
//! [`crate::web::state::AppState`] rather than in a global recorder, so every test server counts
//! on its own.
//!
//! Requests are labelled by the route *pattern* that axum matched (`/stations/{id}`), never by
//! the raw path: a label per station id (or per scanner's random URL) would grow the series
//! without bound. Paths that match no route are `unmatched`, and methods outside the standard
//! set are `other`, for the same reason.
//!
//! `/metrics` is closed by default (404: it lists the admin routes' hits). It is served on the
//! main address only with a token (`--metrics-token`, `CARBUROAM_METRICS_TOKEN`), to scrapes
//! sending `Authorization: Bearer <token>` (Prometheus' `authorization` scrape setting), and
//! without a token on a separate address (`--metrics-bind 127.0.0.1:9100`, see [`router`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use crate::db::Db;
use crate::db::etl_runs;
use crate::db::usage::{self, UsageRow};
use crate::web::cache_control::CachePolicy;
use crate::web::state::AppState;

/// The content type of the exposition (OpenMetrics text, which Prometheus reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the latency histogram's buckets, in seconds: from a cached page (about a
/// millisecond) to the slowest query worth telling apart (the request timeout is 15 s).
pub const DURATION_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// The route label of requests that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// How often [`Metrics::flusher`] writes the usage counts by default: losing at most a
/// minute of counts in a crash is fine, one write per request is not.
pub const FLUSH_EVERY: Duration = Duration::from_secs(60);

/// Routes that are not page views or API calls: assets, probes and scrapes would drown the
/// figures people look at.
const NOT_USAGE: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Longest the ETL figures of a scrape may take: a scrape must answer even when the database
/// hangs (its request figures are what tell the operator what is going on).
const DB_TIMEOUT: Duration = Duration::from_secs(3);

/// The labels of `carburoam_http_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

/// The labels of `carburoam_http_request_duration_seconds`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// The labels of `carburoam_etl_runs_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

type DurationFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// Requests of one (day, route) not yet written to `usage_daily`.
#[derive(Debug, Clone, Copy)]
struct Pending {
    api: bool,
    count: i64,
}

/// The registry: request counters and latencies since start-up, and the usage counts not yet
/// flushed to the database. Cheap to share (`Arc`); the counters are atomics, the usage map is
/// locked for one map operation per request.
#[derive(Debug)]
pub struct Metrics {
    /// When set, `/metrics` on the main address serves scrapes that send it as a bearer token.
    token: Option<SecretString>,
    requests: Family<RequestLabels, Counter>,
    durations: DurationFamily,
    usage: Mutex<HashMap<(i64, String), Pending>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(None)
    }
}

/// A poisoned lock only means a thread panicked while counting: the counts are still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Metrics {
    /// An empty registry; `token` (if not empty) opens `/metrics` on the main address.
    pub fn new(token: Option<SecretString>) -> Metrics {
        Metrics {
            token: token.filter(|t| !t.expose_secret().trim().is_empty()),
            requests: Family::default(),
            durations: Family::new_with_constructor(duration_histogram),
            usage: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `/metrics` is served on the main address (to scrapes with the token).
    pub fn requires_token(&self) -> bool {
        self.token.is_some()
    }

    /// Counts one finished request. `route` is the matched pattern (`None`: no route matched);
    /// `now` (Unix seconds) picks the usage day.
    pub fn record(&self, route: Option<&str>, method: &Method, status: StatusCode, elapsed: Duration, now: i64) {
        // A nested router's fallback is routed through a catch-all whose name leaks into the
        // pattern: it is as unmatched as the top-level fallback.
        let route = route.filter(|r| !r.contains("__private__axum")).unwrap_or(UNMATCHED);
        let secs = elapsed.as_secs_f64();
        let labels = RequestLabels { route: route.to_owned(), method: method_label(method), status: status.as_u16() };
        self.requests.get_or_create(&labels).inc();
        self.durations.get_or_create(&RouteLabels { route: route.to_owned() }).observe(secs);
        if method == Method::GET && status.is_success() && counts_as_usage(route) {
            let key = (usage::utc_day(now), route.to_owned());
            lock(&self.usage).entry(key).or_insert(Pending { api: is_api(route), count: 0 }).count += 1;
        }
    }

    /// Adds the usage counts gathered since the last flush to `usage_daily` and forgets them.
    /// When the write fails they are kept for the next flush: counts are neither lost nor
    /// counted twice (the write is one transaction), and concurrent flushes take disjoint sets.
    pub async fn flush(&self, db: &Db) -> Result<(), sqlx::Error> {
        let pending = std::mem::take(&mut *lock(&self.usage));
        if pending.is_empty() {
            return Ok(());
        }
        let rows: Vec<UsageRow> =
            pending.into_iter().map(|((day, route), p)| UsageRow { day, route, api: p.api, count: p.count }).collect();
        if let Err(e) = usage::add(db, &rows).await {
            let mut map = lock(&self.usage);
            for r in rows {
                map.entry((r.day, r.route)).or_insert(Pending { api: r.api, count: 0 }).count += r.count;
            }
            return Err(e);
        }
        Ok(())
    }

    /// Flushes the usage counts every `every` until `shutdown` is cancelled. The caller flushes
    /// once more after the server has stopped, for the requests served during the shutdown.
    pub async fn flusher(self: Arc<Self>, db: Db, every: Duration, shutdown: CancellationToken) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate and there is nothing to write yet.
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticker.tick() => {}
            }
            if let Err(e) = self.flush(&db).await {
                tracing::warn!(error = %e, "could not save the usage counts (kept for the next try)");
            }
        }
    }

    /// The exposition: the build, the request metrics, and the feed job's figures when read.
    fn encode(&self, etl: Option<&EtlFigures>) -> Result<String, std::fmt::Error> {
        let mut registry = Registry::default();
        registry.register(
            "carburoam_build",
            "The running version",
            Info::new([("version", env!("CARGO_PKG_VERSION"))]),
        );
        registry.register(
            "carburoam_http_requests",
            "HTTP requests by route pattern, method and status",
            self.requests.clone(),
        );
        registry.register(
            "carburoam_http_request_duration_seconds",
            "Time to answer a request, by route pattern",
            self.durations.clone(),
        );
        if let Some(etl) = etl {
            etl.register(&mut registry);
        }
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &registry)?;
        Ok(out)
    }
}

/// The middleware behind [`Metrics::record`]: times the request and counts its response. It must
/// be added with `Router::layer`, which runs it after routing, where [`MatchedPath`] is known.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let started = Instant::now();
    let resp = next.run(req).await;
    metrics.record(
        route.as_ref().map(MatchedPath::as_str),
        &method,
        resp.status(),
        started.elapsed(),
        crate::db::now(),
    );
    resp
}

/// `GET /metrics` on the main address: served only with a token set, to scrapes sending it;
/// 404 without one (the route is then not even mounted, see [`crate::web::router`]).
#[tracing::instrument(skip_all)]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match &state.metrics.token {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(token) if !bearer_matches(&headers, token.expose_secret()) => {
            let mut resp = (StatusCode::UNAUTHORIZED, "a bearer token is required\n").into_response();
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            resp
        }
        Some(_) => scrape(State(state)).await,
    }
}

/// The `--metrics-bind` listener: `/metrics` without a token (the address is the protection),
/// 404 for anything else.
pub fn router(state: AppState) -> Router {
    // Its own router: the cache layer of `web::router` is not on it.
    Router::new().route("/metrics", get(scrape)).layer(crate::web::cache_control::layer()).with_state(state)
}

/// The request metrics, the ETL runs (read from `etl_runs` at scrape time, so every instance
/// sharing a database reports the same figures) and the build.
#[tracing::instrument(skip_all)]
pub async fn scrape(State(state): State<AppState>) -> Response {
    let etl = match tokio::time::timeout(DB_TIMEOUT, etl_figures(&state.db)).await {
        Ok(Ok(etl)) => Some(etl),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: cannot read the ETL runs");
            None
        }
        Err(_) => {
            tracing::warn!(timeout = ?DB_TIMEOUT, "metrics: reading the ETL runs timed out");
            None
        }
    };
    let out = match state.metrics.encode(etl.as_ref()) {
        Ok(out) => out,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let mut resp = out.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    CachePolicy::NoStore.set(resp)
}

/// What `/metrics` reports about the feed job.
struct EtlFigures {
    runs_by_status: Vec<(String, i64)>,
    last_duration_secs: Option<i64>,
    last_success_at: Option<i64>,
}

async fn etl_figures(db: &Db) -> Result<EtlFigures, sqlx::Error> {
    let runs_by_status = etl_runs::count_by_status(db).await?;
    let last_duration_secs = etl_runs::last_duration_secs(db).await?;
    let last_success_at = etl_runs::last_success_at(db).await?;
    Ok(EtlFigures { runs_by_status, last_duration_secs, last_success_at })
}

impl EtlFigures {
    fn register(&self, registry: &mut Registry) {
        let runs = Family::<StatusLabels, Counter>::default();
        for (status, n) in &self.runs_by_status {
            runs.get_or_create(&StatusLabels { status: status.clone() }).inc_by(u64::try_from(*n).unwrap_or(0));
        }
        registry.register("carburoam_etl_runs", "Feed job runs recorded in the database, by outcome", runs);
        if let Some(d) = self.last_duration_secs {
            let g = Gauge::<i64>::default();
            g.set(d.max(0));
            registry.register("carburoam_etl_run_duration_seconds", "Duration of the last finished feed job run", g);
        }
        // 0 when no run ever succeeded: an alert on the data's age then fires, as it should.
        let g = Gauge::<i64>::default();
        g.set(self.last_success_at.unwrap_or(0));
        registry.register(
            "carburoam_last_successful_refresh_timestamp_seconds",
            "End of the last successful feed job run",
            g,
        );
    }
}

/// Whether `Authorization` carries `Bearer <token>`. Both sides are hashed, then compared in
/// constant time (`subtle`): the time taken reveals neither the token nor its length.
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
    else {
        return false;
    };
    let (a, b) = (Sha256::digest(given.trim().as_bytes()), Sha256::digest(token.trim().as_bytes()));
    a[..].ct_eq(&b[..]).into()
}

/// The methods labelled by their own name; any other is "other".
static LABELLED_METHODS: [Method; 7] =
    [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::DELETE, Method::PATCH, Method::OPTIONS];

/// A bounded set of method labels: a client may send any token as a method.
fn method_label(m: &Method) -> &'static str {
    LABELLED_METHODS.iter().find(|known| *known == m).map_or("other", Method::as_str)
}

/// Page views and API calls; not assets, probes, scrapes or unmatched paths.
fn counts_as_usage(route: &str) -> bool {
    route != UNMATCHED && !route.starts_with("/static/") && !NOT_USAGE.contains(&route)
}

/// API routes (`/api/v1/…`, `/api/openapi.json`); `/api` itself is the documentation page.
fn is_api(route: &str) -> bool {
    route.starts_with("/api/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_labelled_by_name_or_other() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(method_label(&Method::from_bytes(b"PROPFIND").unwrap()), "other");
        assert_eq!(method_label(&Method::TRACE), "other");
    }

    fn render(m: &Metrics) -> String {
        m.encode(None).expect("encode")
    }

    #[test]
    fn requests_are_counted_by_pattern_and_bucket() {
        let m = Metrics::default();
        let ms = Duration::from_millis;
        m.record(Some("/stations/{id}"), &Method::GET, StatusCode::OK, ms(3), 0);
        m.record(Some("/stations/{id}"), &Method::GET, StatusCode::OK, ms(30), 0);
        m.record(None, &Method::from_bytes(b"BREW").expect("method"), StatusCode::NOT_FOUND, ms(1), 0);
        let s = render(&m);
        assert!(
            s.contains("carburoam_http_requests_total{route=\"/stations/{id}\",method=\"GET\",status=\"200\"} 2\n")
        );
        assert!(s.contains("carburoam_http_requests_total{route=\"unmatched\",method=\"other\",status=\"404\"} 1\n"));
        assert!(s.contains("_bucket{le=\"0.0025\",route=\"/stations/{id}\"} 0\n"), "{s}");
        assert!(s.contains("_bucket{le=\"0.005\",route=\"/stations/{id}\"} 1\n"), "{s}");
        assert!(s.contains("_bucket{le=\"0.05\",route=\"/stations/{id}\"} 2\n"), "{s}");
        assert!(s.contains("_bucket{le=\"+Inf\",route=\"/stations/{id}\"} 2\n"), "{s}");
        assert!(s.contains("_count{route=\"/stations/{id}\"} 2\n"), "{s}");
        assert!(s.contains("# TYPE carburoam_http_request_duration_seconds histogram\n"), "{s}");
        assert!(s.contains(&format!("carburoam_build_info{{version=\"{}\"}} 1\n", env!("CARGO_PKG_VERSION"))), "{s}");
        assert!(s.ends_with("# EOF\n"), "{s}");
    }

    #[test]
    fn usage_keeps_only_successful_gets_of_pages_and_api() {
        let m = Metrics::default();
        let d = Duration::ZERO;
        let day2 = 86_400 * 2 + 5;
        for (route, method, status, now) in [
            (Some("/"), Method::GET, StatusCode::OK, 10),
            (Some("/"), Method::GET, StatusCode::OK, 20),
            (Some("/"), Method::GET, StatusCode::OK, day2),
            (Some("/api/v1/stations/{id}"), Method::GET, StatusCode::OK, 10),
            (Some("/api/v1/stations/{id}"), Method::GET, StatusCode::NOT_FOUND, 10),
            (Some("/login"), Method::POST, StatusCode::SEE_OTHER, 10),
            (Some("/healthz"), Method::GET, StatusCode::OK, 10),
            (Some("/static/{hash}/{*path}"), Method::GET, StatusCode::OK, 10),
            (None, Method::GET, StatusCode::NOT_FOUND, 10),
        ] {
            m.record(route, &method, status, d, now);
        }
        let usage = lock(&m.usage);
        assert_eq!(usage.len(), 3, "{usage:?}");
        assert_eq!(usage[&(0, "/".to_owned())].count, 2);
        assert_eq!(usage[&(86_400 * 2, "/".to_owned())].count, 1);
        let api = usage[&(0, "/api/v1/stations/{id}".to_owned())];
        assert!(api.api);
        assert_eq!(api.count, 1);
    }

    #[test]
    fn bearer_token_check() {
        let mut h = HeaderMap::new();
        assert!(!bearer_matches(&h, "s3cret"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer s3cret"));
        assert!(bearer_matches(&h, "s3cret"));
        assert!(!bearer_matches(&h, "s3cre"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic czNjcmV0"));
        assert!(!bearer_matches(&h, "s3cret"));
        assert!(!format!("{:?}", Metrics::new(Some("s3cret".into()))).contains("s3cret"));
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::default();
        m.record(Some("/a\"b\\c"), &Method::GET, StatusCode::OK, Duration::ZERO, 0);
        let s = render(&m);
        assert!(s.contains("route=\"/a\\\"b\\\\c\""), "{s}");
    }

    #[test]
    fn etl_figures_are_exposed() {
        let etl = EtlFigures {
            runs_by_status: vec![("failed".into(), 2), ("success".into(), 5)],
            last_duration_secs: Some(12),
            last_success_at: None,
        };
        let s = Metrics::default().encode(Some(&etl)).expect("encode");
        assert!(s.contains("carburoam_etl_runs_total{status=\"failed\"} 2\n"), "{s}");
        assert!(s.contains("carburoam_etl_runs_total{status=\"success\"} 5\n"), "{s}");
        assert!(s.contains("carburoam_etl_run_duration_seconds 12\n"), "{s}");
        assert!(s.contains("carburoam_last_successful_refresh_timestamp_seconds 0\n"), "{s}");
    }
}
