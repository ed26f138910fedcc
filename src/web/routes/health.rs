//! `GET /healthz`: for load balancers and container orchestrators.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// A health check must answer quickly even when the pool is exhausted or the database hangs:
/// past this, the instance is reported unhealthy.
const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// `200 ok` when the database answers `SELECT 1`, `503` otherwise. Plain text, never cached.
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
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
