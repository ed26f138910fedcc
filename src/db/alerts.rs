//! Price alerts: the rules, settings and channels a user owns, the unsubscribe tokens, and the
//! prices an import changed (`alert_changes`, written inside the import's transaction). Every
//! statement about a user's rows is scoped by `user_id`: a user only ever reads or changes their
//! own. The outbox and the engine's reads live in [`super::alert_outbox`].

use crate::db::{Db, Tx, in_list};
use crate::domain::{ChannelId, ChannelKind, RuleId, RuleKind, SavedRouteId, StationId, UserId};
use crate::{on_db, on_tx};

/// Most rules one user may have.
pub const MAX_RULES: i64 = 30;
/// Quiet hours by default: 22:00 to 07:00, Europe/Paris (minutes after midnight).
pub const DEFAULT_QUIET: (i16, i16) = (22 * 60, 7 * 60);
/// Alert messages a day by default.
pub const DEFAULT_CAP: i16 = 3;
/// "Send a test": at most this many per channel kind and user in an hour…
pub const TESTS_PER_CHANNEL_HOUR: i64 = 3;
/// … and this many per user, all channels, in a day.
pub const TESTS_PER_USER_DAY: i64 = 10;
/// An import changing more prices than this is a bulk load (an archive), not news: no alerts.
pub const MAX_CHANGES_PER_IMPORT: usize = 100_000;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Rule {
    pub id: RuleId,
    pub user_id: UserId,
    #[sqlx(flatten)]
    pub f: RuleFields,
    pub paused: bool,
    pub created_at: i64,
}

const RULE_COLUMNS: &str = "id, user_id, kind, fuel, price, drop_by, place, latitude, longitude, radius_km, weekday, \
     hour, next_run_at, route_id, corridor_km, paused, created_at";

/// What a form sets on a rule (checked by `alerts::rules`).
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct RuleFields {
    pub kind: RuleKind,
    pub fuel: Option<i16>,
    pub price: Option<i32>,
    pub drop_by: Option<i32>,
    pub place: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub radius_km: Option<f64>,
    pub weekday: Option<i16>,
    pub hour: Option<i16>,
    pub next_run_at: Option<i64>,
    /// Threshold along one of the user's saved routes (`saved_routes.id`).
    #[sqlx(default)]
    pub route_id: Option<SavedRouteId>,
    /// Km each side of the route within which a station is along it (with `route_id` only).
    #[sqlx(default)]
    pub corridor_km: Option<f64>,
}

impl RuleFields {
    /// The place's bounding box: (min_lat, max_lat, min_lon, max_lon).
    fn bbox(&self) -> (Option<f64>, Option<f64>, Option<f64>, Option<f64>) {
        match (self.latitude, self.longitude, self.radius_km) {
            (Some(lat), Some(lon), Some(r)) => {
                let dlat = r / 111.0;
                let dlon = r / (111.0 * lat.to_radians().cos().max(0.05));
                (Some(lat - dlat), Some(lat + dlat), Some(lon - dlon), Some(lon + dlon))
            }
            _ => (None, None, None, None),
        }
    }
}

