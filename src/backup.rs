//! Backups of the SQLite database: `carburoam backup`, `carburoam restore`, the scheduled task in
//! the server, and what the admin console lists and offers for download.
//!
//! A backup is made with `VACUUM INTO`, which copies one consistent snapshot (a single read
//! transaction) while the server goes on serving and importing: in WAL mode a reader never blocks
//! the writer. The copy is written under a temporary name, synced, checked (`PRAGMA
//! integrity_check` and the schema version) and only then linked to its final name, so a file
//! carrying a backup's name is always a complete, verified database.
//!
//! PostgreSQL has its own tools (`pg_dump`, continuous archiving); Carburoam does not pretend to
//! back it up and says which command to run instead.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteLockingMode};
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::db::{self, Backend, Db, leases};

/// Taken by the instance that runs the scheduled backup of an interval, and kept for 90% of it,
/// so that several servers on one database write one backup per interval between them.
pub const BACKUP_LEASE: &str = "backup";

/// How long after start the first scheduled backup waits when none is due earlier: the first
/// import runs at start and should not compete with a full copy, and short-lived servers (tests,
/// a deploy that fails its health check) should not write backups at all.
const SETTLE: Duration = Duration::from_secs(60);

/// How long `restore` waits for the lock on the target database before concluding that another
/// process (a server, an import) has it open.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Scheduled backups are named `carburoam-YYYYMMDDTHHMMSSZ.db` (UTC), so that names sort by age
/// and retention never touches a file it did not write.
const NAME_PREFIX: &str = "carburoam-";
const NAME_SUFFIX: &str = ".db";
const NAME_TIME: &str = "%Y%m%dT%H%M%SZ";

/// Serialises the backups of this process: the scheduled task and the admin console may ask at
/// the same moment, and each must get a name (and a temporary file) of its own.
static BACKUP_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A verified backup file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackupFile {
    /// The file name, e.g. `carburoam-20250101T030000Z.db`.
    pub name: String,
    pub path: PathBuf,
    /// Bytes.
    pub size: u64,
    /// When the snapshot was taken, Unix seconds (from the name for scheduled backups).
    pub created: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "Carburoam backs up SQLite databases only: back up PostgreSQL with its own tools, e.g.\n  {command}\n\
         (the password is left out: pg_dump asks for it, or reads PGPASSWORD or ~/.pgpass; \
         restore with pg_restore --clean)"
    )]
    Postgres { command: String },
    #[error("there is no SQLite database at {0}")]
    NoDatabase(PathBuf),
    #[error("{0} already exists: choose another name or remove it first")]
    Exists(PathBuf),
    #[error(
        "{0} already exists: another backup is being written there, or an earlier one was interrupted \
         (then delete it)"
    )]
    TempExists(PathBuf),
    #[error("{0}: SQLite needs a UTF-8 file name")]
    NotUtf8(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the copy failed its integrity check ({path}): {report}")]
    Corrupt { path: PathBuf, report: String },
    #[error(
        "the copy is at schema version {found}, this binary at {expected}: \
         back up with the Carburoam version that serves this database"
    )]
    SchemaVersion { found: i64, expected: i64 },
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io { path: path.to_owned(), source }
}

/// The `--backup-every` setting: a duration (`1d`, `6h`) or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupEvery(pub Option<Duration>);

