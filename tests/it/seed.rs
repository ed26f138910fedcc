//! Seeding with plain SQL, shared by the test files that need stations and prices whose every
//! value is known exactly (the feed loader is tested on its own).

use carburoam::db::Db;
use carburoam::on_db;

/// A station row as the tests write it.
pub struct Station {
    pub id: i64,
    pub lat: f64,
    pub lon: f64,
    pub address: &'static str,
    pub city: &'static str,
    pub postcode: &'static str,
    pub road_type: &'static str,
    pub automate: bool,
    pub opening_hours: Option<&'static str>,
    pub services: &'static str,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
    pub missing_since: Option<i64>,
}

pub async fn insert_station(db: &Db, s: &Station) {
    on_db!(db, p => sqlx::query(
        "INSERT INTO stations (id, latitude, longitude, postcode, department, city, address, \
             road_type, automate_24_24, opening_hours, services, content_hash, first_seen_at, \
             last_seen_at, missing_since, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(s.id)
    .bind(s.lat)
    .bind(s.lon)
    .bind(s.postcode)
    .bind(&s.postcode[..2])
    .bind(s.city)
    .bind(s.address)
    .bind(s.road_type)
    .bind(s.automate)
    .bind(s.opening_hours)
    .bind(s.services)
    .bind(0_i64)
    .bind(s.first_seen_at)
    .bind(s.last_seen_at)
    .bind(s.missing_since)
    .bind(s.last_seen_at)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("insert station");
}

pub async fn insert_price(db: &Db, station: i64, fuel: i16, milli: i32, at: i64) {
    on_db!(db, p => sqlx::query(
        "INSERT INTO prices (station_id, fuel, price, updated_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(station)
    .bind(fuel)
    .bind(milli)
    .bind(at)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("insert price");
}

pub async fn insert_shortage(db: &Db, station: i64, fuel: i16, kind: &str, since: Option<i64>) {
    on_db!(db, p => sqlx::query(
        "INSERT INTO shortages (station_id, fuel, kind, since) VALUES ($1, $2, $3, $4)",
    )
    .bind(station)
    .bind(fuel)
    .bind(kind)
    .bind(since)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("insert shortage");
}