pub async fn rules(db: &Db, user_id: UserId) -> Result<Vec<Rule>, sqlx::Error> {
    let sql = format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE user_id = $1 ORDER BY id");
    on_db!(db, p => sqlx::query_as::<_, Rule>(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_all(p).await)
}

pub async fn rule(db: &Db, user_id: UserId, id: RuleId) -> Result<Option<Rule>, sqlx::Error> {
    let sql = format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE user_id = $1 AND id = $2");
    on_db!(db, p => sqlx::query_as::<_, Rule>(sqlx::AssertSqlSafe(sql)).bind(user_id).bind(id).fetch_optional(p).await)
}

/// Binds a rule's fields as `$1`…`$17`, in the order of [`RULE_SET`].
macro_rules! bind_fields {
    ($q:expr, $f:expr) => {{
        let f: &RuleFields = $f;
        let (min_lat, max_lat, min_lon, max_lon) = f.bbox();
        $q.bind(f.kind)
            .bind(f.fuel)
            .bind(f.price)
            .bind(f.drop_by)
            .bind(f.place.clone())
            .bind(f.latitude)
            .bind(f.longitude)
            .bind(f.radius_km)
            .bind(min_lat)
            .bind(max_lat)
            .bind(min_lon)
            .bind(max_lon)
            .bind(f.weekday)
            .bind(f.hour)
            .bind(f.next_run_at)
            .bind(f.route_id)
            .bind(f.corridor_km)
    }};
}

/// The columns a form sets, as `$1`…`$17`. The route (`$16`) is one of the user's own (checked
/// by the caller, and again here: another user's route id stores nothing).
const RULE_SET: &str = "kind = $1, fuel = $2, price = $3, drop_by = $4, place = $5, latitude = $6, longitude = $7, \
     radius_km = $8, min_lat = $9, max_lat = $10, min_lon = $11, max_lon = $12, weekday = $13, hour = $14, \
     next_run_at = $15, route_id = $16, corridor_km = $17";

/// The route of a rule is none or one of the rule's user's own saved routes.
const OWN_ROUTE: &str =
    "($16 IS NULL OR EXISTS (SELECT 1 FROM saved_routes s WHERE s.id = $16 AND s.user_id = alert_rules.user_id))";

/// Adds a rule; `None` when the user already has [`MAX_RULES`]. A route not the user's is an
/// error (`RowNotFound`) and stores nothing: callers check it first ([`super::routes::get`]).
pub async fn insert_rule(db: &Db, user_id: UserId, f: &RuleFields, now: i64) -> Result<Option<RuleId>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let (n,): (i64,) = on_tx!(&mut tx, c => sqlx::query_as("SELECT COUNT(*) FROM alert_rules WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(c)
        .await)?;
    if n >= MAX_RULES {
        tx.rollback().await?;
        return Ok(None);
    }
    let (id,): (RuleId,) = on_tx!(&mut tx, c => sqlx::query_as(
        "INSERT INTO alert_rules (user_id, kind, paused, created_at) VALUES ($1, $2, FALSE, $3) RETURNING id",
    )
    .bind(user_id)
    .bind(f.kind)
    .bind(now)
    .fetch_one(c)
    .await)?;
    let sql = format!("UPDATE alert_rules SET {RULE_SET} WHERE id = $18 AND {OWN_ROUTE}");
    let n = on_tx!(&mut tx, c => bind_fields!(sqlx::query(sqlx::AssertSqlSafe(sql)), f)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    if n != 1 {
        tx.rollback().await?;
        return Err(sqlx::Error::RowNotFound);
    }
    tx.commit().await?;
    Ok(Some(id))
}

/// Replaces the settings of one of the user's rules (its kind included). `false`: not theirs
/// (nor is the route, when it names one).
pub async fn update_rule(db: &Db, user_id: UserId, id: RuleId, f: &RuleFields) -> Result<bool, sqlx::Error> {
    let sql = format!("UPDATE alert_rules SET {RULE_SET} WHERE user_id = $18 AND id = $19 AND {OWN_ROUTE}");
    let n = on_db!(db, p => bind_fields!(sqlx::query(sqlx::AssertSqlSafe(sql)), f)
        .bind(user_id)
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Runs a statement on one row of the user's (`WHERE user_id = $1 AND id = $2`, then `extra` as
/// `$3`): `false` when no such row is theirs.
async fn on_own_row(
    db: &Db,
    sql: &'static str,
    user_id: UserId,
    id: i64,
    extra: Option<bool>,
) -> Result<bool, sqlx::Error> {
    let n = on_db!(db, p => {
        let mut q = sqlx::query(sql).bind(user_id).bind(id);
        if let Some(v) = extra {
            q = q.bind(v);
        }
        q.execute(p).await.map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

pub async fn set_rule_paused(db: &Db, user_id: UserId, id: RuleId, paused: bool) -> Result<bool, sqlx::Error> {
    on_own_row(db, "UPDATE alert_rules SET paused = $3 WHERE user_id = $1 AND id = $2", user_id, id.get(), Some(paused))
        .await
}

pub async fn delete_rule(db: &Db, user_id: UserId, id: RuleId) -> Result<bool, sqlx::Error> {
    on_own_row(db, "DELETE FROM alert_rules WHERE user_id = $1 AND id = $2", user_id, id.get(), None).await
}

/// Quiet hours and the daily cap of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Settings {
    pub quiet_start: i16,
    pub quiet_end: i16,
    pub daily_cap: i16,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { quiet_start: DEFAULT_QUIET.0, quiet_end: DEFAULT_QUIET.1, daily_cap: DEFAULT_CAP }
    }
}

pub async fn settings(db: &Db, user_id: UserId) -> Result<Settings, sqlx::Error> {
    let row = on_db!(db, p => sqlx::query_as::<_, Settings>(
        "SELECT quiet_start, quiet_end, daily_cap FROM alert_settings WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(p)
    .await)?;
    Ok(row.unwrap_or_default())
}

pub async fn save_settings(db: &Db, user_id: UserId, s: Settings) -> Result<(), sqlx::Error> {
    on_db!(db, p => sqlx::query(
        "INSERT INTO alert_settings (user_id, quiet_start, quiet_end, daily_cap) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id) DO UPDATE SET quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end, \
             daily_cap = excluded.daily_cap",
    )
    .bind(user_id)
    .bind(s.quiet_start)
    .bind(s.quiet_end)
    .bind(s.daily_cap)
    .execute(p)
    .await
    .map(|_| ()))
}

/// A delivery channel. `secret` (an ntfy access token) is read only by the delivery.
#[derive(Clone, PartialEq, sqlx::FromRow)]
pub struct Channel {
    pub id: ChannelId,
    pub user_id: UserId,
    pub kind: ChannelKind,
    pub target: Option<String>,
    pub secret: Option<String>,
    pub paused: bool,
    pub created_at: i64,
    pub last_delivered_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub failing_since: Option<i64>,
    pub delivered_count: i64,
    pub failed_count: i64,
}

/// Never the token.
impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("paused", &self.paused)
            .field("has_secret", &self.secret.is_some())
            .finish_non_exhaustive()
    }
}

const CHANNEL_COLUMNS: &str = "id, user_id, kind, target, secret, paused, created_at, last_delivered_at, last_error, \
     last_error_at, failing_since, delivered_count, failed_count";

pub async fn channels(db: &Db, user_id: UserId) -> Result<Vec<Channel>, sqlx::Error> {
    let sql = format!("SELECT {CHANNEL_COLUMNS} FROM alert_channels WHERE user_id = $1 ORDER BY id");
    on_db!(db, p => sqlx::query_as::<_, Channel>(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_all(p).await)
}

pub async fn channel(db: &Db, user_id: UserId, id: ChannelId) -> Result<Option<Channel>, sqlx::Error> {
    let sql = format!("SELECT {CHANNEL_COLUMNS} FROM alert_channels WHERE user_id = $1 AND id = $2");
    on_db!(db, p => sqlx::query_as::<_, Channel>(sqlx::AssertSqlSafe(sql)).bind(user_id).bind(id).fetch_optional(p).await)
}

/// Creates or replaces the user's channel of `kind` (one of each kind). A new target or token
/// un-pauses it and clears its failure streak. `secret: None` keeps the stored token unless
/// `clear_secret`.
pub async fn save_channel(
    db: &Db,
    user_id: UserId,
    kind: ChannelKind,
    target: Option<&str>,
    secret: Option<&str>,
    clear_secret: bool,
    now: i64,
) -> Result<ChannelId, sqlx::Error> {
    let (id,): (ChannelId,) = on_db!(db, p => sqlx::query_as(
        "INSERT INTO alert_channels (user_id, kind, target, secret, paused, created_at) \
         VALUES ($1, $2, $3, $4, FALSE, $5) \
         ON CONFLICT (user_id, kind) DO UPDATE SET target = excluded.target, \
             secret = CASE WHEN $6 THEN NULL WHEN excluded.secret IS NULL THEN alert_channels.secret \
                      ELSE excluded.secret END, \
             paused = FALSE, failing_since = NULL \
         RETURNING id",
    )
    .bind(user_id)
    .bind(kind)
    .bind(target)
    .bind(secret)
    .bind(now)
    .bind(clear_secret)
    .fetch_one(p)
    .await)?;
    Ok(id)
}

pub async fn set_channel_paused(db: &Db, user_id: UserId, id: ChannelId, paused: bool) -> Result<bool, sqlx::Error> {
    let sql = "UPDATE alert_channels SET paused = $3, failing_since = NULL WHERE user_id = $1 AND id = $2";
    on_own_row(db, sql, user_id, id.get(), Some(paused)).await
}

pub async fn delete_channel(db: &Db, user_id: UserId, id: ChannelId) -> Result<bool, sqlx::Error> {
    on_own_row(db, "DELETE FROM alert_channels WHERE user_id = $1 AND id = $2", user_id, id.get(), None).await
}

// ---------------------------------------------------------------------------------------------
// "Send a test"

/// What [`take_test_slot`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestSlot {
    /// Counted: the test may go.
    Taken,
    /// [`TESTS_PER_CHANNEL_HOUR`] tests of this kind in the last hour already.
    ChannelHour,
    /// [`TESTS_PER_USER_DAY`] tests in the last day already.
    UserDay,
}

/// Counts one test of `user_id` to a channel of `kind` at `now`, unless a limit is reached, in
/// the caller's transaction (which then queues or sends the test). A test also counts against
/// the user's daily cap of alert messages (`alert_daily`, Paris `day`). Requests at once, on
/// any instance, are counted one after the other: the user's `alert_test_gate` row is written
/// first.
pub async fn take_test_slot(
    tx: &mut Tx,
    user_id: UserId,
    kind: ChannelKind,
    now: i64,
    day: i32,
) -> Result<TestSlot, sqlx::Error> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO alert_test_gate (user_id, requests) VALUES ($1, 1) \
         ON CONFLICT (user_id) DO UPDATE SET requests = alert_test_gate.requests + 1",
    )
    .bind(user_id)
    .execute(c)
    .await
    .map(|_| ()))?;
    on_tx!(tx, c => sqlx::query("DELETE FROM alert_test_sends WHERE user_id = $1 AND sent_at <= $2")
        .bind(user_id)
        .bind(now - 86_400)
        .execute(c)
        .await
        .map(|_| ()))?;
    let (day_count, hour_count): (i64, i64) = on_tx!(tx, c => sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN kind = $2 AND sent_at > $3 THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM alert_test_sends WHERE user_id = $1",
    )
    .bind(user_id)
    .bind(kind)
    .bind(now - 3600)
    .fetch_one(c)
    .await)?;
    if hour_count >= TESTS_PER_CHANNEL_HOUR {
        return Ok(TestSlot::ChannelHour);
    }
    if day_count >= TESTS_PER_USER_DAY {
        return Ok(TestSlot::UserDay);
    }
    on_tx!(tx, c => sqlx::query("INSERT INTO alert_test_sends (user_id, kind, sent_at) VALUES ($1, $2, $3)")
        .bind(user_id)
        .bind(kind)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO alert_daily (user_id, day, count) VALUES ($1, $2, 1) \
         ON CONFLICT (user_id, day) DO UPDATE SET count = alert_daily.count + 1",
    )
    .bind(user_id)
    .bind(day)
    .execute(c)
    .await
    .map(|_| ()))?;
    Ok(TestSlot::Taken)
}

