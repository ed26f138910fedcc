//! The state every request handler shares (the web layer's: the services below it, and the
//! caches and counters of the site).

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::db::Db;
use crate::email::{MailSettings, Mailer};
use crate::services::accounts::{AccountSettings, Accounts};
use crate::web::cache::PageCache;

/// Map tiles of the public site: OpenStreetMap's by default.
pub const DEFAULT_TILE_URL: &str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
pub const DEFAULT_TILE_ATTRIBUTION: &str =
    "&copy; <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a>";
/// Where the source code lives (the AGPL asks the server to offer it).
/// Empty: the about page then says to ask the operator (`--source-url`).
pub const DEFAULT_SOURCE_URL: &str = "";

/// Settings of the public site.
#[derive(Clone, Debug)]
pub struct SiteConfig {
    /// Leaflet tile URL template (`{z}/{x}/{y}`, optional `{s}`). Also allowed in the
    /// Content-Security-Policy's `img-src`.
    pub tile_url: String,
    /// HTML shown in the map's corner (the tile provider's attribution).
    pub tile_attribution: String,
    /// Where the source code is offered; empty: the about page says to ask the operator.
    pub source_url: String,
}

impl SiteConfig {
    /// The site's settings from `carburoam serve` (`--tile-url`, `--tile-attribution`,
    /// `--source-url`); a blank tile URL or attribution means the default.
    pub fn new(tile_url: &str, tile_attribution: &str, source_url: &str) -> SiteConfig {
        let or = |v: &str, default: &str| if v.trim().is_empty() { default.to_owned() } else { v.trim().to_owned() };
        SiteConfig {
            tile_url: or(tile_url, DEFAULT_TILE_URL),
            tile_attribution: or(tile_attribution, DEFAULT_TILE_ATTRIBUTION),
            source_url: source_url.trim().to_owned(),
        }
    }
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig::new(DEFAULT_TILE_URL, DEFAULT_TILE_ATTRIBUTION, DEFAULT_SOURCE_URL)
    }
}

/// The feed job as the console sees it.
#[derive(Clone)]
pub struct EtlHandle(pub Arc<crate::etl::Job>);

impl std::fmt::Debug for EtlHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtlHandle").field("feed_url", &self.0.feed_url).finish()
    }
}

/// Web Push as the pages use it: the delivery settings and the client push requests go through
/// (`None` until `startup` builds one: tests of the web layer alone and tools send nothing).
#[derive(Clone, Debug, Default)]
pub struct PushState {
    pub settings: Arc<crate::alerts::push::PushSettings>,
    pub http: Option<reqwest::Client>,
}

/// What every request handler shares, built once by [`AppState::build`]: a handle that axum
/// clones per request (one reference count, whatever the fields hold), read through `Deref` as
/// [`App`].
#[derive(Clone, Debug)]
pub struct AppState(Arc<App>);

impl std::ops::Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}

/// The fields of [`AppState`]: the services, caches and counters of the site. No field changes
/// once built.
#[derive(Debug)]
pub struct App {
    pub db: Db,
    /// When this process started serving (for uptime in logs and future status pages).
    pub started_at: DateTime<Utc>,
    pub site: Arc<SiteConfig>,
    /// Short-lived caches of the public pages.
    pub cache: Arc<PageCache>,
    /// Current prices in memory, for searches near a point and averages.
    pub index: crate::index::IndexHandle,
    /// Account rules: the mailer, the public URL, the rate limits.
    pub accounts: Accounts,
    /// Request counters for `/metrics` and the usage counts of the admin console.
    pub metrics: Arc<crate::web::metrics::Metrics>,
    /// The operator's webhook (new users); disabled unless `startup` configures one.
    pub notifier: crate::services::notify::Notifier,
    /// The feed job, for the admin console's "Run now" (`None` in tests and tools).
    pub etl: Option<EtlHandle>,
    /// Where scheduled backups are written (`None`: not configured, or PostgreSQL).
    pub backup_dir: Option<std::path::PathBuf>,
    /// The console's backup downloads, one at a time.
    pub backup_download: crate::backup::DownloadGate,
    /// Where the console's "refresh names now" asks for names (`None` in tests and tools).
    pub names_overpass: Option<crate::names::overpass::OverpassOptions>,
    /// Price alerts: evaluation and delivery (the worker is started by `startup`).
    pub alerts: crate::alerts::Alerts,
    /// Web Push (the "notifications on this device" block and its test button).
    pub push: PushState,
    /// The routing engine of the route search (`off` unless `startup` configures one).
    pub router: crate::route::Router,
}

