//! The weekly names refresh of `carburoam serve` (`--names-every`, default 7 days) and the admin
//! console's "refresh names now": both ask Overpass (`--names-url`) and replace the names.
//!
//! Among instances sharing a database, one runs each interval ([`leases::claim_interval`] on
//! [`NAMES_SCHEDULE_LEASE`]); and whoever imports holds [`NAMES_IMPORT_LEASE`] for the length of
//! the import, so that a button pressed while the scheduled refresh runs is refused instead of
//! asking Overpass twice.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::import::{NamesImportOptions, NamesReport, OVERPASS, import_source};
use super::overpass::OverpassOptions;
use crate::db::{self, Db, leases, station_names};
use crate::domain::Trigger;

/// Held for one interval by the instance that runs the scheduled refresh.
pub const NAMES_SCHEDULE_LEASE: &str = "names_schedule";
/// Held while a names import (scheduled or from the console) runs.
pub const NAMES_IMPORT_LEASE: &str = "names_import";
/// Longer than any import may take (the Overpass timeout plus the write), so a crashed holder
/// does not block the next one for long.
const IMPORT_LEASE_SECS: i64 = 600;
/// Let the server start before a refresh that is already due.
const SETTLE: Duration = Duration::from_secs(30);

/// What the scheduled refresh needs.
#[derive(Debug, Clone)]
pub struct NamesSchedule {
    /// `None`: no scheduled refresh (`--names-every off`).
    pub every: Option<Duration>,
    pub overpass: OverpassOptions,
}

/// Why a names import did not run or failed, for the console.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("another names import is running")]
    Busy,
    #[error(transparent)]
    Import(#[from] super::ImportNamesError),
    #[error("cannot take the names import lease: {0}")]
    Db(#[from] sqlx::Error),
}

/// Imports the names from Overpass now, unless another import runs (anywhere): holds
/// [`NAMES_IMPORT_LEASE`] meanwhile.
pub async fn refresh_now(
    db: &Db,
    overpass: &OverpassOptions,
    holder: &str,
    trigger: Trigger,
) -> Result<NamesReport, RefreshError> {
    if !leases::try_acquire(db, NAMES_IMPORT_LEASE, holder, db::now(), IMPORT_LEASE_SECS).await? {
        return Err(RefreshError::Busy);
    }
    let opts = NamesImportOptions { force: false, trigger, overpass: overpass.clone() };
    let result = import_source(db, OVERPASS, &opts).await;
    if let Err(e) = leases::release(db, NAMES_IMPORT_LEASE, holder).await {
        tracing::warn!(error = %e, "names: could not release the import lease (it expires by itself)");
    }
    Ok(result?)
}

/// The scheduled refresh's task, or `None` after saying it is off.
pub fn scheduled(
    db: Db,
    schedule: NamesSchedule,
    holder: String,
    shutdown: CancellationToken,
) -> Option<impl Future<Output = ()> + Send + 'static> {
    let Some(every) = schedule.every else {
        tracing::info!("names refresh disabled (--names-every off)");
        return None;
    };
    tracing::info!(
        every = %humantime::format_duration(every),
        url = %schedule.overpass.endpoint,
        "names refresh scheduled"
    );
    Some(scheduler(db, every, schedule.overpass, holder, shutdown))
}

async fn scheduler(db: Db, every: Duration, overpass: OverpassOptions, holder: String, shutdown: CancellationToken) {
    // The first run when the last import is an interval old (at once for a database that never
    // had names, after a short settle).
    let last = station_names::last_import(&db).await.ok().flatten().map(|l| l.finished_at);
    let first = leases::first_delay(every, last, db::now(), SETTLE);
    let p = leases::Periodic { lease: NAMES_SCHEDULE_LEASE, holder: &holder, every, first };
    leases::every(&db, p, &shutdown, |_| async {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            r = refresh_now(&db, &overpass, &holder, Trigger::Schedule) => match r {
                Ok(report) => tracing::info!(%report, "names refreshed"),
                // The names in place stay; the next interval retries.
                Err(e) => tracing::warn!(error = %e, "names refresh failed"),
            },
        }
    })
    .await;
}
