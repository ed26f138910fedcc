//! `carburoam backfill`: the official archives, imported into the history.
//!
//! The yearly archive of each full past year (`BASE/annee/YYYY`), then the daily archives of the
//! last year up to the last day (`BASE/jour/YYYYMMDD`). Each file goes through the ordinary
//! importer ([`crate::feed::import_bytes`]: one transaction per file, so a file cut by a
//! kill is rolled back as a whole) under the import lease, taken per file so that a running
//! server's feed job interleaves. A file whose source and SHA-256 were already loaded is skipped,
//! so a second run resumes where the first stopped. A missing file (404) is reported and
//! skipped; a failed one (cut, HTML, garbage) is reported with its name and the run goes on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate};
use sha2::{Digest, Sha256};

use crate::db::Db;
use crate::db::etl_runs;
use crate::domain::Trigger;
use crate::etl::{self, ImportLease};
use crate::feed::download::{Conditional, DownloadError, FetchOptions, Fetched, Fetcher};
use crate::feed::{self, ImportOptions, ImportReport, Progress};

/// Where the official archives live.
pub const DEFAULT_ARCHIVE_URL: &str = "https://donnees.roulez-eco.fr/opendata";

/// The first year of the open data.
pub const FIRST_YEAR: i32 = 2007;

/// One archive file to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFile {
    /// `annee/2024` or `jour/20261127`: the path under the base URL, shown in reports.
    pub name: String,
    pub url: String,
}

/// `--since`: a year (`2007`) or a day (`2024-03-01`).
pub fn parse_since(s: &str) -> Result<NaiveDate, String> {
    let s = s.trim();
    let date = if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) {
        let year: i32 = s.parse().map_err(|_| format!("{s:?} is not a year"))?;
        NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(|| format!("{s:?} is not a year"))?
    } else {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("{s:?} is neither a year nor YYYY-MM-DD"))?
    };
    if date.year() < FIRST_YEAR {
        return Err(format!("the archives begin in {FIRST_YEAR}"));
    }
    Ok(date)
}

/// The files covering `since..=until`: the yearly archive of each year before `until`'s (a
/// `since` in the middle of a year takes that whole year: archives come by the year), then the
/// daily archives of `until`'s year from the later of `since` and its 1 January.
pub fn plan(base: &str, since: NaiveDate, until: NaiveDate) -> Vec<ArchiveFile> {
    let base = base.trim_end_matches('/');
    let mut files = Vec::new();
    if since > until {
        return files;
    }
    for year in since.year()..until.year() {
        files.push(ArchiveFile { name: format!("annee/{year}"), url: format!("{base}/annee/{year}") });
    }
    let first_day = NaiveDate::from_ymd_opt(until.year(), 1, 1).map_or(since, |jan1| since.max(jan1));
    let mut day = first_day;
    while day <= until {
        let name = format!("jour/{}", day.format("%Y%m%d"));
        files.push(ArchiveFile { url: format!("{base}/{name}"), name });
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    files
}

/// The daily archives of the `days` days before `today` (the last one is yesterday's).
pub fn plan_last_days(base: &str, today: NaiveDate, days: u32) -> Vec<ArchiveFile> {
    let base = base.trim_end_matches('/');
    (1..=i64::from(days))
        .rev()
        .filter_map(|back| today.checked_sub_signed(chrono::Duration::days(back)))
        .map(|day| {
            let name = format!("jour/{}", day.format("%Y%m%d"));
            ArchiveFile { url: format!("{base}/{name}"), name }
        })
        .collect()
}

/// The lease that lets one instance run the start-up backfill.
pub const STARTUP_LEASE: &str = "history-backfill";

/// `serve`'s start-up backfill: the daily archives of the last `days` days (up to yesterday,
/// Paris time) that no run has loaded yet, in the background. At first start that is all of
/// them, so a new install has a month of history on day one; after a stop of a few days, the
/// days missed. Under [`STARTUP_LEASE`]: when another instance holds it, this one does nothing.
/// Stops between files when `shutdown` is cancelled (a file being imported is finished or
/// rolled back as a whole).
pub async fn at_start(
    db: Db,
    base: String,
    days: u32,
    opts: BackfillOptions,
    shutdown: tokio_util::sync::CancellationToken,
) -> Option<Summary> {
    if days == 0 {
        return None;
    }
    let holder = etl::holder_id();
    // Long enough for a month of daily files on a slow line; released at the end.
    let ttl = 3 * 3600;
    match crate::db::leases::try_acquire(&db, STARTUP_LEASE, &holder, crate::db::now(), ttl).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!("history backfill: another instance runs it");
            return None;
        }
        Err(e) => {
            tracing::warn!(error = %e, "history backfill: cannot take its lease; not run");
            return None;
        }
    }
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).date_naive();
    let mut files = Vec::new();
    for file in plan_last_days(&base, today, days) {
        match etl_runs::source_loaded(&db, &file.url).await {
            Ok(true) => {}
            Ok(false) => files.push(file),
            Err(e) => tracing::warn!(error = %e, file = %file.name, "history backfill: cannot check a file"),
        }
    }
    let summary = if files.is_empty() {
        None
    } else {
        tracing::info!(files = files.len(), days, base = %base, "history backfill of the last days started");
        let run = run(&db, &files, &opts, |r| match &r.outcome {
            FileOutcome::Failed(_) => tracing::warn!(result = %r, "history backfill"),
            _ => tracing::info!(result = %r, "history backfill"),
        });
        tokio::select! {
            s = run => match s {
                Ok(s) => {
                    tracing::info!(summary = %s, "history backfill done");
                    Some(s)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "history backfill not run");
                    None
                }
            },
            () = shutdown.cancelled() => None,
        }
    };
    if let Err(e) = crate::db::leases::release(&db, STARTUP_LEASE, &holder).await {
        tracing::warn!(error = %e, "history backfill: cannot release its lease (it expires by itself)");
    }
    summary
}

