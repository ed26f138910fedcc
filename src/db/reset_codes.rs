//! `reset_codes`: single-use password reset codes, stored as digests, with an expiry and a count
//! of wrong tries.

use crate::db::Db;
use crate::on_db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActiveCode {
    pub id: i64,
    pub code_hash: String,
    pub attempts: i32,
}

/// Stores a new code for `user_id` and revokes any earlier unused one (only the latest code
/// works: a leaked older mail is worthless).
pub async fn issue(db: &Db, user_id: i64, code_hash: &str, now: i64, expires_at: i64) -> Result<(), sqlx::Error> {
    on_db!(db, p => {
        sqlx::query(
            "UPDATE reset_codes SET revoked_at = $1 \
             WHERE user_id = $2 AND used_at IS NULL AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected())?;
        sqlx::query(
            "INSERT INTO reset_codes (user_id, code_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(user_id)
        .bind(code_hash)
        .bind(now)
        .bind(expires_at)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Codes issued to `user_id` since `since` (the per-account limit on reset mails).
pub async fn issued_since(db: &Db, user_id: i64, since: i64) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = on_db!(db, p => sqlx::query_as(
        "SELECT COUNT(*) FROM reset_codes WHERE user_id = $1 AND created_at >= $2",
    )
    .bind(user_id)
    .bind(since)
    .fetch_one(p)
    .await)?;
    Ok(n)
}

/// The code that may still be used: the latest, unused, unrevoked, unexpired, under `max_attempts` wrong tries.
pub async fn active(db: &Db, user_id: i64, now: i64, max_attempts: i32) -> Result<Option<ActiveCode>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, ActiveCode>(
        "SELECT id, code_hash, attempts FROM reset_codes \
         WHERE user_id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2 AND attempts < $3 \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(user_id)
    .bind(now)
    .bind(max_attempts)
    .fetch_optional(p)
    .await)
}

/// Counts a wrong try; returns the new count.
pub async fn record_attempt(db: &Db, id: i64) -> Result<i32, sqlx::Error> {
    let (n,): (i32,) = on_db!(db, p => sqlx::query_as(
        "UPDATE reset_codes SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts",
    )
    .bind(id)
    .fetch_one(p)
    .await)?;
    Ok(n)
}

/// Marks the code used. `false` when it already was (two tabs racing): only one use wins.
pub async fn consume(db: &Db, id: i64, now: i64) -> Result<bool, sqlx::Error> {
    let r = on_db!(db, p => sqlx::query("UPDATE reset_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Codes no longer of any use, older than `before`, are deleted by the cleaning job.
pub async fn delete_older_than(db: &Db, before: i64) -> Result<u64, sqlx::Error> {
    let r = on_db!(db, p => sqlx::query("DELETE FROM reset_codes WHERE expires_at < $1").bind(before).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(r)
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct CodeRecord {
    pub created_at: i64,
    pub expires_at: i64,
    pub attempts: i32,
    pub used_at: Option<i64>,
}

/// What the export shows of a user's codes (never the digest).
pub async fn for_user(db: &Db, user_id: i64) -> Result<Vec<CodeRecord>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, CodeRecord>(
        "SELECT created_at, expires_at, attempts, used_at FROM reset_codes WHERE user_id = $1 ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(p)
    .await)
}