impl FromStr for BackupEvery {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("off") || t == "0" {
            return Ok(BackupEvery(None));
        }
        let d =
            humantime::parse_duration(t).map_err(|e| format!("{t:?} is not a duration like 1d or 6h, nor off: {e}"))?;
        if d < Duration::from_secs(10) {
            return Err(format!("{t:?} is too short: at least 10s"));
        }
        Ok(BackupEvery(Some(d)))
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

/// The file of a `sqlite:` database URL, `None` for a PostgreSQL one.
pub fn sqlite_file(database_url: &str) -> Result<Option<PathBuf>, sqlx::Error> {
    if !database_url.starts_with("sqlite:") {
        return Ok(None);
    }
    Ok(Some(SqliteConnectOptions::from_str(database_url)?.get_filename().to_owned()))
}

/// The `pg_dump` command that backs up the database of `opts` into `file`. Every setting is a
/// flag of its own, and the password is never part of it.
pub fn pg_dump_command(opts: &sqlx::postgres::PgConnectOptions, file: &Path) -> String {
    let host = opts.get_socket().map(|s| s.display().to_string()).unwrap_or_else(|| opts.get_host().to_owned());
    let mut cmd = format!(
        "pg_dump --format=custom --file={} --host={} --port={} --username={}",
        shell_quote(&file.display().to_string()),
        shell_quote(&host),
        opts.get_port(),
        shell_quote(opts.get_username()),
    );
    if let Some(database) = opts.get_database() {
        cmd.push(' ');
        cmd.push_str(&shell_quote(database));
    }
    cmd
}

/// The same, from a `postgres://` URL as given on the command line.
pub fn pg_dump_command_for_url(database_url: &str, file: &Path) -> String {
    match sqlx::postgres::PgConnectOptions::from_str(database_url) {
        Ok(opts) => pg_dump_command(&opts, file),
        Err(_) => format!(
            "pg_dump --format=custom --file={} {}",
            shell_quote(&file.display().to_string()),
            shell_quote(&db::redact_url(database_url))
        ),
    }
}

/// Quotes a word for a POSIX shell when it needs it, so the printed command can be pasted.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if plain { s.to_owned() } else { format!("'{}'", s.replace('\'', r"'\''")) }
}

/// The name of a scheduled backup taken at `t`.
pub fn backup_name(t: DateTime<Utc>) -> String {
    format!("{NAME_PREFIX}{}{NAME_SUFFIX}", t.format(NAME_TIME))
}

/// When the backup named `name` was taken, if `name` is exactly a scheduled backup's name.
pub fn parse_backup_name(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(NAME_PREFIX)?.strip_suffix(NAME_SUFFIX)?;
    let t = NaiveDateTime::parse_from_str(stamp, NAME_TIME).ok()?.and_utc();
    // chrono accepts a few variants (signs, widths): only the canonical spelling is ours.
    (backup_name(t) == name).then_some(t)
}

/// The scheduled backups in `dir`, newest first. A missing or unreadable folder lists nothing
/// (and logs why, unless it simply does not exist yet).
pub async fn list_backups(dir: &Path) -> Vec<BackupFile> {
    match scan(dir).await {
        Ok(mut files) => {
            files.sort_by(|a, b| b.name.cmp(&a.name));
            files
        }
        Err(e) => {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot list the backups");
            }
            Vec::new()
        }
    }
}

async fn scan(dir: &Path) -> std::io::Result<Vec<BackupFile>> {
    let mut files = Vec::new();
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        let Some(created) = parse_backup_name(&name) else { continue };
        let meta = entry.metadata().await?;
        if meta.is_file() {
            files.push(BackupFile { name, path: entry.path(), size: meta.len(), created: created.timestamp() });
        }
    }
    Ok(files)
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

/// Writes a verified backup into `dir` now, under a [`backup_name`] of its own. Safe to call at
/// any time, also while the scheduled task or another call is writing one.
pub async fn backup_now(db: &Db, dir: &Path) -> Result<BackupFile, BackupError> {
    let _one_at_a_time = BACKUP_LOCK.lock().await;
    backup_into(db, dir).await
}

async fn backup_into(db: &Db, dir: &Path) -> Result<BackupFile, BackupError> {
    if let Db::Postgres(pool) = db {
        return Err(BackupError::Postgres {
            command: pg_dump_command(&pool.connect_options(), &dir.join("carburoam.dump")),
        });
    }
    tokio::fs::create_dir_all(dir).await.map_err(io_err(dir))?;
    // Names have a one-second resolution: a second backup within the same second (or another
    // process's, in a shared folder) waits for the next name.
    let mut attempts = 0;
    loop {
        let path = dir.join(backup_name(Utc::now()));
        match write_backup(db, &path).await {
            Err(BackupError::Exists(_) | BackupError::TempExists(_)) if attempts < 3 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(1000)).await;
            }
            result => return result,
        }
    }
}

