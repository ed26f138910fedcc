//! `GET /healthz` and `GET /readyz`: for load balancers and container orchestrators.
//!
//! `/healthz` says the process is alive and reaches its database (restart it otherwise);
//! `/readyz` also says its data is fresh enough to be worth serving (send traffic elsewhere
//! otherwise: stale prices are worse than another instance's fresh ones).

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::web::cache_control::CachePolicy;
use crate::web::state::AppState;

/// A health check must answer quickly even when the pool is exhausted or the database hangs:
/// past this, the instance is reported unhealthy.
const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// Past this age of the last successful feed run, an instance is not ready: the feed is
/// refreshed every ten minutes, so two hours means about twelve missed runs, not a hiccup.
pub const MAX_DATA_AGE_SECS: i64 = 2 * 3600;

/// `200 ok` when the database answers `SELECT 1`, `503` otherwise. Plain text, never cached.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    summary = "Liveness and database health",
    responses(
        (status = 200, description = "The database answers.", body = String, content_type = "text/plain"),
        (status = 503, description = "The database does not answer (within 3 seconds).", body = String, content_type = "text/plain"),
    )
)]
#[tracing::instrument(skip(state))]
pub async fn healthz(State(state): State<AppState>) -> Response {
    let (status, body) = match tokio::time::timeout(PING_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ok"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: database ping failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
        Err(_) => {
            tracing::warn!(timeout = ?PING_TIMEOUT, "health check: database ping timed out");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    };
    (status, CachePolicy::NoStore, body).into_response()
}

/// What `/readyz` answers, in JSON.
#[derive(Debug, serde::Serialize)]
struct Readiness {
    /// `ok` or `unavailable`.
    database: &'static str,
    /// Seconds since the last successful feed run ended; `null` when none did (or unknown).
    data_age_secs: Option<i64>,
    ready: bool,
    /// Why not ready; absent when ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

impl Readiness {
    const DB_UNAVAILABLE: Readiness =
        Readiness { database: "unavailable", data_age_secs: None, ready: false, reason: Some("database unavailable") };
}

/// `200` when the database answers and the last successful feed run (`success`, `unchanged` or
/// `not_modified`) ended less than [`MAX_DATA_AGE_SECS`] ago; `503` otherwise, including before
/// the first import. The JSON body says which check failed. Never cached.
#[tracing::instrument(skip(state))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let checks = async {
        state.db.ping().await?;
        crate::db::etl_runs::last_success_at(&state.db).await
    };
    let r = match tokio::time::timeout(PING_TIMEOUT, checks).await {
        Ok(Ok(last)) => {
            let age = last.map(|t| (crate::db::now() - t).max(0));
            let reason = match age {
                None => Some("no data loaded yet"),
                Some(a) if a > MAX_DATA_AGE_SECS => Some("data older than 2 h"),
                Some(_) => None,
            };
            Readiness { database: "ok", data_age_secs: age, ready: reason.is_none(), reason }
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: database query failed");
            Readiness::DB_UNAVAILABLE
        }
        Err(_) => {
            tracing::warn!(timeout = ?PING_TIMEOUT, "readiness check: database timed out");
            Readiness::DB_UNAVAILABLE
        }
    };
    let status = if r.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, CachePolicy::NoStore, axum::Json(r)).into_response()
}

/// The probes: `/healthz` and `/readyz`, outside the session layer.
pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}
