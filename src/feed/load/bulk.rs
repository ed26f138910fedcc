//! Writing history points in bulk, the bulk of a yearly archive (3–4 million rows).
//!
//! - SQLite: multi-row `INSERT … SELECT … FROM (VALUES …) ON CONFLICT` of [`SQLITE_HISTORY_ROWS`]
//!   rows, one prepared text reused (sqlx caches statements by text), anonymous `?` placeholders,
//!   each row bound as two integers (station and fuel; time and price) that SQL unpacks: binding
//!   through sqlx costs more than SQLite's own unpacking (docs/benchmarks.md);
//! - PostgreSQL: the rows sorted by key, then one probe of the stored history per (station,
//!   fuel); when no stored point lies within a key's span (an archive of a past year, new
//!   stations), a binary `COPY` straight into `price_history`, otherwise a binary `COPY` into a
//!   temporary table (never WAL-logged, dropped at commit) and one `INSERT … SELECT … ORDER BY …
//!   ON CONFLICT`, in the import's transaction. A multi-row INSERT costs the server a parse and a
//!   plan of 30,000 parameters per statement; COPY streams rows, its binary form spares the
//!   server parsing numbers from text, and it writes the heap a page of rows at a time. Sorted
//!   by key, the rows reach the primary key's B-tree in its order.
//!   [`ImportOptions::pg_copy`] = false keeps the INSERT path (the tests compare both).
//! - The history has no foreign key on PostgreSQL (migration 0015; SQLite's imports run without
//!   the checks): each batch's stations are checked at once ([`Loader::check_history_stations`]),
//!   one set-based query instead of a trigger per row, and a row naming no station refuses the
//!   file.

use std::collections::BTreeSet;

use super::{ImportError, Loader};
use crate::db::copy::{CopyRows, copy_in};
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

/// Whether any of the given (station, fuel, first, last) has a stored point between its first
/// and last time: one probe of the primary key per key.
const STORED_OVERLAP: &str = "SELECT EXISTS (SELECT 1 FROM unnest($1::int8[], $2::int2[], $3::int8[], $4::int8[]) \
     AS k (station_id, fuel, lo, hi) WHERE EXISTS (SELECT 1 FROM price_history h \
     WHERE h.station_id = k.station_id AND h.fuel = k.fuel AND h.at BETWEEN k.lo AND k.hi))";

/// The current prices, packed as the history rows (`station × 8 + fuel`, `at × 2^20 + price`).
const PRICES_PACKED_HEAD: &str = "INSERT INTO prices (station_id, fuel, price, updated_at) \
    SELECT column1 >> 3, column1 & 7, column2 & 1048575, column2 >> 20 FROM (VALUES ";
const PRICES_TAIL: &str =
    " ON CONFLICT (station_id, fuel) DO UPDATE SET price = excluded.price, updated_at = excluded.updated_at";

const UPSERT_TAIL: &str = " ON CONFLICT (station_id, fuel, at) DO UPDATE SET price = excluded.price";

