//! The scheduled backups of the server: the interval, the lease shared by the instances, and the
//! retention.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::write::{BACKUP_LOCK, backup_into};
use super::{BackupFile, list_backups, scan};
use crate::db::{self, Backend, Db, leases};

/// Taken by the instance that runs the scheduled backup of an interval, and kept for 90% of it,
/// so that several servers on one database write one backup per interval between them.
pub const BACKUP_LEASE: &str = "backup";

/// How long after start the first scheduled backup waits when none is due earlier: the first
/// import runs at start and should not compete with a full copy, and short-lived servers (tests,
/// a deploy that fails its health check) should not write backups at all.
const SETTLE: Duration = Duration::from_secs(60);

/// The `--backup-every` setting: a duration (`1d`, `6h`) or `off` ([`crate::domain::parse_every`]),
/// at least 10 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupEvery(pub Option<Duration>);

impl FromStr for BackupEvery {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::domain::parse_every(s, Duration::from_secs(10)).map(BackupEvery)
    }
}

/// Where, how often and how many scheduled backups the server keeps.
#[derive(Debug, Clone)]
pub struct BackupSchedule {
    pub dir: PathBuf,
    /// `None`: no scheduled backups.
    pub every: Option<Duration>,
    /// Scheduled backups kept; older ones are deleted after each new one. At least 1.
    pub keep: usize,
}

/// Deletes the oldest scheduled backups of `dir` beyond the newest `keep` (files named like
/// [`backup_name`] only: nothing else in the folder is touched). Returns the deleted ones.
pub async fn prune(dir: &Path, keep: usize) -> std::io::Result<Vec<BackupFile>> {
    let mut files = scan(dir).await?;
    files.sort_by(|a, b| b.name.cmp(&a.name));
    let old = files.split_off(keep.min(files.len()));
    for f in &old {
        tokio::fs::remove_file(&f.path).await?;
    }
    Ok(old)
}

/// The scheduled backups' task ([`scheduler`] with the schedule's settings), or `None` after
/// saying (once) why there are none.
pub fn scheduled(
    db: Db,
    schedule: BackupSchedule,
    holder: String,
    shutdown: CancellationToken,
) -> Option<impl Future<Output = ()> + Send + 'static> {
    let every = match (schedule.every, db.backend()) {
        (None, _) => {
            tracing::info!("scheduled backups disabled (--backup-every off)");
            return None;
        }
        (Some(_), Backend::Postgres) => {
            tracing::info!(
                "scheduled backups are for SQLite only: back up PostgreSQL with pg_dump or continuous archiving"
            );
            return None;
        }
        (Some(every), Backend::Sqlite) => every,
    };
    tracing::info!(
        every = %humantime::format_duration(every),
        dir = %schedule.dir.display(),
        keep = schedule.keep,
        "backups scheduled"
    );
    Some(scheduler(db, schedule.dir, every, schedule.keep, holder, shutdown))
}

/// Writes a backup every `every` and keeps the newest `keep`, until `shutdown`. The first one is
/// due one interval after the newest backup already in the folder, so restarting the server
/// neither repeats nor postpones backups.
pub async fn scheduler(
    db: Db,
    dir: PathBuf,
    every: Duration,
    keep: usize,
    holder: String,
    shutdown: CancellationToken,
) {
    let newest = list_backups(&dir).await.first().map(|b| b.created);
    let first = leases::first_delay(every, newest, db::now(), SETTLE);
    let p = leases::Periodic { lease: BACKUP_LEASE, holder: &holder, every, first };
    // A backup under way when shutdown comes is finished: it is one read transaction, and
    // stopping half-way would only leave a temporary file behind.
    leases::every(&db, p, &shutdown, |_| scheduled_backup(&db, &dir, keep)).await;
}

async fn scheduled_backup(db: &Db, dir: &Path, keep: usize) {
    let _one_at_a_time = BACKUP_LOCK.lock().await;
    tracing::info!(dir = %dir.display(), "scheduled backup started");
    let started = Instant::now();
    match backup_into(db, dir).await {
        Ok(f) => tracing::info!(
            path = %f.path.display(),
            size = f.size,
            took_ms = started.elapsed().as_millis() as u64,
            "scheduled backup written and verified (integrity_check ok)"
        ),
        // Old backups are only deleted after a good new one: a failing backup never eats the
        // last good ones.
        Err(e) => {
            tracing::error!(dir = %dir.display(), error = %e, "scheduled backup failed");
            return;
        }
    }
    match prune(dir, keep).await {
        Ok(deleted) => {
            for f in deleted {
                tracing::info!(path = %f.path.display(), keep, "old backup deleted");
            }
        }
        Err(e) => tracing::warn!(dir = %dir.display(), error = %e, "cannot delete old backups"),
    }
}
