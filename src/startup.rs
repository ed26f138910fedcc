//! Building and running the server: database, router, scheduler, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::db::Db;
use crate::db::etl_runs;
use crate::email::{MailSettings, Mailer};
use crate::etl::{self, Job};
use crate::feed::ImportOptions;
use crate::feed::download::{FetchOptions, Fetcher};
use crate::services::accounts::AccountSettings;
use crate::services::notify::Notifier;
use crate::web::metrics::Metrics;
use crate::web::state::{AppState, EtlHandle, SiteConfig, StateParts};

/// Everything `carburoam serve` needs, typed: built from the command line, the environment and
/// the configuration file by [`crate::cli`], or by the tests. Secrets are [`SecretString`]s, so
/// logging this (`{:?}`) never shows them.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub database_url: String,
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub bind: String,
    /// Where people reach the server (links in mails, CSRF origin, `Secure` cookies). `None`:
    /// `http://` and the address actually bound.
    pub public_url: Option<String>,
    pub behind_proxy: bool,
    pub mail: MailSettings,
    pub feed_url: String,
    /// `None`: no scheduler.
    pub etl_every: Option<Duration>,
    /// The operator's webhook (see [`crate::services::notify`]); `None`: no notifications.
    pub webhook_url: Option<SecretString>,
    /// Scheduled backups (SQLite only; see [`crate::backup`]).
    pub backups: crate::backup::BackupSchedule,
    /// Map tiles and the source code link of the public site.
    pub site: SiteConfig,
    /// `/metrics` on the main listener, for scrapes sending `Authorization: Bearer TOKEN`.
    pub metrics_token: Option<SecretString>,
    /// A second listener serving `/metrics` alone, without a token (`127.0.0.1:9100`).
    pub metrics_bind: Option<String>,
    /// Days of daily archives loaded at start when missing (see
    /// [`crate::history::backfill::at_start`]); 0: none.
    pub backfill_days: u32,
    /// Base URL of the price archives.
    pub archive_url: String,
    /// How often to refresh the stations' names from Overpass (`None`: never).
    pub names_every: Option<Duration>,
    /// The Overpass interpreter the names come from.
    pub names_url: String,
    /// Hosts and networks price alerts may reach although private or local, and over plain
    /// HTTP (see [`crate::alerts::target`]).
    pub alert_allow_hosts: crate::alerts::target::AllowList,
    /// Header and idle timeouts, bounds on open connections (see [`crate::web::serve`]).
    pub connections: crate::web::serve::ConnectionLimits,
    /// The routing engine of the route search (`--router`, `--router-url`).
    pub router: crate::route::RouterSettings,
}

impl ServeConfig {
    /// The defaults of `carburoam serve` over `database_url`, with the files (outbox, backups)
    /// under `data_dir`; the scheduled jobs off. A starting point for tests and tools.
    pub fn new(database_url: impl Into<String>, data_dir: &std::path::Path) -> ServeConfig {
        ServeConfig {
            database_url: database_url.into(),
            bind: "127.0.0.1:0".into(),
            public_url: None,
            behind_proxy: false,
            mail: MailSettings {
                smtp: None,
                from: crate::config::DEFAULT_MAIL_FROM.to_owned(),
                outbox_dir: data_dir.join("outbox"),
            },
            feed_url: crate::config::DEFAULT_FEED_URL.to_owned(),
            etl_every: None,
            webhook_url: None,
            backups: crate::backup::BackupSchedule { dir: data_dir.join("backups"), every: None, keep: 7 },
            site: SiteConfig::default(),
            metrics_token: None,
            metrics_bind: None,
            backfill_days: 0,
            archive_url: crate::history::backfill::DEFAULT_ARCHIVE_URL.to_owned(),
            names_every: None,
            names_url: crate::names::overpass::DEFAULT_ENDPOINT.to_owned(),
            alert_allow_hosts: Default::default(),
            connections: Default::default(),
            router: crate::route::RouterSettings::default(),
        }
    }
}

/// A server bound to its port(s), not yet serving: tests read the address, then run it.
pub struct Application {
    listener: TcpListener,
    /// The `--metrics-bind` listener, serving `/metrics` alone.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    job: Job,
    etl_every: Option<Duration>,
    backups: crate::backup::BackupSchedule,
    /// The start-up history backfill: days and archive base URL.
    backfill: (u32, String),
    names: crate::names::schedule::NamesSchedule,
    connections: crate::web::serve::ConnectionLimits,
}

impl Application {
    /// Opens (and migrates) the database of `cfg`, then [`Application::build_with_db`].
    pub async fn build(cfg: ServeConfig) -> anyhow::Result<Application> {
        let db = Db::connect(&cfg.database_url).await?;
        tracing::info!(database = %crate::db::redact_url(&cfg.database_url), "database ready");
        Application::build_with_db(cfg, db).await
    }

