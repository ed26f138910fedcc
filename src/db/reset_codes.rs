//! `reset_codes`: single-use password reset codes, stored as digests, with an expiry and a count
//! of wrong tries.

use crate::db::Db;
use crate::domain::{ResetCodeId, UserId};
use crate::on_db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActiveCode {
    pub id: ResetCodeId,
    pub code_hash: String,
}

/// Stores a new code for `user_id`, asked for by `requested_from` (a client key; `None`: the
/// admin console or the command line). Earlier codes stay valid until they expire or one of them
/// is used: someone else asking for a code does not kill the one the owner is typing.
pub async fn issue(
    db: &Db,
    user_id: UserId,
    code_hash: &str,
    requested_from: Option<&str>,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    on_db!(db, p => sqlx::query(
        "INSERT INTO reset_codes (user_id, code_hash, created_at, expires_at, requested_from) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(code_hash)
    .bind(now)
    .bind(expires_at)
    .bind(requested_from)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Codes issued to `user_id` since `since`: all of them, and those asked for by `client` (the
/// per-account ceiling and the per-address allowance on reset mails).
pub async fn issued_since(db: &Db, user_id: UserId, since: i64, client: &str) -> Result<(i64, i64), sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, (i64, i64)>(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN requested_from = $3 THEN 1 ELSE 0 END), 0) \
         FROM reset_codes WHERE user_id = $1 AND created_at >= $2",
    )
    .bind(user_id)
    .bind(since)
    .bind(client)
    .fetch_one(p)
    .await)
}

/// The codes `client` may still try for `user_id`: unused, unrevoked, unexpired, under
/// `max_total` wrong tries in all and under `max_from_client` from this client. Newest first.
pub async fn usable(
    db: &Db,
    user_id: UserId,
    client: &str,
    now: i64,
    max_total: i32,
    max_from_client: i32,
) -> Result<Vec<ActiveCode>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, ActiveCode>(
        "SELECT c.id, c.code_hash FROM reset_codes c \
         LEFT JOIN reset_code_tries t ON t.code_id = c.id AND t.client = $2 \
         WHERE c.user_id = $1 AND c.used_at IS NULL AND c.revoked_at IS NULL AND c.expires_at > $3 \
           AND c.attempts < $4 AND COALESCE(t.attempts, 0) < $5 \
         ORDER BY c.id DESC",
    )
    .bind(user_id)
    .bind(client)
    .bind(now)
    .bind(max_total)
    .bind(max_from_client)
    .fetch_all(p)
    .await)
}

/// Counts a wrong try from `client` on the code `id` (and in its total).
pub async fn record_attempt(db: &Db, id: ResetCodeId, client: &str) -> Result<(), sqlx::Error> {
    on_db!(db, p => {
        sqlx::query(
            "INSERT INTO reset_code_tries (code_id, client, attempts) VALUES ($1, $2, 1) \
             ON CONFLICT (code_id, client) DO UPDATE SET attempts = reset_code_tries.attempts + 1",
        )
        .bind(id)
        .bind(client)
        .execute(p)
        .await
        .map(|r| r.rows_affected())?;
        sqlx::query("UPDATE reset_codes SET attempts = attempts + 1 WHERE id = $1")
            .bind(id)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Marks the code used and revokes every other unused code of its user. `false` when it already
/// was used (two tabs racing): only one use wins.
pub async fn consume(db: &Db, id: ResetCodeId, now: i64) -> Result<bool, sqlx::Error> {
    let r = on_db!(db, p => sqlx::query("UPDATE reset_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    if r == 1 {
        on_db!(db, p => sqlx::query(
            "UPDATE reset_codes SET revoked_at = $1 WHERE used_at IS NULL AND revoked_at IS NULL \
             AND user_id = (SELECT user_id FROM reset_codes WHERE id = $2)",
        )
        .bind(now)
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    }
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
pub async fn for_user(db: &Db, user_id: UserId) -> Result<Vec<CodeRecord>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, CodeRecord>(
        "SELECT created_at, expires_at, attempts, used_at FROM reset_codes WHERE user_id = $1 ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(p)
    .await)
}
