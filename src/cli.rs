//! The command line: `serve`, `import`, `etl run`, `bench`, `backup`, `restore`.
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
use crate::etl::{self, ImportLease, Job, RunOutcome};
use crate::feed::download::{Conditional, FetchOptions, Fetched, Fetcher};
use crate::feed::load::{self, ImportOptions, Progress};
use crate::web::state::{DEFAULT_SOURCE_URL, DEFAULT_TILE_ATTRIBUTION, DEFAULT_TILE_URL, SiteConfig};

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

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create an administrator account. The password is asked for on a terminal, else read
    /// from the first line of standard input.
    Create(AdminCreateArgs),
    /// Give the admin role to an existing account.
    Grant(AdminUserArgs),
    /// Take the admin role away (never from the last active admin).
    Revoke(AdminUserArgs),
    /// Send a password reset code to the account's email address.
    ResetPassword(AdminResetArgs),
}

#[derive(Args, Debug)]
pub struct AdminCreateArgs {
    #[command(flatten)]
    pub db: DbArgs,
    pub username: String,
    #[arg(long)]
    pub email: String,
    /// Shown name (default: the username).
    #[arg(long)]
    pub display_name: Option<String>,
}

#[derive(Args, Debug)]
pub struct AdminUserArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Username or email address.
    pub user: String,
}

#[derive(Args, Debug)]
pub struct AdminResetArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Username or email address.
    pub user: String,
    /// The server's public address, for the link in the mail.
    #[arg(long, env = "CARBUROAM_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
    #[command(flatten)]
    pub mail: MailArgs,
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The file to write; it must not exist.
    pub path: PathBuf,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// A backup made by `carburoam backup` or the scheduled backups.
    pub path: PathBuf,
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
    /// The address people use to reach this server, for links in mails and the CSRF origin
    /// check (`https://…` also makes cookies `Secure`). Default: `http://` + the bind address.
    #[arg(long, env = "CARBUROAM_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Behind a reverse proxy: take the client address from `X-Forwarded-For` (for rate limits).
    /// (The variable takes true/false, 1/0, yes/no, on/off.)
    #[arg(long, env = "CARBUROAM_BEHIND_PROXY", value_parser = clap::builder::BoolishValueParser::new())]
    pub behind_proxy: bool,
    /// Incoming webhook (Discord, Slack) told about new users and about the feed job failing 3
    /// times in a row. Prefer the environment variable: the URL is a secret.
    #[arg(long, env = "CARBUROAM_WEBHOOK_URL", hide_env_values = true, hide_default_value = true, value_parser = secret)]
    pub webhook_url: Option<SecretString>,
    /// Folder of the scheduled backups of a SQLite database. Default: DATA_DIR/backups.
    #[arg(long, env = "CARBUROAM_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
    /// How often to back up the SQLite database (`1d`, `6h`…), or `off`.
    #[arg(long, env = "CARBUROAM_BACKUP_EVERY", default_value = "1d")]
    pub backup_every: crate::backup::BackupEvery,
    /// How many scheduled backups to keep (the oldest are deleted).
    #[arg(long, env = "CARBUROAM_BACKUP_KEEP", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..))]
    pub backup_keep: u32,
    /// How often to refresh the stations' names and brands from OpenStreetMap (`7d`, `1d`…), or
    /// `off`. One instance per interval runs it.
    #[arg(long, env = "CARBUROAM_NAMES_EVERY", default_value = "7d")]
    pub names_every: crate::config::NamesEvery,
    /// The Overpass API interpreter the names come from.
    #[arg(long, env = "CARBUROAM_NAMES_URL", default_value = crate::names::overpass::DEFAULT_ENDPOINT)]
    pub names_url: String,
    #[command(flatten)]
    pub mail: MailArgs,
    #[command(flatten)]
    pub site: SiteArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    /// At start, load in the background the daily price archives of this many past days that
    /// are not loaded yet (a new install gets a month of history), or 0.
    #[arg(long, env = "CARBUROAM_BACKFILL_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=366))]
    pub backfill_days: u32,
    /// Base URL of the price archives (files at BASE/annee/YYYY and BASE/jour/YYYYMMDD).
    #[arg(long, env = "CARBUROAM_ARCHIVE_URL", default_value = crate::history::backfill::DEFAULT_ARCHIVE_URL)]
    pub archive_url: String,
}

