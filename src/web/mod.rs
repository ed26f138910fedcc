//! HTTP: the router, its middleware, extractors and routes.
//!
//! Each route module declares its own `router()`; [`router`] merges them under the middleware of
//! their kind. The table of every route is in `docs/architecture.md` ("Routes"), generated from
//! the routers' declarations and checked against them by a test (`route_table_is_up_to_date`).

pub mod assets;
pub mod brand;
pub mod cache;
pub mod cache_control;
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
use axum::routing::get;
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
use crate::web::cache_control::CachePolicy;
use crate::web::error::ApiError;
use crate::web::state::AppState;
use routes::{
    about, account, admin, api, api_docs, api_history, api_route, demo, health, home, lang, me, station, stations,
    trends,
};

/// Longest a request may take before the client gets a 503: well above any query of this API,
/// well below the patience of a proxy in front.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Gzip and brotli level of the answers compressed as they are sent.
pub const COMPRESSION_QUALITY: i32 = 4;

/// The Content-Security-Policy of the pages without the map tiles' origin: no inline script,
/// no inline style but `/`'s stylesheet (by its hash, added by [`content_security_policy`]), no
/// plugin, no framing, forms and fetches to this origin only.
const BASE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// [`BASE_CSP`] with the hash of the stylesheet `/` inlines ([`assets::INLINE_CSS`]) in
/// `style-src` and the tile server allowed in `img-src` (`https://{s}.tile.example/…` becomes
/// `https://*.tile.example`).
pub fn content_security_policy(tile_url: &str) -> String {
    let origin = url::Url::parse(&tile_url.replace("{s}", "a").replace(['{', '}'], ""))
        .ok()
        .and_then(|u| {
            Some(format!("{}://{}{}", u.scheme(), u.host_str()?, u.port().map(|p| format!(":{p}")).unwrap_or_default()))
        })
        .map(|o| if tile_url.contains("{s}.") { o.replacen("://a.", "://*.", 1) } else { o })
        .unwrap_or_default();
    BASE_CSP
        .replace("style-src 'self'", &format!("style-src 'self' {}", *assets::INLINE_CSS_SOURCE))
        .replace("img-src 'self' data:", &format!("img-src 'self' data: {origin}"))
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

/// Where the JSON API's routers (`api`, `api_history`, `api_route`) are nested.
pub const API_V1: &str = "/api/v1";

/// The whole application: each route module's router, merged here under the middleware of its
/// kind (the JSON API, the pages behind the session layer, the rest), and the layers every
/// response goes through.
pub fn router(state: AppState) -> Router {
    let api_v1 = Router::new()
        .merge(api::router())
        .merge(api_history::router())
        .merge(api_route::router())
        .fallback(api_not_found)
        // The answers that name no policy (errors are `NoStore`).
        .layer(cache_control::default_layer(routes::api_docs::API_CACHE));

    let pages_router = Router::new()
        .merge(home::router())
        .merge(stations::router())
        .merge(station::router())
        .merge(demo::router())
        .merge(about::router())
        .merge(trends::router())
        .merge(routes::route::router())
        .merge(lang::router())
        .merge(account::router())
        .merge(me::router())
        .merge(me::alerts::router())
        .merge(me::push::router())
        .merge(admin::router())
        .fallback(page::not_found)
        .layer(
            ServiceBuilder::new()
                // Account pages and forms are `NoStore`.
                .layer(cache_control::default_layer(CachePolicy::PrivateRevalidate))
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
    let mut app = Router::new().merge(health::router());
    // Without a token `/metrics` is an unknown page (404); `--metrics-bind` serves it elsewhere.
    if state.metrics.requires_token() {
        app = app.route("/metrics", get(metrics::metrics));
    }
    let app = app
        .merge(me::alerts::unsubscribe_router())
        .merge(assets::router())
        .merge(me::push::app_router())
        .merge(api_docs::router())
        .nest(API_V1, api_v1)
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
                .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, REQUEST_TIMEOUT))
                // Innermost: `Cache-Control` from each answer's policy (a timeout's 503 has none).
                .layer(cache_control::layer()),
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
    // Made outside the cache layer: finished here.
    cache_control::finish(ApiError(AppError::Internal(anyhow::anyhow!("handler panicked: {msg}"))).into_response())
}

