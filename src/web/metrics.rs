//! Request metrics for Prometheus (`GET /metrics`) and the in-house usage counts of the admin
//! console, both fed by one middleware ([`track`]).
//!
//! The exposition format is written by hand: a few counters and one histogram do not justify a
//! metrics framework, and keeping the registry in [`crate::web::state::AppState`] (rather than a
//! global recorder) lets every test server count on its own.
//!
//! Requests are labelled by the route *pattern* that axum matched (`/stations/{id}`), never by
//! the raw path: a label per station id (or per scanner's random URL) would grow the series
//! without bound. Paths that match no route are `unmatched`, and methods outside the standard
//! set are `other`, for the same reason.
//!
//! `/metrics` is public unless `CARBUROAM_METRICS_TOKEN` is set, in which case it requires
//! `Authorization: Bearer <token>` (Prometheus' `authorization` scrape setting). Operators who
//! do not set a token should block the path at the reverse proxy: the figures are not secret,
//! but nothing outside the monitoring needs them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::db::Db;
use crate::db::usage::{self, UsageRow};
use crate::on_db;
use crate::web::state::AppState;

/// Upper bounds of the latency histogram's buckets, in seconds: from a cached page (about a
/// millisecond) to the slowest query worth telling apart (the request timeout is 15 s).
pub const DURATION_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// The route label of requests that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// How often [`Metrics::spawn_flusher`] writes the usage counts by default: losing at most a
/// minute of counts in a crash is fine, one write per request is not.
pub const FLUSH_EVERY: Duration = Duration::from_secs(60);

/// Routes that are not page views or API calls: assets, probes and scrapes would drown the
/// figures people look at.
const NOT_USAGE: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Longest the ETL figures of a scrape may take: a scrape must answer even when the database
/// hangs (its request figures are what tell the operator what is going on).
const DB_TIMEOUT: Duration = Duration::from_secs(3);

/// Counters of one route.
#[derive(Debug, Default)]
struct RouteStats {
    /// Requests by (method, status).
    requests: BTreeMap<(&'static str, u16), u64>,
    /// Requests by latency bucket (not cumulative; the last slot is above every bound).
    buckets: [u64; DURATION_BUCKETS.len() + 1],
    sum_secs: f64,
    count: u64,
}

/// Requests of one (day, route) not yet written to `usage_daily`.
#[derive(Debug, Clone, Copy)]
struct Pending {
    api: bool,
    count: i64,
}

/// The registry: request counters and latencies since start-up, and the usage counts not yet
/// flushed to the database. Cheap to share (`Arc`) and locked only for a few map operations per
/// request.
pub struct Metrics {
    /// `CARBUROAM_METRICS_TOKEN`: when set, `/metrics` requires it as a Bearer token.
    token: Option<String>,
    http: Mutex<BTreeMap<String, RouteStats>>,
    usage: Mutex<HashMap<(i64, String), Pending>>,
}

impl std::fmt::Debug for Metrics {
    // Never prints the token (`AppState` is `Debug` and may end up in a log line).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("token", &self.token.as_ref().map(|_| "***")).finish_non_exhaustive()
    }
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
    /// An empty registry; `token` (if not empty) protects `/metrics`.
    pub fn new(token: Option<String>) -> Metrics {
        Metrics {
            token: token.filter(|t| !t.trim().is_empty()),
            http: Mutex::new(BTreeMap::new()),
            usage: Mutex::new(HashMap::new()),
        }
    }

    /// [`Metrics::new`] with the token of `CARBUROAM_METRICS_TOKEN`. Read from the environment
    /// only (no command-line flag), so the secret never shows in `ps`.
    pub fn from_env() -> Metrics {
        Metrics::new(std::env::var("CARBUROAM_METRICS_TOKEN").ok())
    }

