//! The ETL job: take the lease, download (conditionally), import, record — and the scheduler
//! that runs it inside the server.
//!
//! Two leases in the database coordinate any number of processes on one database:
//! - `feed-import` is held while a file is imported (the CLI `import` and every job take it), so
//!   two imports never overlap;
//! - `feed-schedule` is taken by a scheduled run and kept for most of the interval, so several
//!   server instances sharing a PostgreSQL database run the job once per interval between them.
//!   A holder that dies simply lets its lease expire; another instance takes over at its next tick.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::db::Db;
use crate::db::etl_runs::{self, RunStatus};
use crate::db::leases;
use crate::domain::Trigger;
use crate::feed::download::{self, Conditional, DownloadError, Fetched, Fetcher};
use crate::feed::{ImportError, ImportOptions, ImportReport};

mod after;

pub use after::{AfterImport, SourceState};

pub const IMPORT_LEASE: &str = "feed-import";
pub const SCHEDULE_LEASE: &str = "feed-schedule";

/// How long an import lease lasts before it must be renewed (every third of it); a holder that
/// died frees it after this, and the next scheduled tick of another instance takes over.
pub const IMPORT_LEASE_TTL: i64 = 30;

/// Failed runs in a row that make the operator's webhook hear about it: one failure is usually
/// the feed's server having a bad minute, three (half an hour at the default period) is not.
pub const FAILURES_TO_NOTIFY: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum EtlError {
    #[error("download failed: {0}")]
    Download(#[from] DownloadError),
    #[error("{0}")]
    Import(#[from] ImportError),
    #[error("another import is running on this database (held by {holder} until {until})")]
    Busy { holder: String, until: String },
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

#[derive(Debug)]
pub enum RunOutcome {
    Imported(ImportReport),
    /// The server said 304 Not Modified.
    NotModified,
    /// Another instance holds the schedule lease for this interval.
    Skipped,
}

/// A name for this process in lease rows: host, pid and a random tag.
pub fn holder_id() -> String {
    let host = hostname::get().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "host".into());
    format!("{host}:{}:{:08x}", std::process::id(), rand::random::<u32>())
}

/// Holds the import lease for the life of a closure-free future: renews it in the background
/// until [`ImportLease::release`].
pub struct ImportLease {
    db: Db,
    holder: String,
    renew: tokio::task::JoinHandle<()>,
}

impl ImportLease {
    /// Takes the import lease, waiting up to `wait` for another holder to finish.
    pub async fn acquire(db: &Db, holder: &str, wait: Duration) -> Result<ImportLease, EtlError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if leases::try_acquire(db, IMPORT_LEASE, holder, crate::db::now(), IMPORT_LEASE_TTL).await? {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                let info = leases::current(db, IMPORT_LEASE).await?;
                let (holder, until) = info
                    .map(|l| {
                        let until = chrono::DateTime::from_timestamp(l.expires_at, 0)
                            .map(|t| t.to_rfc3339())
                            .unwrap_or_default();
                        (l.holder, until)
                    })
                    .unwrap_or_default();
                return Err(EtlError::Busy { holder, until });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let (db2, holder2) = (db.clone(), holder.to_owned());
        let renew = tokio::spawn(async move {
            let period = Duration::from_secs((IMPORT_LEASE_TTL / 3) as u64);
            loop {
                tokio::time::sleep(period).await;
                match leases::renew(&db2, IMPORT_LEASE, &holder2, crate::db::now(), IMPORT_LEASE_TTL).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::error!("lost the import lease (expired and taken over)");
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "could not renew the import lease"),
                }
            }
        });
        Ok(ImportLease { db: db.clone(), holder: holder.to_owned(), renew })
    }

    pub async fn release(self) {
        self.renew.abort();
        if let Err(e) = leases::release(&self.db, IMPORT_LEASE, &self.holder).await {
            tracing::warn!(error = %e, "could not release the import lease (it will expire)");
        }
    }
}

/// Everything one job run needs.
#[derive(Clone)]
pub struct Job {
    pub db: Db,
    pub fetcher: Arc<Fetcher>,
    pub feed_url: String,
    pub holder: String,
    pub import: ImportOptions,
    /// Told when runs fail [`FAILURES_TO_NOTIFY`] times in a row.
    pub notifier: crate::services::notify::Notifier,
    /// This server's alerts worker, woken after each import so that the alerts of the prices it
    /// changed go out at once. `None` in a one-shot run (`carburoam etl run`): a serving
    /// process finds the changes at its worker's next tick.
    pub alerts: Option<crate::alerts::Kicker>,
}

