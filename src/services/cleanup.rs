//! The cleaning job: deletes rows that no longer serve any purpose, so that tables of secrets
//! (sessions, reset codes, e-mail confirmation tokens) hold only what can still be used, and
//! usage counts are kept no longer than announced.
//!
//! It runs in the server every hour; several instances on one database share it through the
//! `cleanup` lease, like the feed job. Every statement is an idempotent `DELETE` on an indexed
//! expiry, so a run interrupted half-way is simply finished by the next one.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::db::{self, Db, leases, reset_codes, sessions};
use crate::domain::DAY;

/// Held by the instance that cleans in the current interval, for 90% of it.
pub const CLEANUP_LEASE: &str = "cleanup";

/// How often the job runs.
pub const EVERY: Duration = Duration::from_secs(3600);

/// Expired reset codes are kept this long (seconds) after their expiry, for the admin console's
/// "sent / used / expired" figures and to answer a user asking about a mail they received.
pub const RESET_CODES_KEPT_FOR: i64 = 30 * DAY;

/// Days of per-route usage counts kept (a little over a year: a full year compares with the
/// previous one).
pub const USAGE_DAYS_KEPT: i64 = 400;

/// Rows deleted by one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CleanupReport {
    pub sessions: u64,
    pub reset_codes: u64,
    pub email_changes: u64,
    pub usage_rows: u64,
    /// Expired unsubscribe links of alert emails.
    pub unsubscribe_tokens: u64,
}

impl CleanupReport {
    pub fn total(&self) -> u64 {
        self.sessions + self.reset_codes + self.email_changes + self.usage_rows + self.unsubscribe_tokens
    }
}

impl std::fmt::Display for CleanupReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "deleted {} expired sessions, {} old reset codes, {} expired e-mail changes, {} old usage rows, \
             {} expired unsubscribe links",
            self.sessions, self.reset_codes, self.email_changes, self.usage_rows, self.unsubscribe_tokens
        )
    }
}

/// Deletes what has expired at `now` (Unix seconds).
pub async fn run_once(db: &Db, now: i64) -> Result<CleanupReport, sqlx::Error> {
    // Failure counts forgotten anyway (see `accounts::FAILED_LOGINS_FORGOTTEN_SECS`).
    let stale =
        db::login_failures::delete_stale(db, now - crate::services::accounts::FAILED_LOGINS_FORGOTTEN_SECS, now)
            .await?;
    tracing::debug!(rows = stale, "stale login failure counts deleted");
    Ok(CleanupReport {
        sessions: sessions::delete_expired(db, now).await?,
        reset_codes: reset_codes::delete_older_than(db, now - RESET_CODES_KEPT_FOR).await?,
        email_changes: db::email_changes::delete_expired(db, now).await?,
        usage_rows: db::usage::delete_older_than(db, usage_cutoff(now)).await?,
        unsubscribe_tokens: db::alerts::delete_expired_unsubscribe(db, now).await?,
    })
}

/// The first day (Unix seconds of its UTC midnight) of usage counts kept at `now`: today and the
/// [`USAGE_DAYS_KEPT`] days before it.
pub fn usage_cutoff(now: i64) -> i64 {
    now.div_euclid(DAY) * DAY - USAGE_DAYS_KEPT * DAY
}

/// Runs the job now and then every `every`, once per interval across the instances sharing the
/// database.
pub async fn scheduler(db: Db, every: Duration, holder: String, shutdown: CancellationToken) {
    let p = leases::Periodic { lease: CLEANUP_LEASE, holder: &holder, every, first: Duration::ZERO };
    leases::every(&db, p, &shutdown, |now| {
        let db = &db;
        async move {
            match run_once(db, now).await {
                Ok(r) if r.total() > 0 => tracing::info!(
                    sessions = r.sessions,
                    reset_codes = r.reset_codes,
                    email_changes = r.email_changes,
                    usage_rows = r.usage_rows,
                    unsubscribe_tokens = r.unsubscribe_tokens,
                    "cleaning job done"
                ),
                Ok(_) => tracing::debug!("cleaning job: nothing to delete"),
                Err(e) => tracing::warn!(error = %e, "cleaning job failed"),
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_cutoff_is_a_midnight_400_days_back() {
        let midnight = 1_760_000_000 / DAY * DAY;
        assert_eq!(usage_cutoff(midnight + 3_600), midnight - 400 * DAY);
        assert_eq!(usage_cutoff(midnight), midnight - 400 * DAY);
        assert_eq!(usage_cutoff(midnight - 1), midnight - 401 * DAY);
    }
}
