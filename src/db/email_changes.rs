//! `email_changes`: a new address waiting for its owner to click the link sent to it.

use crate::db::Db;
use crate::on_db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingChange {
    pub user_id: i64,
    pub new_email: String,
}

/// Replaces any pending change of the user by this one.
pub async fn insert(
    db: &Db,
    user_id: i64,
    new_email: &str,
    token_hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    on_db!(db, p => {
        sqlx::query("DELETE FROM email_changes WHERE user_id = $1").bind(user_id).execute(p).await.map(|r| r.rows_affected())?;
        sqlx::query(
            "INSERT INTO email_changes (token_hash, user_id, new_email, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(new_email)
        .bind(now)
        .bind(expires_at)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Takes the pending change of `token_hash` if it has not expired (deleting it: single use).
pub async fn take(db: &Db, token_hash: &str, now: i64) -> Result<Option<PendingChange>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, PendingChange>(
        "DELETE FROM email_changes WHERE token_hash = $1 AND expires_at > $2 RETURNING user_id, new_email",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(p)
    .await)
}

pub async fn pending_for(db: &Db, user_id: i64, now: i64) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = on_db!(db, p => sqlx::query_as(
        "SELECT new_email FROM email_changes WHERE user_id = $1 AND expires_at > $2",
    )
    .bind(user_id)
    .bind(now)
    .fetch_optional(p)
    .await)?;
    Ok(row.map(|(e,)| e))
}
