//! Questions asked of one SQLite database file on a connection of its own, outside the server's
//! pool: a backup being written or checked, a file about to be restored, the database a restore
//! replaces.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::{ConnectOptions, SqliteConnection};

/// A row of `_sqlx_migrations`.
#[derive(Debug, Clone)]
pub struct Applied {
    pub version: i64,
    pub success: bool,
    pub checksum: Vec<u8>,
}

/// Opens a database file read-only without taking locks or looking for a WAL: for files that
/// nothing else writes (a backup being checked, a file about to be restored).
pub async fn open_read_only(path: &Path) -> Result<SqliteConnection, sqlx::Error> {
    SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true)
        .log_statements(log::LevelFilter::Off)
        .log_slow_statements(log::LevelFilter::Off, Duration::from_secs(3600))
        .connect()
        .await
}

/// Writes one consistent copy of the pool's database into the file `path` (`VACUUM INTO`: a
/// single read transaction, which never blocks the writer in WAL mode).
pub async fn vacuum_into(pool: &SqlitePool, path: &str) -> Result<(), sqlx::Error> {
    sqlx::query("VACUUM INTO $1").bind(path).execute(pool).await.map(|_| ())
}

/// `PRAGMA integrity_check`: `Err` with the first problems found when it is not `ok`. A file
/// damaged enough makes the pragma itself fail; that is a failed check too.
pub async fn integrity_check(conn: &mut SqliteConnection) -> Result<(), String> {
    match sqlx::query_scalar::<_, String>("PRAGMA integrity_check").fetch_all(&mut *conn).await {
        Ok(rows) if rows.len() == 1 && rows[0] == "ok" => Ok(()),
        Ok(rows) => Err(rows.into_iter().take(5).collect::<Vec<_>>().join("; ")),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether the file has a table `name`.
pub async fn has_table(conn: &mut SqliteConnection, name: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1")
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
    Ok(n > 0)
}

/// The migrations recorded in the file, `None` when it has no `_sqlx_migrations` table.
pub async fn applied_migrations(conn: &mut SqliteConnection) -> Result<Option<Vec<Applied>>, sqlx::Error> {
    if !has_table(conn, "_sqlx_migrations").await? {
        return Ok(None);
    }
    let rows: Vec<(i64, bool, Vec<u8>)> =
        sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await?;
    Ok(Some(rows.into_iter().map(|(version, success, checksum)| Applied { version, success, checksum }).collect()))
}

/// Frees every job lease recorded in the file (when it has the table): the processes that held
/// them served another copy of the database.
pub async fn release_leases(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    if has_table(conn, "job_leases").await? {
        sqlx::query("UPDATE job_leases SET holder = NULL, expires_at = 0, acquired_at = NULL")
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Leaves WAL mode for a single-file journal (folding the log into the file); the journal mode
/// SQLite reports afterwards.
pub async fn journal_mode_delete(conn: &mut SqliteConnection) -> Result<String, sqlx::Error> {
    sqlx::query_scalar::<_, String>("PRAGMA journal_mode = DELETE").fetch_one(&mut *conn).await
}

/// Takes the file's exclusive lock (`BEGIN EXCLUSIVE`, then `COMMIT`: on a connection in
/// exclusive locking mode the lock stays), and reads meanwhile the holder and end of the lease
/// `name` when it is held after `now`. Fails "busy" when another connection has the file open.
pub async fn lock_and_read_lease(
    conn: &mut SqliteConnection,
    name: &str,
    now: i64,
) -> Result<Option<(String, i64)>, sqlx::Error> {
    sqlx::raw_sql("BEGIN EXCLUSIVE").execute(&mut *conn).await?;
    let lease = if has_table(conn, "job_leases").await? {
        sqlx::query_as(
            "SELECT holder, expires_at FROM job_leases \
             WHERE name = $1 AND holder IS NOT NULL AND expires_at > $2",
        )
        .bind(name)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?
    } else {
        None
    };
    sqlx::raw_sql("COMMIT").execute(&mut *conn).await?;
    Ok(lease)
}
