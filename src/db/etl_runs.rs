//! ETL run records: one row per import attempt, with its counts and rejected records.

use crate::db::{Backend, Db};
use crate::domain::Rejection;
use crate::domain::{FeedKind, RunId, StationId, Trigger};
use crate::on_db;

/// What an import changed, as stored in `etl_runs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunCounts {
    pub stations_new: i32,
    pub stations_updated: i32,
    pub stations_unchanged: i32,
    pub stations_missing: i32,
    pub prices_changed: i32,
    pub prices_redated: i32,
    pub prices_unchanged: i32,
    pub history_added: i32,
    pub shortages: i32,
    pub rejected: i32,
}

impl RunCounts {
    /// One station the file lists unchanged, with its prices and shortages.
    pub fn unchanged_station(&mut self, prices: usize, shortages: usize) {
        self.stations_unchanged += 1;
        self.prices_unchanged += i32::try_from(prices).unwrap_or(0);
        self.shortages += i32::try_from(shortages).unwrap_or(0);
    }
}

/// The outcome of a run, stored as its word in `etl_runs.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Success,
    /// The file was byte-identical to the last one imported: nothing to do.
    Unchanged,
    /// The server answered 304 Not Modified.
    NotModified,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Unchanged => "unchanged",
            RunStatus::NotModified => "not_modified",
            RunStatus::Failed => "failed",
        }
    }

    pub const ALL: [RunStatus; 5] =
        [RunStatus::Running, RunStatus::Success, RunStatus::Unchanged, RunStatus::NotModified, RunStatus::Failed];
}

crate::text_column!(RunStatus, "run status", RunStatus::ALL);

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct RunRow {
    pub id: RunId,
    pub source: String,
    pub trigger: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub status: RunStatus,
    pub feed_kind: Option<FeedKind>,
    pub file_sha256: Option<String>,
    pub snapshot_at: Option<i64>,
    pub stations_new: i32,
    pub stations_updated: i32,
    pub stations_unchanged: i32,
    pub stations_missing: i32,
    pub prices_changed: i32,
    pub prices_redated: i32,
    pub prices_unchanged: i32,
    pub history_added: i32,
    pub shortages: i32,
    pub rejected: i32,
    pub error: Option<String>,
}

const RUN_COLUMNS: &str = "id, source, trigger, started_at, finished_at, status, feed_kind, file_sha256, snapshot_at, \
     stations_new, stations_updated, stations_unchanged, stations_missing, prices_changed, prices_redated, \
     prices_unchanged, history_added, shortages, rejected, error";

/// Opens a run record in state `running` and returns its id.
pub async fn start(db: &Db, source: &str, trigger: Trigger, now: i64) -> Result<RunId, sqlx::Error> {
    on_db!(db, p => {
        sqlx::query_scalar::<_, RunId>(
            "INSERT INTO etl_runs (source, trigger, started_at, status) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(source)
        .bind(trigger)
        .bind(now)
        .bind(RunStatus::Running)
        .fetch_one(p)
        .await
    })
}

pub struct Finish<'a> {
    pub status: RunStatus,
    pub now: i64,
    pub feed_kind: Option<FeedKind>,
    pub sha256: Option<&'a str>,
    pub snapshot_at: Option<i64>,
    pub counts: &'a RunCounts,
    pub error: Option<&'a str>,
    pub rejections: &'a [Rejection],
    /// What the run did, one step a line (shown in the admin console).
    pub log: Option<&'a str>,
}

impl<'a> Finish<'a> {
    /// The outcome of a run that loaded nothing (not modified, or failed before loading).
    pub fn nothing_loaded(status: RunStatus, now: i64, error: Option<&'a str>) -> Finish<'a> {
        const NONE: &RunCounts = &RunCounts {
            stations_new: 0,
            stations_updated: 0,
            stations_unchanged: 0,
            stations_missing: 0,
            prices_changed: 0,
            prices_redated: 0,
            prices_unchanged: 0,
            history_added: 0,
            shortages: 0,
            rejected: 0,
        };
        Finish {
            status,
            now,
            feed_kind: None,
            sha256: None,
            snapshot_at: None,
            counts: NONE,
            error,
            rejections: &[],
            log: None,
        }
    }
}

/// The step-by-step log of a run, if it kept one.
pub async fn log(db: &Db, run_id: RunId) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(Option<String>,)> = on_db!(db, p => sqlx::query_as("SELECT log FROM etl_runs WHERE id = $1")
        .bind(run_id)
        .fetch_optional(p)
        .await)?;
    Ok(row.and_then(|(l,)| l))
}