impl Loader {
    /// Inserts (or re-prices) history points.
    pub(super) async fn write_history(&mut self, rows: &[HistoryRow]) -> Result<(), ImportError> {
        if rows.is_empty() {
            return Ok(());
        }
        if self.backend == Backend::Postgres {
            self.check_history_stations(rows).await?;
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

    /// Inserts or moves current prices: `(station, fuel, price, at)`.
    pub(super) async fn write_prices(&mut self, rows: &[(i64, i16, i32, i64)]) -> Result<(), ImportError> {
        if self.backend == Backend::Sqlite
            && let Some(packed) =
                rows.iter().map(|&(s, f, price, at)| packed(&(s, f, at, price))).collect::<Option<Vec<_>>>()
        {
            let tail = format!(") WHERE true{PRICES_TAIL}");
            return self
                .batched_by(PRICES_PACKED_HEAD, &tail, 2, SQLITE_HISTORY_ROWS, &packed, |q, r| q.bind(r.0).bind(r.1))
                .await;
        }
        self.batched(
            "INSERT INTO prices (station_id, fuel, price, updated_at) VALUES ",
            PRICES_TAIL,
            4,
            rows,
            |q, r| q.bind(r.0).bind(r.1).bind(r.2).bind(r.3),
        )
        .await
    }

    /// PostgreSQL: the rows sorted by key, then, when no stored point can conflict with them,
    /// one binary `COPY` straight into `price_history`; otherwise through the staging table and
    /// an upsert.
    async fn copy_history(&mut self, rows: &[HistoryRow]) -> Result<(), ImportError> {
        let mut sorted = rows.to_vec();
        sorted.sort_unstable_by_key(|r| (r.0, r.1, r.2));
        // Whether a key may already be stored: one probe of the primary key per (station, fuel)
        // over the span of its times here, not one per row. Usually none (an archive of a past
        // year, new stations): the rows then go straight into the history by `COPY`, which
        // writes the heap a page of rows at a time (no staging table, no `INSERT … SELECT`, no
        // speculative insertion of `ON CONFLICT`). Keys are unique within the rows (the loader
        // merges a key's points by second), so the COPY cannot conflict with itself; if one
        // ever did, the unique violation refuses the file.
        let spans = key_spans(&sorted);
        let first = !self.pg_history_table;
        let Tx::Postgres(t) = self.tx()? else {
            return Err(ImportError::Internal("COPY on a SQLite transaction".into()));
        };
        let conn = &mut **t;
        let (overlap,): (bool,) = sqlx::query_as(STORED_OVERLAP)
            .bind(spans.iter().map(|k| k.0).collect::<Vec<i64>>())
            .bind(spans.iter().map(|k| k.1).collect::<Vec<i16>>())
            .bind(spans.iter().map(|k| k.2).collect::<Vec<i64>>())
            .bind(spans.iter().map(|k| k.3).collect::<Vec<i64>>())
            .fetch_one(&mut *conn)
            .await?;
        if !overlap {
            copy_in(
                conn,
                "COPY price_history (station_id, fuel, at, price) FROM STDIN (FORMAT binary)",
                &sorted,
                copy_tuple,
            )
            .await?;
            return Ok(());
        }
        if first {
            // Dropped at commit or rollback: nothing of it outlives the import.
            sqlx::query(
                "CREATE TEMPORARY TABLE history_load (station_id BIGINT NOT NULL, fuel SMALLINT NOT NULL, \
                 at BIGINT NOT NULL, price INTEGER NOT NULL) ON COMMIT DROP",
            )
            .execute(&mut *conn)
            .await?;
        }
        copy_in(
            conn,
            "COPY history_load (station_id, fuel, at, price) FROM STDIN (FORMAT binary)",
            &sorted,
            copy_tuple,
        )
        .await?;
        sqlx::query(
            "INSERT INTO price_history (station_id, fuel, at, price) \
             SELECT station_id, fuel, at, price FROM history_load ORDER BY station_id, fuel, at \
             ON CONFLICT (station_id, fuel, at) DO UPDATE SET price = excluded.price",
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query("TRUNCATE history_load").execute(&mut *conn).await?;
        self.pg_history_table = true;
        Ok(())
    }

    /// PostgreSQL: refuses the rows when one names a station that is neither in this file nor
    /// loaded before: one query for the batch's distinct stations, where a foreign key would
    /// run a lookup per row.
    async fn check_history_stations(&mut self, rows: &[HistoryRow]) -> Result<(), ImportError> {
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect::<BTreeSet<_>>().into_iter().collect();
        let found = crate::db::stations::count_existing(self.tx()?, &ids).await?;
        match ids.len().saturating_sub(found) {
            0 => Ok(()),
            missing => Err(ImportError::UnknownStations { missing }),
        }
    }
}

/// Each key's first and last time in rows sorted by key: (station, fuel, first, last).
fn key_spans(sorted: &[HistoryRow]) -> Vec<(i64, i16, i64, i64)> {
    let mut spans: Vec<(i64, i16, i64, i64)> = Vec::new();
    for &(station, fuel, at, _) in sorted {
        match spans.last_mut() {
            Some(k) if (k.0, k.1) == (station, fuel) => k.3 = at,
            _ => spans.push((station, fuel, at, at)),
        }
    }
    spans
}

/// One history row in the binary COPY format (`BIGINT`, `SMALLINT`, `BIGINT`, `INTEGER`: the
/// types of `price_history` and of the staging table).
fn copy_tuple(out: &mut CopyRows, &(station, fuel, at, price): &HistoryRow) {
    out.row(4).i64(station).i16(fuel).i64(at).i32(price);
}

#[cfg(test)]
mod tests {
    use super::{PRICE_SPAN, key_spans, packed};

    /// What the statement's `>> 3`, `& 7`, `>> 20`, `& 1048575` compute, on the packed values.
    fn unpacked((key, point): (i64, i64)) -> (i64, i16, i64, i32) {
        (key >> 3, (key & 7) as i16, point >> 20, (point & (PRICE_SPAN - 1)) as i32)
    }

    #[test]
    fn key_spans_run_from_first_to_last_time() {
        let rows = [(1, 1, 10, 1_700), (1, 1, 20, 1_710), (1, 2, 15, 1_800), (2, 1, 5, 1_650), (2, 1, 7, 1_660)];
        assert_eq!(key_spans(&rows), vec![(1, 1, 10, 20), (1, 2, 15, 15), (2, 1, 5, 7)]);
        assert!(key_spans(&[]).is_empty());
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
