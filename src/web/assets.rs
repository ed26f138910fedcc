//! Static assets (CSS, JS, vendored Leaflet/uPlot, icons), embedded in the binary and served
//! under content-hashed URLs: `/static/{hash}/{path}`, e.g. `/static/3fa2b1c4d5e6/css/site.css`.
//!
//! The hash is a directory segment rather than part of the file name so that relative URLs
//! inside vendored CSS (`url(images/layers.png)`) keep working: they resolve to
//! `/static/{hash of the CSS}/…/images/layers.png`, which is served with a short cache since the
//! hash is not the image's. A URL whose hash matches the file is immutable for a year.

use std::sync::LazyLock;

use crate::web::cache_control::CachePolicy;
use crate::web::state::AppState;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

/// One embedded file.
pub struct Asset {
    pub path: &'static str,
    pub bytes: &'static [u8],
    pub content_type: &'static str,
}

macro_rules! asset {
    ($path:literal, $ct:expr) => {
        Asset { path: $path, bytes: include_bytes!(concat!("../../static/", $path)), content_type: $ct }
    };
}

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const PNG: &str = "image/png";
const SVG: &str = "image/svg+xml";

pub static ASSETS: &[Asset] = &[
    asset!("css/site.css", CSS),
    asset!("css/pages.css", CSS),
    asset!("css/api.css", CSS),
    asset!("css/route-noscript.css", CSS),
    asset!("js/site.js", JS),
    asset!("js/map.js", JS),
    asset!("js/station.js", JS),
    asset!("js/chart.js", JS),
    asset!("js/demo.js", JS),
    asset!("js/mine.js", JS),
    asset!("js/pwa.js", JS),
    asset!("js/route.js", JS),
    asset!("favicon.svg", SVG),
    asset!("icons/icon-192.png", PNG),
    asset!("icons/icon-512.png", PNG),
    asset!("icons/maskable-512.png", PNG),
    asset!("vendor/leaflet/leaflet.js", JS),
    asset!("vendor/leaflet/leaflet.css", CSS),
    asset!("vendor/leaflet/images/layers.png", PNG),
    asset!("vendor/leaflet/images/layers-2x.png", PNG),
    asset!("vendor/leaflet/images/marker-icon.png", PNG),
    asset!("vendor/leaflet/images/marker-icon-2x.png", PNG),
    asset!("vendor/leaflet/images/marker-shadow.png", PNG),
    asset!("vendor/markercluster/leaflet.markercluster.js", JS),
    asset!("vendor/markercluster/MarkerCluster.css", CSS),
    asset!("vendor/markercluster/MarkerCluster.Default.css", CSS),
    asset!("vendor/uplot/uPlot.iife.min.js", JS),
    asset!("vendor/uplot/uPlot.min.css", CSS),
];

/// `(hash, url)` of every asset, in [`ASSETS`] order, computed once.
static URLS: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let hash = hex::encode(&Sha256::digest(a.bytes)[..6]);
            let url = format!("/static/{hash}/{}", a.path);
            (hash, url)
        })
        .collect()
});

/// The hashed URL of an embedded asset. An unknown path is a bug caught by the tests (every
/// template is rendered there); it degrades to an unhashed URL that 404s.
pub fn url(path: &str) -> &'static str {
    match ASSETS.iter().position(|a| a.path == path) {
        Some(i) => URLS[i].1.as_str(),
        None => {
            debug_assert!(false, "unknown asset {path}");
            "/static/missing"
        }
    }
}

/// The stylesheet `/` holds in a `<style>` element instead of linking it: a visitor's first page
/// paints without waiting for a second request (the other pages link it, cached after the first).
pub const INLINE_CSS: &str = include_str!("../../static/css/site.css");

/// The Content-Security-Policy source that allows [`INLINE_CSS`] and nothing else inline:
/// `'sha256-…'` of its exact text.
pub static INLINE_CSS_SOURCE: LazyLock<String> = LazyLock::new(|| {
    use base64::Engine as _;
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(INLINE_CSS.as_bytes())))
});

/// `GET /static/{hash}/{*path}`.
pub async fn serve(Path((hash, path)): Path<(String, String)>) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.path == path) else {
        return (StatusCode::NOT_FOUND, CachePolicy::NoStore, "not found").into_response();
    };
    let asset = &ASSETS[i];
    let cache = if URLS[i].0 == hash { CachePolicy::Immutable } else { CachePolicy::PublicHour };
    (
        cache,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        asset.bytes,
    )
        .into_response()
}

/// The versioned static files.
pub fn router() -> Router<AppState> {
    Router::new().route("/static/{hash}/{*path}", get(serve))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_hashed_and_unique() {
        let u = url("css/site.css");
        assert!(u.starts_with("/static/") && u.ends_with("/css/site.css"), "{u}");
        let mut all: Vec<_> = URLS.iter().map(|(_, u)| u.clone()).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), ASSETS.len());
    }

    #[test]
    fn the_inline_stylesheet_is_site_css_and_cannot_close_its_element() {
        assert_eq!(INLINE_CSS.as_bytes(), ASSETS[0].bytes);
        assert!(!INLINE_CSS.to_ascii_lowercase().contains("</style"));
        assert!(INLINE_CSS_SOURCE.starts_with("'sha256-") && INLINE_CSS_SOURCE.len() == 8 + 44 + 1);
    }

    #[test]
    fn the_header_draws_the_favicon() {
        let svg = std::str::from_utf8(ASSETS.iter().find(|a| a.path == "favicon.svg").expect("favicon").bytes)
            .expect("UTF-8");
        let drawing = &svg[svg.find('>').expect("<svg>") + 1..svg.rfind("</svg>").expect("</svg>")];
        assert!(include_str!("../../templates/base.html").contains(drawing), "templates/base.html's logo is not {svg}");
    }
}
