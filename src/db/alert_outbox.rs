//! The alert engine's reads (which rules a batch of price changes concerns) and the outbox: one
//! message per user (several triggers coalesced), one row per message and channel, claimed by
//! one delivering process at a time under a lease.

use crate::db::alerts::by_ids;
use crate::db::{Db, Tx};
use crate::domain::{
    ChannelId, ChannelKind, MessageId, MessageKind, OutboxId, RuleId, RuleKind, SavedRouteId, StationId, UserId,
};
use crate::{on_db, on_tx};

/// Where an outbox row stands, stored as its word in `alert_outbox.state`: waiting for its
/// attempt, claimed by a delivering process under a lease, delivered, or given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxState {
    Pending,
    Sending,
    Sent,
    Failed,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sending => "sending",
            OutboxState::Sent => "sent",
            OutboxState::Failed => "failed",
        }
    }

    pub const ALL: [OutboxState; 4] =
        [OutboxState::Pending, OutboxState::Sending, OutboxState::Sent, OutboxState::Failed];
}

crate::text_column!(OutboxState, "outbox state", OutboxState::ALL);

/// A rule of a user who follows the changed station, for the fuel that changed, and whose
/// condition the change may meet (threshold and drop are already checked here).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Candidate {
    pub station_id: StationId,
    pub fuel: i16,
    pub old_price: i32,
    pub new_price: i32,
    pub changed_at: i64,
    pub rule_id: RuleId,
    pub user_id: UserId,
    pub kind: RuleKind,
    pub price: Option<i32>,
}

/// Rules on the user's own stations met by the changes `first..=last`.
pub async fn mine_candidates(db: &Db, first: i64, last: i64) -> Result<Vec<Candidate>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, Candidate>(
        "SELECT c.station_id, c.fuel, c.old_price, c.new_price, c.changed_at, r.id AS rule_id, r.user_id, r.kind, r.price \
         FROM alert_changes c CROSS JOIN user_stations us CROSS JOIN alert_rules r \
         WHERE us.station_id = c.station_id AND r.user_id = us.user_id AND r.fuel = c.fuel \
           AND c.id >= $1 AND c.id <= $2 AND NOT r.paused AND ( \
             (r.kind = $3 AND r.latitude IS NULL AND r.route_id IS NULL AND c.new_price <= r.price AND c.old_price > r.price) \
             OR (r.kind = $4 AND c.old_price - c.new_price >= r.drop_by) \
             OR r.kind = $5)",
    )
    .bind(first)
    .bind(last)
    .bind(RuleKind::Threshold)
    .bind(RuleKind::Drop)
    .bind(RuleKind::Cheapest)
    .fetch_all(p)
    .await)
}

/// An active threshold rule along a saved route of its user's.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RouteRule {
    pub id: RuleId,
    pub user_id: UserId,
    pub fuel: i16,
    pub price: i32,
    pub route_id: SavedRouteId,
    /// Km each side of the route (NULL on a row no form wrote: the default width).
    pub corridor_km: Option<f64>,
}

/// The active threshold rules along a saved route of their user's (`fuels`: only these). Light
/// rows: the routes' points are read only for the rules a change met ([`route_paths`]).
pub async fn route_rules(db: &Db, fuels: &[i16]) -> Result<Vec<RouteRule>, sqlx::Error> {
    let ids: Vec<i64> = fuels.iter().map(|f| i64::from(*f)).collect();
    by_ids(db, &ids, |list| {
        format!(
            "SELECT r.id, r.user_id, r.fuel, r.price, r.route_id, r.corridor_km FROM alert_rules r \
             JOIN saved_routes s ON s.id = r.route_id AND s.user_id = r.user_id \
             WHERE r.kind = '{threshold}' AND r.route_id IS NOT NULL AND NOT r.paused AND r.price IS NOT NULL \
               AND r.fuel IN ({list}) ORDER BY r.id",
            threshold = RuleKind::Threshold.as_str()
        )
    })
    .await
}

/// Saved routes by id: (id, name, stored points `lat,lon;…`).
pub async fn route_paths(
    db: &Db,
    route_ids: &[SavedRouteId],
) -> Result<Vec<(SavedRouteId, String, String)>, sqlx::Error> {
    let ids: Vec<i64> = route_ids.iter().map(|r| r.get()).collect();
    by_ids(db, &ids, |list| format!("SELECT id, name, points FROM saved_routes WHERE id IN ({list})")).await
}

