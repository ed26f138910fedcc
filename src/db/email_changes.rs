//! `email_changes`: a new address waiting for its owner to click the link sent to it; the old
//! address got a link that cancels it.

use crate::db::Db;
use crate::domain::UserId;
use crate::on_db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingChange {
    pub user_id: UserId,
    pub new_email: String,
}

/// Replaces any pending change of the user by this one. `cancel_hash`: the link mailed to the old
/// address (`None`: a registration's address waiting for confirmation, there is no old one).
#[allow(clippy::too_many_arguments)]
pub async fn insert(
    db: &Db,
    user_id: UserId,
    new_email: &str,
    token_hash: &str,
    cancel_hash: Option<&str>,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    on_db!(db, p => {
        sqlx::query("DELETE FROM email_changes WHERE user_id = $1").bind(user_id).execute(p).await.map(|r| r.rows_affected())?;
        sqlx::query(
            "INSERT INTO email_changes (token_hash, user_id, new_email, created_at, expires_at, cancel_hash) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(new_email)
        .bind(now)
        .bind(expires_at)
        .bind(cancel_hash)
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

pub async fn pending_for(db: &Db, user_id: UserId, now: i64) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = on_db!(db, p => sqlx::query_as(
        "SELECT new_email FROM email_changes WHERE user_id = $1 AND expires_at > $2",
    )
    .bind(user_id)
    .bind(now)
    .fetch_optional(p)
    .await)?;
    Ok(row.map(|(e,)| e))
}

/// The pending change the cancel link `cancel_hash` stands for, if it has not expired.
pub async fn by_cancel(db: &Db, cancel_hash: &str, now: i64) -> Result<Option<PendingChange>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, PendingChange>(
        "SELECT user_id, new_email FROM email_changes WHERE cancel_hash = $1 AND expires_at > $2",
    )
    .bind(cancel_hash)
    .bind(now)
    .fetch_optional(p)
    .await)
}

/// Cancels the pending change of the cancel link `cancel_hash` (deleting it).
pub async fn cancel(db: &Db, cancel_hash: &str, now: i64) -> Result<Option<PendingChange>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, PendingChange>(
        "DELETE FROM email_changes WHERE cancel_hash = $1 AND expires_at > $2 RETURNING user_id, new_email",
    )
    .bind(cancel_hash)
    .bind(now)
    .fetch_optional(p)
    .await)
}

/// Drops the pending change of a user, if any (new password, reset, disabled account).
pub async fn delete_for_user(db: &Db, user_id: UserId) -> Result<u64, sqlx::Error> {
    on_db!(db, p => sqlx::query("DELETE FROM email_changes WHERE user_id = $1")
        .bind(user_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
}

/// Deletes the pending changes whose link has expired at `now`: they can never be confirmed
/// (see [`take`]). Returns the number of rows deleted.
pub async fn delete_expired(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    on_db!(db, p => sqlx::query("DELETE FROM email_changes WHERE expires_at <= $1")
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
}
