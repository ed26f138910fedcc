//! The statements an import runs on `shortages` (fuels a station lacks, and since when).

use super::Tx;
use super::batch::{self, Texts};
use crate::on_tx;

/// A shortage: station, fuel, kind (`ShortageKind::as_str`), since (Unix seconds).
pub type ShortageRow = (i64, i16, &'static str, Option<i64>);

/// The shortages of the given stations (at most [`super::Backend::MAX_PARAMS`]): station, fuel,
/// kind, since.
pub async fn of_stations(tx: &mut Tx, ids: &[i64]) -> Result<Vec<(i64, i16, String, Option<i64>)>, sqlx::Error> {
    batch::fetch_in(tx, ids, |list| {
        format!("SELECT station_id, fuel, kind, since FROM shortages WHERE station_id IN ({list})")
    })
    .await
}

/// Every stored shortage (station, fuel, kind, since): one scan, for an import that changes
/// most stations.
pub async fn all(tx: &mut Tx) -> Result<Vec<(i64, i16, String, Option<i64>)>, sqlx::Error> {
    Ok(on_tx!(tx, conn => {
        sqlx::query_as("SELECT station_id, fuel, kind, since FROM shortages").fetch_all(&mut *conn).await?
    }))
}

/// Removes every shortage of the given stations (their set is then written again).
pub async fn delete_of(tx: &mut Tx, ids: &[i64]) -> Result<(), sqlx::Error> {
    batch::by_ids(tx, &[], ids, |_, list| format!("DELETE FROM shortages WHERE station_id IN ({list})")).await
}

pub async fn insert(tx: &mut Tx, texts: &mut Texts, rows: &[ShortageRow]) -> Result<(), sqlx::Error> {
    batch::rows(tx, texts, "INSERT INTO shortages (station_id, fuel, kind, since) VALUES ", "", 4, rows, |q, r| {
        q.bind(r.0).bind(r.1).bind(r.2).bind(r.3)
    })
    .await
}