impl ServeArgs {
    /// The typed settings of the server.
    pub fn config(self) -> crate::startup::ServeConfig {
        crate::startup::ServeConfig {
            database_url: self.db.url(),
            bind: self.bind,
            public_url: self.public_url.filter(|u| !u.trim().is_empty()),
            behind_proxy: self.behind_proxy,
            mail: self.mail.settings(&self.db.data_dir),
            feed_url: self.feed_url,
            etl_every: self.etl_every.0,
            webhook_url: non_empty(self.webhook_url),
            backups: crate::backup::BackupSchedule {
                dir: self.backup_dir.unwrap_or_else(|| self.db.data_dir.join("backups")),
                every: self.backup_every.0,
                keep: self.backup_keep as usize,
            },
            site: SiteConfig::new(&self.site.tile_url, &self.site.tile_attribution, &self.site.source_url),
            metrics_token: non_empty(self.metrics.metrics_token),
            metrics_bind: self.metrics.metrics_bind.filter(|b| !b.trim().is_empty()),
            backfill_days: self.backfill_days,
            archive_url: self.archive_url,
            names_every: self.names_every.0,
            names_url: self.names_url,
            // `--alert-allow-hosts` comes with the alerts (issue 13): until then, public https only.
            alert_allow_hosts: crate::alerts::target::AllowList::default(),
        }
    }
}

/// The public site.
#[derive(Args, Debug, Clone)]
pub struct SiteArgs {
    /// Map tiles: a Leaflet URL template (`{z}/{x}/{y}`, optional `{s}`); its origin is allowed
    /// in the pages' Content-Security-Policy.
    #[arg(long, env = "CARBUROAM_TILE_URL", default_value = DEFAULT_TILE_URL)]
    pub tile_url: String,
    /// HTML shown in the map's corner: the tile provider's attribution.
    #[arg(long, env = "CARBUROAM_TILE_ATTRIBUTION", default_value = DEFAULT_TILE_ATTRIBUTION)]
    pub tile_attribution: String,
    /// Where the source code is offered (the AGPL asks the server to offer it). Empty: the
    /// about page tells visitors to ask the operator.
    #[arg(long, env = "CARBUROAM_SOURCE_URL", default_value = DEFAULT_SOURCE_URL)]
    pub source_url: String,
}

/// Prometheus metrics. Without either setting `/metrics` answers 404.
#[derive(Args, Debug, Clone)]
pub struct MetricsArgs {
    /// Serve /metrics on the main address to scrapes sending `Authorization: Bearer TOKEN`.
    /// Prefer the environment variable: the token is a secret.
    #[arg(long, env = "CARBUROAM_METRICS_TOKEN", hide_env_values = true, hide_default_value = true, value_parser = secret)]
    pub metrics_token: Option<SecretString>,
    /// A second address serving /metrics alone, without a token (for a Prometheus on this host
    /// or a private network), e.g. 127.0.0.1:9100.
    #[arg(long, env = "CARBUROAM_METRICS_BIND")]
    pub metrics_bind: Option<String>,
}

/// A secret setting: kept out of `Debug` output and logs.
fn secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.trim()))
}

/// An empty secret (`CARBUROAM_METRICS_TOKEN=`) is no secret.
fn non_empty(s: Option<SecretString>) -> Option<SecretString> {
    s.filter(|s| !s.expose_secret().is_empty())
}

