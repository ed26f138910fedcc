//! `push_vapid` (the instance's VAPID key pair) and `push_subscriptions` (the devices where a
//! user turned notifications on). See `migrations/*/0011_web_push.sql`.

use crate::db::Db;
use crate::domain::{PushSubscriptionId, UserId};
use crate::on_db;

/// The stored VAPID key pair, base64url: the private scalar and the public point.
#[derive(Clone, sqlx::FromRow)]
pub struct VapidRow {
    pub private_key: String,
    pub public_key: String,
}

impl std::fmt::Debug for VapidRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidRow").field("public_key", &self.public_key).finish_non_exhaustive()
    }
}

/// The key pair, if one was made.
pub async fn vapid(db: &Db) -> Result<Option<VapidRow>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, VapidRow>("SELECT private_key, public_key FROM push_vapid WHERE id = 1")
        .fetch_optional(p)
        .await)
}

/// Stores `row` unless a key pair exists already (another instance made one first), then returns
/// the one stored: every instance ends with the same pair.
pub async fn vapid_insert_or_get(db: &Db, row: &VapidRow, now: i64) -> Result<VapidRow, sqlx::Error> {
    on_db!(db, p => sqlx::query(
        "INSERT INTO push_vapid (id, private_key, public_key, created_at) VALUES (1, $1, $2, $3) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&row.private_key)
    .bind(&row.public_key)
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    match vapid(db).await? {
        Some(r) => Ok(r),
        None => Err(sqlx::Error::RowNotFound),
    }
}

/// A device's subscription.
#[derive(Clone, sqlx::FromRow)]
pub struct Subscription {
    pub id: PushSubscriptionId,
    pub user_id: UserId,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    pub user_agent: String,
    pub created_at: i64,
    pub last_success_at: Option<i64>,
    pub last_error_at: Option<i64>,
    pub last_error: Option<String>,
}

impl std::fmt::Debug for Subscription {
    /// Without the endpoint (a capability URL) nor the keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("id", &self.id).field("user_id", &self.user_id).finish_non_exhaustive()
    }
}

/// What a browser sends when subscribing.
#[derive(Clone)]
pub struct NewSubscription<'a> {
    pub endpoint: &'a str,
    pub p256dh: &'a str,
    pub auth: &'a str,
    pub user_agent: &'a str,
}

/// Records a device for `user_id`, or renews its keys when it is already theirs (the delivery
/// record starts afresh). An endpoint another account subscribed stays that account's: `None`,
/// nothing changed (one statement, so two accounts racing for one endpoint cannot both win).
/// Returns the row's id.
pub async fn upsert(
    db: &Db,
    user_id: UserId,
    s: &NewSubscription<'_>,
    now: i64,
) -> Result<Option<PushSubscriptionId>, sqlx::Error> {
    on_db!(db, p => sqlx::query_scalar::<_, PushSubscriptionId>(
        "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, user_agent, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (endpoint) DO UPDATE SET p256dh = excluded.p256dh, \
             auth = excluded.auth, user_agent = excluded.user_agent, created_at = excluded.created_at, \
             last_success_at = NULL, last_error_at = NULL, last_error = NULL \
         WHERE push_subscriptions.user_id = excluded.user_id \
         RETURNING id",
    )
    .bind(user_id)
    .bind(s.endpoint)
    .bind(s.p256dh)
    .bind(s.auth)
    .bind(s.user_agent)
    .bind(now)
    .fetch_optional(p)
    .await)
}

/// How many devices `user_id` has.
pub async fn count_for_user(db: &Db, user_id: UserId) -> Result<i64, sqlx::Error> {
    on_db!(db, p => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM push_subscriptions WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(p)
        .await)
}

/// Whether `endpoint` is already one of `user_id`'s devices (re-subscribing it adds nothing).
pub async fn owns_endpoint(db: &Db, user_id: UserId, endpoint: &str) -> Result<bool, sqlx::Error> {
    let n = on_db!(db, p => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM push_subscriptions WHERE user_id = $1 AND endpoint = $2",
    )
    .bind(user_id)
    .bind(endpoint)
    .fetch_one(p)
    .await)?;
    Ok(n > 0)
}

/// Every device of `user_id`, oldest first.
pub async fn for_user(db: &Db, user_id: UserId) -> Result<Vec<Subscription>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, Subscription>(
        "SELECT id, user_id, endpoint, p256dh, auth, user_agent, created_at, last_success_at, last_error_at, \
                last_error \
         FROM push_subscriptions WHERE user_id = $1 ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(p)
    .await)
}

/// Deletes `user_id`'s subscription of `endpoint`; another user's is left alone. Whether a row
/// went.
pub async fn delete_endpoint(db: &Db, user_id: UserId, endpoint: &str) -> Result<bool, sqlx::Error> {
    let n = on_db!(db, p => sqlx::query("DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint = $2")
        .bind(user_id)
        .bind(endpoint)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Deletes `user_id`'s subscription `id`; another user's is left alone. Whether a row went.
pub async fn delete_id(db: &Db, user_id: UserId, id: PushSubscriptionId) -> Result<bool, sqlx::Error> {
    let n = on_db!(db, p => sqlx::query("DELETE FROM push_subscriptions WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Deletes a subscription the push service says is gone (404, 410).
pub async fn delete_expired(db: &Db, id: PushSubscriptionId) -> Result<(), sqlx::Error> {
    on_db!(db, p => sqlx::query("DELETE FROM push_subscriptions WHERE id = $1")
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A delivery went through.
pub async fn mark_success(db: &Db, id: PushSubscriptionId, now: i64) -> Result<(), sqlx::Error> {
    on_db!(db, p => sqlx::query("UPDATE push_subscriptions SET last_success_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A delivery failed: `error` says why, without secrets (no endpoint, no key).
pub async fn mark_error(db: &Db, id: PushSubscriptionId, now: i64, error: &str) -> Result<(), sqlx::Error> {
    on_db!(db, p => sqlx::query("UPDATE push_subscriptions SET last_error_at = $1, last_error = $2 WHERE id = $3")
        .bind(now)
        .bind(error)
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}
