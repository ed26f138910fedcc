//! Writing a backup: `VACUUM INTO` a private temporary file, synced, verified, then named.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use sqlx::Connection;

use super::{
    BackupError, BackupFile, RemoveOnDrop, backup_name, io_err, parse_backup_name, pg_dump_command, sync_parent,
};
use crate::db::files::{applied_migrations, integrity_check, open_read_only};
use crate::db::{self, Backend, Db};

/// Serialises the backups of this process: the scheduled task and the admin console may ask at
/// the same moment, and each must get a name (and a temporary file) of its own.
pub(super) static BACKUP_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Writes a verified backup into `dir` now, under a [`backup_name`] of its own. Safe to call at
/// any time, also while the scheduled task or another call is writing one.
pub async fn backup_now(db: &Db, dir: &Path) -> Result<BackupFile, BackupError> {
    let _one_at_a_time = BACKUP_LOCK.lock().await;
    backup_into(db, dir).await
}

pub(super) async fn backup_into(db: &Db, dir: &Path) -> Result<BackupFile, BackupError> {
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

    db::files::vacuum_into(pool, &tmp_text).await?;
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

async fn sync_file(path: &Path) -> Result<(), BackupError> {
    let f = tokio::fs::File::open(path).await.map_err(io_err(path))?;
    f.sync_all().await.map_err(io_err(path))
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
