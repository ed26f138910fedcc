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

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::sqlite::SqliteConnectOptions;

use crate::db;

mod restore;
mod schedule;
mod write;

pub use restore::{RestoreError, RestoreReport, check_restorable, restore};
pub use schedule::{BACKUP_LEASE, BackupEvery, BackupSchedule, prune, scheduled, scheduler};
pub use write::{backup_now, write_backup};

/// Scheduled backups are named `carburoam-YYYYMMDDTHHMMSSZ.db` (UTC), so that names sort by age
/// and retention never touches a file it did not write.
const NAME_PREFIX: &str = "carburoam-";
const NAME_SUFFIX: &str = ".db";
const NAME_TIME: &str = "%Y%m%dT%H%M%SZ";

/// The console's backup downloads, one at a time: each copies the whole database to a
/// temporary file and holds it in memory while it is sent, so several at once would multiply
/// the disk, memory and I/O a single click costs.
#[derive(Debug, Clone)]
pub struct DownloadGate(std::sync::Arc<tokio::sync::Semaphore>);

impl Default for DownloadGate {
    fn default() -> DownloadGate {
        DownloadGate(std::sync::Arc::new(tokio::sync::Semaphore::new(1)))
    }
}

impl DownloadGate {
    /// The right to make a download until the permit is dropped; `None` while another one runs.
    pub fn try_start(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.0.clone().try_acquire_owned().ok()
    }
}

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

/// Removes a temporary file when dropped, unless it is gone already.
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Makes a rename durable. Best effort: not every platform can open a directory.
async fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent()
        && let Ok(d) = tokio::fs::File::open(dir).await
    {
        let _ = d.sync_all().await;
    }
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
    use std::time::Duration;

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