/// What became of one file.
#[derive(Debug)]
pub enum FileOutcome {
    Imported(Box<ImportReport>),
    /// The same bytes from the same source were loaded before.
    AlreadyImported,
    /// The server has no such file (404).
    Missing,
    Failed(String),
}

#[derive(Debug)]
pub struct FileResult {
    pub file: ArchiveFile,
    pub outcome: FileOutcome,
    pub bytes: u64,
    /// `<prix>` rows read (loaded, unchanged or rejected).
    pub rows: u64,
    pub elapsed: Duration,
}

/// The whole run.
#[derive(Debug, Default)]
pub struct Summary {
    pub files: Vec<FileResult>,
    pub elapsed: Duration,
}

impl Summary {
    fn count(&self, f: impl Fn(&FileOutcome) -> bool) -> usize {
        self.files.iter().filter(|r| f(&r.outcome)).count()
    }
    pub fn imported(&self) -> usize {
        self.count(|o| matches!(o, FileOutcome::Imported(_)))
    }
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, FileOutcome::AlreadyImported))
    }
    pub fn missing(&self) -> usize {
        self.count(|o| matches!(o, FileOutcome::Missing))
    }
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, FileOutcome::Failed(_)))
    }
    pub fn history_added(&self) -> i64 {
        self.files
            .iter()
            .filter_map(|r| match &r.outcome {
                FileOutcome::Imported(rep) => Some(i64::from(rep.counts.history_added)),
                _ => None,
            })
            .sum()
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bytes: u64 = self.files.iter().map(|r| r.bytes).sum();
        let rows: u64 = self.files.iter().map(|r| r.rows).sum();
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        write!(
            f,
            "backfill: {} files: {} imported, {} already imported, {} missing, {} failed; history +{}; \
             {:.1} MB, {} rows in {:.1} s ({:.0} rows/s)",
            self.files.len(),
            self.imported(),
            self.skipped(),
            self.missing(),
            self.failed(),
            self.history_added(),
            bytes as f64 / 1e6,
            rows,
            secs,
            rows as f64 / secs
        )
    }
}

impl std::fmt::Display for FileResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        match &self.outcome {
            FileOutcome::Imported(r) => write!(
                f,
                "{}: imported, {} rows, history +{}, {} stations ({} new), rejected {}; {:.1} MB in {:.2} s ({:.0} rows/s)",
                self.file.name,
                self.rows,
                r.counts.history_added,
                r.stations_in_file,
                r.counts.stations_new,
                r.counts.rejected,
                self.bytes as f64 / 1e6,
                secs,
                self.rows as f64 / secs
            ),
            FileOutcome::AlreadyImported => write!(f, "{}: already imported, skipped", self.file.name),
            FileOutcome::Missing => write!(f, "{}: not on the server (404), skipped", self.file.name),
            FileOutcome::Failed(why) => write!(f, "{}: FAILED: {why}", self.file.name),
        }
    }
}

