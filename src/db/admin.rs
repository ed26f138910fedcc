//! Read-only figures and searches for the admin console (the actions are in
//! [`crate::services::admin`]). Every figure is one aggregate query; none reads personal data it does not
//! show.

use crate::db::{Db, Tx};
use crate::domain::UserId;
use crate::{on_db, on_tx};

/// The console's usage figures at `now`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    pub users: i64,
    pub users_with_stations: i64,
    pub followed_stations: i64,
    pub distinct_followed_stations: i64,
    pub active_sessions: i64,
    pub admins: i64,
    pub disabled: i64,
    pub reset_codes_sent: i64,
    pub reset_codes_used: i64,
    pub reset_codes_expired: i64,
}

pub async fn usage(db: &Db, now: i64) -> Result<Usage, sqlx::Error> {
    let row: (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) = on_db!(db, p => sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM users), \
                (SELECT COUNT(DISTINCT user_id) FROM user_stations), \
                (SELECT COUNT(*) FROM user_stations), \
                (SELECT COUNT(DISTINCT station_id) FROM user_stations), \
                (SELECT COUNT(*) FROM sessions WHERE expires_at > $1), \
                (SELECT COUNT(*) FROM users WHERE is_admin), \
                (SELECT COUNT(*) FROM users WHERE disabled_at IS NOT NULL), \
                (SELECT COUNT(*) FROM reset_codes), \
                (SELECT COUNT(*) FROM reset_codes WHERE used_at IS NOT NULL), \
                (SELECT COUNT(*) FROM reset_codes WHERE used_at IS NULL AND expires_at <= $1)",
    )
    .bind(now)
    .fetch_one(p)
    .await)?;
    Ok(Usage {
        users: row.0,
        users_with_stations: row.1,
        followed_stations: row.2,
        distinct_followed_stations: row.3,
        active_sessions: row.4,
        admins: row.5,
        disabled: row.6,
        reset_codes_sent: row.7,
        reset_codes_used: row.8,
        reset_codes_expired: row.9,
    })
}

/// Accounts created per week, from `since` (a Monday 00:00 UTC) on: (week start, count), only
/// weeks with registrations. Bucketed in SQL with integer division, which both backends do alike.
pub async fn new_users_per_week(db: &Db, since: i64) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    const WEEK: i64 = 7 * 86_400;
    // 1970-01-01 was a Thursday: weeks counted from Monday 1969-12-29 (−3 days).
    const MONDAY_OFFSET: i64 = 3 * 86_400;
    on_db!(db, p => sqlx::query_as::<_, (i64, i64)>(
        "SELECT ((created_at + $1) / $2) * $2 - $1 AS week, COUNT(*) FROM users WHERE created_at >= $3 \
         GROUP BY ((created_at + $1) / $2) ORDER BY 1",
    )
    .bind(MONDAY_OFFSET)
    .bind(WEEK)
    .bind(since)
    .fetch_all(p)
    .await)
}

/// A user as listed by the console (no password hash, ever).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct UserListRow {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub is_admin: bool,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    pub stations: i64,
}

/// Users whose username, display name or email contains `q`, in any case (Unicode-aware:
/// "élodie" finds "Élodie"), newest first.
///
/// Matched in Rust over every account's three names: SQLite's `LOWER` and `LIKE` only fold
/// ASCII, and `_`/`%` in a search would be wildcards. An admin search scans a few thousand
/// short rows at most; correctness beats an index here.
pub async fn search_users(db: &Db, q: &str, limit: i64) -> Result<Vec<UserListRow>, sqlx::Error> {
    let needle = q.trim().to_lowercase();
    let all = on_db!(db, p => sqlx::query_as::<_, UserListRow>(
        "SELECT u.id, u.username, u.display_name, u.email, u.is_admin, u.disabled_at, u.created_at, u.last_login_at, \
                (SELECT COUNT(*) FROM user_stations f WHERE f.user_id = u.id) AS stations \
         FROM users u ORDER BY u.created_at DESC, u.id DESC",
    )
    .fetch_all(p)
    .await)?;
    Ok(all
        .into_iter()
        .filter(|u| {
            needle.is_empty()
                || [&u.username, &u.display_name, &u.email].iter().any(|s| s.to_lowercase().contains(&needle))
        })
        .take(usize::try_from(limit).unwrap_or(0))
        .collect())
}

pub async fn set_disabled(db: &Db, id: UserId, at: Option<i64>) -> Result<bool, sqlx::Error> {
    let r = on_db!(db, p => sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
        .bind(at)
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

pub async fn set_admin(db: &Db, id: UserId, admin: bool) -> Result<bool, sqlx::Error> {
    let r = on_db!(db, p => sqlx::query("UPDATE users SET is_admin = $1 WHERE id = $2")
        .bind(admin)
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

pub async fn admin_count(db: &Db) -> Result<i64, sqlx::Error> {
    on_db!(db, p => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE is_admin AND disabled_at IS NULL")
        .fetch_one(p)
        .await)
}

/// An action that must leave at least one active admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarded {
    Revoke,
    Disable { at: i64 },
    Delete,
}

/// Applies `action` to `id` unless that would leave no active admin. The count is read by the
/// statement that changes the row, inside one transaction holding the admins' rows (PostgreSQL:
/// `FOR UPDATE`; SQLite: the write lock of `BEGIN IMMEDIATE`), so two admins revoking each other
/// at once cannot both succeed. `false`: refused (or no such user).
pub async fn unless_last_admin(db: &Db, id: UserId, action: Guarded) -> Result<bool, sqlx::Error> {
    const GUARD: &str = "(NOT is_admin OR disabled_at IS NOT NULL \
         OR (SELECT COUNT(*) FROM users WHERE is_admin AND disabled_at IS NULL) > 1)";
    let mut tx = db.begin().await?;
    if let Tx::Postgres(t) = &mut tx {
        sqlx::query("SELECT id FROM users WHERE is_admin AND disabled_at IS NULL FOR UPDATE")
            .fetch_all(&mut **t)
            .await?;
    }
    let n = match action {
        Guarded::Revoke => {
            let sql = format!("UPDATE users SET is_admin = FALSE WHERE id = $1 AND {GUARD}");
            on_tx!(&mut tx, c => sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).execute(c).await.map(|r| r.rows_affected()))?
        }
        Guarded::Disable { at } => {
            let sql = format!("UPDATE users SET disabled_at = $2 WHERE id = $1 AND {GUARD}");
            on_tx!(&mut tx, c => sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .bind(at)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?
        }
        Guarded::Delete => {
            let sql = format!("DELETE FROM users WHERE id = $1 AND {GUARD}");
            on_tx!(&mut tx, c => sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).execute(c).await.map(|r| r.rows_affected()))?
        }
    };
    tx.commit().await?;
    Ok(n == 1)
}
