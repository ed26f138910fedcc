//! Job leases: one run of a job at a time, across every server process sharing the database.
//!
//! Several Carburoam processes may serve the same database (a rolling deploy, two replicas);
//! only one of them should import the feed at a time. A lease is a row of `job_leases` naming
//! its holder and an expiry. It is taken with a single conditional `UPDATE`, which both backends
//! execute atomically (PostgreSQL re-checks the `WHERE` on the latest row version after waiting
//! for a concurrent writer; SQLite serialises writers), so no process-local lock is involved and
//! a crashed holder only blocks the job until its lease expires.
//!
//! Times are Unix seconds passed in by the caller, so tests control the clock and every process
//! judges expiry against the same explicit `now`.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::db::Db;
use crate::on_db;

/// Who holds a lease and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    pub holder: String,
    /// Unix seconds; the lease may be taken over from this instant on.
    pub expires_at: i64,
    /// Unix seconds of the last acquisition (renewals do not change it).
    pub acquired_at: i64,
}

impl LeaseInfo {
    /// Whether the lease still excludes other holders at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        self.expires_at > now
    }
}

/// A holder id unique to this process and call: process id plus random bits, so two processes
/// (even with recycled pids, or in containers where every pid is 1) never share one.
pub fn new_holder_id() -> String {
    format!("pid{}-{:016x}", std::process::id(), rand::random::<u64>())
}

/// Takes the lease `name` for `holder` until `now + ttl_secs` if it is free, expired, or
/// already held by `holder` (re-acquiring extends it). Returns whether `holder` now holds it.
///
/// `ttl_secs` below 1 is raised to 1: a lease expiring at `now` could be taken by a second
/// holder in the same second.
pub async fn try_acquire(db: &Db, name: &str, holder: &str, now: i64, ttl_secs: i64) -> Result<bool, sqlx::Error> {
    let expires_at = now.saturating_add(ttl_secs.max(1));
    let affected = on_db!(db, p => {
        // The row must exist for the conditional UPDATE to have something to win; a concurrent
        // insert of the same name is a no-op, never an error.
        sqlx::query(
            "INSERT INTO job_leases (name, holder, expires_at, acquired_at) \
             VALUES ($1, NULL, 0, NULL) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .execute(p)
        .await?;
        sqlx::query(
            "UPDATE job_leases SET holder = $1, expires_at = $2, acquired_at = $3 \
             WHERE name = $4 AND (holder IS NULL OR expires_at <= $3 OR holder = $1)",
        )
        .bind(holder)
        .bind(expires_at)
        .bind(now)
        .bind(name)
        .execute(p)
        .await?
        .rows_affected()
    });
    Ok(affected == 1)
}

/// Claims this interval's run of a periodic job: takes the lease `name` for 90% of `every`, so
/// that among instances ticking at the same period exactly one runs each interval (the lease is
/// kept, not released, and expires before the next tick). `false` means skip this tick: another
/// instance has it, or the database did not answer (logged).
pub async fn claim_interval(db: &Db, name: &str, holder: &str, every: std::time::Duration, now: i64) -> bool {
    let hold = i64::try_from(every.as_secs()).unwrap_or(i64::MAX / 10).saturating_mul(9) / 10;
    match try_acquire(db, name, holder, now, hold.max(1)).await {
        Ok(true) => true,
        Ok(false) => {
            tracing::debug!(lease = name, "another instance runs this job this interval");
            false
        }
        Err(e) => {
            tracing::warn!(lease = name, error = %e, "cannot read the lease; skipping this run");
            false
        }
    }
}

/// A periodic job that the instances sharing a database run once per interval between them.
#[derive(Debug, Clone, Copy)]
pub struct Periodic<'a> {
    /// The lease claimed each interval ([`claim_interval`]).
    pub lease: &'a str,
    pub holder: &'a str,
    pub every: Duration,
    /// Until the first tick (zero: at once).
    pub first: Duration,
}

/// Runs `job` (given the tick's `now`) at `first`, then every `every`, until `shutdown`: at each
/// tick the instance that claims this interval's lease runs it, the others skip it. A tick missed
/// while a run was long is delayed, not doubled. A run under way when shutdown comes is awaited:
/// a job that must stop early watches `shutdown` itself.
pub async fn every<F, Fut>(db: &Db, p: Periodic<'_>, shutdown: &CancellationToken, mut job: F)
where
    F: FnMut(i64) -> Fut,
    Fut: Future<Output = ()>,
{
    tracing::debug!(lease = p.lease, first = %humantime::format_duration(p.first), "periodic job armed");
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + p.first, p.every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let now = crate::db::now();
        if claim_interval(db, p.lease, p.holder, p.every, now).await {
            job(now).await;
        }
    }
    tracing::info!(lease = p.lease, "periodic job stopped");
}

/// The wait before the first run of a job done every `every` whose last run was at `last`
/// (Unix seconds; `None`: never): due one interval after the last run, so that a restart neither
/// repeats nor postpones it, but never sooner than `settle` after start (capped at `every`).
pub fn first_delay(every: Duration, last: Option<i64>, now: i64, settle: Duration) -> Duration {
    let since_last = last.and_then(|at| u64::try_from(now - at).ok()).map(Duration::from_secs).unwrap_or(every);
    every.saturating_sub(since_last).max(settle.min(every))
}

/// Extends the lease to `now + ttl_secs` if `holder` still holds it. `false` means it was
/// released or taken over: the caller must stop working as if it held the job.
///
/// A holder whose lease expired unnoticed may still renew it as long as nobody took it over:
/// the holder column unchanged proves no one else ran the job in between.
pub async fn renew(db: &Db, name: &str, holder: &str, now: i64, ttl_secs: i64) -> Result<bool, sqlx::Error> {
    let expires_at = now.saturating_add(ttl_secs.max(1));
    let affected = on_db!(db, p => {
        sqlx::query("UPDATE job_leases SET expires_at = $1 WHERE name = $2 AND holder = $3")
            .bind(expires_at)
            .bind(name)
            .bind(holder)
            .execute(p)
            .await?
            .rows_affected()
    });
    Ok(affected == 1)
}

/// Gives the lease up so another process may run the job at once instead of waiting for the
/// expiry. Returns `false` (and changes nothing) when `holder` did not hold it.
pub async fn release(db: &Db, name: &str, holder: &str) -> Result<bool, sqlx::Error> {
    let affected = on_db!(db, p => {
        sqlx::query(
            "UPDATE job_leases SET holder = NULL, expires_at = 0, acquired_at = NULL \
             WHERE name = $1 AND holder = $2",
        )
        .bind(name)
        .bind(holder)
        .execute(p)
        .await?
        .rows_affected()
    });
    Ok(affected == 1)
}

/// The lease's holder, as stored: `None` when nobody holds it. An expired lease is still
/// returned (check [`LeaseInfo::is_live`]): it tells who ran the job last.
pub async fn current(db: &Db, name: &str) -> Result<Option<LeaseInfo>, sqlx::Error> {
    let row: Option<(Option<String>, i64, Option<i64>)> = on_db!(db, p => {
        sqlx::query_as("SELECT holder, expires_at, acquired_at FROM job_leases WHERE name = $1")
            .bind(name)
            .fetch_optional(p)
            .await?
    });
    Ok(row.and_then(|(holder, expires_at, acquired_at)| {
        Some(LeaseInfo { holder: holder?, expires_at, acquired_at: acquired_at.unwrap_or(0) })
    }))
}
