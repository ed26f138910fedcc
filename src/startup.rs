//! Building and running the server: database, router, scheduler, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::db::Db;
use crate::db::etl_runs;
use crate::etl::{self, Job};
use crate::feed::download::{FetchOptions, Fetcher};
use crate::feed::load::ImportOptions;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub database_url: String,
    pub bind: String,
    pub feed_url: String,
    /// `None`: no scheduler.
    pub etl_every: Option<Duration>,
}

/// A server bound to its port, not yet serving: tests read the port, then run it.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    job: Job,
    etl_every: Option<Duration>,
}

impl Application {
    pub async fn build(cfg: ServeConfig) -> anyhow::Result<Application> {
        let db = Db::connect(&cfg.database_url).await?;
        tracing::info!(database = %crate::db::redact_url(&cfg.database_url), "database ready");
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
        let listener =
            TcpListener::bind(&cfg.bind).await.map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.bind))?;
        let job = Job {
            db: db.clone(),
            fetcher: Arc::new(Fetcher::new(FetchOptions::default())?),
            feed_url: cfg.feed_url.clone(),
            holder: etl::holder_id(),
            import: ImportOptions { trigger: "schedule".into(), ..ImportOptions::default() },
        };
        Ok(Application { listener, state: AppState::new(db), job, etl_every: cfg.etl_every })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` is cancelled (or SIGINT/SIGTERM), then stops taking requests,
    /// lets a running import finish or roll back, and returns.
    pub async fn run_until(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let addr = self.listener.local_addr()?;
        let scheduler = self.etl_every.map(|every| {
            tracing::info!(every = %humantime::format_duration(every), url = %self.job.feed_url, "feed job scheduled");
            tokio::spawn(etl::scheduler(self.job.clone(), every, shutdown.clone()))
        });
        if scheduler.is_none() {
            tracing::info!("feed job disabled (--etl-every off)");
        }
        let app = crate::web::router(self.state.clone());
        // stdout, one line, so scripts and end-to-end tests learn the port.
        println!("listening on http://{addr}");
        tracing::info!(%addr, "listening");
        let signal_token = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested");
            signal_token.cancel();
        });
        let token = shutdown.clone();
        axum::serve(self.listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move { token.cancelled().await })
            .await?;
        if let Some(s) = scheduler {
            let _ = s.await;
        }
        self.state.db.close().await;
        tracing::info!("stopped");
        Ok(())
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
