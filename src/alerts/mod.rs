//! Price alerts and the weekly digest: rules a user sets on `/me/alerts`, evaluated
//! right after each import on the prices it changed ([`engine`]), written to an outbox with their
//! de-duplication records in one transaction ([`outbox`]), delivered with retries by a worker
//! ([`deliver`]) to email, ntfy or Web Push ([`push`], the push branch's), the digest by a
//! scheduled job ([`digest`]). Every request to a user-given address goes through [`target`].
//!
//! The worker runs at start (what a previous process left in the outbox goes out), every
//! [`TICK`], and at once when its [`Kicker`] is kicked: the server's feed job holds it and kicks
//! it after each import, scheduled or asked for in the console (see [`crate::etl::AfterImport`]).

pub mod bench;
pub mod deliver;
pub mod digest;
pub mod email;
pub mod engine;
pub mod ntfy;
pub mod outbox;
pub mod push;
pub mod render;
pub mod rules;
pub mod target;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::db::Db;
use crate::email::Mailer;

/// The worker's period when nothing wakes it.
pub const TICK: Duration = Duration::from_secs(30);

/// Wakes one [`Alerts`] service's worker: given to what imports in the same process, so that
/// the alerts of the prices an import changed are evaluated and sent at once rather than at the
/// next [`TICK`]. A worker not started yet runs at its start anyway. `Kicker::default()` makes
/// one for a service made later ([`Alerts::woken_by`]): the feed job is built before the
/// application's state, and wakes the worker the state starts.
#[derive(Clone, Debug, Default)]
pub struct Kicker(Arc<Notify>);

impl Kicker {
    /// Wakes the worker (once, however many kicks come before it runs).
    pub fn kick(&self) {
        self.0.notify_one();
    }
}

/// The alerts service: what evaluation and delivery need.
#[derive(Clone, Debug)]
pub struct Alerts {
    pub db: Db,
    pub mailer: Mailer,
    /// Links in messages (station pages, unsubscribe).
    pub public_url: String,
    pub allow: target::AllowList,
    /// This process in outbox claims and leases.
    pub holder: String,
    /// For Web Push (no redirects, bounded time).
    pub http: reqwest::Client,
    /// Wakes this service's worker.
    wake: Arc<Notify>,
}

/// What one pass of the worker did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub evaluated: engine::Evaluated,
    pub digests: usize,
    pub delivered: deliver::Delivered,
}

impl Alerts {
    /// The service, with its client for webhooks and push. Fails at start-up when that client
    /// cannot be made (no TLS backend), rather than sending without its timeout and redirect rule.
    pub fn new(db: Db, mailer: Mailer, public_url: &str, allow: target::AllowList) -> Result<Alerts, reqwest::Error> {
        let http =
            reqwest::Client::builder().timeout(target::TIMEOUT).redirect(reqwest::redirect::Policy::none()).build()?;
        Ok(Alerts {
            db,
            mailer,
            public_url: public_url.trim_end_matches('/').to_owned(),
            allow,
            holder: crate::db::leases::new_holder_id(),
            http,
            wake: Arc::new(Notify::new()),
        })
    }

    /// The same service, its worker woken by `kicker` (and by [`Alerts::wake`]).
    pub fn woken_by(self, kicker: Kicker) -> Alerts {
        Alerts { wake: kicker.0, ..self }
    }

    /// Wakes this service's worker (a test message to send now).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// What wakes this service's worker, for the code that imports prices.
    pub fn kicker(&self) -> Kicker {
        Kicker(self.wake.clone())
    }

    /// Evaluates the waiting changes, queues the due digests, delivers the due outbox rows.
    pub async fn run_once(&self, now: i64) -> Result<Pass, sqlx::Error> {
        let evaluated = engine::evaluate_pending(&self.db, now).await?;
        let digests = digest::run_due(&self.db, &self.holder, now).await?;
        let delivered = deliver::deliver_due(self, now).await?;
        Ok(Pass { evaluated, digests, delivered })
    }

    /// Runs [`Alerts::run_once`] now, then at each wake ([`Alerts::wake`], [`Kicker::kick`]) or
    /// [`TICK`], until `shutdown`.
    pub async fn worker(self, shutdown: CancellationToken) {
        loop {
            match self.run_once(crate::db::now()).await {
                Ok(p) if p != Pass::default() => tracing::info!(?p, "alerts pass"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "alerts pass failed; retried at the next tick"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(TICK) => {}
            }
        }
        tracing::info!("alerts worker stopped");
    }
}
