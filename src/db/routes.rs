//! The route search's account data: the user's vehicle (`user_vehicles`, the route
//! form's defaults) and the routes they saved (`saved_routes`, with their routed points so that
//! `/me` ranks the stations along them without an engine call). Every statement is scoped by
//! `user_id`.

use crate::db::Db;
use crate::domain::{SavedRouteId, UserId};
use crate::{on_db, on_tx};

/// Most routes one user may save.
pub const MAX_ROUTES: i64 = 20;

/// The vehicle profile: fuel (its id), tank litres, consumption in L/100 km.
#[derive(Debug, Clone, Copy, PartialEq, sqlx::FromRow)]
pub struct VehicleRow {
    pub fuel: i16,
    pub tank_litres: f64,
    pub consumption: f64,
    pub updated_at: i64,
}

pub async fn vehicle(db: &Db, user_id: UserId) -> Result<Option<VehicleRow>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, VehicleRow>(
        "SELECT fuel, tank_litres, consumption, updated_at FROM user_vehicles WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(p)
    .await)
}

/// Sets the user's vehicle (one per user).
pub async fn set_vehicle(db: &Db, user_id: UserId, v: &VehicleRow) -> Result<(), sqlx::Error> {
    on_db!(db, p => sqlx::query(
        "INSERT INTO user_vehicles (user_id, fuel, tank_litres, consumption, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id) DO UPDATE SET fuel = $2, tank_litres = $3, consumption = $4, updated_at = $5",
    )
    .bind(user_id)
    .bind(v.fuel)
    .bind(v.tank_litres)
    .bind(v.consumption)
    .bind(v.updated_at)
    .execute(p)
    .await
    .map(|_| ()))
}

/// A saved route as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SavedRoute {
    pub id: SavedRouteId,
    pub name: String,
    pub from_label: String,
    pub to_label: String,
    /// One via point per line.
    pub via_labels: String,
    pub fuel: i16,
    /// `lat,lon;lat,lon;…` ([`crate::route::Path::to_text`]).
    pub points: String,
    pub distance_km: f64,
    pub created_at: i64,
}

/// A route to save (its id and creation time are the database's).
#[derive(Debug, Clone)]
pub struct NewRoute<'a> {
    pub name: &'a str,
    pub from_label: &'a str,
    pub to_label: &'a str,
    pub via_labels: &'a str,
    pub fuel: i16,
    pub points: &'a str,
    pub distance_km: f64,
}

pub async fn list(db: &Db, user_id: UserId) -> Result<Vec<SavedRoute>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, SavedRoute>(
        "SELECT id, name, from_label, to_label, via_labels, fuel, points, distance_km, created_at \
         FROM saved_routes WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(user_id)
    .fetch_all(p)
    .await)
}

/// One of the user's routes; `None`: no such route of theirs.
pub async fn get(db: &Db, user_id: UserId, id: SavedRouteId) -> Result<Option<SavedRoute>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, SavedRoute>(
        "SELECT id, name, from_label, to_label, via_labels, fuel, points, distance_km, created_at \
         FROM saved_routes WHERE user_id = $1 AND id = $2",
    )
    .bind(user_id)
    .bind(id)
    .fetch_optional(p)
    .await)
}

/// Saves a route; `None` when the user has [`MAX_ROUTES`] already.
pub async fn add(db: &Db, user_id: UserId, r: &NewRoute<'_>, now: i64) -> Result<Option<SavedRouteId>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let (count,): (i64,) = on_tx!(&mut tx, c => sqlx::query_as("SELECT COUNT(*) FROM saved_routes WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(c)
        .await)?;
    if count >= MAX_ROUTES {
        tx.rollback().await?;
        return Ok(None);
    }
    let (id,): (SavedRouteId,) = on_tx!(&mut tx, c => sqlx::query_as(
        "INSERT INTO saved_routes (user_id, name, from_label, to_label, via_labels, fuel, points, distance_km, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(user_id)
    .bind(r.name)
    .bind(r.from_label)
    .bind(r.to_label)
    .bind(r.via_labels)
    .bind(r.fuel)
    .bind(r.points)
    .bind(r.distance_km)
    .bind(now)
    .fetch_one(c)
    .await)?;
    tx.commit().await?;
    Ok(Some(id))
}

/// Deletes one of the user's routes, and with it the alerts along it (the foreign key cascades);
/// `false`: no such route of theirs.
pub async fn remove(db: &Db, user_id: UserId, id: SavedRouteId) -> Result<bool, sqlx::Error> {
    let n = on_db!(db, p => sqlx::query("DELETE FROM saved_routes WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