/// What a state is made of beside its database: the site, the accounts, the services `startup`
/// configures. [`AppState::build`] takes it whole, so a state is complete when it exists and no
/// field changes afterwards.
#[derive(Debug)]
pub struct StateParts {
    pub site: SiteConfig,
    pub accounts: AccountSettings,
    pub mailer: Mailer,
    /// The operator's webhook (new users).
    pub notifier: crate::services::notify::Notifier,
    /// Hosts price alerts may reach although private (see [`crate::alerts::target`]).
    pub alert_allow: crate::alerts::target::AllowList,
    pub metrics: crate::web::metrics::Metrics,
    pub router: crate::route::Router,
    pub etl: Option<EtlHandle>,
    /// Wakes the alerts worker; the feed job holds a copy and kicks it after each import.
    pub alerts_kicker: crate::alerts::Kicker,
    pub backup_dir: Option<std::path::PathBuf>,
    pub names_overpass: Option<crate::names::overpass::OverpassOptions>,
    pub push: PushState,
}

impl StateParts {
    /// The parts of tests and tools: `site`, `accounts` and `mailer`, no webhook, no private
    /// alert target, `/metrics` closed, no route engine, no feed job, backups, names refresh
    /// nor Web Push.
    pub fn new(site: SiteConfig, accounts: AccountSettings, mailer: Mailer) -> StateParts {
        StateParts {
            site,
            accounts,
            mailer,
            notifier: crate::services::notify::Notifier::disabled(),
            alert_allow: Default::default(),
            metrics: Default::default(),
            router: crate::route::Router::off(),
            etl: None,
            alerts_kicker: crate::alerts::Kicker::default(),
            backup_dir: None,
            names_overpass: None,
            push: PushState::default(),
        }
    }
}

impl AppState {
    /// Defaults for tests and tools: the public site's default settings, links in mails to
    /// `http://localhost:8080`, mail written to `data/outbox`, `/metrics` closed. An error when
    /// the default mail settings do not make a mailer.
    pub fn new(db: Db) -> anyhow::Result<AppState> {
        let mailer = Mailer::new(MailSettings {
            smtp: None,
            from: crate::config::DEFAULT_MAIL_FROM.to_owned(),
            outbox_dir: crate::config::default_data_dir().join("outbox"),
        })?;
        let accounts = AccountSettings::new("http://localhost:8080", false);
        AppState::build(db, StateParts::new(SiteConfig::default(), accounts, mailer))
    }

    /// The state over `db` made of `parts`, complete: the services that need the database (the
    /// accounts, the alerts, the price index) are made here. Fails when the alerts' HTTP client
    /// cannot be made.
    pub fn build(db: Db, parts: StateParts) -> anyhow::Result<AppState> {
        let StateParts {
            site,
            accounts,
            mailer,
            notifier,
            alert_allow,
            metrics,
            router,
            etl,
            alerts_kicker,
            backup_dir,
            names_overpass,
            push,
        } = parts;
        let alerts = crate::alerts::Alerts::new(db.clone(), mailer.clone(), &accounts.public_url, alert_allow)
            .context("cannot make the HTTP client of webhook and push alerts")?
            .woken_by(alerts_kicker);
        Ok(AppState(Arc::new(App {
            index: crate::index::IndexHandle::new(db.clone()),
            accounts: Accounts::new(db.clone(), accounts, mailer),
            db,
            started_at: Utc::now(),
            site: Arc::new(site),
            cache: Arc::new(PageCache::default()),
            metrics: Arc::new(metrics),
            notifier,
            etl,
            backup_dir,
            backup_download: Default::default(),
            names_overpass,
            alerts,
            push,
            router,
        })))
    }
}