/// Writes a consistent copy of the SQLite database to `path` (which must not exist) and verifies
/// it. The copy goes to `PATH.tmp` first and takes its name only once synced and checked.
pub async fn write_backup(db: &Db, path: &Path) -> Result<BackupFile, BackupError> {
    let pool = match db {
        Db::Sqlite(pool) => pool,
        Db::Postgres(pool) => {
            return Err(BackupError::Postgres { command: pg_dump_command(&pool.connect_options(), path) });
        }
    };
    let started = Utc::now();
    // Absolute, so SQLite and the messages agree on the file whatever the working directory,
    // and SQLite never reads the name as a `file:` URI.
    let path = std::path::absolute(path).map_err(io_err(path))?;
    if tokio::fs::try_exists(&path).await.map_err(io_err(&path))? {
        return Err(BackupError::Exists(path));
    }
    let mut tmp = path.clone().into_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let tmp_text = tmp.to_str().ok_or_else(|| BackupError::NotUtf8(tmp.clone()))?.to_owned();
    // Claiming the name with an empty file keeps two writers apart (VACUUM INTO accepts an empty
    // file, and keeps its mode: 0600, the copy holds the accounts), and the guard removes it on
    // any failure, or if this future is dropped.
    let mut open = tokio::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    open.mode(0o600);
    let claimed = match open.open(&tmp).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(BackupError::TempExists(tmp)),
        Err(e) => return Err(BackupError::Io { path: tmp, source: e }),
    };
    let guard = RemoveOnDrop(Some(tmp.clone()));
    db::set_private(&claimed.into_std().await).map_err(io_err(&tmp))?;

    sqlx::query("VACUUM INTO $1").bind(tmp_text).execute(pool).await?;
    sync_file(&tmp).await?;
    verify_backup(&tmp).await?;

    // A hard link fails if the name was taken meanwhile, where a rename would replace the file.
    match tokio::fs::hard_link(&tmp, &path).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(BackupError::Exists(path)),
        Err(_) => {
            // A file system without hard links: check, then rename.
            if tokio::fs::try_exists(&path).await.map_err(io_err(&path))? {
                return Err(BackupError::Exists(path));
            }
            tokio::fs::rename(&tmp, &path).await.map_err(io_err(&path))?;
        }
    }
    drop(guard);
    sync_parent(&path).await;
    let size = tokio::fs::metadata(&path).await.map_err(io_err(&path))?.len();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let created = parse_backup_name(&name).unwrap_or(started).timestamp();
    Ok(BackupFile { name, path, size, created })
}

/// Removes a temporary file when dropped, unless it is gone already.
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

async fn sync_file(path: &Path) -> Result<(), BackupError> {
    let f = tokio::fs::File::open(path).await.map_err(io_err(path))?;
    f.sync_all().await.map_err(io_err(path))
}

/// Makes a rename durable. Best effort: not every platform can open a directory.
async fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent()
        && let Ok(d) = tokio::fs::File::open(dir).await
    {
        let _ = d.sync_all().await;
    }
}

/// Opens a database file read-only without taking locks or looking for a WAL: for files that
/// nothing else writes (a backup being checked, a file about to be restored).
async fn open_read_only(path: &Path) -> Result<SqliteConnection, sqlx::Error> {
    SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true)
        .log_statements(log::LevelFilter::Off)
        .log_slow_statements(log::LevelFilter::Off, Duration::from_secs(3600))
        .connect()
        .await
}

/// `PRAGMA integrity_check`: `Err` with the first problems found when it is not `ok`. A file
/// damaged enough makes the pragma itself fail; that is a failed check too.
async fn integrity_check(conn: &mut SqliteConnection) -> Result<(), String> {
    match sqlx::query_scalar::<_, String>("PRAGMA integrity_check").fetch_all(&mut *conn).await {
        Ok(rows) if rows.len() == 1 && rows[0] == "ok" => Ok(()),
        Ok(rows) => Err(rows.into_iter().take(5).collect::<Vec<_>>().join("; ")),
        Err(e) => Err(e.to_string()),
    }
}

/// A row of `_sqlx_migrations`.
struct Applied {
    version: i64,
    success: bool,
    checksum: Vec<u8>,
}

async fn has_table(conn: &mut SqliteConnection, name: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1")
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
    Ok(n > 0)
}

/// The migrations recorded in the file, `None` when it has no `_sqlx_migrations` table.
async fn applied_migrations(conn: &mut SqliteConnection) -> Result<Option<Vec<Applied>>, sqlx::Error> {
    if !has_table(conn, "_sqlx_migrations").await? {
        return Ok(None);
    }
    let rows: Vec<(i64, bool, Vec<u8>)> =
        sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await?;
    Ok(Some(rows.into_iter().map(|(version, success, checksum)| Applied { version, success, checksum }).collect()))
}

