//! The statements an import runs on `prices` (the current price of each station and fuel).

use sqlx::postgres::PgConnection;

use super::batch::{self, Texts};
use super::copy::copy_in;
use super::price_history::{SQLITE_HISTORY_ROWS, packed};
use super::{Backend, Tx};
use crate::on_tx;

/// A current price: station, fuel, price (thousandths), since (Unix seconds).
pub type PriceRow = (i64, i16, i32, i64);

/// The current prices, packed as the history rows (`station × 8 + fuel`, `at × 2^20 + price`).
const PRICES_PACKED_HEAD: &str = "INSERT INTO prices (station_id, fuel, price, updated_at) \
    SELECT column1 >> 3, column1 & 7, column2 & 1048575, column2 >> 20 FROM (VALUES ";
const PRICES_TAIL: &str =
    " ON CONFLICT (station_id, fuel) DO UPDATE SET price = excluded.price, updated_at = excluded.updated_at";
/// [`PRICES_TAIL`] after the packed rows' `SELECT … FROM (VALUES …)` (`WHERE true`: SQLite reads
/// `ON CONFLICT` right after a `SELECT … FROM` as a join clause).
const PRICES_PACKED_TAIL: &str = ") WHERE true ON CONFLICT (station_id, fuel) DO UPDATE SET price = excluded.price, updated_at = excluded.updated_at";

/// [`PRICES_PACKED_HEAD`] as a plain insert (`OR FAIL`: a failing statement leaves its rows
/// written and fails, and the import rolls its transaction back; so SQLite keeps no statement
/// journal of the pages it changes, which `ON CONFLICT DO UPDATE` or the default `ABORT` need).
const PRICES_NEW_HEAD: &str = "INSERT OR FAIL INTO prices (station_id, fuel, price, updated_at) \
    SELECT column1 >> 3, column1 & 7, column2 & 1048575, column2 >> 20 FROM (VALUES ";

/// The current prices of the given stations (at most [`Backend::MAX_PARAMS`]).
pub async fn of_stations(tx: &mut Tx, ids: &[i64]) -> Result<Vec<PriceRow>, sqlx::Error> {
    batch::fetch_in(tx, ids, |list| {
        format!("SELECT station_id, fuel, price, updated_at FROM prices WHERE station_id IN ({list})")
    })
    .await
}

/// Every current price: one scan, for an import that changes most stations (an archive). On
/// SQLite as one JSON array ([`batch::json_rows`]).
pub async fn all(tx: &mut Tx) -> Result<Vec<PriceRow>, sqlx::Error> {
    match tx {
        Tx::Sqlite(t) => {
            batch::json_rows(
                t,
                "SELECT ifnull(json_group_array(json_array(station_id, fuel, price, updated_at)), '[]') FROM prices",
            )
            .await
        }
        Tx::Postgres(t) => {
            sqlx::query_as("SELECT station_id, fuel, price, updated_at FROM prices").fetch_all(&mut **t).await
        }
    }
}

/// Inserts or moves current prices.
pub async fn upsert(tx: &mut Tx, texts: &mut Texts, rows: &[PriceRow]) -> Result<(), sqlx::Error> {
    if tx.backend() == Backend::Sqlite
        && let Some(packed) =
            rows.iter().map(|&(s, f, price, at)| packed(&(s, f, at, price))).collect::<Option<Vec<_>>>()
    {
        return batch::rows_by(
            tx,
            texts,
            PRICES_PACKED_HEAD,
            PRICES_PACKED_TAIL,
            2,
            SQLITE_HISTORY_ROWS,
            &packed,
            |q, r| q.bind(r.0).bind(r.1),
        )
        .await;
    }
    batch::rows(
        tx,
        texts,
        "INSERT INTO prices (station_id, fuel, price, updated_at) VALUES ",
        PRICES_TAIL,
        4,
        rows,
        |q, r| q.bind(r.0).bind(r.1).bind(r.2).bind(r.3),
    )
    .await
}

/// SQLite: current prices of stations that had none when the import's transaction opened
/// (stations new to the database), by a plain insert: nothing stored can conflict with them. A
/// key present twice, or already stored, fails the statement, which refuses the file. Rows that
/// do not pack (never for validated feed values) and PostgreSQL go through [`upsert`].
pub async fn insert_new(tx: &mut Tx, texts: &mut Texts, rows: &[PriceRow]) -> Result<(), sqlx::Error> {
    if tx.backend() == Backend::Sqlite
        && let Some(packed) =
            rows.iter().map(|&(s, f, price, at)| packed(&(s, f, at, price))).collect::<Option<Vec<_>>>()
    {
        return batch::rows_by(tx, texts, PRICES_NEW_HEAD, ")", 2, SQLITE_HISTORY_ROWS, &packed, |q, r| {
            q.bind(r.0).bind(r.1)
        })
        .await;
    }
    upsert(tx, texts, rows).await
}

/// PostgreSQL: current prices of stations that had none when the import's transaction opened
/// (stations new to the database), by binary `COPY` straight into `prices`: nothing stored can
/// conflict with them, so there is no `ON CONFLICT` to run per row nor a statement of thousands
/// of parameters to parse. A key present twice, or already stored, fails the COPY with a unique
/// violation, which refuses the file.
#[tracing::instrument(skip_all, fields(rows = rows.len()))]
pub async fn copy_new(conn: &mut PgConnection, rows: &[PriceRow]) -> Result<(), sqlx::Error> {
    copy_in(conn, "COPY prices (station_id, fuel, price, updated_at) FROM STDIN (FORMAT binary)", rows, |out, r| {
        // `BIGINT`, `SMALLINT`, `INTEGER`, `BIGINT`: the types of `prices`.
        out.row(4).i64(r.0).i16(r.1).i32(r.2).i64(r.3);
    })
    .await
}

/// Removes the current price of a fuel a station no longer sells (its history stays).
pub async fn delete(tx: &mut Tx, station: i64, fuel: i16) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => {
        sqlx::query("DELETE FROM prices WHERE station_id = $1 AND fuel = $2")
            .bind(station)
            .bind(fuel)
            .execute(&mut *conn)
            .await?;
    });
    Ok(())
}