/// An active threshold rule around a place.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlaceRule {
    pub id: RuleId,
    pub user_id: UserId,
    pub fuel: i16,
    pub price: i32,
    pub latitude: f64,
    pub longitude: f64,
    pub radius_km: f64,
    pub min_lat: f64,
    pub max_lat: f64,
    pub min_lon: f64,
    pub max_lon: f64,
}

/// The tallest bounding box of a place rule, in degrees of latitude: twice the largest radius
/// (100 km) over 111 km a degree, rounded up.
pub const MAX_BOX_DEGREES: f64 = 1.85;

/// Every active place rule: a few per user at most, matched in memory against the changed
/// stations (an index range on one coordinate cannot bound a box on both sides).
pub async fn place_rules(db: &Db) -> Result<Vec<PlaceRule>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, PlaceRule>(
        "SELECT id, user_id, fuel, price, latitude, longitude, radius_km, min_lat, max_lat, min_lon, max_lon \
         FROM alert_rules WHERE kind = $1 AND latitude IS NOT NULL AND NOT paused",
    )
    .bind(RuleKind::Threshold)
    .fetch_all(p)
    .await)
}

/// Positions of stations: (id, latitude, longitude).
pub async fn positions(db: &Db, ids: &[StationId]) -> Result<Vec<(StationId, f64, f64)>, sqlx::Error> {
    let ids: Vec<i64> = ids.iter().map(|s| s.get()).collect();
    by_ids(db, &ids, |list| format!("SELECT id, latitude, longitude FROM stations WHERE id IN ({list})")).await
}

/// The current prices at the stations of the given `cheapest` rules: (rule, station, price).
pub async fn rule_station_prices(db: &Db, rule_ids: &[RuleId]) -> Result<Vec<(RuleId, StationId, i32)>, sqlx::Error> {
    let ids: Vec<i64> = rule_ids.iter().map(|r| r.get()).collect();
    by_ids(db, &ids, |list| {
        format!(
            "SELECT r.id, p.station_id, p.price FROM alert_rules r \
             JOIN user_stations us ON us.user_id = r.user_id \
             JOIN prices p ON p.station_id = us.station_id AND p.fuel = r.fuel \
             WHERE r.id IN ({list})"
        )
    })
    .await
}

/// Quiet hours and cap of the given users (absent: defaults).
pub async fn settings_of(db: &Db, user_ids: &[UserId]) -> Result<Vec<(UserId, i16, i16, i16)>, sqlx::Error> {
    let ids: Vec<i64> = user_ids.iter().map(|u| u.get()).collect();
    by_ids(db, &ids, |list| {
        format!("SELECT user_id, quiet_start, quiet_end, daily_cap FROM alert_settings WHERE user_id IN ({list})")
    })
    .await
}

/// What a rule fired on, the identity of a trigger beside its rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occurrence {
    /// A price change: the station, the fuel and when the new price was set.
    Change { station: StationId, fuel: i16, at: i64 },
    /// A digest's scheduled time (no station, no fuel).
    Digest { at: i64 },
}

impl Occurrence {
    /// The `alert_dedup` key columns (station_id, fuel, changed_at). They are the primary key,
    /// NOT NULL: a digest stores 0 as its station and fuel, a value no station id takes
    /// ([`StationId::new`] starts at 1) nor any fuel (ids start at 1).
    fn columns(self) -> (i64, i16, i64) {
        match self {
            Occurrence::Change { station, fuel, at } => (station.get(), fuel, at),
            Occurrence::Digest { at } => (0, 0, at),
        }
    }
}

