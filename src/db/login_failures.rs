//! `login_failures`: failed password checks per (login name, client) and per login name, shared
//! by every instance on the database. The rules (how long to wait) are in [`crate::services::accounts`].

use crate::db::Db;
use crate::on_db;

/// The `client` of a name's total over every address.
pub const ALL_CLIENTS: &str = "*";

/// The latest end of a block on `subject` for `client` or for everyone, if one is running.
pub async fn blocked_until(db: &Db, subject: &str, client: &str, now: i64) -> Result<Option<i64>, sqlx::Error> {
    let (until,): (Option<i64>,) = on_db!(db, p => sqlx::query_as(
        "SELECT MAX(blocked_until) FROM login_failures \
         WHERE subject = $1 AND (client = $2 OR client = $3) AND blocked_until > $4",
    )
    .bind(subject)
    .bind(client)
    .bind(ALL_CLIENTS)
    .bind(now)
    .fetch_one(p)
    .await)?;
    Ok(until)
}

/// Counts one failure of `subject` from `client` and returns (failures in the row, start of its
/// window). The row starts again at 1 when its last failure is not after `forget_before` (a run
/// of failures per address) or, for the total, when its window started before `forget_before`.
pub async fn record(
    db: &Db,
    subject: &str,
    client: &str,
    now: i64,
    forget_before: i64,
) -> Result<(i32, i64), sqlx::Error> {
    // The same statement shape for both kinds of row; only the column telling "stale" differs.
    let sql = if client == ALL_CLIENTS {
        "INSERT INTO login_failures (subject, client, failures, first_at, last_at) VALUES ($1, $2, 1, $3, $3) \
         ON CONFLICT (subject, client) DO UPDATE SET \
           failures = CASE WHEN login_failures.first_at <= $4 THEN 1 ELSE login_failures.failures + 1 END, \
           first_at = CASE WHEN login_failures.first_at <= $4 THEN $3 ELSE login_failures.first_at END, \
           blocked_until = CASE WHEN login_failures.first_at <= $4 THEN NULL ELSE login_failures.blocked_until END, \
           last_at = $3 \
         RETURNING failures, first_at"
    } else {
        "INSERT INTO login_failures (subject, client, failures, first_at, last_at) VALUES ($1, $2, 1, $3, $3) \
         ON CONFLICT (subject, client) DO UPDATE SET \
           failures = CASE WHEN login_failures.last_at <= $4 THEN 1 ELSE login_failures.failures + 1 END, \
           first_at = CASE WHEN login_failures.last_at <= $4 THEN $3 ELSE login_failures.first_at END, \
           last_at = $3 \
         RETURNING failures, first_at"
    };
    on_db!(db, p => sqlx::query_as::<_, (i32, i64)>(sql)
        .bind(subject)
        .bind(client)
        .bind(now)
        .bind(forget_before)
        .fetch_one(p)
        .await)
}

pub async fn block(db: &Db, subject: &str, client: &str, until: i64) -> Result<(), sqlx::Error> {
    on_db!(db, p => sqlx::query("UPDATE login_failures SET blocked_until = $1 WHERE subject = $2 AND client = $3")
        .bind(until)
        .bind(subject)
        .bind(client)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Forgets the failures of `subject` from `client` (a success from there).
pub async fn clear(db: &Db, subject: &str, client: &str) -> Result<(), sqlx::Error> {
    on_db!(db, p => sqlx::query("DELETE FROM login_failures WHERE subject = $1 AND client = $2")
        .bind(subject)
        .bind(client)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Forgets every failure of these subjects, from everywhere (a new password, a deleted account).
pub async fn clear_subjects(db: &Db, subjects: &[&str]) -> Result<(), sqlx::Error> {
    for s in subjects {
        on_db!(db, p => sqlx::query("DELETE FROM login_failures WHERE subject = $1")
            .bind(*s)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// Rows whose last failure is before `before` and that block nobody any more (cleaning job).
pub async fn delete_stale(db: &Db, before: i64, now: i64) -> Result<u64, sqlx::Error> {
    on_db!(db, p => sqlx::query(
        "DELETE FROM login_failures WHERE last_at < $1 AND (blocked_until IS NULL OR blocked_until <= $2)",
    )
    .bind(before)
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
}