impl Job {
    /// One download + import, as the scheduler does it. Records a run row in every case but
    /// "another instance has this interval".
    #[tracing::instrument(skip(self), fields(url = %self.feed_url))]
    pub async fn run_once(&self, trigger: Trigger) -> Result<RunOutcome, EtlError> {
        // A scheduled run waits out the lease of a holder that may have died (it expires within
        // IMPORT_LEASE_TTL); a run asked for by a person answers quickly.
        let wait = if trigger.waits_for_lease() { IMPORT_LEASE_TTL as u64 + 5 } else { 5 };
        let lease = ImportLease::acquire(&self.db, &self.holder, Duration::from_secs(wait)).await?;
        // Imports never overlap, so a run still `running` while we hold the lease belongs to a
        // process that died mid-import (its transaction rolled back): close it as failed.
        let now = crate::db::now();
        match etl_runs::fail_stale(&self.db, now + 1, now).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(runs = n, "closed runs interrupted by a process that died"),
            Err(e) => tracing::warn!(error = %e, "could not close interrupted runs"),
        }
        let result = self.fetch_and_import(trigger).await;
        lease.release().await;
        // Only errors that recorded a failed run can lengthen the streak; re-reading it after
        // any other error would announce the same streak twice.
        if let Err(e @ (EtlError::Download(_) | EtlError::Import(_))) = &result {
            self.notify_if_failing(e).await;
        }
        result
    }

    /// Tells the operator when this failure makes exactly [`FAILURES_TO_NOTIFY`] failed runs in
    /// a row: once per streak, however long it lasts, and again after a success and a new
    /// streak. The streak is read from `etl_runs`, so it survives restarts and counts the runs
    /// of every instance sharing the database.
    async fn notify_if_failing(&self, error: &EtlError) {
        if !self.notifier.is_enabled() {
            return;
        }
        let recent = match etl_runs::recent(&self.db, FAILURES_TO_NOTIFY as i64 + 1).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the last runs to decide on a notification");
                return;
            }
        };
        let streak = recent.iter().take_while(|r| r.status == RunStatus::Failed).count();
        if streak == FAILURES_TO_NOTIFY {
            let mut error = error.to_string();
            if let Some((at, _)) = error.char_indices().nth(300) {
                error.truncate(at);
                error.push('…');
            }
            self.notifier.notify(format!(
                "Carburoam: the feed import failed {FAILURES_TO_NOTIFY} times in a row. Last error: {error}"
            ));
        }
    }

    async fn fetch_and_import(&self, trigger: Trigger) -> Result<RunOutcome, EtlError> {
        let cond = if self.import.force {
            Conditional::default()
        } else {
            download::load_conditional(&self.db, &self.feed_url).await?
        };
        let fetched = match self.fetcher.fetch(&self.feed_url, &cond).await {
            Ok(f) => f,
            Err(e) => {
                record_failure(&self.db, &self.feed_url, trigger, &format!("download failed: {e}")).await;
                return Err(e.into());
            }
        };
        match fetched {
            Fetched::NotModified => {
                let now = crate::db::now();
                etl_runs::record(&self.db, &self.feed_url, trigger, RunStatus::NotModified, None, now).await?;
                crate::db::feed_sources::save_state(
                    &self.db,
                    &self.feed_url,
                    cond.etag.as_deref(),
                    cond.last_modified.as_deref(),
                    None,
                    now,
                )
                .await?;
                tracing::info!("feed not modified");
                Ok(RunOutcome::NotModified)
            }
            Fetched::Body { bytes, etag, last_modified, source } => {
                let mut opts = self.import.clone();
                opts.trigger = trigger;
                let report = crate::feed::import_bytes(&self.db, &source, bytes, &opts).await?;
                // Only a successful import moves the conditional-GET state forward: after a
                // failure the next run downloads the file again.
                let state =
                    SourceState { url: &self.feed_url, etag: etag.as_deref(), last_modified: last_modified.as_deref() };
                AfterImport::default()
                    .imported(&report)
                    .wake_alerts(self.alerts.as_ref())
                    .source_state(state)
                    .run(&self.db)
                    .await?;
                Ok(RunOutcome::Imported(report))
            }
        }
    }
}

async fn record_failure(db: &Db, source: &str, trigger: Trigger, error: &str) {
    if let Err(e) = etl_runs::record(db, source, trigger, RunStatus::Failed, Some(error), crate::db::now()).await {
        tracing::error!(error = %e, "could not record the failed run");
    }
}

/// Runs the job now and then every `every`, until `shutdown` is cancelled. A run in progress
/// when shutdown comes is allowed to finish (its transaction commits or rolls back whole).
pub async fn scheduler(job: Job, every: Duration, shutdown: CancellationToken) {
    // One run per interval across all instances, the first at once.
    let p = leases::Periodic { lease: SCHEDULE_LEASE, holder: &job.holder, every, first: Duration::ZERO };
    leases::every(&job.db, p, &shutdown, |_| async {
        match job.run_once(Trigger::Schedule).await {
            Ok(RunOutcome::Imported(report)) => tracing::info!(%report, "scheduled import done"),
            Ok(RunOutcome::NotModified) => tracing::info!("scheduled run: feed not modified"),
            Ok(RunOutcome::Skipped) => {}
            Err(e) => tracing::warn!(error = %e, "scheduled run failed"),
        }
    })
    .await;
}