/// Records, in one go, a run that loaded nothing: a 304, or a download that failed.
pub async fn record(
    db: &Db,
    source: &str,
    trigger: Trigger,
    status: RunStatus,
    error: Option<&str>,
    now: i64,
) -> Result<RunId, sqlx::Error> {
    let id = start(db, source, trigger, now).await?;
    let log = match error {
        Some(e) => format!("{}: {e}", status.as_str()),
        None => format!("{}: the server has nothing new since the last download", status.as_str()),
    };
    finish(db, id, Finish { log: Some(&log), ..Finish::nothing_loaded(status, now, error) }).await?;
    Ok(id)
}

/// Closes a run record with its outcome and stores its rejected records, in one transaction.
pub async fn finish(db: &Db, run_id: RunId, f: Finish<'_>) -> Result<(), sqlx::Error> {
    let c = f.counts;
    let mut tx = db.begin().await?;
    crate::on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE etl_runs SET finished_at = $1, status = $2, feed_kind = $3, file_sha256 = $4, snapshot_at = $5, \
             stations_new = $6, stations_updated = $7, stations_unchanged = $8, stations_missing = $9, \
             prices_changed = $10, prices_redated = $11, prices_unchanged = $12, history_added = $13, \
             shortages = $14, rejected = $15, error = $16, log = $17 WHERE id = $18",
        )
        .bind(f.now)
        .bind(f.status)
        .bind(f.feed_kind)
        .bind(f.sha256)
        .bind(f.snapshot_at)
        .bind(c.stations_new)
        .bind(c.stations_updated)
        .bind(c.stations_unchanged)
        .bind(c.stations_missing)
        .bind(c.prices_changed)
        .bind(c.prices_redated)
        .bind(c.prices_unchanged)
        .bind(c.history_added)
        .bind(c.shortages)
        .bind(c.rejected)
        .bind(f.error)
        .bind(f.log)
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
        // Rejections in multi-row batches (6 parameters a row).
        let per = Backend::MAX_PARAMS / 6;
        for (b, chunk) in f.rejections.chunks(per).enumerate() {
            let sql = format!(
                "INSERT INTO etl_rejections (run_id, seq, station_id, fuel, value, reason) VALUES {}",
                super::values_placeholders(db.backend(), chunk.len(), 6)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (i, r) in chunk.iter().enumerate() {
                q = q
                    .bind(run_id)
                    .bind((b * per + i) as i32)
                    .bind(r.station_id.map(|s| s.get()))
                    .bind(r.fuel.map(|f| f.id()))
                    .bind(r.value.as_str())
                    .bind(r.reason.as_str());
            }
            q.execute(&mut *conn).await?;
        }
        Ok::<(), sqlx::Error>(())
    })?;
    tx.commit().await
}

/// The SHA-256 of the file of the latest run that loaded data, when that run is also the
/// latest run that touched data at all: importing the same bytes again can then be skipped.
pub async fn latest_loaded_sha256(db: &Db) -> Result<Option<String>, sqlx::Error> {
    on_db!(db, p => {
        sqlx::query_scalar::<_, Option<String>>(
            "SELECT file_sha256 FROM etl_runs WHERE status IN ($1, $2) ORDER BY id DESC LIMIT 1",
        )
        .bind(RunStatus::Success)
        .bind(RunStatus::Unchanged)
        .fetch_optional(p)
        .await
        .map(Option::flatten)
    })
}

/// The snapshot time of the newest full snapshot (an `instantane` file) imported successfully:
/// a file is the newest one, and may mark stations missing, only when it is not older. Files of
/// the other kinds and unchanged runs do not count (compare [`super::stations::latest_snapshot_at`],
/// the data's age as the pages show it).
pub async fn latest_full_snapshot_at(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    on_db!(db, p => {
        sqlx::query_scalar::<_, Option<i64>>(LATEST_FULL_SNAPSHOT_SQL)
            .bind(RunStatus::Success)
            .bind(FeedKind::Snapshot)
            .fetch_one(p)
            .await
    })
}

/// [`latest_full_snapshot_at`] inside a transaction (an import's, which sees its own run).
pub async fn latest_full_snapshot_at_in(tx: &mut crate::db::Tx) -> Result<Option<i64>, sqlx::Error> {
    Ok(crate::on_tx!(tx, conn => {
        sqlx::query_scalar::<_, Option<i64>>(LATEST_FULL_SNAPSHOT_SQL)
            .bind(RunStatus::Success)
            .bind(FeedKind::Snapshot)
            .fetch_one(&mut *conn)
            .await?
    }))
}