    /// The application over an open, migrated database (`cfg.database_url` is then only
    /// informative): binds the listeners and wires every service, as `carburoam serve` runs it.
    pub async fn build_with_db(cfg: ServeConfig, db: Db) -> anyhow::Result<Application> {
        // Each setting moves to the one part that uses it.
        let ServeConfig {
            database_url: _,
            bind,
            public_url,
            behind_proxy,
            mail,
            feed_url,
            etl_every,
            webhook_url,
            backups,
            site,
            metrics_token,
            metrics_bind,
            backfill_days,
            archive_url,
            names_every,
            names_url,
            alert_allow_hosts,
            connections,
            router,
        } = cfg;
        let now = crate::db::now();
        // Runs left `running` by a process that died: only when no live import lease shows that
        // another instance is importing right now.
        let importing = crate::db::leases::current(&db, etl::IMPORT_LEASE).await?.is_some_and(|l| l.is_live(now));
        if !importing {
            let stale = etl_runs::fail_stale(&db, now - 2 * etl::IMPORT_LEASE_TTL, now).await?;
            if stale > 0 {
                tracing::warn!(stale, "marked interrupted ETL runs as failed");
            }
        }
        let listener = TcpListener::bind(&bind).await.map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
        let metrics_listener = match &metrics_bind {
            Some(bind) => Some(
                TcpListener::bind(bind)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot listen on {bind} (--metrics-bind): {e}"))?,
            ),
            None => None,
        };
        let public_url = match public_url {
            Some(u) if !u.trim().is_empty() => u.trim().trim_end_matches('/').to_owned(),
            _ => format!("http://{}", listener.local_addr()?),
        };
        let notifier = Notifier::new(webhook_url.as_ref().map(|u| u.expose_secret()))?;
        if notifier.is_enabled() {
            tracing::info!(webhook = ?notifier, "notifications enabled");
        }
        // The feed job wakes the alerts worker that the state starts below.
        let alerts_kicker = crate::alerts::Kicker::default();
        let job = Job {
            db: db.clone(),
            fetcher: Arc::new(Fetcher::new(FetchOptions::default())?),
            feed_url,
            holder: etl::holder_id(),
            import: ImportOptions { trigger: crate::domain::Trigger::Schedule, ..ImportOptions::default() },
            notifier: notifier.clone(),
            alerts: Some(alerts_kicker.clone()),
        };
        // Web Push signs as the mails' sender.
        let mail_from = mail.from.clone();
        let mailer = Mailer::new(mail)?;
        tracing::info!(mail = %mailer.describe(), public_url = %public_url, "accounts ready");
        let router = crate::route::Router::new(&router).map_err(|e| anyhow::anyhow!("router: {e}"))?;
        tracing::info!(router = router.kind().as_str(), "route search ready");
        let overpass = crate::names::overpass::OverpassOptions {
            endpoint: names_url,
            public_url: Some(public_url.clone()),
            ..crate::names::overpass::OverpassOptions::default()
        };
        // Web Push: the VAPID key pair is made at first start (and shared through the database).
        crate::alerts::push::vapid_keys(&db).await?;
        let push = crate::web::state::PushState {
            settings: Arc::new(crate::alerts::push::PushSettings::new(
                &public_url,
                &mail_from,
                alert_allow_hosts.clone(),
            )),
            http: Some(crate::alerts::push::http_client().map_err(|e| anyhow::anyhow!("push client: {e}"))?),
        };
        let parts = StateParts {
            site,
            accounts: AccountSettings::new(&public_url, behind_proxy),
            mailer,
            notifier,
            alert_allow: alert_allow_hosts,
            metrics: Metrics::new(metrics_token),
            router,
            // The console's "Run now" runs the same job as the scheduler (the import lease keeps
            // the two from overlapping).
            etl: Some(EtlHandle(Arc::new(job.clone()))),
            alerts_kicker,
            // The console lists the scheduled backups; PostgreSQL has none.
            backup_dir: matches!(db, Db::Sqlite(_)).then(|| backups.dir.clone()),
            names_overpass: Some(overpass.clone()),
            push,
        };
        let state = AppState::build(db, parts)?;
        // The first visitor should not wait for the price index (~130 ms on the national file).
        if let Err(e) = state.index.get().await {
            tracing::warn!(error = %e, "price index not built at start; the first request will retry");
        }
        let names = crate::names::schedule::NamesSchedule { every: names_every, overpass };
        Ok(Application {
            listener,
            metrics_listener,
            state,
            job,
            etl_every,
            backups,
            backfill: (backfill_days, archive_url),
            names,
            connections,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address of the `--metrics-bind` listener, when there is one.
    pub fn metrics_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.metrics_listener.as_ref().map(TcpListener::local_addr)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` is cancelled (or SIGINT/SIGTERM), then stops taking requests,
    /// lets a running import finish or roll back, and returns.
    pub async fn run_until(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let addr = self.listener.local_addr()?;
        let (db, state, holder) = (&self.state.db, &self.state, &self.job.holder);
        // Every background task below runs until `shutdown`; all are awaited after the
        // listener has stopped.
        let tasks = Tasks::default();
        match self.etl_every {
            Some(every) => {
                tracing::info!(every = %humantime::format_duration(every), url = %self.job.feed_url, "feed job scheduled");
                tasks.spawn("feed job", etl::scheduler(self.job.clone(), every, shutdown.clone()));
            }
            None => tracing::info!("feed job disabled (--etl-every off)"),
        }
        let flush_every = crate::web::metrics::FLUSH_EVERY;
        tasks.spawn("usage counts", Arc::clone(&state.metrics).flusher(db.clone(), flush_every, shutdown.clone()));
        // A backup being written is finished (one read transaction) before its task stops.
        if let Some(backups) = crate::backup::scheduled(db.clone(), self.backups, holder.clone(), shutdown.clone()) {
            tasks.spawn("backups", backups);
        }
        // What a previous process left in the outbox goes out now.
        tasks.spawn("alerts", state.alerts.clone().worker(shutdown.clone()));
        let cleanup_every = crate::services::cleanup::EVERY;
        tasks.spawn(
            "cleanup",
            crate::services::cleanup::scheduler(db.clone(), cleanup_every, holder.clone(), shutdown.clone()),
        );
        // Another process's imports, names imports and series rebuilds, even with no request.
        tasks.spawn("index watch", state.index.clone().watch(shutdown.clone()));
        // Daily averages of a history that has none yet (loaded before the series table, or after a
        // migration that emptied it), in the background.
        // Computing them moves the data version: the pages cached meanwhile are dropped at once.
        let (series_db, index) = (db.clone(), state.index.clone());
        tasks.spawn("series rebuild", async move {
            if crate::history::series::rebuild_if_needed(series_db).await
                && let Err(e) = index.refresh().await
            {
                tracing::warn!(error = %e, "price index: refresh failed (the next check retries)");
            }
        });
        let (backfill_days, archive_url) = self.backfill;
        if backfill_days > 0 {
            let opts = crate::history::backfill::BackfillOptions {
                trigger: crate::domain::Trigger::Startup,
                ..Default::default()
            };
            let backfill =
                crate::history::backfill::at_start(db.clone(), archive_url, backfill_days, opts, shutdown.clone());
            tasks.spawn("history backfill", async move {
                backfill.await;
            });
        }
        if let Some(names) = crate::names::schedule::scheduled(db.clone(), self.names, holder.clone(), shutdown.clone())
        {
            tasks.spawn("names refresh", names);
        }
        if let Some(listener) = self.metrics_listener {
            let metrics_addr = listener.local_addr()?;
            tracing::info!(addr = %metrics_addr, "metrics listening");
            let app = crate::web::metrics::router(state.clone());
            tasks
                .spawn("metrics listener", crate::web::serve::serve(listener, app, self.connections, shutdown.clone()));
        }
        let app = crate::web::router(state.clone());
        // stdout, one line, so scripts and end-to-end tests learn the port.
        println!("listening on http://{addr}");
        tracing::info!(%addr, "listening");
        let signal_token = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested");
            signal_token.cancel();
        });
        crate::web::serve::serve(self.listener, app, self.connections, shutdown.clone()).await;
        // The main listener stopped for a cancellation: everything else follows.
        shutdown.cancel();
        tasks.wait().await;
        // The requests served while shutting down are counted too.
        if let Err(e) = state.metrics.flush(db).await {
            tracing::warn!(error = %e, "could not save the last usage counts");
        }
        // Mails already handed over (a reset code, a notice) still leave.
        state.accounts.finish_sending().await;
        db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The server's background tasks (the scheduled jobs, the workers, the metrics listener): one
/// place spawns them and [`Tasks::wait`] awaits them all at shutdown. A task that panics is
/// logged by name; the others run on.
#[derive(Default)]
struct Tasks(TaskTracker);

impl Tasks {
    fn spawn(&self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let running = tokio::spawn(task);
        self.0.spawn(async move {
            if let Err(e) = running.await {
                tracing::error!(task = name, error = %e, "background task ended abnormally");
            }
        });
    }

    /// Waits for every task spawned (each stops on the shutdown token).
    async fn wait(self) {
        self.0.close();
        self.0.wait().await;
    }
}

async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

pub async fn serve(cfg: ServeConfig) -> anyhow::Result<()> {
    let app = Application::build(cfg).await?;
    app.run_until(CancellationToken::new()).await
}
