//! One names import: read a source (Overpass, a URL or a file), parse it, replace the stored
//! names in one transaction, log it.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::db::Db;
use crate::db::station_names::{self, Coverage, ImportMeta, ReplaceError};
use crate::domain::Trigger;
use crate::feed::download::DownloadError;
use crate::names::overpass::{self, OverpassOptions};
use crate::names::parse::{self, ParseError};

/// The source name that asks the Overpass API instead of reading a file.
pub const OVERPASS: &str = "overpass";

/// Largest drop of coverage (percentage points) an import may cause without `force`.
pub const MAX_COVERAGE_DROP: f64 = 20.0;

#[derive(Debug, Clone)]
pub struct NamesImportOptions {
    /// Import even when coverage would drop by more than [`MAX_COVERAGE_DROP`] points.
    pub force: bool,
    /// Who asked, stored with the import.
    pub trigger: Trigger,
    pub overpass: OverpassOptions,
}

impl Default for NamesImportOptions {
    fn default() -> Self {
        NamesImportOptions { force: false, trigger: Trigger::Cli, overpass: OverpassOptions::default() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportNamesError {
    #[error(transparent)]
    Download(#[from] DownloadError),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Replace(#[from] ReplaceError),
    #[error("the parser stopped: {0}")]
    Task(String),
}

impl ImportNamesError {
    /// Whether the import was refused by the coverage guard (`--force` would pass it).
    pub fn is_coverage_drop(&self) -> bool {
        matches!(self, ImportNamesError::Replace(ReplaceError::CoverageDrop { .. }))
    }
}

/// What one import did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NamesReport {
    pub source: String,
    pub rows_read: usize,
    /// Stations named (refs that are stations of the database).
    pub stations_named: usize,
    /// Of the refs read, those whose brand the name-suggestion-index knows.
    pub brands_matched: usize,
    /// Valid ids that are not stations of the database.
    pub refs_unknown: usize,
    pub refs_invalid: usize,
    pub rows_without_ref: usize,
    pub duplicate_refs: usize,
    pub before: Coverage,
    pub after: Coverage,
    #[serde(serialize_with = "ser_ms")]
    pub elapsed: Duration,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl std::fmt::Display for NamesReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} rows read, {} stations named ({} brands from the name-suggestion-index), {} unmatched refs \
             (not feed stations), {} invalid refs, {} rows without ref; coverage {} → {}, in {:.2}s",
            self.source,
            self.rows_read,
            self.stations_named,
            self.brands_matched,
            self.refs_unknown,
            self.refs_invalid,
            self.rows_without_ref,
            self.before,
            self.after,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Imports `source`: [`OVERPASS`] (the configured endpoint), an `http(s)://` or `file://`
/// URL, or a path to an Overpass JSON or CSV file.
pub async fn import_source(db: &Db, source: &str, opts: &NamesImportOptions) -> Result<NamesReport, ImportNamesError> {
    let started = Instant::now();
    let (label, bytes) = if source == OVERPASS {
        (opts.overpass.endpoint.clone(), overpass::fetch(&opts.overpass).await?)
    } else {
        (source.to_owned(), overpass::fetch_source(source, &opts.overpass).await?)
    };
    import_bytes_since(db, &label, bytes, opts, started).await
}

/// Imports an answer already in memory.
pub async fn import_bytes(
    db: &Db,
    source: &str,
    bytes: Bytes,
    opts: &NamesImportOptions,
) -> Result<NamesReport, ImportNamesError> {
    import_bytes_since(db, source, bytes, opts, Instant::now()).await
}

async fn import_bytes_since(
    db: &Db,
    source: &str,
    bytes: Bytes,
    opts: &NamesImportOptions,
    started: Instant,
) -> Result<NamesReport, ImportNamesError> {
    let parsed = tokio::task::spawn_blocking(move || parse::parse(&bytes))
        .await
        .map_err(|e| ImportNamesError::Task(e.to_string()))??;
    let meta = ImportMeta {
        source: source.to_owned(),
        trigger: opts.trigger,
        rows_read: parsed.rows,
        refs_invalid: parsed.invalid_refs,
        rows_without_ref: parsed.rows_without_ref,
        max_coverage_drop: MAX_COVERAGE_DROP,
        force: opts.force,
        started,
    };
    let replaced = station_names::replace_all(db, &parsed.names, &meta).await?;
    let report = NamesReport {
        source: source.to_owned(),
        rows_read: parsed.rows,
        stations_named: replaced.stations_named,
        brands_matched: parsed.brands_matched,
        refs_unknown: replaced.refs_unknown,
        refs_invalid: parsed.invalid_refs,
        rows_without_ref: parsed.rows_without_ref,
        duplicate_refs: parsed.duplicate_refs,
        before: replaced.before,
        after: replaced.after,
        elapsed: started.elapsed(),
    };
    tracing::info!(
        source,
        rows = report.rows_read,
        named = report.stations_named,
        unknown = report.refs_unknown,
        coverage = %report.after,
        "names imported"
    );
    Ok(report)
}

/// `carburoam names import`: imports `sources` in order and prints one summary line each (or a
/// JSON line); stops at the first failure, printed on stderr. Returns whether all succeeded.
pub async fn run_cli(db: &Db, sources: &[String], opts: &NamesImportOptions, json: bool) -> bool {
    for source in sources {
        match import_source(db, source, opts).await {
            Ok(report) if json => match serde_json::to_string(&report) {
                Ok(line) => println!("{line}"),
                Err(e) => {
                    eprintln!("error: {source}: {e}");
                    return false;
                }
            },
            Ok(report) => println!("{report}"),
            Err(e) => {
                eprintln!("error: {source}: {e}");
                return false;
            }
        }
    }
    true
}