// ---------------------------------------------------------------------------------------------
// Unsubscribe tokens

/// Stores the SHA-256 of `token` for each of `rule_ids` (the rules of one message).
pub async fn add_unsubscribe(db: &Db, token_hash: &str, rule_ids: &[RuleId], now: i64) -> Result<(), sqlx::Error> {
    for id in rule_ids {
        on_db!(db, p => sqlx::query(
            "INSERT INTO alert_unsubscribe (token_hash, rule_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (token_hash, rule_id) DO NOTHING",
        )
        .bind(token_hash)
        .bind(*id)
        .bind(now)
        .execute(p)
        .await
        .map(|_| ()))?;
    }
    Ok(())
}

/// How long an unsubscribe link works (seconds): a year. A token also goes with its rule (the
/// foreign key cascades); the cleaning job deletes the expired ones
/// ([`delete_expired_unsubscribe`]).
pub const UNSUBSCRIBE_TOKEN_LIFETIME: i64 = 365 * 86_400;

/// The rules a token still valid at `now` pauses, with their user's id.
pub async fn unsubscribe_rules(db: &Db, token_hash: &str, now: i64) -> Result<Vec<Rule>, sqlx::Error> {
    let sql = format!(
        "SELECT {} FROM alert_rules r JOIN alert_unsubscribe u ON u.rule_id = r.id \
         WHERE u.token_hash = $1 AND u.created_at > $2 ORDER BY r.id",
        RULE_COLUMNS.split(", ").map(|c| format!("r.{c}")).collect::<Vec<_>>().join(", ")
    );
    on_db!(db, p => sqlx::query_as::<_, Rule>(sqlx::AssertSqlSafe(sql))
        .bind(token_hash)
        .bind(now - UNSUBSCRIBE_TOKEN_LIFETIME)
        .fetch_all(p)
        .await)
}

