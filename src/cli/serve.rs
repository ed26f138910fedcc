//! The settings of `carburoam serve`: every one a flag with its environment variable and TOML
//! key (see `carburoam config --print-default`).

use super::*;

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, env = "CARBUROAM_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Feed URL or local file path.
    #[arg(long, env = "CARBUROAM_FEED_URL", default_value = config::DEFAULT_FEED_URL)]
    pub feed_url: String,
    /// How often to import the feed (`10m`, `1h`…), or `off`.
    #[arg(long, env = "CARBUROAM_ETL_EVERY", default_value = "10m")]
    pub etl_every: EtlEvery,
    /// The address people use to reach this server, for links in mails and the CSRF origin
    /// check (`https://…` also makes cookies `Secure`). Default: `http://` + the bind address.
    #[arg(long, env = "CARBUROAM_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Behind a reverse proxy: take the client address from `X-Forwarded-For` (for rate limits).
    /// (The variable takes true/false, 1/0, yes/no, on/off.)
    #[arg(long, env = "CARBUROAM_BEHIND_PROXY", value_parser = clap::builder::BoolishValueParser::new())]
    pub behind_proxy: bool,
    /// Incoming webhook (Discord, Slack) told about new users and about the feed job failing 3
    /// times in a row. Prefer the environment variable: the URL is a secret.
    #[arg(long, env = "CARBUROAM_WEBHOOK_URL", hide_env_values = true, hide_default_value = true, value_parser = secret)]
    pub webhook_url: Option<SecretString>,
    /// Folder of the scheduled backups of a SQLite database. Default: DATA_DIR/backups.
    #[arg(long, env = "CARBUROAM_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
    /// How often to back up the SQLite database (`1d`, `6h`…), or `off`.
    #[arg(long, env = "CARBUROAM_BACKUP_EVERY", default_value = "1d")]
    pub backup_every: crate::backup::BackupEvery,
    /// How many scheduled backups to keep (the oldest are deleted).
    #[arg(long, env = "CARBUROAM_BACKUP_KEEP", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..))]
    pub backup_keep: u32,
    /// How often to refresh the stations' names and brands from OpenStreetMap (`7d`, `1d`…), or
    /// `off`. One instance per interval runs it.
    #[arg(long, env = "CARBUROAM_NAMES_EVERY", default_value = "7d")]
    pub names_every: crate::config::NamesEvery,
    /// The Overpass API interpreter the names come from.
    #[arg(long, env = "CARBUROAM_NAMES_URL", default_value = crate::names::overpass::DEFAULT_ENDPOINT)]
    pub names_url: String,
    #[command(flatten)]
    pub mail: MailArgs,
    #[command(flatten)]
    pub site: SiteArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub connections: ConnectionArgs,
    /// At start, load in the background the daily price archives of this many past days that
    /// are not loaded yet (a new install gets a month of history), or 0.
    #[arg(long, env = "CARBUROAM_BACKFILL_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=366))]
    pub backfill_days: u32,
    /// Base URL of the price archives (files at BASE/annee/YYYY and BASE/jour/YYYYMMDD).
    #[arg(long, env = "CARBUROAM_ARCHIVE_URL", default_value = crate::history::backfill::DEFAULT_ARCHIVE_URL)]
    pub archive_url: String,
    /// Hosts, addresses or CIDRs (comma-separated) that price alerts (ntfy, Web Push) may reach
    /// although they are local or private, and over plain http. Empty: https to public addresses only.
    #[arg(long, env = "CARBUROAM_ALERT_ALLOW_HOSTS", default_value = "")]
    pub alert_allow_hosts: crate::alerts::target::AllowList,
    #[command(flatten)]
    pub router: RouterArgs,
}