    /// Whether `/metrics` asks for a token.
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
        {
            let mut http = lock(&self.http);
            let stats = match http.get_mut(route) {
                Some(s) => s,
                None => http.entry(route.to_owned()).or_default(),
            };
            *stats.requests.entry((method_label(method), status.as_u16())).or_default() += 1;
            let slot = DURATION_BUCKETS.iter().position(|&le| secs <= le).unwrap_or(DURATION_BUCKETS.len());
            stats.buckets[slot] += 1;
            stats.sum_secs += secs;
            stats.count += 1;
        }
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
    pub fn spawn_flusher(
        self: &Arc<Self>,
        db: Db,
        every: Duration,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let metrics = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is immediate and there is nothing to write yet.
            ticker.tick().await;
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = ticker.tick() => {}
                }
                if let Err(e) = metrics.flush(&db).await {
                    tracing::warn!(error = %e, "could not save the usage counts (kept for the next try)");
                }
            }
        })
    }

    /// The request metrics in Prometheus text format (without the database's figures).
    fn render_http(&self, out: &mut String) {
        use std::fmt::Write;
        let http = lock(&self.http);
        out.push_str("# HELP carburoam_http_requests_total HTTP requests by route pattern, method and status.\n");
        out.push_str("# TYPE carburoam_http_requests_total counter\n");
        for (route, stats) in http.iter() {
            let route = escape(route);
            for ((method, status), n) in &stats.requests {
                let _ = writeln!(
                    out,
                    "carburoam_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP carburoam_http_request_duration_seconds Time to answer a request, by route pattern.\n");
        out.push_str("# TYPE carburoam_http_request_duration_seconds histogram\n");
        for (route, stats) in http.iter() {
            let route = escape(route);
            let mut cumulative = 0;
            for (le, n) in DURATION_BUCKETS.iter().zip(&stats.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "carburoam_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "carburoam_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 carburoam_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 carburoam_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                stats.count, stats.sum_secs, stats.count
            );
        }
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

/// `GET /metrics`: the request metrics, the ETL runs (read from `etl_runs` at scrape time, so
/// every instance sharing a database reports the same figures) and the build.
#[tracing::instrument(skip_all)]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.metrics.token.as_deref().is_some_and(|token| !bearer_matches(&headers, token)) {
        let mut resp = (StatusCode::UNAUTHORIZED, "a bearer token is required\n").into_response();
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return resp;
    }
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("# HELP carburoam_build_info The running version.\n# TYPE carburoam_build_info gauge\n");
    out.push_str(&format!("carburoam_build_info{{version=\"{}\"}} 1\n", escape(env!("CARGO_PKG_VERSION"))));
    state.metrics.render_http(&mut out);
    match tokio::time::timeout(DB_TIMEOUT, etl_figures(&state.db)).await {
        Ok(Ok(etl)) => etl.render(&mut out),
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics: cannot read the ETL runs"),
        Err(_) => tracing::warn!(timeout = ?DB_TIMEOUT, "metrics: reading the ETL runs timed out"),
    }
    let mut resp = out.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// What `/metrics` reports about the feed job.
struct EtlFigures {
    runs_by_status: Vec<(String, i64)>,
    last_duration_secs: Option<i64>,
    last_success_at: Option<i64>,
}

async fn etl_figures(db: &Db) -> Result<EtlFigures, sqlx::Error> {
    let runs_by_status = on_db!(db, p => {
        sqlx::query_as::<_, (String, i64)>("SELECT status, COUNT(*) FROM etl_runs GROUP BY status ORDER BY status")
            .fetch_all(p)
            .await?
    });
    let last_duration_secs = on_db!(db, p => {
        sqlx::query_scalar::<_, i64>(
            "SELECT finished_at - started_at FROM etl_runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(p)
        .await?
    });
    let last_success_at = crate::db::stations::last_success_at(db).await?;
    Ok(EtlFigures { runs_by_status, last_duration_secs, last_success_at })
}

impl EtlFigures {
    fn render(&self, out: &mut String) {
        use std::fmt::Write;
        out.push_str("# HELP carburoam_etl_runs_total Feed job runs recorded in the database, by outcome.\n");
        out.push_str("# TYPE carburoam_etl_runs_total counter\n");
        for (status, n) in &self.runs_by_status {
            let _ = writeln!(out, "carburoam_etl_runs_total{{status=\"{}\"}} {n}", escape(status));
        }
        if let Some(d) = self.last_duration_secs {
            out.push_str("# HELP carburoam_etl_run_duration_seconds Duration of the last finished feed job run.\n");
            out.push_str("# TYPE carburoam_etl_run_duration_seconds gauge\n");
            let _ = writeln!(out, "carburoam_etl_run_duration_seconds {}", d.max(0));
        }
        // 0 when no run ever succeeded: an alert on the data's age then fires, as it should.
        out.push_str(
            "# HELP carburoam_last_successful_refresh_timestamp_seconds End of the last successful feed job run.\n",
        );
        out.push_str("# TYPE carburoam_last_successful_refresh_timestamp_seconds gauge\n");
        let _ =
            writeln!(out, "carburoam_last_successful_refresh_timestamp_seconds {}", self.last_success_at.unwrap_or(0));
    }
}

/// Whether `Authorization` carries `Bearer <token>`. Both sides are hashed before comparing, so
/// the comparison takes the same time whatever the guess (nor does it reveal the length).
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
    else {
        return false;
    };
    let (a, b) = (Sha256::digest(given.trim().as_bytes()), Sha256::digest(token.trim().as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A bounded set of method labels: a client may send any token as a method.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Page views and API calls; not assets, probes, scrapes or unmatched paths.
fn counts_as_usage(route: &str) -> bool {
    route != UNMATCHED && !route.starts_with("/static/") && !NOT_USAGE.contains(&route)
}

/// API routes (`/api/v1/…`, `/api/openapi.json`); `/api` itself is the documentation page.
fn is_api(route: &str) -> bool {
    route.starts_with("/api/")
}

/// A label value as the text format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(m: &Metrics) -> String {
        let mut s = String::new();
        m.render_http(&mut s);
        s
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
        assert!(s.contains("_bucket{route=\"/stations/{id}\",le=\"0.0025\"} 0\n"), "{s}");
        assert!(s.contains("_bucket{route=\"/stations/{id}\",le=\"0.005\"} 1\n"), "{s}");
        assert!(s.contains("_bucket{route=\"/stations/{id}\",le=\"0.05\"} 2\n"), "{s}");
        assert!(s.contains("_bucket{route=\"/stations/{id}\",le=\"+Inf\"} 2\n"), "{s}");
        assert!(s.contains("_count{route=\"/stations/{id}\"} 2\n"), "{s}");
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
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
