//! The command line: `serve`, `import`, `etl run`, `bench`.
//!
//! Exit status 0 only on success; on failure one clear line on stderr naming the file and the
//! cause (the log has the details).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, EtlEvery};
use crate::db::Db;
use crate::etl::{self, ImportLease, Job, RunOutcome};
use crate::feed::download::{Conditional, FetchOptions, Fetched, Fetcher};
use crate::feed::load::{self, ImportOptions, Progress};

#[derive(Parser, Debug)]
#[command(
    name = "carburoam",
    version,
    about = "Find the cheapest fuel near you in France, from the official open-data feed"
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_parser = ["text", "json"], default_value = "text", env = "CARBUROAM_LOG_FORMAT")]
    pub log_format: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// Database URL: sqlite://PATH (created if missing) or postgres://USER@HOST/DB.
    /// Default: a SQLite file in the data folder.
    #[arg(long = "database", env = "DATABASE_URL")]
    pub database: Option<String>,
    /// Folder for the default database and other files.
    #[arg(long, env = "CARBUROAM_DATA_DIR", default_value_os_t = config::default_data_dir())]
    pub data_dir: PathBuf,
}

impl DbArgs {
    pub fn url(&self) -> String {
        self.database.clone().unwrap_or_else(|| config::default_database_url(&self.data_dir))
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web server (and the feed job on its schedule).
    Serve(ServeArgs),
    /// Load feed files (ZIP or XML, instantané, ruptures, daily or yearly archives) in the given order.
    Import(ImportArgs),
    /// The feed job.
    Etl {
        #[command(subcommand)]
        command: EtlCommand,
    },
    /// Measure import speed and memory (see docs/benchmarks.md).
    Bench(crate::bench::BenchArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, env = "CARBUROAM_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Feed URL or local file path.
    #[arg(long, env = "CARBUROAM_FEED_URL", default_value = config::DEFAULT_FEED_URL)]
    pub feed_url: String,
    /// How often to import the feed (`10m`, `1h`…), or `off`.
    #[arg(long, env = "CARBUROAM_ETL_EVERY", default_value = "10m")]
    pub etl_every: EtlEvery,
}

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

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet_default = matches!(cli.command, Command::Import(_) | Command::Bench(_));
    crate::telemetry::init(cli.log_format == "json", if quiet_default { "warn" } else { "info" });
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(run(cli));
    if std::env::var_os("CARBUROAM_REPORT_PEAK_RSS").is_some() {
        eprintln!("peak RSS: {}", crate::bench::peak_rss().unwrap_or_else(|| "unknown".into()));
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            crate::startup::serve(crate::startup::ServeConfig {
                database_url: args.db.url(),
                bind: args.bind,
                feed_url: args.feed_url,
                etl_every: args.etl_every.0,
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(args) => import(args).await,
        Command::Etl { command: EtlCommand::Run(args) } => etl_run(args).await,
        Command::Bench(args) => crate::bench::run(args).await,
    }
}

async fn open_db(args: &DbArgs) -> anyhow::Result<Db> {
    Ok(Db::connect(&args.url()).await?)
}

async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let db = open_db(&args.db).await?;
    let holder = etl::holder_id();
    let lease = ImportLease::acquire(&db, &holder, Duration::from_secs(120)).await?;
    let fetcher = Fetcher::new(FetchOptions::default())?;
    let mut failed = false;
    let mut changed_much = false;
    for source in &args.sources {
        let progress = Arc::new(Progress::default());
        let opts = ImportOptions {
            force: args.force,
            trigger: "cli".into(),
            progress: Some(progress.clone()),
            ..ImportOptions::default()
        };
        let bar = progress_bar(source, progress);
        let result = if source.starts_with("http://") || source.starts_with("https://") {
            match fetcher.fetch(source, &Conditional::default()).await {
                Ok(Fetched::Body { bytes, source: s, .. }) => {
                    load::import_bytes(&db, &s, bytes, &opts).await.map_err(anyhow::Error::from)
                }
                Ok(Fetched::NotModified) => {
                    Err(anyhow::anyhow!("the server answered 304 Not Modified to an unconditional request"))
                }
                Err(e) => Err(e.into()),
            }
        } else {
            load::import_file(&db, std::path::Path::new(source), &opts).await.map_err(anyhow::Error::from)
        };
        if let Some((bar, task)) = bar {
            task.abort();
            bar.finish_and_clear();
        }
        match result {
            Ok(report) => {
                changed_much |= report.changed_much();
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
    if changed_much {
        load::refresh_statistics(&db).await;
    }
    lease.release().await;
    db.close().await;
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
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

async fn etl_run(args: EtlRunArgs) -> anyhow::Result<ExitCode> {
    let db = open_db(&args.db).await?;
    let job = Job {
        db: db.clone(),
        fetcher: Arc::new(Fetcher::new(FetchOptions::default())?),
        feed_url: args.feed_url.clone(),
        holder: etl::holder_id(),
        import: ImportOptions { force: args.force, trigger: "cli".into(), ..ImportOptions::default() },
    };
    let outcome = job.run_once("cli").await;
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
