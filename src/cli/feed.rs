//! The feed's commands: `import`, `backfill`, `etl run`, and `names import`'s arguments.

use super::*;

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Load a snapshot even when it holds far fewer stations than are loaded, or is identical
    /// to the last file imported.
    #[arg(long)]
    pub force: bool,
    /// Print each summary as a JSON line instead of text.
    #[arg(long)]
    pub json: bool,
    /// Files or http(s) URLs, loaded in this order.
    #[arg(required = true, value_name = "PATH_OR_URL")]
    pub sources: Vec<String>,
    /// Print `peak RSS: …` (the process's `VmHWM`) on stderr at the end: set by `bench`, which
    /// runs an import as a child process to measure its memory.
    #[arg(long, hide = true)]
    pub report_peak_rss: bool,
}

#[derive(Args, Debug)]
pub struct BackfillArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// First year (`2007`) or day (`2024-01-01`) to fetch. Years before the last one come as
    /// yearly archives (a whole year even from a day in its middle), the last year as daily ones.
    #[arg(long, default_value = "2007", value_parser = crate::history::backfill::parse_since)]
    pub since: chrono::NaiveDate,
    /// Last day to fetch (default: yesterday, Paris time).
    #[arg(long, value_parser = crate::history::backfill::parse_since)]
    pub until: Option<chrono::NaiveDate>,
    /// Base URL of the archives (files at BASE/annee/YYYY and BASE/jour/YYYYMMDD).
    #[arg(long, env = "CARBUROAM_ARCHIVE_URL", default_value = crate::history::backfill::DEFAULT_ARCHIVE_URL)]
    pub archive_url: String,
}

#[derive(Subcommand, Debug)]
pub enum NamesCommand {
    /// Replace the stations' names by those of an Overpass answer: `overpass` (ask the
    /// Overpass API), or Overpass JSON / CSV files or URLs, imported in this order.
    Import(NamesImportArgs),
}

#[derive(Args, Debug)]
pub struct NamesImportArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Import even when the names would cover far fewer stations (more than 20 points less).
    #[arg(long)]
    pub force: bool,
    /// Print each summary as a JSON line instead of text.
    #[arg(long)]
    pub json: bool,
    /// Overpass API interpreter URL, for the source `overpass`.
    #[arg(long, env = "CARBUROAM_NAMES_URL", default_value = crate::names::overpass::DEFAULT_ENDPOINT)]
    pub names_url: String,
    /// This server's public address, named in the User-Agent sent to Overpass.
    #[arg(long, env = "CARBUROAM_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// `overpass`, or files or http(s) URLs of Overpass JSON or CSV answers.
    #[arg(required = true, value_name = "FILE_OR_URL|overpass")]
    pub sources: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum SeriesCommand {
    /// Recompute every daily average from the price history (imports keep them up to date;
    /// this is for a database whose history was loaded before them).
    Rebuild(SeriesRebuildArgs),
}

#[derive(Args, Debug)]
pub struct SeriesRebuildArgs {
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Subcommand, Debug)]
pub enum EtlCommand {
    /// One download + import, as the scheduler does it.
    Run(EtlRunArgs),
}

#[derive(Args, Debug)]
pub struct EtlRunArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[arg(long, env = "CARBUROAM_FEED_URL", default_value = config::DEFAULT_FEED_URL)]
    pub feed_url: String,
    /// Download even if the server says not modified, and import even an identical file.
    #[arg(long)]
    pub force: bool,
}