/// Outgoing mail. Without `--smtp-host`, messages are written as `.eml` files to
/// `DATA_DIR/outbox` and their subject logged.
#[derive(Args, Debug, Clone)]
pub struct MailArgs {
    /// SMTP relay for outgoing mail. Without it, mails are written to DATA_DIR/outbox.
    #[arg(long, env = "CARBUROAM_SMTP_HOST")]
    pub smtp_host: Option<String>,
    /// Default: 465 with `tls`, 587 with `starttls`, 25 with `none`.
    #[arg(long, env = "CARBUROAM_SMTP_PORT")]
    pub smtp_port: Option<u16>,
    /// `starttls`, `tls` (implicit TLS) or `none` (plain text: only to a relay on this host).
    #[arg(long, env = "CARBUROAM_SMTP_TLS", default_value = "starttls")]
    pub smtp_tls: crate::email::SmtpTls,
    /// SMTP user name.
    #[arg(long, env = "CARBUROAM_SMTP_USER")]
    pub smtp_user: Option<String>,
    /// SMTP password. Prefer the environment variable or the configuration file (readable by
    /// the service user only): on the command line it shows in `ps`.
    #[arg(long, env = "CARBUROAM_SMTP_PASSWORD", hide_env_values = true, hide_default_value = true, value_parser = secret)]
    pub smtp_password: Option<SecretString>,
    /// The sender of the mails.
    #[arg(long, env = "CARBUROAM_SMTP_FROM", default_value = config::DEFAULT_MAIL_FROM)]
    pub smtp_from: String,
}

impl MailArgs {
    pub fn settings(&self, data_dir: &std::path::Path) -> crate::email::MailSettings {
        use crate::email::{SmtpSettings, SmtpTls};
        let smtp = self.smtp_host.as_ref().filter(|h| !h.trim().is_empty()).map(|host| SmtpSettings {
            host: host.trim().to_owned(),
            port: self.smtp_port.unwrap_or(match self.smtp_tls {
                SmtpTls::Tls => 465,
                SmtpTls::StartTls => 587,
                SmtpTls::None => 25,
            }),
            tls: self.smtp_tls,
            username: self.smtp_user.clone().filter(|u| !u.is_empty()),
            password: non_empty(self.smtp_password.clone()),
        });
        crate::email::MailSettings { smtp, from: self.smtp_from.clone(), outbox_dir: data_dir.join("outbox") }
    }
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
            | Command::Names { .. }
            | Command::Bench(_)
            | Command::Backup(_)
            | Command::Restore(_)
    );
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
            let opts = crate::names::NamesImportOptions { force: args.force, trigger: "cli".into(), overpass };
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
        Command::Bench(args) => crate::bench::run(args).await,
        Command::Backup(args) => backup(args).await,
        Command::Restore(args) => restore(args).await,
    }
}

/// `carburoam backup PATH`: one summary line on stdout. Opens the database without migrating
/// it: a binary newer than the running server must not change the schema under it.
async fn backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    use crate::backup::{self, BackupError};
    let url = args.db.url();
    let Some(file) = backup::sqlite_file(&url)? else {
        let command = backup::pg_dump_command_for_url(&url, &args.path);
        eprintln!("error: {}", BackupError::Postgres { command });
        return Ok(ExitCode::FAILURE);
    };
    if !file.is_file() {
        anyhow::bail!(BackupError::NoDatabase(file));
    }
    let started = std::time::Instant::now();
    let db = Db::connect_without_migrating(&url).await?;
    let written = backup::write_backup(&db, &args.path).await;
    db.close().await;
    let f = written?;
    println!(
        "backed up {} to {}: {} in {:.2} s (integrity ok, schema version {})",
        file.display(),
        f.path.display(),
        backup::human_size(f.size),
        started.elapsed().as_secs_f64(),
        crate::db::latest_migration(crate::db::Backend::Sqlite),
    );
    Ok(ExitCode::SUCCESS)
}

/// `carburoam restore PATH`: what it did, on stdout.
async fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let report = crate::backup::restore(&args.path, &args.db.url()).await?;
    println!("{report}");
    Ok(ExitCode::SUCCESS)
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

