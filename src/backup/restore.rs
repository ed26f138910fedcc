//! `carburoam restore`: replaces a stopped server's SQLite database by a verified backup,
//! keeping the replaced file aside.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteLockingMode};
use sqlx::{ConnectOptions, Connection, SqliteConnection};

use super::{NAME_TIME, RemoveOnDrop, human_size, sqlite_file, sync_parent};
use crate::db::files::{applied_migrations, has_table, integrity_check, journal_mode_delete, open_read_only};
use crate::db::{self, Backend};

/// How long `restore` waits for the lock on the target database before concluding that another
/// process (a server, an import) has it open.
const LOCK_WAIT: Duration = Duration::from_secs(2);

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
        db::files::release_leases(&mut conn).await?;
        journal_mode_delete(&mut conn).await
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
    // The lock shows that no process on this host has the file open; a live import lease
    // catches an import that the lock cannot see (a network file system without locks).
    let checked = db::files::lock_and_read_lease(&mut conn, crate::etl::IMPORT_LEASE, now).await;
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
    let mode = journal_mode_delete(&mut conn).await;
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
