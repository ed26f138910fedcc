//! What went wrong while serving a request, and nothing about how it is shown.
//!
//! [`AppError`] says *what* failed (not found, bad input, database, anything else). The web layer
//! renders it: [`crate::web::error::ApiError`] as the API's JSON envelope
//! (`{"error": {"code", "message"}}`), [`crate::web::page::HtmlError`] as a page of the site in
//! the visitor's language. `AppError` deliberately has no `IntoResponse`, so a handler cannot
//! forget to pick one.
//!
//! Internal failures (database, anything unexpected) are logged with their cause, and the client
//! only ever sees a generic message: SQL text, file paths and driver messages are not for the
//! public.

use axum::http::StatusCode;

/// The stable, machine-readable code of a failure: scripts match on it, not on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    NotFound,
    Forbidden,
    TooManyRequests,
    Unprocessable,
    Unavailable,
    BadGateway,
    Internal,
}

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
    /// The request is well-formed but its content cannot be used (a GPX file that is not one, a
    /// path outside France). The message names the problem and is shown as is.
    #[error("{0}")]
    Unprocessable(String),
    /// A service we depend on is busy or slow (a routing engine's rate limit or timeout): try
    /// again later. Shown as is.
    #[error("{0}")]
    Unavailable(String),
    /// A service we depend on is down or answered garbage. Shown as is (it names no secret).
    #[error("{0}")]
    BadGateway(String),
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
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code of the error (scripts match on it, not on messages).
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::NotFound(_) => ErrorCode::NotFound,
            AppError::BadRequest(_) => ErrorCode::BadRequest,
            AppError::Forbidden(_) => ErrorCode::Forbidden,
            AppError::TooManyRequests(_) => ErrorCode::TooManyRequests,
            AppError::Unprocessable(_) => ErrorCode::Unprocessable,
            AppError::Unavailable(_) => ErrorCode::Unavailable,
            AppError::BadGateway(_) => ErrorCode::BadGateway,
            AppError::Database(_) | AppError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The message safe to show to the client. For internal errors it is generic on purpose.
    pub fn public_message(&self) -> String {
        match self {
            AppError::NotFound(_)
            | AppError::BadRequest(_)
            | AppError::Forbidden(_)
            | AppError::TooManyRequests(_)
            | AppError::Unprocessable(_)
            | AppError::Unavailable(_)
            | AppError::BadGateway(_) => self.to_string(),
            AppError::Database(_) | AppError::Internal(_) => {
                "internal server error; the cause has been logged".to_owned()
            }
        }
    }

    /// Logs the cause of server-side failures (client errors are not worth a log line each:
    /// the trace layer already records their status).
    pub fn log(&self) {
        match self {
            AppError::Database(e) => {
                tracing::error!(error = %e, "database error while serving a request")
            }
            AppError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error while serving a request")
            }
            AppError::Unavailable(m) | AppError::BadGateway(m) => {
                tracing::warn!(error = %m, "a service we depend on failed")
            }
            AppError::NotFound(_)
            | AppError::BadRequest(_)
            | AppError::Forbidden(_)
            | AppError::TooManyRequests(_)
            | AppError::Unprocessable(_) => {}
        }
    }
}

impl From<crate::index::IndexError> for AppError {
    fn from(e: crate::index::IndexError) -> Self {
        match e {
            crate::index::IndexError::Db(e) => AppError::Database(e),
            crate::index::IndexError::Build(e) => AppError::Internal(e.into()),
        }
    }
}

/// An account failure that is not a form problem (those are shown next to their field by the
/// pages): a rate limit is a 429, anything else a 500 whose cause is logged.
impl From<crate::services::accounts::AccountError> for AppError {
    fn from(e: crate::services::accounts::AccountError) -> Self {
        use crate::services::accounts::AccountError;
        match e {
            AccountError::RateLimited(secs) => AppError::TooManyRequests(secs),
            AccountError::Db(e) => AppError::Database(e),
            AccountError::Internal(e) => AppError::Internal(e),
            other => AppError::Internal(anyhow::anyhow!("unexpected account error: {other}")),
        }
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
        assert_eq!(AppError::bad_request("x").code(), ErrorCode::BadRequest);
        assert_eq!(serde_json::to_value(ErrorCode::TooManyRequests).expect("JSON"), "too_many_requests");
    }
}
