//! Aggregates for the public pages: average current prices per fuel, nationally or in one
//! département.

use crate::db::Db;
use crate::on_db;

/// The average current price of one fuel over the stations that count.
#[derive(Debug, Clone, Copy, PartialEq, sqlx::FromRow)]
pub struct FuelAverage {
    pub fuel: i16,
    /// Thousandths of a euro, not rounded.
    pub average: f64,
    pub stations: i64,
}

/// Average price per fuel of the prices updated at or after `updated_since`, at stations still in
/// the feed, in one département (`Some("92")`) or all of France (`None`). Fuel id order.
pub async fn averages(db: &Db, department: Option<&str>, updated_since: i64) -> Result<Vec<FuelAverage>, sqlx::Error> {
    match department {
        Some(d) => on_db!(db, p => sqlx::query_as::<_, FuelAverage>(
            "SELECT p.fuel, CAST(AVG(p.price) AS DOUBLE PRECISION) AS average, COUNT(*) AS stations \
             FROM prices p JOIN stations s ON s.id = p.station_id \
             WHERE s.department = $1 AND p.updated_at >= $2 AND s.missing_since IS NULL \
             GROUP BY p.fuel ORDER BY p.fuel",
        )
        .bind(d)
        .bind(updated_since)
        .fetch_all(p)
        .await),
        None => on_db!(db, p => sqlx::query_as::<_, FuelAverage>(
            "SELECT p.fuel, CAST(AVG(p.price) AS DOUBLE PRECISION) AS average, COUNT(*) AS stations \
             FROM prices p JOIN stations s ON s.id = p.station_id \
             WHERE p.updated_at >= $1 AND s.missing_since IS NULL \
             GROUP BY p.fuel ORDER BY p.fuel",
        )
        .bind(updated_since)
        .fetch_all(p)
        .await),
    }
}

/// The average current price of one fuel in one département.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DepartmentAverage {
    pub department: String,
    pub fuel: i16,
    /// Thousandths of a euro, not rounded.
    pub average: f64,
    pub stations: i64,
}

/// [`averages`] of every département at once (one scan, cached by the web layer).
pub async fn averages_by_department(db: &Db, updated_since: i64) -> Result<Vec<DepartmentAverage>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, DepartmentAverage>(
        "SELECT s.department, p.fuel, CAST(AVG(p.price) AS DOUBLE PRECISION) AS average, \
                COUNT(*) AS stations \
         FROM prices p JOIN stations s ON s.id = p.station_id \
         WHERE p.updated_at >= $1 AND s.missing_since IS NULL \
         GROUP BY s.department, p.fuel",
    )
    .bind(updated_since)
    .fetch_all(p)
    .await)
}
