//! `sessions`: who is logged in, keyed by the SHA-256 of the cookie's secret. Stored in the
//! database so that every server instance sees the same sessions and a user (or an admin) can
//! end them all.
//!
//! Two ends per session: `expires_at`, which activity slides forward (the idle timeout of a
//! browser-session login), and `absolute_expires_at`, fixed at login (12 h, or 30 days with
//! "remember me"), which nothing moves. `expires_at` never passes `absolute_expires_at` (the
//! insert sets both alike and [`touch`] caps it), so the cleaning job only looks at `expires_at`.

use crate::db::Db;
use crate::domain::UserId;
use crate::on_db;

/// A live session and the user it belongs to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionUser {
    pub user_id: UserId,
    pub username: String,
    pub display_name: String,
    pub is_admin: bool,
    pub lang: String,
    pub persistent: bool,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub absolute_expires_at: i64,
}

impl SessionUser {
    /// Whether the session is still valid at `now`: neither idle for too long nor past its
    /// absolute lifetime.
    pub fn is_live(&self, now: i64) -> bool {
        now < self.expires_at && now < self.absolute_expires_at
    }
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct SessionRow {
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub persistent: bool,
}

/// A new session, valid until `expires_at` at the latest however active it is.
pub async fn insert(
    db: &Db,
    id_hash: &str,
    user_id: UserId,
    now: i64,
    expires_at: i64,
    persistent: bool,
) -> Result<(), sqlx::Error> {
    on_db!(db, p => sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at, absolute_expires_at, persistent) \
         VALUES ($1, $2, $3, $3, $4, $4, $5)",
    )
    .bind(id_hash)
    .bind(user_id)
    .bind(now)
    .bind(expires_at)
    .bind(persistent)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The session `id_hash` if its user is not disabled, expired or not: the caller checks
/// [`SessionUser::is_live`] and deletes an expired one.
pub async fn lookup(db: &Db, id_hash: &str) -> Result<Option<SessionUser>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, SessionUser>(
        "SELECT u.id AS user_id, u.username, u.display_name, u.is_admin, u.lang, s.persistent, \
                s.last_seen_at, s.expires_at, s.absolute_expires_at \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id_hash = $1 AND u.disabled_at IS NULL",
    )
    .bind(id_hash)
    .fetch_optional(p)
    .await)
}

/// Marks activity (and slides the expiry of a browser-session login), never past the session's
/// absolute end.
pub async fn touch(db: &Db, id_hash: &str, now: i64, expires_at: i64) -> Result<(), sqlx::Error> {
    on_db!(db, p => sqlx::query(
        "UPDATE sessions SET last_seen_at = $1, \
             expires_at = CASE WHEN $2 < absolute_expires_at THEN $2 ELSE absolute_expires_at END \
         WHERE id_hash = $3",
    )
        .bind(now)
        .bind(expires_at)
        .bind(id_hash)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete(db: &Db, id_hash: &str) -> Result<(), sqlx::Error> {
    on_db!(db, p => sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Ends every session of a user except `keep` (the one changing the password). Returns how many.
pub async fn delete_for_user(db: &Db, user_id: UserId, keep: Option<&str>) -> Result<u64, sqlx::Error> {
    let r = on_db!(db, p => sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
        .bind(user_id)
        .bind(keep.unwrap_or(""))
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(r)
}

pub async fn delete_expired(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let r = on_db!(db, p => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(r)
}

pub async fn for_user(db: &Db, user_id: UserId) -> Result<Vec<SessionRow>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, SessionRow>(
        "SELECT created_at, last_seen_at, expires_at, persistent FROM sessions WHERE user_id = $1 \
         ORDER BY created_at",
    )
    .bind(user_id)
    .fetch_all(p)
    .await)
}
