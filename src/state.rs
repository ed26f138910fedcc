//! The state every request handler shares.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::db::Db;
use crate::web::cache::PageCache;

/// Map tiles of the public site: OpenStreetMap's by default.
pub const DEFAULT_TILE_URL: &str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
pub const DEFAULT_TILE_ATTRIBUTION: &str =
    "&copy; <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a>";
/// Where the source code lives (the AGPL asks the server to offer it).
/// Empty: the about page then says to ask the operator (set `CARBUROAM_SOURCE_URL`).
pub const DEFAULT_SOURCE_URL: &str = "";

/// Settings of the public site.
#[derive(Clone, Debug)]
pub struct SiteConfig {
    /// Leaflet tile URL template (`{z}/{x}/{y}`, optional `{s}`). Also allowed in the
    /// Content-Security-Policy's `img-src`.
    pub tile_url: String,
    /// HTML shown in the map's corner (the tile provider's attribution).
    pub tile_attribution: String,
    pub source_url: String,
}

impl SiteConfig {
    /// Defaults, overridden by `CARBUROAM_TILE_URL`, `CARBUROAM_TILE_ATTRIBUTION` and
    /// `CARBUROAM_SOURCE_URL` when set and not empty.
    pub fn from_env() -> SiteConfig {
        let var = |name: &str, default: &str| {
            std::env::var(name).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_owned())
        };
        SiteConfig {
            tile_url: var("CARBUROAM_TILE_URL", DEFAULT_TILE_URL),
            tile_attribution: var("CARBUROAM_TILE_ATTRIBUTION", DEFAULT_TILE_ATTRIBUTION),
            source_url: var("CARBUROAM_SOURCE_URL", DEFAULT_SOURCE_URL),
        }
    }
}

/// Shared by all handlers and cloned per request by axum: keep every field cheap to clone (pools
/// and `Arc`s, not data).
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Db,
    /// When this process started serving (for uptime in logs and future status pages).
    pub started_at: DateTime<Utc>,
    pub site: Arc<SiteConfig>,
    /// Short-lived caches of the public pages.
    pub cache: Arc<PageCache>,
}

impl AppState {
    pub fn new(db: Db) -> AppState {
        AppState::with_site(db, SiteConfig::from_env())
    }

    pub fn with_site(db: Db, site: SiteConfig) -> AppState {
        AppState { db, started_at: Utc::now(), site: Arc::new(site), cache: Arc::new(PageCache::default()) }
    }
}
