//! HTTP: the router, its middleware, extractors and routes.
//!
//! | path | what |
//! |---|---|
//! | `GET /healthz` | `ok` when the database answers |
//! | `GET /readyz` | 200 when the database answers and the data is fresh (JSON) |
//! | `GET /metrics` | Prometheus metrics, only with `--metrics-token` (see [`metrics`]) |
//! | `GET /api` | API documentation (HTML) |
//! | `GET /api/openapi.json` | OpenAPI 3.1 description |
//! | `GET /api/v1/stations?lat&lon&fuel…` | cheapest stations near a point |
//! | `GET /api/v1/stations/{id}` | one station with prices and shortages |
//! | `GET /api/v1/stations/{id}/history?fuel&days` | price history of one fuel |
//! | `GET /api/v1/status` | freshness of the data and table sizes |
//! | `GET`, `POST /api/v1/route` | the stations along a trip, by what the stop costs ([`routes::api_route`]) |
//! | `GET /manifest.webmanifest`, `/sw.js`, `/offline`, `/push/key` | the installable app and Web Push ([`routes::push`]) |

pub mod assets;
pub mod brand;
pub mod cache;
pub mod error;
pub mod extract;
pub mod form;
pub mod i18n;
pub mod i18n_account;
pub mod metrics;
pub mod page;
pub mod routes;
pub mod serve;
pub mod session;
pub mod state;
pub mod svg;
pub mod versioned;

use std::any::Any;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::CompressionLevel;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::{MakeHeaderValue, SetResponseHeaderLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::error::AppError;
use crate::web::error::ApiError;
use crate::web::state::AppState;
use routes::{
    about, account, admin, alerts, api, api_docs, api_history, api_route, demo, health, home, lang, me, push, station,
    stations, trends,
};

/// Longest a request may take before the client gets a 503: well above any query of this API,
/// well below the patience of a proxy in front.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Gzip and brotli level of the answers compressed as they are sent.
pub const COMPRESSION_QUALITY: i32 = 4;

/// The API's data changes at most every ten minutes (the feed's period); one minute of caching
/// by browsers and proxies is invisible to users and takes load off the database.
pub const API_CACHE_CONTROL: &str = "public, max-age=60";

/// Pages are revalidated at each visit: they show who is logged in (the account menu), which
/// changes at login and logout. Account pages say `no-store`.
pub const PAGE_CACHE_CONTROL: &str = "private, no-cache";

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

/// `Strict-Transport-Security` when the public URL is `https://`: sent by the application itself,
/// so it holds whatever the proxy in front is configured to add.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Makes the site's Content-Security-Policy for the HTML responses only (pages, error pages, the
/// API's documentation); JSON, assets and redirects have no use for one.
#[derive(Clone)]
struct HtmlOnly(HeaderValue);

impl<B> MakeHeaderValue<Response<B>> for HtmlOnly {
    fn make_header_value(&mut self, resp: &Response<B>) -> Option<HeaderValue> {
        let html = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("text/html"));
        html.then(|| self.0.clone())
    }
}