/// Unknown paths under `/api/v1` answer in JSON like the rest of the API.
async fn api_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError(AppError::not_found(format!("endpoint {}", uri.path())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The files under `src/web`, recursively.
    pub(super) fn web_sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src/web") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                web_sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The end of the call that starts at `open` (an opening parenthesis).
    fn closing_paren(text: &str, open: usize) -> usize {
        let mut depth = 0;
        for (i, c) in text[open..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return open + i;
                    }
                }
                _ => {}
            }
        }
        text.len()
    }

    /// The route table as the routers declare it: every `.route(path, method(handler)…)` of
    /// `src/web` outside test code, the API's paths under [`API_V1`], as Markdown rows.
    fn declared_route_table() -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mod_rs = std::fs::read_to_string(root.join("src/web/mod.rs")).expect("mod.rs");
        let api_block = &mod_rs[mod_rs.find("let api_v1 =").expect("api_v1")..];
        let api_block = &api_block[..api_block.find(';').expect("end of api_v1")];
        let module = regex::Regex::new(r"(\w+)::router\(\)").expect("regex");
        let api_modules: Vec<&str> =
            module.captures_iter(api_block).filter_map(|c| c.get(1)).map(|m| m.as_str()).collect();
        let method = regex::Regex::new(r"(?:^|[^\w:])(get|post)\(").expect("regex");
        let mut files = Vec::new();
        web_sources(&root.join("src/web"), &mut files);
        let mut table: std::collections::BTreeMap<String, (std::collections::BTreeSet<String>, Vec<String>)> =
            std::collections::BTreeMap::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("source");
            let text = &text[..text.find("#[cfg(test)]").unwrap_or(text.len())];
            let rel = file.strip_prefix(root).expect("under the crate").display().to_string();
            let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            let prefix = if api_modules.contains(&stem) { API_V1 } else { "" };
            for (at, _) in text.match_indices(".route(") {
                let open = at + ".route".len();
                let call = &text[open + 1..closing_paren(text, open)];
                let Some(path) = call.trim_start().strip_prefix('"').and_then(|p| p.split('"').next()) else {
                    continue;
                };
                let row = table.entry(format!("{prefix}{path}")).or_default();
                row.0.extend(method.captures_iter(call).map(|c| c[1].to_uppercase()));
                if !row.1.contains(&rel) {
                    row.1.push(rel.clone());
                }
            }
        }
        let mut out = String::from("| path | methods | declared in |\n|---|---|---|\n");
        for (path, (methods, files)) in table {
            let methods: Vec<String> = methods.into_iter().collect();
            out += &format!("| `{path}` | {} | {} |\n", methods.join(", "), files.join(", "));
        }
        out
    }

    /// The table of `docs/architecture.md` is the routers' own: a route added, moved or removed
    /// without the table fails here. `CARBUROAM_WRITE_ROUTES=1 cargo test --lib route_table`
    /// writes the table anew.
    #[test]
    fn route_table_is_up_to_date() {
        const BEGIN: &str = "<!-- routes: generated by web::tests::route_table_is_up_to_date -->\n";
        const END: &str = "<!-- end of routes -->";
        let doc_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md");
        let doc = std::fs::read_to_string(&doc_path).expect("docs/architecture.md");
        let start = doc.find(BEGIN).expect("the routes section of docs/architecture.md") + BEGIN.len();
        let end = start + doc[start..].find(END).expect("the end of the routes section");
        let table = declared_route_table();
        if std::env::var_os("CARBUROAM_WRITE_ROUTES").is_some() {
            std::fs::write(&doc_path, format!("{}{table}{}", &doc[..start], &doc[end..])).expect("write the table");
            return;
        }
        assert_eq!(doc[start..end], table, "CARBUROAM_WRITE_ROUTES=1 cargo test --lib route_table rewrites it");
        for path in ["/api/v1/trends", "/api/v1/brands", "/me/alerts", "/me/push", "/healthz"] {
            assert!(table.contains(&format!("| `{path}` |")), "{path} missing from\n{table}");
        }
    }

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
        assert!(c.contains(&format!("style-src 'self' {};", *assets::INLINE_CSS_SOURCE)), "{c}");
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