async fn verify_backup(path: &Path) -> Result<(), BackupError> {
    let mut conn = open_read_only(path).await?;
    let checked = integrity_check(&mut conn).await;
    let versions = applied_migrations(&mut conn).await;
    let _ = conn.close().await;
    checked.map_err(|report| BackupError::Corrupt { path: path.to_owned(), report })?;
    let found = versions?.and_then(|v| v.iter().map(|a| a.version).max()).unwrap_or(0);
    let expected = db::latest_migration(Backend::Sqlite);
    if found != expected {
        return Err(BackupError::SchemaVersion { found, expected });
    }
    Ok(())
}

/// Starts the scheduled backups, or says (once) why there are none.
pub fn spawn_scheduler(
    db: Db,
    schedule: BackupSchedule,
    holder: String,
    shutdown: CancellationToken,
) -> Option<JoinHandle<()>> {
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
    Some(tokio::spawn(scheduler(db, schedule.dir, every, schedule.keep, holder, shutdown)))
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
    let since_newest = list_backups(&dir)
        .await
        .first()
        .and_then(|newest| u64::try_from(db::now() - newest.created).ok())
        .map(Duration::from_secs)
        .unwrap_or(every);
    let first = every.saturating_sub(since_newest).max(SETTLE.min(every));
    tracing::debug!(delay = %humantime::format_duration(first), "first scheduled backup");
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + first, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        if !leases::claim_interval(&db, BACKUP_LEASE, &holder, every, db::now()).await {
            continue;
        }
        // A backup under way when shutdown comes is finished: it is one read transaction, and
        // stopping half-way would only leave a temporary file behind.
        scheduled_backup(&db, &dir, keep).await;
    }
    tracing::info!("backup scheduler stopped");
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

// ---------------------------------------------------------------------------------------------
// Restore

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(
        "carburoam restore replaces a SQLite database only: restore PostgreSQL with pg_restore \
         (e.g. pg_restore --clean --dbname=DATABASE FILE)"
    )]
    Postgres,
    #[error("{0} is not a SQLite database")]
    NotSqlite(PathBuf),
    #[error("{0} failed its integrity check: {1}")]
    Corrupt(PathBuf, String),
    #[error("{0} is not a Carburoam database: {1}")]
    NotCarburoam(PathBuf, String),
    #[error(
        "{path} has schema version {version}, newer than this binary's {latest}: \
         restore it with the Carburoam version that wrote it"
    )]
    NewerSchema { path: PathBuf, version: i64, latest: i64 },
    #[error("{path}: {problem}")]
    UnknownSchema { path: PathBuf, problem: String },
    #[error(
        "{0}-wal exists beside it: the file was copied from a live database and misses what that \
         log holds; make the copy with `carburoam backup` instead"
    )]
    HasWal(PathBuf),
    #[error("{0} is the database itself")]
    SameFile(PathBuf),
    #[error("{path} is in use ({detail}): stop the server (and any import) on it first")]
    InUse { path: PathBuf, detail: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("database error on {path}: {source}")]
    Db { path: PathBuf, source: sqlx::Error },
}

fn rio(path: &Path) -> impl FnOnce(std::io::Error) -> RestoreError + '_ {
    move |source| RestoreError::Io { path: path.to_owned(), source }
}

fn rdb(path: &Path) -> impl FnOnce(sqlx::Error) -> RestoreError + '_ {
    move |source| RestoreError::Db { path: path.to_owned(), source }
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    pub source: PathBuf,
    pub target: PathBuf,
    pub size: u64,
    /// The restored file's schema version; below [`db::latest_migration`], the server migrates
    /// it when it starts.
    pub schema_version: i64,
    /// Where the database that was replaced is kept, if there was one.
    pub kept: Option<PathBuf>,
}

impl std::fmt::Display for RestoreReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "restored {} ({}, schema version {}) into {}",
            self.source.display(),
            human_size(self.size),
            self.schema_version,
            self.target.display()
        )?;
        match &self.kept {
            Some(k) => write!(f, "\nthe previous database is kept as {}", k.display())?,
            None => write!(f, "\nthere was no database there before")?,
        }
        let latest = db::latest_migration(Backend::Sqlite);
        if self.schema_version < latest {
            write!(
                f,
                "\nits schema will be brought from version {} to {latest} when the server starts",
                self.schema_version
            )?;
        }
        Ok(())
    }
}