/// The whole application: routes, state and middleware.
pub fn router(state: AppState) -> Router {
    let api_v1 = Router::new()
        .route("/stations", get(api::nearby))
        .route("/stations/{id}", get(api::station))
        .route("/stations/{id}/history", get(api_history::history))
        .route("/trends", get(api_history::trends))
        .route("/status", get(api::status))
        .route("/brands", get(api::brands))
        .route(
            "/route",
            get(api_route::get_route)
                .post(api_route::post_route)
                .layer(axum::extract::DefaultBodyLimit::max(api_route::MAX_BODY_BYTES)),
        )
        .fallback(api_not_found)
        // Only when absent: error responses already say `no-store`.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static(API_CACHE_CONTROL),
        ));

    let pages_router = Router::new()
        .route("/", get(home::home))
        .route("/stations", get(stations::stations))
        .route("/stations/{id}", get(station::station))
        .route("/demo", get(demo::demo))
        .route("/about", get(about::about))
        .route("/tendances", get(trends::trends_page))
        .route("/trends", get(trends::trends_page))
        .route(
            "/trajet",
            get(routes::route::route_page)
                .post(routes::route::route_post)
                .layer(axum::extract::DefaultBodyLimit::max(routes::route::MAX_FORM_BODY_BYTES)),
        )
        .route(
            "/route",
            get(routes::route::route_page)
                .post(routes::route::route_post)
                .layer(axum::extract::DefaultBodyLimit::max(routes::route::MAX_FORM_BODY_BYTES)),
        )
        .route("/lang", get(lang::switch_lang))
        .route("/suggest", get(stations::suggest))
        .route("/register", get(account::register_page).post(account::register))
        .route("/login", get(account::login_page).post(account::login))
        .route("/logout", post(account::logout))
        .route("/forgot-password", get(account::forgot_password_page).post(account::forgot_password))
        .route("/forgot-username", get(account::forgot_username_page).post(account::forgot_username))
        .route("/reset-password", get(account::reset_page).post(account::reset))
        .route("/me", get(me::dashboard))
        .route("/me/stations", get(me::my_stations))
        .route("/me/stations/add", post(me::add_station))
        .route("/me/stations/{id}/{action}", post(me::station_action))
        .route("/me/profile", get(me::profile_page).post(me::save_profile))
        .route("/me/vehicle", post(me::save_vehicle))
        .route("/me/routes", post(me::save_route))
        .route("/me/routes/{id}/delete", post(me::delete_route))
        .route("/me/email", post(me::change_email))
        .route("/me/email/confirm", get(me::confirm_email))
        .route("/me/email/resend", post(me::resend_confirmation))
        .route("/me/email/cancel", get(me::cancel_email_page).post(me::cancel_email))
        .route("/me/password", post(me::change_password))
        .route("/me/export", get(me::export))
        .route("/me/delete", post(me::delete_account))
        .route("/me/alerts", get(alerts::alerts_page))
        .route("/me/alerts/rules", post(alerts::create_rule))
        .route("/me/alerts/rules/{id}/{action}", post(alerts::rule_action))
        .route("/me/alerts/settings", post(alerts::save_settings))
        .route("/me/alerts/channels/{kind}", post(alerts::save_channel))
        .route("/me/alerts/channels/{id}/{action}", post(alerts::channel_action))
        .route("/me/push", get(push::page))
        .route("/me/push/subscribe", post(push::subscribe))
        .route("/me/push/unsubscribe", post(push::unsubscribe))
        .route("/me/push/test", post(push::send_test))
        .route("/me/push/{id}/delete", post(push::delete_device))
        .route("/admin", get(admin::overview))
        .route("/admin/etl", get(admin::etl))
        .route("/admin/etl/run", post(admin::run_now))
        .route("/admin/names/refresh", post(admin::refresh_names))
        .route("/admin/etl/runs/{id}", get(admin::run))
        .route("/admin/users", get(admin::users))
        .route("/admin/users/{id}", get(admin::user))
        .route("/admin/users/{id}/{action}", post(admin::user_action))
        .route("/admin/backups", get(admin::backups))
        // A POST (it writes a file and an audit row): a cross-site link cannot trigger it. A GET
        // gets the 404 page, as every console URL does for whoever may not use it.
        .route("/admin/backups/download", get(page::not_found).post(admin::download_backup))
        .fallback(page::not_found)
        .layer(
            ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(PAGE_CACHE_CONTROL),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::VARY,
                    HeaderValue::from_static("Accept-Language, Cookie, Accept-Encoding"),
                ))
                // Innermost: the session and CSRF check see every page request, and their
                // refusals get the headers above.
                .layer(axum::middleware::from_fn_with_state(state.clone(), session::layer)),
        );

    let csp = HeaderValue::from_str(&content_security_policy(&state.site.tile_url))
        .unwrap_or_else(|_| HeaderValue::from_static(BASE_CSP));
    // Only when people reach the site over HTTPS: browsers then refuse plain HTTP to it for a year.
    let hsts = state.accounts.settings.secure_cookies.then_some(HeaderValue::from_static(HSTS));
    let mut app = Router::new().route("/healthz", get(health::healthz)).route("/readyz", get(health::readyz));
    // Without a token `/metrics` is an unknown page (404); `--metrics-bind` serves it elsewhere.
    if state.metrics.requires_token() {
        app = app.route("/metrics", get(metrics::metrics));
    }
    // The one-click unsubscribe of alert emails (RFC 8058): outside the session layer, since a
    // mail provider posts it without cookies nor CSRF token; the random token is the credential.
    let app = app
        .route("/alerts/unsubscribe/{token}", get(alerts::unsubscribe_page).post(alerts::unsubscribe))
        .route("/static/{hash}/{*path}", get(assets::serve))
        .route("/manifest.webmanifest", get(push::manifest))
        .route("/sw.js", get(push::service_worker))
        .route("/offline", get(push::offline))
        .route("/push/key", get(push::public_key))
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
                // Outside the panic and timeout layers, so their 500 and 503 are counted too.
                .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
                // Security headers on every response, errors, timeouts and panics included.
                .layer(SetResponseHeaderLayer::overriding(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("strict-origin-when-cross-origin"),
                ))
                .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, HtmlOnly(csp)))
                .layer(SetResponseHeaderLayer::overriding(header::STRICT_TRANSPORT_SECURITY, hsts))
                // Gzip or brotli, as the client accepts, for the answers made per request (the
                // cached ones come compressed already: `versioned::Body`). Brotli's default
                // quality (11) costs milliseconds per page; 4 compresses about as well as gzip 6
                // at a fraction of its time.
                .layer(CompressionLayer::new().quality(CompressionLevel::Precise(COMPRESSION_QUALITY)))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, REQUEST_TIMEOUT)),
        )
        .with_state(state);
    // A 404 names no methods. The console's refusals (see `session::layer`) are 404s made inside
    // the routes, but axum's method routers add `Allow` to their "wrong method" answers outside
    // every layer: it comes off here, around the whole router.
    Router::new().fallback_service(
        ServiceBuilder::new()
            .map_response(|mut resp: Response| {
                if resp.status() == StatusCode::NOT_FOUND {
                    resp.headers_mut().remove(header::ALLOW);
                }
                resp
            })
            .service(app),
    )
}

