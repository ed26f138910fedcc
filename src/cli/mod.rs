//! The command line: `serve`, `import`, `backfill`, `etl run`, `bench`, `backup`, `restore`,
//! `config`, `names`, `admin`; each family's arguments and handler in a file of its own.
//!
//! Exit status 0 only on success; on failure one clear line on stderr naming the file and the
//! cause (the log has the details).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{self, EtlEvery};
use crate::db::Db;
use crate::domain::Trigger;
use crate::etl::{self, AfterImport, ImportLease, Job, RunOutcome};
use crate::feed::download::{Conditional, FetchOptions, Fetched, Fetcher};
use crate::feed::{ImportOptions, Progress};
use crate::web::state::{DEFAULT_SOURCE_URL, DEFAULT_TILE_ATTRIBUTION, DEFAULT_TILE_URL, SiteConfig};

mod admin;
mod backup;
mod feed;
mod serve;

use admin::admin;
pub use admin::{AdminCommand, AdminCreateArgs, AdminResetArgs, AdminUserArgs};
pub use backup::{BackupArgs, RestoreArgs};
use backup::{backup, restore};
pub use feed::{
    BackfillArgs, EtlCommand, EtlRunArgs, ImportArgs, NamesCommand, NamesImportArgs, SeriesCommand, SeriesRebuildArgs,
};
use feed::{backfill, etl_run, import};
pub use serve::{MailArgs, MetricsArgs, ServeArgs, SiteArgs};

/// How log lines are written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Parser, Debug)]
#[command(
    name = "carburoam",
    version,
    about = "Find the cheapest fuel near you in France, from the official open-data feed"
)]
pub struct Cli {
    /// Configuration file (TOML; see `carburoam config --print-default`).
    #[arg(long, global = true, env = "CARBUROAM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "CARBUROAM_LOG_FORMAT")]
    pub log_format: LogFormat,
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

// Parsed once at start-up: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web server (and the feed job on its schedule).
    Serve(ServeArgs),
    /// Load feed files (ZIP or XML, instantané, ruptures, daily or yearly archives) in the given order.
    Import(ImportArgs),
    /// Fill the price history from the official archives: yearly files, then daily ones.
    Backfill(BackfillArgs),
    /// The stored daily averages (per fuel, département and nationally).
    Series {
        #[command(subcommand)]
        command: SeriesCommand,
    },
    /// The feed job.
    Etl {
        #[command(subcommand)]
        command: EtlCommand,
    },
    /// Measure import speed and memory (see docs/benchmarks.md).
    Bench(crate::bench::BenchArgs),
    /// Write a consistent, verified copy of the SQLite database (safe while the server runs).
    Backup(BackupArgs),
    /// Replace the SQLite database by a backup (the server must be stopped).
    Restore(RestoreArgs),
    /// Print the configuration file with every setting and its default (`--print-default`).
    Config(ConfigArgs),
    /// Station names and brands from OpenStreetMap.
    Names {
        #[command(subcommand)]
        command: NamesCommand,
    },
    /// Administrators: create one, grant or revoke the role, send a password reset.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Print every setting of `serve` with its default, environment variable and help, as TOML.
    #[arg(long, required = true)]
    pub print_default: bool,
}

pub fn main() -> ExitCode {
    let cli = match parse_args() {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let quiet_default = matches!(
        cli.command,
        Command::Import(_)
            | Command::Backfill(_)
            | Command::Series { .. }
            | Command::Names { .. }
            | Command::Bench(_)
            | Command::Backup(_)
            | Command::Restore(_)
    );
    crate::telemetry::init(cli.log_format == LogFormat::Json, if quiet_default { "warn" } else { "info" });
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report_peak_rss = matches!(&cli.command, Command::Import(args) if args.report_peak_rss);
    let result = rt.block_on(run(cli));
    if report_peak_rss {
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
            crate::startup::serve(args.config()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(args) => import(args).await,
        Command::Backfill(args) => backfill(args).await,
        Command::Admin { command } => admin(command).await,
        Command::Names { command: NamesCommand::Import(args) } => {
            let db = open_db(&args.db).await?;
            let overpass = crate::names::overpass::OverpassOptions {
                endpoint: args.names_url,
                public_url: args.public_url,
                ..Default::default()
            };
            let opts = crate::names::NamesImportOptions { force: args.force, trigger: Trigger::Cli, overpass };
            let ok = crate::names::import::run_cli(&db, &args.sources, &opts, args.json).await;
            db.close().await;
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Config(_) => {
            use clap::CommandFactory;
            print!("{}", config::print_default(&Cli::command()));
            Ok(ExitCode::SUCCESS)
        }
        Command::Etl { command: EtlCommand::Run(args) } => etl_run(args).await,
        Command::Series { command: SeriesCommand::Rebuild(args) } => {
            let db = open_db(&args.db).await?;
            let done = crate::history::series::rebuild_cli(&db).await;
            db.close().await;
            done
        }
        Command::Bench(args) => crate::bench::run(args).await,
        Command::Backup(args) => backup(args).await,
        Command::Restore(args) => restore(args).await,
    }
}

async fn open_db(args: &DbArgs) -> anyhow::Result<Db> {
    Ok(Db::connect(&args.url()).await?)
}

/// The command line, over the configuration file's values (see [`config::apply_file`]).
fn parse_args() -> anyhow::Result<Cli> {
    use clap::{CommandFactory, FromArgMatches};
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut cmd = Cli::command();
    if let Some(path) = config::config_path(&args) {
        cmd = config::apply_file(cmd, &path)?;
    }
    let matches = cmd.get_matches_from(args);
    Ok(Cli::from_arg_matches(&matches)?)
}