impl ServeArgs {
    /// The typed settings of the server.
    pub fn config(self) -> crate::startup::ServeConfig {
        crate::startup::ServeConfig {
            database_url: self.db.url(),
            bind: self.bind,
            public_url: self.public_url.filter(|u| !u.trim().is_empty()),
            behind_proxy: self.behind_proxy,
            mail: self.mail.settings(&self.db.data_dir),
            feed_url: self.feed_url,
            etl_every: self.etl_every.0,
            webhook_url: non_empty(self.webhook_url),
            backups: crate::backup::BackupSchedule {
                dir: self.backup_dir.unwrap_or_else(|| self.db.data_dir.join("backups")),
                every: self.backup_every.0,
                keep: self.backup_keep as usize,
            },
            site: SiteConfig::new(&self.site.tile_url, &self.site.tile_attribution, &self.site.source_url),
            metrics_token: non_empty(self.metrics.metrics_token),
            metrics_bind: self.metrics.metrics_bind.filter(|b| !b.trim().is_empty()),
            backfill_days: self.backfill_days,
            archive_url: self.archive_url,
            names_every: self.names_every.0,
            names_url: self.names_url,
            alert_allow_hosts: self.alert_allow_hosts,
            connections: self.connections.limits(),
            router: self.router.settings(),
        }
    }
}

/// What one client may hold: timeouts and bounds on open connections (see
/// [`crate::web::serve`]).
#[derive(Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// Longest a client may take to send a request's headers, from their first byte (the first
    /// request: from the connection's opening); then the connection is closed. 1s to 1h.
    #[arg(long, env = "CARBUROAM_HEADER_TIMEOUT", default_value = crate::web::serve::DEFAULT_HEADER_TIMEOUT)]
    pub header_timeout: crate::config::ConnTimeout,
    /// How long a kept-alive connection may stay without a request (and without a byte moving)
    /// before it is closed. 1s to 1h.
    #[arg(long, env = "CARBUROAM_IDLE_TIMEOUT", default_value = crate::web::serve::DEFAULT_IDLE_TIMEOUT)]
    pub idle_timeout: crate::config::ConnTimeout,
    /// Most connections open at once; past it a new one gets 503 Service Unavailable.
    #[arg(long, env = "CARBUROAM_MAX_CONNECTIONS", default_value_t = crate::web::serve::DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Most connections open at once from one client address (an IPv6 /64 counts as one); past
    /// it 503. Behind a reverse proxy all connections come from the proxy: set it above the
    /// proxy's own limit, or 0 for no bound.
    #[arg(long, env = "CARBUROAM_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = crate::web::serve::DEFAULT_MAX_PER_ADDRESS)]
    pub max_connections_per_address: u32,
}

impl ConnectionArgs {
    pub fn limits(&self) -> crate::web::serve::ConnectionLimits {
        crate::web::serve::ConnectionLimits {
            header_timeout: self.header_timeout.0,
            idle_timeout: self.idle_timeout.0,
            max_connections: self.max_connections as usize,
            max_per_address: (self.max_connections_per_address > 0)
                .then_some(self.max_connections_per_address as usize),
        }
    }
}

/// The public site.
#[derive(Args, Debug, Clone)]
pub struct SiteArgs {
    /// Map tiles: a Leaflet URL template (`{z}/{x}/{y}`, optional `{s}`); its origin is allowed
    /// in the pages' Content-Security-Policy.
    #[arg(long, env = "CARBUROAM_TILE_URL", default_value = DEFAULT_TILE_URL)]
    pub tile_url: String,
    /// HTML shown in the map's corner: the tile provider's attribution.
    #[arg(long, env = "CARBUROAM_TILE_ATTRIBUTION", default_value = DEFAULT_TILE_ATTRIBUTION)]
    pub tile_attribution: String,
    /// Where the source code is offered (the AGPL asks the server to offer it). Empty: the
    /// about page tells visitors to ask the operator.
    #[arg(long, env = "CARBUROAM_SOURCE_URL", default_value = DEFAULT_SOURCE_URL)]
    pub source_url: String,
}

/// Prometheus metrics. Without either setting `/metrics` answers 404.
#[derive(Args, Debug, Clone)]
pub struct MetricsArgs {
    /// Serve /metrics on the main address to scrapes sending `Authorization: Bearer TOKEN`.
    /// Prefer the environment variable: the token is a secret.
    #[arg(long, env = "CARBUROAM_METRICS_TOKEN", hide_env_values = true, hide_default_value = true, value_parser = secret)]
    pub metrics_token: Option<SecretString>,
    /// A second address serving /metrics alone, without a token (for a Prometheus on this host
    /// or a private network), e.g. 127.0.0.1:9100.
    #[arg(long, env = "CARBUROAM_METRICS_BIND")]
    pub metrics_bind: Option<String>,
}