/// `carburoam backfill`: one line per file on stdout, failures on stderr, a summary at the end;
/// exits non-zero when any file failed.
async fn backfill(args: BackfillArgs) -> anyhow::Result<ExitCode> {
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
        BackfillOptions { trigger: "cli".into(), progress: std::io::stderr().is_terminal(), ..Default::default() };
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

async fn etl_run(args: EtlRunArgs) -> anyhow::Result<ExitCode> {
    let db = open_db(&args.db).await?;
    let job = Job {
        db: db.clone(),
        fetcher: Arc::new(Fetcher::new(FetchOptions::default())?),
        feed_url: args.feed_url.clone(),
        holder: etl::holder_id(),
        import: ImportOptions { force: args.force, trigger: "cli".into(), ..ImportOptions::default() },
        // The process exits right after the run, before a background notification could leave.
        notifier: crate::notify::Notifier::disabled(),
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

/// `carburoam admin …`: typed account actions for the operator, written to the audit log as
/// done by `cli (USER)`.
async fn admin(command: AdminCommand) -> anyhow::Result<ExitCode> {
    use crate::admin::{Action, Actor, act_on_user};
    let now = crate::db::now();
    let (db_args, mail, public_url) = match &command {
        AdminCommand::Create(a) => (&a.db, None, None),
        AdminCommand::Grant(a) | AdminCommand::Revoke(a) => (&a.db, None, None),
        AdminCommand::ResetPassword(a) => (&a.db, Some(a.mail.settings(&a.db.data_dir)), Some(a.public_url.clone())),
    };
    let db = open_db(db_args).await?;
    let mail = mail.unwrap_or_else(|| crate::email::MailSettings {
        smtp: None,
        from: config::DEFAULT_MAIL_FROM.to_owned(),
        outbox_dir: db_args.data_dir.join("outbox"),
    });
    let accounts = &crate::accounts::Accounts::new(
        db.clone(),
        crate::accounts::AccountSettings::new(public_url.as_deref().unwrap_or("http://127.0.0.1:8080"), false),
        crate::email::Mailer::new(mail)?,
    );
    let actor = Actor::cli();
    let find = |who: &str| {
        let key = who.trim().to_lowercase();
        let db = db.clone();
        async move {
            crate::db::users::by_login(&db, &key).await?.ok_or_else(|| anyhow::anyhow!("no account named {key:?}"))
        }
    };
    let result: anyhow::Result<String> = async {
        match &command {
            AdminCommand::Create(a) => {
                let password = read_password()?;
                let reg = crate::accounts::Registration {
                    username: &a.username,
                    display_name: a.display_name.as_deref().unwrap_or(&a.username),
                    email: &a.email,
                    password: &password,
                    confirm: &password,
                    lang: crate::web::i18n::Lang::Fr,
                    fuels: vec![crate::domain::Fuel::E10, crate::domain::Fuel::Gazole],
                };
                let id = match accounts.create(&reg, now).await {
                    Ok(id) => id,
                    Err(crate::accounts::AccountError::Invalid(errors)) => {
                        let why: Vec<String> = errors
                            .iter()
                            .map(|(f, p)| crate::web::i18n_account::problem_text(crate::web::i18n::Lang::En, *f, p))
                            .collect();
                        anyhow::bail!("{}", why.join(" "));
                    }
                    Err(e) => return Err(e.into()),
                };
                crate::db::admin::set_admin(&db, id, true).await?;
                let user = crate::db::users::by_id(&db, id).await?;
                crate::admin::record(accounts, &actor, Action::Create, user.as_ref(), Some("admin"), now).await?;
                Ok(format!("created admin {} (id {id})", a.username))
            }
            AdminCommand::Grant(a) => {
                let u = find(&a.user).await?;
                act_on_user(accounts, &actor, Action::Grant, u.id, now).await?;
                Ok(format!("{} is now an admin", u.username))
            }
            AdminCommand::Revoke(a) => {
                let u = find(&a.user).await?;
                act_on_user(accounts, &actor, Action::Revoke, u.id, now).await?;
                Ok(format!("{} is no longer an admin", u.username))
            }
            AdminCommand::ResetPassword(a) => {
                let u = find(&a.user).await?;
                act_on_user(accounts, &actor, Action::SendReset, u.id, now).await?;
                // The mail goes out in a background task: give it the time to leave.
                accounts.finish_sending().await;
                Ok(format!("reset code sent to {}'s address ({})", u.username, accounts.mailer.describe()))
            }
        }
    }
    .await;
    db.close().await;
    match result {
        Ok(line) => {
            println!("{line}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The new admin's password: asked twice without echo on a terminal, else the first line of
/// standard input (for scripts: `echo "$PW" | carburoam admin create …`).
fn read_password() -> anyhow::Result<String> {
    use std::io::BufRead;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Password again: ")?;
        anyhow::ensure!(first == second, "the two passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\n', '\r']).to_owned())
    }
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