const LATEST_FULL_SNAPSHOT_SQL: &str = "SELECT MAX(snapshot_at) FROM etl_runs WHERE status = $1 AND feed_kind = $2";

/// The most recent run, whatever its outcome.
pub async fn last_run(db: &Db) -> Result<Option<RunRow>, sqlx::Error> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM etl_runs ORDER BY started_at DESC, id DESC LIMIT 1");
    on_db!(db, p => sqlx::query_as::<_, RunRow>(sqlx::AssertSqlSafe(sql)).fetch_optional(p).await)
}

/// When the last run that ended without error finished: an import (`success`), a file
/// identical to the previous one (`unchanged`) or a 304 (`not_modified`) all mean the data was
/// current at that time.
pub async fn last_success_at(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    let row: (Option<i64>,) = on_db!(db, p => sqlx::query_as(
        "SELECT MAX(finished_at) FROM etl_runs WHERE status IN ($1, $2, $3)",
    )
    .bind(RunStatus::Success)
    .bind(RunStatus::Unchanged)
    .bind(RunStatus::NotModified)
    .fetch_one(p)
    .await)?;
    Ok(row.0)
}

/// The number of runs of each status, in status order (for `/metrics`).
pub async fn count_by_status(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    on_db!(db, p => {
        sqlx::query_as::<_, (String, i64)>("SELECT status, COUNT(*) FROM etl_runs GROUP BY status ORDER BY status")
            .fetch_all(p)
            .await
    })
}

/// How long the last finished run took, in seconds.
pub async fn last_duration_secs(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    on_db!(db, p => {
        sqlx::query_scalar::<_, i64>(
            "SELECT finished_at - started_at FROM etl_runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(p)
        .await
    })
}

pub async fn get(db: &Db, id: RunId) -> Result<Option<RunRow>, sqlx::Error> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM etl_runs WHERE id = $1");
    on_db!(db, p => sqlx::query_as::<_, RunRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(p).await)
}

pub async fn recent(db: &Db, limit: i64) -> Result<Vec<RunRow>, sqlx::Error> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM etl_runs ORDER BY id DESC LIMIT $1");
    on_db!(db, p => sqlx::query_as::<_, RunRow>(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(p).await)
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct RejectionRow {
    pub seq: i32,
    pub station_id: Option<StationId>,
    pub fuel: Option<i16>,
    pub value: String,
    pub reason: String,
}

pub async fn rejections(db: &Db, run_id: RunId) -> Result<Vec<RejectionRow>, sqlx::Error> {
    on_db!(db, p => {
        sqlx::query_as::<_, RejectionRow>(
            "SELECT seq, station_id, fuel, value, reason FROM etl_rejections WHERE run_id = $1 ORDER BY seq",
        )
        .bind(run_id)
        .fetch_all(p)
        .await
    })
}

/// Marks runs left `running` by a process that died as failed (called at start-up, and only for
/// runs older than the lease could possibly be held).
pub async fn fail_stale(db: &Db, older_than: i64, now: i64) -> Result<u64, sqlx::Error> {
    on_db!(db, p => {
        sqlx::query(
            "UPDATE etl_runs SET status = $3, finished_at = $1, error = 'interrupted (the process stopped during the run)' \
             WHERE status = $4 AND started_at < $2",
        )
        .bind(now)
        .bind(older_than)
        .bind(RunStatus::Failed)
        .bind(RunStatus::Running)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
    })
}

/// Whether a run loaded the file with this SHA-256 from this source (the backfill's "already
/// imported": a file of the archives is skipped on the next run, which resumes the backfill).
pub async fn loaded_before(db: &Db, source: &str, sha256: &str) -> Result<bool, sqlx::Error> {
    on_db!(db, p => {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM etl_runs WHERE source = $1 AND file_sha256 = $2 AND status IN ($3, $4)",
        )
        .bind(source)
        .bind(sha256)
        .bind(RunStatus::Success)
        .bind(RunStatus::Unchanged)
        .fetch_one(p)
        .await
        .map(|n| n > 0)
    })
}

/// Whether a run loaded a file from this source at all (a past day's archive does not change:
/// the start-up backfill skips it without downloading it again).
pub async fn source_loaded(db: &Db, source: &str) -> Result<bool, sqlx::Error> {
    on_db!(db, p => {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM etl_runs WHERE source = $1 AND status IN ($2, $3)",
        )
        .bind(source)
        .bind(RunStatus::Success)
        .bind(RunStatus::Unchanged)
        .fetch_one(p)
        .await
        .map(|n| n > 0)
    })
}