pub(super) async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let db = open_db(&args.db).await?;
    let holder = etl::holder_id();
    let lease = ImportLease::acquire(&db, &holder, Duration::from_secs(120)).await?;
    let fetcher = Fetcher::new(FetchOptions::default())?;
    let mut failed = false;
    let mut after = AfterImport::default();
    for source in &args.sources {
        let progress = Arc::new(Progress::default());
        let opts = ImportOptions {
            force: args.force,
            trigger: Trigger::Cli,
            progress: Some(progress.clone()),
            ..ImportOptions::default()
        };
        let bar = progress_bar(source, progress);
        let result = if source.starts_with("http://") || source.starts_with("https://") {
            match fetcher.fetch(source, &Conditional::default()).await {
                Ok(Fetched::Body { bytes, source: s, .. }) => {
                    crate::feed::import_bytes(&db, &s, bytes, &opts).await.map_err(anyhow::Error::from)
                }
                Ok(Fetched::NotModified) => {
                    Err(anyhow::anyhow!("the server answered 304 Not Modified to an unconditional request"))
                }
                Err(e) => Err(e.into()),
            }
        } else {
            crate::feed::import_file(&db, std::path::Path::new(source), &opts).await.map_err(anyhow::Error::from)
        };
        if let Some((bar, task)) = bar {
            task.abort();
            bar.finish_and_clear();
        }
        match result {
            Ok(report) => {
                after.imported(&report);
                if args.json {
                    println!("{}", serde_json::to_string(&report)?);
                } else {
                    println!("{report}");
                }
            }
            Err(e) => {
                eprintln!("error: {source}: {e}");
                failed = true;
                break;
            }
        }
    }
    if let Err(e) = after.run(&db).await {
        tracing::warn!(error = %e, "the step after the imports failed");
    }
    lease.release().await;
    db.close().await;
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// `carburoam backfill`: one line per file on stdout, failures on stderr, a summary at the end;
/// exits non-zero when any file failed.
pub(super) async fn backfill(args: BackfillArgs) -> anyhow::Result<ExitCode> {
    use crate::history::backfill::{self, BackfillOptions, FileOutcome};
    let until = match args.until {
        Some(d) => d,
        None => {
            let today = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).date_naive();
            today.pred_opt().unwrap_or(today)
        }
    };
    anyhow::ensure!(args.since <= until, "--since {} is after the last day {until}", args.since);
    let files = backfill::plan(&args.archive_url, args.since, until);
    let db = open_db(&args.db).await?;
    let opts =
        BackfillOptions { trigger: Trigger::Cli, progress: std::io::stderr().is_terminal(), ..Default::default() };
    let show_lines = !opts.progress;
    let summary = backfill::run(&db, &files, &opts, |r| {
        if let FileOutcome::Failed(_) = r.outcome {
            eprintln!("error: {r}");
        } else if show_lines {
            println!("{r}");
        }
    })
    .await;
    db.close().await;
    let summary = summary?;
    println!("{summary}");
    Ok(if summary.failed() > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// A progress bar over the bytes of XML read, on a terminal only.
fn progress_bar(
    source: &str,
    progress: Arc<Progress>,
) -> Option<(indicatif::ProgressBar, tokio::task::JoinHandle<()>)> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(source.rsplit('/').next().unwrap_or(source).to_owned());
    let b = bar.clone();
    let task = tokio::spawn(async move {
        loop {
            b.set_length(progress.total.load(std::sync::atomic::Ordering::Relaxed));
            b.set_position(progress.read.load(std::sync::atomic::Ordering::Relaxed));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    Some((bar, task))
}

pub(super) async fn etl_run(args: EtlRunArgs) -> anyhow::Result<ExitCode> {
    let db = open_db(&args.db).await?;
    let job = Job {
        db: db.clone(),
        fetcher: Arc::new(Fetcher::new(FetchOptions::default())?),
        feed_url: args.feed_url.clone(),
        holder: etl::holder_id(),
        import: ImportOptions { force: args.force, trigger: Trigger::Cli, ..ImportOptions::default() },
        // The process exits right after the run, before a background notification could leave.
        notifier: crate::services::notify::Notifier::disabled(),
        alerts: None,
    };
    let outcome = job.run_once(Trigger::Cli).await;
    db.close().await;
    match outcome {
        Ok(RunOutcome::Imported(report)) => println!("{report}"),
        Ok(RunOutcome::NotModified) => println!("{}: not modified since the last run", args.feed_url),
        Ok(RunOutcome::Skipped) => println!("{}: another instance runs the job", args.feed_url),
        Err(e) => {
            eprintln!("error: {}: {e}", args.feed_url);
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}