#[derive(Clone)]
pub struct BackfillOptions {
    pub fetch: FetchOptions,
    /// Who asked, stored with each run.
    pub trigger: Trigger,
    /// How long to wait for the import lease before each file (another import may be running).
    pub lease_wait: Duration,
    /// indicatif bars on stderr (a terminal).
    pub progress: bool,
}

impl Default for BackfillOptions {
    fn default() -> Self {
        BackfillOptions {
            // A yearly archive is up to ~35 MB: give it the time of a slow line.
            fetch: FetchOptions { timeout: Duration::from_secs(600), ..FetchOptions::default() },
            trigger: Trigger::Backfill,
            lease_wait: Duration::from_secs(600),
            progress: false,
        }
    }
}

/// Imports `files` in order; `on_file` hears about each as it ends. Never stops at a failed file.
pub async fn run(
    db: &Db,
    files: &[ArchiveFile],
    opts: &BackfillOptions,
    mut on_file: impl FnMut(&FileResult),
) -> Result<Summary, DownloadError> {
    let started = Instant::now();
    let fetcher = Fetcher::new(opts.fetch.clone())?;
    let holder = etl::holder_id();
    let bars = Bars::new(opts.progress, files.len() as u64);
    let mut summary = Summary::default();
    for file in files {
        let result = one_file(db, &fetcher, &holder, file, opts, &bars).await;
        bars.file_done(&result);
        on_file(&result);
        summary.files.push(result);
    }
    bars.finish();
    if summary.imported() > 0
        && let Err(e) = etl::AfterImport::default().refresh_statistics().run(db).await
    {
        tracing::warn!(error = %e, "the step after the imports failed");
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

async fn one_file(
    db: &Db,
    fetcher: &Fetcher,
    holder: &str,
    file: &ArchiveFile,
    opts: &BackfillOptions,
    bars: &Bars,
) -> FileResult {
    let started = Instant::now();
    let mut result =
        FileResult { file: file.clone(), outcome: FileOutcome::Missing, bytes: 0, rows: 0, elapsed: Duration::ZERO };
    bars.start_file(&file.name);
    let bytes = match fetcher.fetch(&file.url, &Conditional::none()).await {
        Ok(Fetched::Body { bytes, .. }) => bytes,
        Ok(Fetched::NotModified) => {
            result.outcome = FileOutcome::Failed("the server answered 304 to an unconditional request".into());
            result.elapsed = started.elapsed();
            return result;
        }
        Err(DownloadError::Http { status: 404, .. }) => {
            result.elapsed = started.elapsed();
            return result;
        }
        Err(e) => {
            result.outcome = FileOutcome::Failed(e.to_string());
            result.elapsed = started.elapsed();
            return result;
        }
    };
    result.bytes = bytes.len() as u64;
    let sha = hex::encode(Sha256::digest(&bytes));
    result.outcome = match import_once(db, holder, file, bytes, &sha, opts, bars).await {
        Ok(Some(report)) => {
            let c = &report.counts;
            let rows = i64::from(c.prices_changed)
                + i64::from(c.prices_redated)
                + i64::from(c.prices_unchanged)
                + i64::from(c.rejected)
                + report.history_backfilled as i64;
            result.rows = u64::try_from(rows).unwrap_or(0);
            FileOutcome::Imported(Box::new(report))
        }
        Ok(None) => FileOutcome::AlreadyImported,
        Err(e) => FileOutcome::Failed(format!("{e:#}")),
    };
    result.elapsed = started.elapsed();
    result
}

/// Imports the bytes under the import lease, unless that source with those bytes was loaded
/// before (`None`).
async fn import_once(
    db: &Db,
    holder: &str,
    file: &ArchiveFile,
    bytes: bytes::Bytes,
    sha: &str,
    opts: &BackfillOptions,
    bars: &Bars,
) -> anyhow::Result<Option<ImportReport>> {
    if etl_runs::loaded_before(db, &file.url, sha).await? {
        return Ok(None);
    }
    let lease = ImportLease::acquire(db, holder, opts.lease_wait).await?;
    // Checked again under the lease: another instance may have loaded it meanwhile.
    let outcome = async {
        if etl_runs::loaded_before(db, &file.url, sha).await? {
            return Ok(None);
        }
        let progress = Arc::new(Progress::default());
        let import = ImportOptions {
            // An archive is not a snapshot: the "identical to the last file" and "too few
            // stations" guards are for the feed job. Identical archives are skipped above.
            force: true,
            trigger: opts.trigger,
            progress: Some(progress.clone()),
            ..ImportOptions::default()
        };
        let ticker = bars.follow(progress);
        let report = feed::import_bytes(db, &file.url, bytes, &import).await;
        if let Some(t) = ticker {
            t.abort();
        }
        Ok::<_, anyhow::Error>(Some(report?))
    }
    .await;
    lease.release().await;
    outcome
}

/// The progress bars: one over the files, one over the bytes of the current file.
struct Bars {
    multi: Option<(indicatif::MultiProgress, indicatif::ProgressBar, indicatif::ProgressBar)>,
}

impl Bars {
    fn new(show: bool, files: u64) -> Bars {
        if !show {
            return Bars { multi: None };
        }
        let multi = indicatif::MultiProgress::new();
        let overall = multi.add(indicatif::ProgressBar::new(files));
        overall.set_style(
            indicatif::ProgressStyle::with_template("files [{bar:30}] {pos}/{len} {elapsed_precise} (eta {eta}) {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let file = multi.add(indicatif::ProgressBar::new(0));
        file.set_style(
            indicatif::ProgressStyle::with_template("{msg:16} {bytes} of XML read, {bytes_per_sec}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Bars { multi: Some((multi, overall, file)) }
    }

    fn start_file(&self, name: &str) {
        if let Some((_, _, file)) = &self.multi {
            file.reset();
            file.set_message(name.to_owned());
        }
    }

    fn follow(&self, progress: Arc<Progress>) -> Option<tokio::task::JoinHandle<()>> {
        let (_, _, bar) = self.multi.as_ref()?;
        let bar = bar.clone();
        Some(tokio::spawn(async move {
            loop {
                bar.set_position(progress.read.load(std::sync::atomic::Ordering::Relaxed));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }))
    }

    fn file_done(&self, result: &FileResult) {
        if let Some((multi, overall, _)) = &self.multi {
            // Failures are told on stderr by the caller.
            if !matches!(result.outcome, FileOutcome::Failed(_)) {
                let _ = multi.println(result.to_string());
            }
            overall.inc(1);
            if result.rows > 0 {
                overall
                    .set_message(format!("last file {:.0} rows/s", result.rows as f64 / result.elapsed.as_secs_f64()));
            }
        }
    }

    fn finish(&self) {
        if let Some((multi, overall, file)) = &self.multi {
            file.finish_and_clear();
            overall.finish_and_clear();
            let _ = multi.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn since_is_a_year_or_a_day() {
        assert_eq!(parse_since("2007").unwrap(), d("2007-01-01"));
        assert_eq!(parse_since("2024-03-05").unwrap(), d("2024-03-05"));
        assert!(parse_since("2006").is_err());
        assert!(parse_since("24").is_err());
        assert!(parse_since("2024-13-01").is_err());
    }

    #[test]
    fn plan_takes_years_then_days() {
        let names: Vec<String> =
            plan("http://x/base/", d("2024-06-01"), d("2026-01-03")).into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["annee/2024", "annee/2025", "jour/20260101", "jour/20260102", "jour/20260103"]);
        let f = &plan("http://x/base/", d("2026-01-02"), d("2026-01-02"))[0];
        assert_eq!(f.url, "http://x/base/jour/20260102");
        assert!(plan("http://x", d("2026-02-01"), d("2026-01-01")).is_empty());
        let last: Vec<String> = plan_last_days("http://x", d("2026-03-02"), 3).into_iter().map(|f| f.name).collect();
        assert_eq!(last, ["jour/20260227", "jour/20260228", "jour/20260301"]);
    }
}