/// One span per request, with the id that `SetRequestIdLayer` put in `x-request-id` so that log
/// lines can be matched with what a user reports.
fn make_span(req: &Request<Body>) -> tracing::Span {
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
    tracing::info_span!(
        "request",
        method = %req.method(),
        uri = %loggable_uri(req.uri()),
        request_id,
    )
}

/// Query parameters whose values are secrets (a reset code, a confirmation token): logged as `***`.
const SECRET_PARAMS: [&str; 4] = ["code", "token", "password", "csrf"];

/// The URI as logged: path and query, with the values of [`SECRET_PARAMS`] hidden. A reset link
/// opened from a mail carries its code in the query; logs must not.
fn loggable_uri(uri: &axum::http::Uri) -> String {
    let Some(q) = uri.query() else {
        return uri.path().to_owned();
    };
    let redacted: Vec<String> = q
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if SECRET_PARAMS.contains(&k) => format!("{k}=***"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{}?{}", uri.path(), redacted.join("&"))
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
    fn secrets_in_queries_are_not_logged() {
        let uri: axum::http::Uri = "/reset-password?login=lea&code=K7QF-M2XD-9PRT".parse().expect("uri");
        assert_eq!(loggable_uri(&uri), "/reset-password?login=lea&code=***");
        let uri: axum::http::Uri = "/stations?q=Lyon".parse().expect("uri");
        assert_eq!(loggable_uri(&uri), "/stations?q=Lyon");
    }

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
