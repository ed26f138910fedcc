//! `GET /api` (human documentation) and `GET /api/openapi.json` (machine description), both
//! embedded in the binary so a self-hosted server needs no asset folder.
//!
//! Both files are hand-written: keep them in step with `routes/api.rs` (the integration tests
//! check that every path is described).

use std::sync::LazyLock;

use crate::web::cache_control::CachePolicy;
use crate::web::state::AppState;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub const API_HTML: &str = include_str!("../static/api.html");
/// [`API_HTML`] with its stylesheet at its content-hashed URL (no inline style: the page has the
/// site's Content-Security-Policy).
static API_PAGE: LazyLock<String> = LazyLock::new(|| {
    API_HTML.replace("href=\"/static/css/api.css\"", &format!("href=\"{}\"", crate::web::assets::url("css/api.css")))
});
pub const OPENAPI_JSON: &str = include_str!("../static/openapi.json");

/// Documentation changes only with a new binary; an hour of caching is harmless.
const CACHE: CachePolicy = CachePolicy::PublicHour;

#[tracing::instrument]
pub async fn api_page() -> Response {
    (CACHE, [(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], API_PAGE.as_str())
        .into_response()
}

#[tracing::instrument]
pub async fn openapi() -> Response {
    (CACHE, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], OPENAPI_JSON).into_response()
}

/// The API's documentation and its OpenAPI description.
pub fn router() -> Router<AppState> {
    Router::new().route("/api", get(api_page)).route("/api/openapi.json", get(openapi))
}

#[cfg(test)]
mod tests {
    #[test]
    fn api_page_has_no_inline_style_and_a_hashed_stylesheet() {
        let page = super::API_PAGE.as_str();
        assert!(!page.contains("<style") && !page.contains("style="), "the CSP forbids inline styles");
        assert!(page.contains(&format!("href=\"{}\"", crate::web::assets::url("css/api.css"))));
    }

    #[test]
    fn openapi_is_valid_json() {
        let v: serde_json::Value = serde_json::from_str(super::OPENAPI_JSON).expect("JSON");
        assert_eq!(v["openapi"], "3.1.0");
    }
}
