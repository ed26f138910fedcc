//! What an import is asked ([`ImportOptions`]) and what it answers ([`ImportReport`],
//! [`ImportError`]): shared by the driver ([`super::import`]) and the writer ([`super::load`]),
//! which thus need not know each other's types.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::FeedError;
use super::archive::Limits;
use super::model::FeedKind;
use crate::db::etl_runs::{RunCounts, RunStatus};
use crate::domain::{RunId, Trigger};

/// Why an import was refused or failed. Displayed as one line after the file name.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error(
        "refused: the snapshot holds {found} stations but {loaded} are loaded (a truncated upstream file?); \
         use --force to load it anyway"
    )]
    TooFewStations { found: usize, loaded: usize },
    #[error("refused: prices or history rows name {missing} stations that are neither in the file nor loaded")]
    UnknownStations { missing: usize },
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("the parser stopped unexpectedly: {0}")]
    Internal(String),
}

/// Bytes of XML read so far and the total when known, for progress bars.
#[derive(Debug, Default)]
pub struct Progress {
    pub read: AtomicU64,
    pub total: AtomicU64,
}

#[derive(Clone)]
pub struct ImportOptions {
    /// Load a snapshot even when it holds far fewer stations than are loaded, and a file
    /// identical to the last one imported.
    pub force: bool,
    pub limits: Limits,
    /// A newest snapshot with fewer than this share of the stations present in the database is
    /// refused (truncated upstream file).
    pub min_station_ratio: f64,
    /// Who asked, stored with the run.
    pub trigger: Trigger,
    pub progress: Option<Arc<Progress>>,
    /// PostgreSQL: history points go through `COPY` (the default); false keeps multi-row
    /// INSERTs, as on SQLite. Same result either way (a test compares them).
    pub pg_copy: bool,
    /// The parser drops, unparsed, a `<pdv>` element whose bytes are those its stored station
    /// was written from (the default); false parses every element. Same result either way (a
    /// test compares them).
    pub raw_skip: bool,
    /// Changed stored stations in one chunk of the file from which the loader reads the stored
    /// state of every station at once (three table scans) instead of the chunk's (lists of ids):
    /// [`crate::feed::load::WHOLE_TABLES_FROM`] by default. Same result either way (a test
    /// compares them with 1, whole tables from the first changed station).
    pub whole_tables_from: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            force: false,
            limits: Limits::default(),
            min_station_ratio: 0.8,
            trigger: Trigger::Cli,
            progress: None,
            pg_copy: true,
            raw_skip: true,
            whole_tables_from: super::load::WHOLE_TABLES_FROM,
        }
    }
}

/// What one import did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    pub run_id: RunId,
    pub source: String,
    /// `Success` or `Unchanged` (the file was the last one imported).
    pub status: RunStatus,
    pub kind: Option<FeedKind>,
    pub snapshot_at: Option<DateTime<Utc>>,
    pub stations_in_file: usize,
    /// `<prix>` elements read (valid or not).
    pub price_elements: usize,
    pub counts: RunCounts,
    pub prices_removed: usize,
    pub shortages_changed: usize,
    pub history_backfilled: usize,
    #[serde(serialize_with = "ser_duration")]
    pub elapsed: Duration,
    /// Of `elapsed`, the recomputation of the daily averages the file moved.
    #[serde(serialize_with = "ser_duration")]
    pub series_elapsed: Duration,
    /// Of `stations_in_file`, the `<pdv>` elements dropped unparsed (their bytes are those the
    /// stored station was written from). Not stored, not served: the bench and tests read it.
    #[serde(skip)]
    pub elements_skipped: usize,
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl ImportReport {
    /// Whether a good part of the data changed (a first import, an archive): the planner's
    /// statistics are then worth refreshing ([`crate::etl::AfterImport`]).
    pub fn changed_much(&self) -> bool {
        let touched = i64::from(self.counts.stations_new) + i64::from(self.counts.stations_updated);
        touched > 1000 || touched * 5 > self.stations_in_file as i64
    }
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.counts;
        if self.status != RunStatus::Success {
            return write!(
                f,
                "{}: {} (identical to the last file imported), {:.3} s",
                self.source,
                self.status,
                self.elapsed.as_secs_f64()
            );
        }
        write!(
            f,
            "{}: {} {} stations (new {}, updated {}, unchanged {}, missing {}); prices changed {}, re-dated {}, unchanged {}, \
             removed {}; history +{}; shortages {}; rejected {}; {:.3} s",
            self.source,
            self.kind.map_or("?", FeedKind::as_str),
            self.stations_in_file,
            c.stations_new,
            c.stations_updated,
            c.stations_unchanged,
            c.stations_missing,
            c.prices_changed,
            c.prices_redated,
            c.prices_unchanged,
            self.prices_removed,
            c.history_added,
            c.shortages,
            c.rejected,
            self.elapsed.as_secs_f64()
        )
    }
}
