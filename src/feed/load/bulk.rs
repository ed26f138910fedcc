//! Writing history points in bulk, the bulk of a yearly archive (3–4 million rows).
//!
//! - SQLite: multi-row `INSERT … SELECT … FROM (VALUES …) ON CONFLICT` of [`SQLITE_HISTORY_ROWS`]
//!   rows, one prepared text reused (sqlx caches statements by text), anonymous `?` placeholders,
//!   each row bound as two integers (station and fuel; time and price) that SQL unpacks: binding
//!   through sqlx costs more than SQLite's own unpacking (docs/benchmarks.md);
//! - PostgreSQL: `COPY` into a temporary table dropped at commit, then one
//!   `INSERT … SELECT … ON CONFLICT` into `price_history`, in the import's transaction. A
//!   multi-row INSERT costs the server a parse and a plan of 30,000 parameters per statement;
//!   COPY streams tab-separated text. [`ImportOptions::pg_copy`] = false keeps the INSERT path
//!   (the tests compare both).

use std::fmt::Write as _;

use super::{ImportError, Loader};
use crate::db::{Backend, Tx};

/// A history point: station, fuel, time (Unix seconds), price (thousandths).
pub(super) type HistoryRow = (i64, i16, i64, i32);

/// Rows per SQLite statement: 2 parameters each (packed, [`packed`]), under SQLite's 32,766.
const SQLITE_HISTORY_ROWS: usize = 8_192;

/// Packing of a history row into two integers for SQLite: `station × 8 + fuel` and
/// `at × 2^20 + price`, unpacked by the statement's `SELECT`. `None` when a value does not fit
/// (never for validated feed values: fuels 1–6, prices under 10 €): the row goes unpacked.
fn packed(r: &HistoryRow) -> Option<(i64, i64)> {
    let (station, fuel, at, price) = *r;
    let fits = (0..(1 << 59)).contains(&station)
        && (0..8).contains(&fuel)
        && (0..PRICE_SPAN).contains(&i64::from(price))
        && at.unsigned_abs() < (1 << 42);
    fits.then(|| (station * 8 + i64::from(fuel), at * PRICE_SPAN + i64::from(price)))
}

const PRICE_SPAN: i64 = 1 << 20;

const PACKED_HEAD: &str = "INSERT INTO price_history (station_id, fuel, at, price) \
    SELECT column1 >> 3, column1 & 7, column2 >> 20, column2 & 1048575 FROM (VALUES ";
/// `WHERE true`: SQLite reads `ON CONFLICT` right after a `SELECT … FROM` as a join clause.
const PACKED_TAIL: &str = ") WHERE true ON CONFLICT (station_id, fuel, at) DO UPDATE SET price = excluded.price";

/// Bytes of COPY text sent per message.
const COPY_CHUNK: usize = 1 << 20;

const UPSERT_TAIL: &str = " ON CONFLICT (station_id, fuel, at) DO UPDATE SET price = excluded.price";

impl Loader {
    /// Inserts (or re-prices) history points.
    pub(super) async fn write_history(&mut self, rows: &[HistoryRow]) -> Result<(), ImportError> {
        if rows.is_empty() {
            return Ok(());
        }
        if self.backend == Backend::Postgres && self.pg_copy {
            return self.copy_history(rows).await;
        }
        if self.backend == Backend::Sqlite
            && let Some(packed) = rows.iter().map(packed).collect::<Option<Vec<_>>>()
        {
            return self
                .batched_by(PACKED_HEAD, PACKED_TAIL, 2, SQLITE_HISTORY_ROWS, &packed, |q, r| q.bind(r.0).bind(r.1))
                .await;
        }
        self.batched_by(
            "INSERT INTO price_history (station_id, fuel, at, price) VALUES ",
            UPSERT_TAIL,
            4,
            Backend::batch_rows(4),
            rows,
            |q, r| q.bind(r.0).bind(r.1).bind(r.2).bind(r.3),
        )
        .await
    }

    async fn copy_history(&mut self, rows: &[HistoryRow]) -> Result<(), ImportError> {
        let first = !self.pg_history_table;
        let Tx::Postgres(t) = self.tx()? else {
            return Err(ImportError::Internal("COPY on a SQLite transaction".into()));
        };
        let conn = &mut **t;
        if first {
            // Dropped at commit or rollback: nothing of it outlives the import.
            sqlx::query(
                "CREATE TEMPORARY TABLE history_load (station_id BIGINT NOT NULL, fuel SMALLINT NOT NULL, \
                 at BIGINT NOT NULL, price INTEGER NOT NULL) ON COMMIT DROP",
            )
            .execute(&mut *conn)
            .await?;
        }
        let mut copy = conn.copy_in_raw("COPY history_load (station_id, fuel, at, price) FROM STDIN").await?;
        let mut text = String::with_capacity(COPY_CHUNK + 64);
        let mut sent: Result<(), sqlx::Error> = Ok(());
        for (station, fuel, at, price) in rows {
            let _ = writeln!(text, "{station}\t{fuel}\t{at}\t{price}");
            if text.len() >= COPY_CHUNK {
                if let Err(e) = copy.send(text.as_bytes()).await {
                    sent = Err(e);
                    break;
                }
                text.clear();
            }
        }
        if sent.is_ok() && !text.is_empty() {
            sent = copy.send(text.as_bytes()).await.map(|_| ());
        }
        match sent {
            Ok(()) => {
                copy.finish().await?;
            }
            Err(e) => {
                let _ = copy.abort("the import failed").await;
                return Err(e.into());
            }
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO price_history (station_id, fuel, at, price) \
             SELECT station_id, fuel, at, price FROM history_load{UPSERT_TAIL}"
        )))
        .execute(&mut *conn)
        .await?;
        sqlx::query("TRUNCATE history_load").execute(&mut *conn).await?;
        self.pg_history_table = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{PRICE_SPAN, packed};

    /// What the statement's `>> 3`, `& 7`, `>> 20`, `& 1048575` compute, on the packed values.
    fn unpacked((key, point): (i64, i64)) -> (i64, i16, i64, i32) {
        (key >> 3, (key & 7) as i16, point >> 20, (point & (PRICE_SPAN - 1)) as i32)
    }

    #[test]
    fn packed_rows_unpack_to_themselves() {
        for r in [
            (1000001, 1, 1_641_000_000, 1_799),
            (99_999_999, 6, 0, 0),
            (7, 0, -86_400, 1_048_575),
            (5, 2, 4_102_444_800, 1),
        ] {
            assert_eq!(packed(&r).map(unpacked), Some(r), "{r:?}");
        }
        for r in [(-1, 1, 0, 1), (1, 8, 0, 1), (1, -1, 0, 1), (1, 1, 0, -1), (1, 1, 0, 1 << 20), (1, 1, 1 << 42, 1)] {
            assert_eq!(packed(&r), None, "{r:?}");
        }
    }
}
