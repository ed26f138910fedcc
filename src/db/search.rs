//! Queries behind the public pages: the places a search box can resolve (towns, postcodes,
//! départements of the stations we know) and stations by id for the demo. Stations near a point
//! come from the in-memory price index ([`crate::index`]), not from here.
//!
//! Place matching itself is pure ([`crate::index::places::resolve`]) and runs on an index built
//! from one grouped query ([`place_rows`]); the web layer caches that index for a few minutes.

use crate::db::Db;
use crate::domain::StationId;
use crate::on_db;

/// One (city, postcode, département) of the station table, with the centre of its stations.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlaceRow {
    pub city: String,
    pub postcode: String,
    pub department: String,
    pub latitude: f64,
    pub longitude: f64,
    pub stations: i64,
}

/// Every (city, postcode, département) of the stations still in the feed.
pub async fn place_rows(db: &Db) -> Result<Vec<PlaceRow>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, PlaceRow>(
        "SELECT city, postcode, department, \
                CAST(AVG(latitude) AS DOUBLE PRECISION) AS latitude, \
                CAST(AVG(longitude) AS DOUBLE PRECISION) AS longitude, \
                COUNT(*) AS stations \
         FROM stations WHERE missing_since IS NULL \
         GROUP BY city, postcode, department",
    )
    .fetch_all(p)
    .await)
}

/// A station of the demo's dashboard read from the database: where it is and what it is called.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NearStationRow {
    pub id: StationId,
    pub latitude: f64,
    pub longitude: f64,
    pub address: String,
    pub city: String,
}

/// Stations by id whatever their state, in no particular order. The demo reads the few stations
/// of a shared link that the price index does not hold (gone from the feed) this way.
pub async fn stations_by_ids(db: &Db, ids: &[StationId]) -> Result<Vec<NearStationRow>, sqlx::Error> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let row: Option<NearStationRow> = on_db!(db, p => sqlx::query_as::<_, NearStationRow>(
            "SELECT id, latitude, longitude, address, city FROM stations WHERE id = $1",
        )
        .bind(*id)
        .fetch_optional(p)
        .await)?;
        out.extend(row);
    }
    Ok(out)
}
