//! HTTP: the router, its middleware, extractors and routes.
//!
//! | path | what |
//! |---|---|
//! | `GET /healthz` | `ok` when the database answers |
//! | `GET /api` | API documentation (HTML) |
//! | `GET /api/openapi.json` | OpenAPI 3.1 description |
//! | `GET /api/v1/stations?lat&lon&fuel…` | cheapest stations near a point |
//! | `GET /api/v1/stations/{id}` | one station with prices and shortages |
//! | `GET /api/v1/stations/{id}/history?fuel&days` | price history of one fuel |
//! | `GET /api/v1/status` | freshness of the data and table sizes |

pub mod assets;
pub mod cache;
pub mod extract;
pub mod i18n;
pub mod routes;

use std::any::Any;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::error::{ApiError, AppError};
use crate::state::AppState;
use routes::{api, api_docs, health, pages};

/// Longest a request may take before the client gets a 503: well above any query of this API,
/// well below the patience of a proxy in front.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The API's data changes at most every ten minutes (the feed's period); one minute of caching
/// by browsers and proxies is invisible to users and takes load off the database.
pub const API_CACHE_CONTROL: &str = "public, max-age=60";

/// Pages may be kept a minute by the browser: prices change at most every ten minutes and the
/// language is in `Vary`.
pub const PAGE_CACHE_CONTROL: &str = "private, max-age=60";

/// The Content-Security-Policy of the pages without the map tiles' origin: no inline script or
/// style, no plugin, no framing, forms and fetches to this origin only.
const BASE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// [`BASE_CSP`] with the tile server allowed in `img-src` (`https://{s}.tile.example/…` becomes
/// `https://*.tile.example`).
pub fn content_security_policy(tile_url: &str) -> String {
    let origin = url::Url::parse(&tile_url.replace("{s}", "a").replace(['{', '}'], ""))
        .ok()
        .and_then(|u| {
            Some(format!("{}://{}{}", u.scheme(), u.host_str()?, u.port().map(|p| format!(":{p}")).unwrap_or_default()))
        })
        .map(|o| if tile_url.contains("{s}.") { o.replacen("://a.", "://*.", 1) } else { o })
        .unwrap_or_default();
    BASE_CSP.replace("img-src 'self' data:", &format!("img-src 'self' data: {origin}"))
}

/// The whole application: routes, state and middleware.
pub fn router(state: AppState) -> Router {
    let api_v1 = Router::new()
        .route("/stations", get(api::nearby))
        .route("/stations/{id}", get(api::station))
        .route("/stations/{id}/history", get(api::history))
        .route("/status", get(api::status))
        .fallback(api_not_found)
        // Only when absent: error responses already say `no-store`.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static(API_CACHE_CONTROL),
        ));

    let csp = HeaderValue::from_str(&content_security_policy(&state.site.tile_url))
        .unwrap_or_else(|_| HeaderValue::from_static(BASE_CSP));
    let pages_router = Router::new()
        .route("/", get(pages::home))
        .route("/stations", get(pages::stations))
        .route("/stations/{id}", get(pages::station))
        .route("/demo", get(pages::demo))
        .route("/about", get(pages::about))
        .route("/lang", get(pages::switch_lang))
        .route("/suggest", get(pages::suggest))
        .fallback(pages::not_found)
        .layer(
            ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, csp))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(PAGE_CACHE_CONTROL),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::VARY,
                    HeaderValue::from_static("Accept-Language, Cookie, Accept-Encoding"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("strict-origin-when-cross-origin"),
                )),
        );

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/static/{hash}/{*path}", get(assets::serve))
        .route("/api", get(api_docs::api_page))
        .route("/api/openapi.json", get(api_docs::openapi))
        .nest("/api/v1", api_v1)
        .merge(pages_router)
        .layer(
            // Outermost first: every response, even a timeout or a panic, is traced and carries
            // the request id.
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(make_span)
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(CompressionLayer::new())
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, REQUEST_TIMEOUT)),
        )
        .with_state(state)
}

/// One span per request, with the id that `SetRequestIdLayer` put in `x-request-id` so that log
/// lines can be matched with what a user reports.
fn make_span(req: &Request<Body>) -> tracing::Span {
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
    tracing::info_span!(
        "request",
        method = %req.method(),
        uri = %req.uri(),
        request_id,
    )
}

/// A panicking handler is a bug: log it, answer like any other internal error.
fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response {
    let msg = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    ApiError(AppError::Internal(anyhow::anyhow!("handler panicked: {msg}"))).into_response()
}

/// Unknown paths under `/api/v1` answer in JSON like the rest of the API.
async fn api_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError(AppError::not_found(format!("endpoint {}", uri.path())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_allows_the_tiles() {
        let c = content_security_policy("https://{s}.tile.example.org/{z}/{x}/{y}.png");
        assert!(c.contains("img-src 'self' data: https://*.tile.example.org;"), "{c}");
        let c = content_security_policy("http://127.0.0.1:9/{z}/{x}/{y}.png");
        assert!(c.contains("img-src 'self' data: http://127.0.0.1:9;"), "{c}");
        assert!(c.contains("script-src 'self';"));
    }

    #[tokio::test]
    async fn a_panic_is_a_json_500_without_details() {
        let resp = panic_response(Box::new("index out of bounds: secret"));
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
        let body = axum::body::to_bytes(resp.into_body(), 4096).await.expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(v["error"]["code"], "internal");
        assert!(!body.windows(6).any(|w| w == b"secret"));
    }
}
