//! Errors of the web layer: one enum for what went wrong, one wrapper per way of showing it.
//!
//! [`AppError`] says *what* failed (not found, bad input, database, anything else) and nothing
//! about HTTP bodies. How it is rendered is chosen by the handler's return type: [`ApiError`]
//! renders the JSON envelope of the API (`{"error": {"code", "message"}}`); an HTML page type can
//! wrap the same `AppError` ([`HtmlError`]) without touching the handlers' logic or this enum. `AppError`
//! itself deliberately has no `IntoResponse`, so a handler cannot forget to pick one.
//!
//! Internal failures (database, anything unexpected) are logged with their cause, and the client
//! only ever sees a generic message: SQL text, file paths and driver messages are not for the
//! public.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// What went wrong while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The thing named does not exist (`"station 6110002"`). The message is shown as is.
    #[error("{0} not found")]
    NotFound(String),
    /// The request is malformed; the message names the offending parameter and is shown as is.
    #[error("{0}")]
    BadRequest(String),
    /// The request may not be served (a cross-site form post, a stale form token). Shown as is.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Too many attempts from this client or on this account; retry after this many seconds.
    #[error("too many requests: retry in {0} s")]
    TooManyRequests(u64),
    /// The database failed. Logged, never shown.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Anything else that is our fault. Logged, never shown.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn not_found(what: impl Into<String>) -> AppError {
        AppError::NotFound(what.into())
    }

    pub fn bad_request(message: impl Into<String>) -> AppError {
        AppError::BadRequest(message.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code of the error (scripts match on it, not on messages).
    pub fn code(&self) -> &'static str {
        match self {
            AppError::NotFound(_) => "not_found",
            AppError::BadRequest(_) => "bad_request",
            AppError::Forbidden(_) => "forbidden",
            AppError::TooManyRequests(_) => "too_many_requests",
            AppError::Database(_) | AppError::Internal(_) => "internal",
        }
    }

    /// The message safe to show to the client. For internal errors it is generic on purpose.
    pub fn public_message(&self) -> String {
        match self {
            AppError::NotFound(_) | AppError::BadRequest(_) | AppError::Forbidden(_) | AppError::TooManyRequests(_) => {
                self.to_string()
            }
            AppError::Database(_) | AppError::Internal(_) => {
                "internal server error; the cause has been logged".to_owned()
            }
        }
    }

    /// Logs the cause of server-side failures (client errors are not worth a log line each:
    /// the trace layer already records their status).
    fn log(&self) {
        match self {
            AppError::Database(e) => {
                tracing::error!(error = %e, "database error while serving a request")
            }
            AppError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error while serving a request")
            }
            AppError::NotFound(_) | AppError::BadRequest(_) | AppError::Forbidden(_) | AppError::TooManyRequests(_) => {
            }
        }
    }
}

/// An [`AppError`] rendered as the API's JSON envelope:
/// `{"error": {"code": "not_found", "message": "station 42 not found"}}`.
///
/// Error responses carry `Cache-Control: no-store`, so the API's caching header (set only when
/// absent) never makes a proxy keep a failure.
#[derive(Debug)]
pub struct ApiError(pub AppError);

/// What API handlers return.
pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        err.log();
        let body = Envelope { error: Body { code: err.code(), message: err.public_message() } };
        let mut resp = (err.status(), Json(body)).into_response();
        resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
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

/// An [`AppError`] rendered as a page of the site, in the visitor's language: the public pages
/// return this, so a missing station is a real 404 page and a failure a real 500 page. Logged
/// like [`ApiError`].
#[derive(Debug)]
pub struct HtmlError(pub AppError, pub crate::web::i18n::Lang);

/// What page handlers return.
pub type HtmlResult<T> = Result<T, HtmlError>;

impl IntoResponse for HtmlError {
    fn into_response(self) -> Response {
        self.0.log();
        crate::web::routes::pages::error_page(&self.0, self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak() {
        let e = AppError::Database(sqlx::Error::Protocol("SELECT secret FROM x".into()));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.public_message().contains("SELECT"));
        assert_eq!(AppError::not_found("station 42").public_message(), "station 42 not found");
        assert_eq!(AppError::bad_request("x").code(), "bad_request");
    }
}
