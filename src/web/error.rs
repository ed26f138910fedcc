//! The API's rendering of an [`AppError`]: the JSON envelope.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::{AppError, ErrorCode};
use crate::web::cache_control::CachePolicy;

/// An [`AppError`] rendered as the API's JSON envelope:
/// `{"error": {"code": "not_found", "message": "station 42 not found"}}`.
///
/// Error responses are [`CachePolicy::NoStore`], so the API's minute of caching (given to the
/// answers that name no policy) never makes a proxy keep a failure.
#[derive(Debug)]
pub struct ApiError(pub AppError);

/// What API handlers return.
pub type ApiResult<T> = Result<T, ApiError>;

/// The envelope of every API failure: a stable code and a message naming the problem.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct Envelope {
    error: Body,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorBody)]
struct Body {
    code: ErrorCode,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        err.log();
        let body = Envelope { error: Body { code: err.code(), message: err.public_message() } };
        (err.status(), CachePolicy::NoStore, Json(body)).into_response()
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError(AppError::Database(e))
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError(AppError::Internal(e))
    }
}