/// A secret setting: kept out of `Debug` output and logs.
fn secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.trim()))
}

/// An empty secret (`CARBUROAM_METRICS_TOKEN=`) is no secret.
fn non_empty(s: Option<SecretString>) -> Option<SecretString> {
    s.filter(|s| !s.expose_secret().is_empty())
}

/// Outgoing mail. Without `--smtp-host`, messages are written as `.eml` files to
/// `DATA_DIR/outbox` and their subject logged.
#[derive(Args, Debug, Clone)]
pub struct MailArgs {
    /// SMTP relay for outgoing mail. Without it, mails are written to DATA_DIR/outbox.
    #[arg(long, env = "CARBUROAM_SMTP_HOST")]
    pub smtp_host: Option<String>,
    /// Default: 465 with `tls`, 587 with `starttls`, 25 with `none`.
    #[arg(long, env = "CARBUROAM_SMTP_PORT")]
    pub smtp_port: Option<u16>,
    /// `starttls`, `tls` (implicit TLS) or `none` (plain text: only to a relay on this host).
    #[arg(long, env = "CARBUROAM_SMTP_TLS", default_value = "starttls")]
    pub smtp_tls: crate::email::SmtpTls,
    /// SMTP user name.
    #[arg(long, env = "CARBUROAM_SMTP_USER")]
    pub smtp_user: Option<String>,
    /// SMTP password. Prefer the environment variable or the configuration file (readable by
    /// the service user only): on the command line it shows in `ps`.
    #[arg(long, env = "CARBUROAM_SMTP_PASSWORD", hide_env_values = true, hide_default_value = true, value_parser = secret)]
    pub smtp_password: Option<SecretString>,
    /// The sender of the mails.
    #[arg(long, env = "CARBUROAM_SMTP_FROM", default_value = config::DEFAULT_MAIL_FROM)]
    pub smtp_from: String,
}

impl MailArgs {
    pub fn settings(&self, data_dir: &std::path::Path) -> crate::email::MailSettings {
        use crate::email::{SmtpSettings, SmtpTls};
        let smtp = self.smtp_host.as_ref().filter(|h| !h.trim().is_empty()).map(|host| SmtpSettings {
            host: host.trim().to_owned(),
            port: self.smtp_port.unwrap_or(match self.smtp_tls {
                SmtpTls::Tls => 465,
                SmtpTls::StartTls => 587,
                SmtpTls::None => 25,
            }),
            tls: self.smtp_tls,
            username: self.smtp_user.clone().filter(|u| !u.is_empty()),
            password: non_empty(self.smtp_password.clone()),
        });
        crate::email::MailSettings { smtp, from: self.smtp_from.clone(), outbox_dir: data_dir.join("outbox") }
    }
}

// ---------------------------------------------------------------------------------------------
// Route search: the routing engine.

/// The routing engine of the route search (`/trajet`, `/api/v1/route`).
#[derive(Args, Debug, Clone)]
pub struct RouterArgs {
    /// Which engine plans routes: `geoplateforme` (IGN's public service, no key, 5 requests/s),
    /// `valhalla` or `osrm` (a self-hosted one, at --router-url), or `off` (GPX and point paths
    /// only).
    #[arg(long, env = "CARBUROAM_ROUTER", default_value = "geoplateforme")]
    pub router: crate::route::RouterKind,
    /// The engine's base URL (http or https; a local address is fine). Empty: the
    /// Géoplateforme's public address; Valhalla and OSRM need one.
    #[arg(long, env = "CARBUROAM_ROUTER_URL", default_value = "")]
    pub router_url: String,
}

impl RouterArgs {
    pub fn settings(&self) -> crate::route::RouterSettings {
        let url = Some(self.router_url.trim().to_owned()).filter(|u| !u.is_empty());
        crate::route::RouterSettings { kind: self.router, url }
    }
}