/// Pauses the rules of a token still valid at `now`; returns how many were active.
pub async fn unsubscribe(db: &Db, token_hash: &str, now: i64) -> Result<u64, sqlx::Error> {
    on_db!(db, p => sqlx::query(
        "UPDATE alert_rules SET paused = TRUE WHERE NOT paused AND id IN \
             (SELECT rule_id FROM alert_unsubscribe WHERE token_hash = $1 AND created_at > $2)",
    )
    .bind(token_hash)
    .bind(now - UNSUBSCRIBE_TOKEN_LIFETIME)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
}

/// Deletes the unsubscribe tokens expired at `now` (the cleaning job); returns how many.
pub async fn delete_expired_unsubscribe(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    on_db!(db, p => sqlx::query("DELETE FROM alert_unsubscribe WHERE created_at <= $1")
        .bind(now - UNSUBSCRIBE_TOKEN_LIFETIME)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
}

// ---------------------------------------------------------------------------------------------
// Changes of an import

/// A current price an import moved: the identity of a price change is (station, fuel, at).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct PriceChange {
    pub station_id: StationId,
    pub fuel: i16,
    pub old_price: i32,
    pub new_price: i32,
    pub changed_at: i64,
}

/// Called by the feed loader inside the import's transaction: the changes are then either
/// committed with the prices or not at all, and the engine finds them even when the process dies
/// before evaluating them. Nothing is written when no active rule can use them, nor for a bulk
/// load ([`MAX_CHANGES_PER_IMPORT`]).
pub async fn record_changes(tx: &mut Tx, changes: &[PriceChange], now: i64) -> Result<usize, sqlx::Error> {
    if changes.is_empty() {
        return Ok(0);
    }
    if changes.len() > MAX_CHANGES_PER_IMPORT {
        tracing::info!(changes = changes.len(), "alerts: a bulk load, its price changes raise no alert");
        return Ok(0);
    }
    let (active,): (i64,) = on_tx!(tx, c => sqlx::query_as(
        "SELECT COUNT(*) FROM (SELECT 1 FROM alert_rules WHERE NOT paused AND kind <> $1 LIMIT 1) x",
    )
    .bind(RuleKind::Digest)
    .fetch_one(c)
    .await)?;
    if active == 0 {
        return Ok(0);
    }
    let backend = tx.backend();
    for part in changes.chunks(crate::db::Backend::batch_rows(6)) {
        let sql = format!(
            "INSERT INTO alert_changes (station_id, fuel, old_price, new_price, changed_at, created_at) VALUES {}",
            crate::db::values_placeholders(backend, part.len(), 6)
        );
        on_tx!(tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for ch in part {
                q = q.bind(ch.station_id).bind(ch.fuel).bind(ch.old_price).bind(ch.new_price).bind(ch.changed_at).bind(now);
            }
            q.execute(c).await?;
        });
    }
    Ok(changes.len())
}