/// The tables without which a file is not a Carburoam database, and the first schema version
/// that has each.
const REQUIRED_TABLES: &[(&str, i64)] = &[("stations", 1), ("users", 2)];

/// Checks that `path` is a healthy Carburoam database of a schema this binary knows (or can
/// migrate from). Returns its schema version.
pub async fn check_restorable(path: &Path) -> Result<i64, RestoreError> {
    let mut header = [0u8; 16];
    {
        use tokio::io::AsyncReadExt;
        let mut f = tokio::fs::File::open(path).await.map_err(rio(path))?;
        if f.read_exact(&mut header).await.is_err() || &header != b"SQLite format 3\0" {
            return Err(RestoreError::NotSqlite(path.to_owned()));
        }
    }
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if tokio::fs::metadata(&wal).await.is_ok_and(|m| m.len() > 0) {
        return Err(RestoreError::HasWal(path.to_owned()));
    }
    let mut conn = open_read_only(path).await.map_err(rdb(path))?;
    let result = check_schema(&mut conn, path).await;
    let _ = conn.close().await;
    result
}

async fn check_schema(conn: &mut SqliteConnection, path: &Path) -> Result<i64, RestoreError> {
    integrity_check(conn).await.map_err(|report| RestoreError::Corrupt(path.to_owned(), report))?;
    let applied = applied_migrations(conn)
        .await
        .map_err(rdb(path))?
        .ok_or_else(|| RestoreError::NotCarburoam(path.to_owned(), "it has no _sqlx_migrations table".into()))?;
    let migrator = db::migrator(Backend::Sqlite);
    let latest = db::latest_migration(Backend::Sqlite);
    let version = applied.iter().map(|a| a.version).max().unwrap_or(0);
    if version > latest {
        return Err(RestoreError::NewerSchema { path: path.to_owned(), version, latest });
    }
    for a in &applied {
        let problem = match migrator.iter().find(|m| m.version == a.version) {
            None => Some(format!("schema version {} is not one of this binary's migrations", a.version)),
            Some(_) if !a.success => Some(format!("migration {} failed half-way in this file", a.version)),
            Some(m) if *m.checksum != *a.checksum => {
                Some(format!("migration {} differs from this binary's (another build of Carburoam?)", a.version))
            }
            Some(_) => None,
        };
        if let Some(problem) = problem {
            return Err(RestoreError::UnknownSchema { path: path.to_owned(), problem });
        }
    }
    for (table, since) in REQUIRED_TABLES {
        if version >= *since && !has_table(conn, table).await.map_err(rdb(path))? {
            return Err(RestoreError::NotCarburoam(path.to_owned(), format!("it has no {table} table")));
        }
    }
    Ok(version)
}