/// Records a trigger unless it was already recorded. `true`: new, it must be delivered.
pub async fn insert_dedup(tx: &mut Tx, rule_id: RuleId, what: Occurrence, now: i64) -> Result<bool, sqlx::Error> {
    let (station_id, fuel, changed_at) = what.columns();
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO alert_dedup (rule_id, station_id, fuel, changed_at, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (rule_id, station_id, fuel, changed_at) DO NOTHING",
    )
    .bind(rule_id)
    .bind(station_id)
    .bind(fuel)
    .bind(changed_at)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The user's alert message not yet being delivered, to merge new triggers into.
pub async fn open_message(
    tx: &mut Tx,
    user_id: UserId,
    kind: MessageKind,
) -> Result<Option<(MessageId, String)>, sqlx::Error> {
    on_tx!(tx, c => sqlx::query_as(
        "SELECT id, payload FROM alert_messages WHERE user_id = $1 AND kind = $2 AND NOT sealed ORDER BY id DESC LIMIT 1",
    )
    .bind(user_id)
    .bind(kind)
    .fetch_optional(c)
    .await)
}

/// Replaces the payload of a message nobody started delivering. `false`: it was sealed meanwhile.
pub async fn merge_into(tx: &mut Tx, id: MessageId, payload: &str) -> Result<bool, sqlx::Error> {
    let n = on_tx!(tx, c => sqlx::query("UPDATE alert_messages SET payload = $1 WHERE id = $2 AND NOT sealed")
        .bind(payload)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Counts one more alert message on `day` for the user, unless `cap` are counted already.
pub async fn take_daily_slot(tx: &mut Tx, user_id: UserId, day: i32, cap: i16) -> Result<bool, sqlx::Error> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO alert_daily (user_id, day, count) VALUES ($1, $2, 1) \
         ON CONFLICT (user_id, day) DO UPDATE SET count = alert_daily.count + 1 WHERE alert_daily.count < $3",
    )
    .bind(user_id)
    .bind(day)
    .bind(i32::from(cap))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Creates a message and its outbox rows, one per active channel of the user (or only
/// `channel` when given: a test, a notice). The email channel gets a row only while the
/// account's address is confirmed. Returns the message id and how many rows.
pub async fn enqueue(
    tx: &mut Tx,
    user_id: UserId,
    kind: MessageKind,
    payload: &str,
    deliver_after: i64,
    channel: Option<ChannelId>,
    now: i64,
) -> Result<(MessageId, u64), sqlx::Error> {
    let (id,): (MessageId,) = on_tx!(tx, c => sqlx::query_as(
        "INSERT INTO alert_messages (user_id, kind, payload, created_at, deliver_after, sealed) \
         VALUES ($1, $2, $3, $4, $5, FALSE) RETURNING id",
    )
    .bind(user_id)
    .bind(kind)
    .bind(payload)
    .bind(now)
    .bind(deliver_after)
    .fetch_one(c)
    .await)?;
    let rows = on_tx!(tx, c => sqlx::query(
        "INSERT INTO alert_outbox (message_id, channel_id, state, attempts, next_attempt_at, created_at) \
         SELECT $1, id, $7, 0, $2, $3 FROM alert_channels \
         WHERE user_id = $4 AND (($5 AND NOT paused) OR id = $6) \
           AND (kind <> $8 OR EXISTS (SELECT 1 FROM users u WHERE u.id = $4 AND u.email_confirmed))",
    )
    .bind(id)
    .bind(deliver_after)
    .bind(now)
    .bind(user_id)
    .bind(channel.is_none())
    .bind(channel.map_or(-1, ChannelId::get))
    .bind(OutboxState::Pending)
    .bind(ChannelKind::Email)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok((id, rows))
}

/// Drops the changes `first..=last` once evaluated (in the transaction that wrote their outbox).
pub async fn delete_changes(tx: &mut Tx, first: i64, last: i64) -> Result<u64, sqlx::Error> {
    on_tx!(tx, c => sqlx::query("DELETE FROM alert_changes WHERE id >= $1 AND id <= $2")
        .bind(first)
        .bind(last)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

// ---------------------------------------------------------------------------------------------
// Delivery

/// Outbox rows due at `now`: pending and due, or claimed by a holder whose lease ran out.
pub async fn due(db: &Db, now: i64, limit: i64) -> Result<Vec<OutboxId>, sqlx::Error> {
    let rows: Vec<(OutboxId,)> = on_db!(db, p => sqlx::query_as(
        "SELECT id FROM alert_outbox WHERE (state = $3 AND next_attempt_at <= $1) \
             OR (state = $4 AND lease_until <= $1) ORDER BY id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .bind(OutboxState::Pending)
    .bind(OutboxState::Sending)
    .fetch_all(p)
    .await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Claims one row for `holder` until `now + lease`: a single conditional UPDATE, so two processes
/// never both win it. Also seals its message (nothing more merges into what is being sent).
pub async fn claim(db: &Db, id: OutboxId, holder: &str, now: i64, lease: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let n = on_tx!(&mut tx, c => sqlx::query(
        "UPDATE alert_outbox SET state = $5, claimed_by = $1, lease_until = $2, attempts = attempts + 1 \
         WHERE id = $3 AND ((state = $6 AND next_attempt_at <= $4) OR (state = $5 AND lease_until <= $4))",
    )
    .bind(holder)
    .bind(now + lease)
    .bind(id)
    .bind(now)
    .bind(OutboxState::Sending)
    .bind(OutboxState::Pending)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if n == 1 {
        on_tx!(&mut tx, c => sqlx::query(
            "UPDATE alert_messages SET sealed = TRUE WHERE id = (SELECT message_id FROM alert_outbox WHERE id = $1)",
        )
        .bind(id)
        .execute(c)
        .await
        .map(|_| ()))?;
    }
    tx.commit().await?;
    Ok(n == 1)
}

/// Everything the delivery of one claimed row needs.
#[derive(Clone, sqlx::FromRow)]
pub struct Job {
    pub outbox_id: OutboxId,
    pub attempts: i32,
    pub created_at: i64,
    pub message_id: MessageId,
    pub message_kind: MessageKind,
    pub payload: String,
    pub channel_id: ChannelId,
    pub channel_kind: ChannelKind,
    pub target: Option<String>,
    pub secret: Option<String>,
    pub user_id: UserId,
    pub email: String,
    /// Whether `email` is confirmed: nothing is mailed to it otherwise.
    pub email_confirmed: bool,
    pub display_name: String,
    pub lang: String,
    pub litres_per_year: i32,
}

pub async fn job(db: &Db, outbox_id: OutboxId) -> Result<Option<Job>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, Job>(
        "SELECT o.id AS outbox_id, o.attempts, o.created_at, m.id AS message_id, m.kind AS message_kind, m.payload, \
                ch.id AS channel_id, ch.kind AS channel_kind, ch.target, ch.secret, u.id AS user_id, u.email, \
                u.email_confirmed, u.display_name, u.lang, u.litres_per_year \
         FROM alert_outbox o JOIN alert_messages m ON m.id = o.message_id \
         JOIN alert_channels ch ON ch.id = o.channel_id JOIN users u ON u.id = m.user_id \
         WHERE o.id = $1",
    )
    .bind(outbox_id)
    .fetch_optional(p)
    .await)
}

/// Ends a claim: the row's new state, sent time and next attempt, and its error.
async fn close_row(
    tx: &mut Tx,
    job: &Job,
    holder: &str,
    (state, sent_at, next): (OutboxState, Option<i64>, i64),
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE alert_outbox SET state = $1, sent_at = $2, next_attempt_at = $3, lease_until = NULL, last_error = $4 \
         WHERE id = $5 AND claimed_by = $6",
    )
    .bind(state)
    .bind(sent_at)
    .bind(next)
    .bind(error)
    .bind(job.outbox_id)
    .bind(holder)
    .execute(c)
    .await
    .map(|_| ()))
}

/// The row was delivered: done, and the channel's streak of failures ends.
pub async fn delivered(db: &Db, job: &Job, holder: &str, now: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    close_row(&mut tx, job, holder, (OutboxState::Sent, Some(now), now), None).await?;
    on_tx!(&mut tx, c => sqlx::query(
        "UPDATE alert_channels SET last_delivered_at = $1, failing_since = NULL, delivered_count = delivered_count + 1 \
         WHERE id = $2",
    )
    .bind(now)
    .bind(job.channel_id)
    .execute(c)
    .await
    .map(|_| ()))?;
    tx.commit().await
}

/// The row failed: retried at `retry_at`, or given up (`None`). Records the channel's error and
/// pauses it when it has been failing since `pause_before` or earlier; returns whether this call
/// paused it (the caller tells the user).
pub async fn failed(
    db: &Db,
    job: &Job,
    holder: &str,
    error: &str,
    retry_at: Option<i64>,
    now: i64,
    pause_before: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let state = if retry_at.is_some() { OutboxState::Pending } else { OutboxState::Failed };
    close_row(&mut tx, job, holder, (state, None, retry_at.unwrap_or(now)), Some(error)).await?;
    on_tx!(&mut tx, c => sqlx::query(
        "UPDATE alert_channels SET last_error = $1, last_error_at = $2, failed_count = failed_count + 1, \
             failing_since = COALESCE(failing_since, $2) WHERE id = $3",
    )
    .bind(error)
    .bind(now)
    .bind(job.channel_id)
    .execute(c)
    .await
    .map(|_| ()))?;
    let paused = on_tx!(&mut tx, c => sqlx::query(
        "UPDATE alert_channels SET paused = TRUE WHERE id = $1 AND NOT paused AND failing_since <= $2",
    )
    .bind(job.channel_id)
    .bind(pause_before)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if paused == 1 {
        // What was waiting for the paused channel will not go.
        on_tx!(&mut tx, c => sqlx::query(
            "UPDATE alert_outbox SET state = $2, last_error = 'channel paused' \
             WHERE channel_id = $1 AND state = $3",
        )
        .bind(job.channel_id)
        .bind(OutboxState::Failed)
        .bind(OutboxState::Pending)
        .execute(c)
        .await
        .map(|_| ()))?;
    }
    tx.commit().await?;
    Ok(paused == 1)
}

/// Per channel kind: delivered and failed attempts (counters of the channels), rows waiting,
/// rows given up, channels paused. For the admin console.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KindStats {
    pub kind: ChannelKind,
    pub channels: i64,
    pub paused: i64,
    pub delivered: i64,
    pub failures: i64,
    pub waiting: i64,
    pub given_up: i64,
}

pub async fn stats(db: &Db) -> Result<Vec<KindStats>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, KindStats>(
        "SELECT ch.kind, COUNT(*) AS channels, \
                CAST(SUM(CASE WHEN ch.paused THEN 1 ELSE 0 END) AS BIGINT) AS paused, \
                CAST(SUM(ch.delivered_count) AS BIGINT) AS delivered, \
                CAST(SUM(ch.failed_count) AS BIGINT) AS failures, \
                CAST(SUM(COALESCE(o.waiting, 0)) AS BIGINT) AS waiting, \
                CAST(SUM(COALESCE(o.given_up, 0)) AS BIGINT) AS given_up \
         FROM alert_channels ch LEFT JOIN (SELECT channel_id, \
                SUM(CASE WHEN state IN ($1, $2) THEN 1 ELSE 0 END) AS waiting, \
                SUM(CASE WHEN state = $3 THEN 1 ELSE 0 END) AS given_up \
              FROM alert_outbox GROUP BY channel_id) o ON o.channel_id = ch.id \
         GROUP BY ch.kind ORDER BY ch.kind",
    )
    .bind(OutboxState::Pending)
    .bind(OutboxState::Sending)
    .bind(OutboxState::Failed)
    .fetch_all(p)
    .await)
}

/// Digest rules due at `now`. The kind is written in the text ([`RuleKind::Digest`]'s word), not
/// bound: the partial index `alert_rules_digest` (`WHERE kind = 'digest'`) serves the query only
/// when the planner sees the constant (PostgreSQL's generic plans never match a parameter to it).
pub async fn due_digests(db: &Db, now: i64, limit: i64) -> Result<Vec<crate::db::alerts::Rule>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, crate::db::alerts::Rule>(
        "SELECT id, user_id, kind, fuel, price, drop_by, place, latitude, longitude, radius_km, weekday, hour, \
                next_run_at, paused, created_at \
         FROM alert_rules WHERE kind = 'digest' AND next_run_at <= $1 ORDER BY next_run_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(p)
    .await)
}

/// Moves a digest rule to its next occurrence, only from the occurrence just handled.
pub async fn advance_digest(tx: &mut Tx, rule_id: RuleId, from: i64, next: i64) -> Result<bool, sqlx::Error> {
    let n = on_tx!(tx, c => sqlx::query("UPDATE alert_rules SET next_run_at = $1 WHERE id = $2 AND next_run_at = $3")
        .bind(next)
        .bind(rule_id)
        .bind(from)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// How a user sees a station: (city, the user's own name for it, its OpenStreetMap name).
pub async fn station_label(
    db: &Db,
    user_id: UserId,
    station_id: StationId,
) -> Result<Option<(String, Option<String>, Option<String>)>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as(
        "SELECT s.city, us.name, n.name FROM stations s \
         LEFT JOIN user_stations us ON us.station_id = s.id AND us.user_id = $1 \
         LEFT JOIN station_names n ON n.station_id = s.id WHERE s.id = $2",
    )
    .bind(user_id)
    .bind(station_id)
    .fetch_optional(p)
    .await)
}