/// The id range of the oldest `limit` changes waiting for the engine.
pub async fn pending_change_range(db: &Db, limit: i64) -> Result<Option<(i64, i64)>, sqlx::Error> {
    let ids: Vec<(i64,)> = on_db!(db, p => sqlx::query_as("SELECT id FROM alert_changes ORDER BY id LIMIT $1")
        .bind(limit)
        .fetch_all(p)
        .await)?;
    Ok(ids.first().zip(ids.last()).map(|(a, b)| (a.0, b.0)))
}

pub async fn changes_in(db: &Db, first: i64, last: i64) -> Result<Vec<PriceChange>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, PriceChange>(
        "SELECT station_id, fuel, old_price, new_price, changed_at FROM alert_changes \
         WHERE id >= $1 AND id <= $2 ORDER BY id",
    )
    .bind(first)
    .bind(last)
    .fetch_all(p)
    .await)
}

/// Fetches rows of an `IN` list query in chunks: `sql(list)` gets the placeholders.
pub(crate) async fn by_ids<T>(db: &Db, ids: &[i64], sql: impl Fn(&str) -> String) -> Result<Vec<T>, sqlx::Error>
where
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    let mut out = Vec::new();
    for part in ids.chunks(crate::db::Backend::BATCH_ROWS) {
        let text = sql(&in_list(db.backend(), 1, part.len()));
        let rows: Vec<T> = on_db!(db, p => {
            let mut q = sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(text));
            for id in part {
                q = q.bind(*id);
            }
            q.fetch_all(p).await?
        });
        out.extend(rows);
    }
    Ok(out)
}