/// Replaces the SQLite database of `database_url` by the backup `source`, with no server running
/// on it. The database replaced is kept beside it as `NAME.before-restore-TIME`.
pub async fn restore(source: &Path, database_url: &str) -> Result<RestoreReport, RestoreError> {
    let target = sqlite_file(database_url)
        .map_err(|source| RestoreError::Db { path: PathBuf::from(db::redact_url(database_url)), source })?
        .ok_or(RestoreError::Postgres)?;
    let target = std::path::absolute(&target).map_err(rio(&target))?;
    let schema_version = check_restorable(source).await?;
    let target_exists = tokio::fs::try_exists(&target).await.map_err(rio(&target))?;
    if target_exists {
        let (a, b) = (tokio::fs::canonicalize(source).await, tokio::fs::canonicalize(&target).await);
        if let (Ok(a), Ok(b)) = (a, b)
            && a == b
        {
            return Err(RestoreError::SameFile(source.to_owned()));
        }
    }
    if let Some(dir) = target.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(rio(dir))?;
    }

    // The copy first, beside the target (same file system, so the final rename is atomic),
    // while the current database is still untouched.
    let tmp = with_suffix(&target, ".restore-tmp");
    let guard = RemoveOnDrop(Some(tmp.clone()));
    let size = tokio::fs::copy(source, &tmp).await.map_err(rio(&tmp))?;
    // The copy took the backup's mode: the database is readable by its owner only, whatever that was.
    let copied = std::fs::OpenOptions::new().write(true).open(&tmp).map_err(rio(&tmp))?;
    db::set_private(&copied).map_err(rio(&tmp))?;
    drop(copied);
    prepare_copy(&tmp).await?;

    // Then the target: taking its lock proves no server or import has it open, and keeping
    // the lock until the swap keeps one from starting meanwhile.
    let lock = if target_exists { Some(lock_target(&target).await?) } else { None };
    let kept = if target_exists {
        let kept = with_suffix(&target, &format!(".before-restore-{}", Utc::now().format(NAME_TIME)));
        keep_previous(&target, &kept).await?;
        Some(kept)
    } else {
        None
    };
    tokio::fs::rename(&tmp, &target).await.map_err(rio(&target))?;
    drop(guard);
    sync_parent(&target).await;
    if let Some(conn) = lock {
        let _ = conn.close().await;
    }
    Ok(RestoreReport { source: source.to_owned(), target, size, schema_version, kept })
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Makes the copy stand alone and start fresh: one file (no WAL), and no job lease of the
/// processes that served the database the backup was taken from. Those processes are gone, but
/// their leases would hold the feed job and the backups of the restored server until they expire.
async fn prepare_copy(tmp: &Path) -> Result<(), RestoreError> {
    let mut conn = SqliteConnectOptions::new()
        .filename(tmp)
        .log_statements(log::LevelFilter::Off)
        .log_slow_statements(log::LevelFilter::Off, Duration::from_secs(3600))
        .connect()
        .await
        .map_err(rdb(tmp))?;
    let result = async {
        if has_table(&mut conn, "job_leases").await? {
            sqlx::query("UPDATE job_leases SET holder = NULL, expires_at = 0, acquired_at = NULL")
                .execute(&mut conn)
                .await?;
        }
        sqlx::query_scalar::<_, String>("PRAGMA journal_mode = DELETE").fetch_one(&mut conn).await
    }
    .await;
    let _ = conn.close().await;
    result.map_err(rdb(tmp))?;
    sync_file_r(tmp).await
}

async fn sync_file_r(path: &Path) -> Result<(), RestoreError> {
    let f = tokio::fs::File::open(path).await.map_err(rio(path))?;
    f.sync_all().await.map_err(rio(path))
}

/// Whether SQLite answered "busy" or "locked": another connection holds the database.
fn is_busy(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| {
        let primary = c & 0xff;
        primary == 5 || primary == 6
    })
}

/// Whether SQLite found the file damaged or not a database at all.
fn is_corrupt(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| {
        let primary = c & 0xff;
        primary == 11 || primary == 26
    })
}

