//! `user_stations`: the stations a user follows, in their order, with their own names; and the
//! prices the dashboard shows for them. Every statement is scoped by `user_id`: a user can only
//! ever read or change their own rows.

use crate::db::Db;
use crate::domain::{StationId, UserId};
use crate::{on_db, on_tx};

/// Most stations one user may follow: a dashboard, not a mirror of the feed.
pub const MAX_STATIONS: i64 = 50;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Favourite {
    pub station_id: StationId,
    pub name: Option<String>,
    pub position: i32,
    pub added_at: i64,
    pub city: String,
    pub address: String,
    pub postcode: String,
    pub department: String,
    pub latitude: f64,
    pub longitude: f64,
    pub missing_since: Option<i64>,
}

pub async fn list(db: &Db, user_id: UserId) -> Result<Vec<Favourite>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, Favourite>(
        "SELECT f.station_id, f.name, f.position, f.added_at, s.city, s.address, s.postcode, s.department, \
                s.latitude, s.longitude, s.missing_since \
         FROM user_stations f JOIN stations s ON s.id = f.station_id \
         WHERE f.user_id = $1 ORDER BY f.position, f.station_id",
    )
    .bind(user_id)
    .fetch_all(p)
    .await)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Added,
    AlreadyThere,
    NoSuchStation,
    Full,
}

/// Follows a station, at the end of the user's list.
pub async fn add(db: &Db, user_id: UserId, station_id: StationId, now: i64) -> Result<Added, sqlx::Error> {
    let mut tx = db.begin().await?;
    let (exists, count, already, next): (i64, i64, i64, i64) = on_tx!(&mut tx, c => sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM stations WHERE id = $2), \
                (SELECT COUNT(*) FROM user_stations WHERE user_id = $1), \
                (SELECT COUNT(*) FROM user_stations WHERE user_id = $1 AND station_id = $2), \
                (SELECT CAST(COALESCE(MAX(position), 0) + 1 AS BIGINT) FROM user_stations WHERE user_id = $1)",
    )
    .bind(user_id)
    .bind(station_id)
    .fetch_one(c)
    .await)?;
    let outcome = if exists == 0 {
        Added::NoSuchStation
    } else if already > 0 {
        Added::AlreadyThere
    } else if count >= MAX_STATIONS {
        Added::Full
    } else {
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO user_stations (user_id, station_id, name, position, added_at) VALUES ($1, $2, NULL, $3, $4)",
        )
        .bind(user_id)
        .bind(station_id)
        .bind(next as i32)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Added::Added
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Sets (or with `None` clears) the user's own name of a station. `false`: not followed.
pub async fn rename(db: &Db, user_id: UserId, station_id: StationId, name: Option<&str>) -> Result<bool, sqlx::Error> {
    let r = on_db!(db, p => sqlx::query("UPDATE user_stations SET name = $1 WHERE user_id = $2 AND station_id = $3")
        .bind(name)
        .bind(user_id)
        .bind(station_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

pub async fn remove(db: &Db, user_id: UserId, station_id: StationId) -> Result<bool, sqlx::Error> {
    let r = on_db!(db, p => sqlx::query("DELETE FROM user_stations WHERE user_id = $1 AND station_id = $2")
        .bind(user_id)
        .bind(station_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Moves a station one place up (`up`) or down the user's list, swapping with its neighbour.
/// Positions are renumbered 1..n in the same transaction, so gaps left by removals never matter.
pub async fn move_one(db: &Db, user_id: UserId, station_id: StationId, up: bool) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let rows: Vec<(StationId,)> = on_tx!(&mut tx, c => sqlx::query_as(
        "SELECT station_id FROM user_stations WHERE user_id = $1 ORDER BY position, station_id",
    )
    .bind(user_id)
    .fetch_all(c)
    .await)?;
    let mut ids: Vec<StationId> = rows.into_iter().map(|(id,)| id).collect();
    let Some(i) = ids.iter().position(|id| *id == station_id) else {
        tx.rollback().await?;
        return Ok(false);
    };
    let j = if up { i.checked_sub(1) } else { Some(i + 1).filter(|j| *j < ids.len()) };
    if let Some(j) = j {
        ids.swap(i, j);
    }
    for (pos, id) in ids.iter().enumerate() {
        on_tx!(&mut tx, c => sqlx::query("UPDATE user_stations SET position = $1 WHERE user_id = $2 AND station_id = $3")
            .bind(pos as i32 + 1)
            .bind(user_id)
            .bind(*id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    tx.commit().await?;
    Ok(true)
}

/// A current price at one of the user's stations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct FavPrice {
    pub station_id: StationId,
    pub fuel: i16,
    pub price: i32,
    pub updated_at: i64,
}

pub async fn prices(db: &Db, user_id: UserId) -> Result<Vec<FavPrice>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, FavPrice>(
        "SELECT p.station_id, p.fuel, p.price, p.updated_at \
         FROM user_stations f JOIN prices p ON p.station_id = f.station_id WHERE f.user_id = $1",
    )
    .bind(user_id)
    .fetch_all(p)
    .await)
}

/// The price each (station, fuel) had at `at` (its last change point at or before then), for
/// the "since a week ago" arrows. One indexed lookup per pair (primary key of `price_history`).
pub async fn prices_at(db: &Db, user_id: UserId, at: i64) -> Result<Vec<FavPrice>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, FavPrice>(
        "SELECT h.station_id, h.fuel, h.price, h.at AS updated_at \
         FROM user_stations f JOIN price_history h ON h.station_id = f.station_id \
         WHERE f.user_id = $1 AND h.at = (SELECT MAX(h2.at) FROM price_history h2 \
               WHERE h2.station_id = h.station_id AND h2.fuel = h.fuel AND h2.at <= $2)",
    )
    .bind(user_id)
    .bind(at)
    .fetch_all(p)
    .await)
}

/// [`prices_at`] for any stations (the demo's, which no user owns).
pub async fn prices_at_stations(db: &Db, ids: &[StationId], at: i64) -> Result<Vec<FavPrice>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.backend();
    // On SQLite every placeholder of a statement with an IN list is anonymous (see `in_list`).
    let at_param = match backend {
        crate::db::Backend::Sqlite => "?".to_owned(),
        crate::db::Backend::Postgres => format!("${}", ids.len() + 1),
    };
    let sql = format!(
        "SELECT h.station_id, h.fuel, h.price, h.at AS updated_at FROM price_history h \
         WHERE h.station_id IN ({}) AND h.at = (SELECT MAX(h2.at) FROM price_history h2 \
               WHERE h2.station_id = h.station_id AND h2.fuel = h.fuel AND h2.at <= {at_param})",
        crate::db::in_list(backend, 1, ids.len())
    );
    on_db!(db, p => {
        let mut q = sqlx::query_as::<_, FavPrice>(sqlx::AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(*id);
        }
        q.bind(at).fetch_all(p).await
    })
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FavShortage {
    pub station_id: StationId,
    pub fuel: i16,
    pub kind: String,
}

pub async fn shortages(db: &Db, user_id: UserId) -> Result<Vec<FavShortage>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, FavShortage>(
        "SELECT s.station_id, s.fuel, s.kind FROM user_stations f JOIN shortages s ON s.station_id = f.station_id \
         WHERE f.user_id = $1",
    )
    .bind(user_id)
    .fetch_all(p)
    .await)
}