/// Takes the target's exclusive lock and folds its WAL into the main file, so that the file
/// kept aside is whole. Fails with [`RestoreError::InUse`] when another process has the database
/// open: in WAL mode every open connection holds a shared lock, so the exclusive one is refused
/// even to an idle server. A target too damaged to be read (restoring is then the point) is
/// not locked, and its files are kept aside as they are. The connection is to be closed once
/// the restored file is in place.
async fn lock_target(target: &Path) -> Result<SqliteConnection, RestoreError> {
    let in_use = |detail: String| RestoreError::InUse { path: target.to_owned(), detail };
    let mut conn = SqliteConnectOptions::new()
        .filename(target)
        .busy_timeout(LOCK_WAIT)
        .locking_mode(SqliteLockingMode::Exclusive)
        .log_statements(log::LevelFilter::Off)
        .log_slow_statements(log::LevelFilter::Off, Duration::from_secs(3600))
        .connect()
        .await
        .map_err(rdb(target))?;
    let now = db::now();
    let checked: Result<Option<(String, i64)>, sqlx::Error> = async {
        sqlx::raw_sql("BEGIN EXCLUSIVE").execute(&mut conn).await?;
        // The lock shows that no process on this host has the file open; a live import lease
        // catches an import that the lock cannot see (a network file system without locks).
        let lease = if has_table(&mut conn, "job_leases").await? {
            sqlx::query_as(
                "SELECT holder, expires_at FROM job_leases \
                 WHERE name = $1 AND holder IS NOT NULL AND expires_at > $2",
            )
            .bind(crate::etl::IMPORT_LEASE)
            .bind(now)
            .fetch_optional(&mut conn)
            .await?
        } else {
            None
        };
        sqlx::raw_sql("COMMIT").execute(&mut conn).await?;
        Ok(lease)
    }
    .await;
    match checked {
        Ok(None) => {}
        Ok(Some((holder, until))) => {
            let _ = conn.close().await;
            let until = DateTime::from_timestamp(until, 0).map(|t| t.to_rfc3339()).unwrap_or_default();
            return Err(in_use(format!(
                "an import by {holder} holds its lease until {until}; if that process was killed, \
                 retry after that time"
            )));
        }
        Err(e) if is_busy(&e) => {
            let _ = conn.close().await;
            return Err(in_use("another process has it open".into()));
        }
        Err(e) if is_corrupt(&e) => {
            // Still open: closing would let SQLite delete the WAL beside the damaged file
            // before it is kept aside.
            tracing::warn!(path = %target.display(), error = %e, "the current database is damaged; keeping its files aside as they are");
            return Ok(conn);
        }
        Err(e) => {
            let _ = conn.close().await;
            return Err(rdb(target)(e));
        }
    }
    let mode = sqlx::query_scalar::<_, String>("PRAGMA journal_mode = DELETE").fetch_one(&mut conn).await;
    match mode {
        Ok(m) if m.eq_ignore_ascii_case("delete") => Ok(conn),
        Ok(m) => {
            let _ = conn.close().await;
            Err(in_use(format!("its journal stays in {m} mode")))
        }
        Err(e) => {
            let _ = conn.close().await;
            Err(if is_busy(&e) { in_use("another process has it open".into()) } else { rdb(target)(e) })
        }
    }
}

/// Keeps the current database as `kept` (a hard link: the target's name stays taken until the
/// restored file replaces it atomically, so a server starting meanwhile never creates an empty
/// database there), with any WAL left beside it renamed along.
async fn keep_previous(target: &Path, kept: &Path) -> Result<(), RestoreError> {
    if tokio::fs::hard_link(target, kept).await.is_err() {
        tokio::fs::copy(target, kept).await.map_err(rio(kept))?;
    }
    let wal = with_suffix(target, "-wal");
    if tokio::fs::metadata(&wal).await.is_ok_and(|m| m.len() > 0) {
        let kept_wal = with_suffix(kept, "-wal");
        tokio::fs::rename(&wal, &kept_wal).await.map_err(rio(&kept_wal))?;
    }
    for leftover in [wal, with_suffix(target, "-shm")] {
        match tokio::fs::remove_file(&leftover).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(RestoreError::Io { path: leftover, source: e }),
        }
    }
    Ok(())
}

/// `12.3 MB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1000.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_only_ours_match() {
        let t = DateTime::parse_from_rfc3339("2025-03-04T05:06:07Z").unwrap().to_utc();
        assert_eq!(backup_name(t), "carburoam-20250304T050607Z.db");
        assert_eq!(parse_backup_name("carburoam-20250304T050607Z.db"), Some(t));
        for other in [
            "carburoam-20250304T050607Z.db.tmp",
            "carburoam-20250304T0506Z.db",
            "carburoam-+20250304T050607Z.db",
            "carburoam.db",
            "notes-20250304T050607Z.db",
        ] {
            assert_eq!(parse_backup_name(other), None, "{other}");
        }
    }

    #[test]
    fn every_parses_durations_and_off() {
        assert_eq!("off".parse::<BackupEvery>().unwrap(), BackupEvery(None));
        assert_eq!("1d".parse::<BackupEvery>().unwrap(), BackupEvery(Some(Duration::from_secs(86_400))));
        assert!("1s".parse::<BackupEvery>().is_err());
        assert!("daily".parse::<BackupEvery>().is_err());
    }

    #[test]
    fn pg_dump_command_names_the_database_and_never_the_password() {
        let cmd = pg_dump_command_for_url("postgres://carb:s3cret@db.example:5433/fuel", Path::new("/b/x y.dump"));
        assert_eq!(
            cmd,
            "pg_dump --format=custom --file='/b/x y.dump' --host=db.example --port=5433 --username=carb fuel"
        );
        assert!(!cmd.contains("s3cret"));
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(12_345_678), "12.3 MB");
    }
}
