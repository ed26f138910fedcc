//! The statements an import runs on `price_history` (the change points of every price): bulk
//! writes, the merge of older points, and the reads that merge needs.
//!
//! - SQLite: multi-row `INSERT … SELECT … FROM (VALUES …) ON CONFLICT` of [`SQLITE_HISTORY_ROWS`]
//!   rows, one prepared text reused (sqlx caches statements by text), anonymous `?` placeholders,
//!   each row bound as two integers (station and fuel; time and price) that SQL unpacks: binding
//!   through sqlx costs more than SQLite's own unpacking (docs/benchmarks.md);
//! - PostgreSQL: the rows sorted by key, then one probe of the stored history per (station,
//!   fuel); when no stored point lies within a key's span (an archive of a past year, new
//!   stations), a binary `COPY` straight into `price_history`, otherwise a binary `COPY` into a
//!   temporary table (never WAL-logged, dropped at commit) and one `INSERT … SELECT … ORDER BY …
//!   ON CONFLICT`, in the import's transaction ([`copy`]).

use sqlx::postgres::PgConnection;

use super::batch::{self, Texts};
use super::copy::{CopyRows, copy_in};
use super::{Backend, Tx};
use crate::on_tx;

/// A history point: station, fuel, time (Unix seconds), price (thousandths).
pub type HistoryRow = (i64, i16, i64, i32);

/// Rows per SQLite statement: 2 parameters each (packed, [`packed`]), under SQLite's 32,766.
pub(crate) const SQLITE_HISTORY_ROWS: usize = 8_192;

/// Packing of a history row into two integers for SQLite: `station × 8 + fuel` and
/// `at × 2^20 + price`, unpacked by the statement's `SELECT`. `None` when a value does not fit
/// (never for validated feed values: fuels 1–6, prices under 10 €): the row goes unpacked.
pub(crate) fn packed(r: &HistoryRow) -> Option<(i64, i64)> {
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

/// [`PACKED_HEAD`] as a plain insert, for the points of stations new to the database (`OR
/// FAIL`: see `db::prices`; no statement journal).
const PACKED_NEW_HEAD: &str = "INSERT OR FAIL INTO price_history (station_id, fuel, at, price) \
    SELECT column1 >> 3, column1 & 7, column2 >> 20, column2 & 1048575 FROM (VALUES ";

/// Whether any of the given (station, fuel, first, last) has a stored point between its first
/// and last time: one probe of the primary key per key.
const STORED_OVERLAP: &str = "SELECT EXISTS (SELECT 1 FROM unnest($1::int8[], $2::int2[], $3::int8[], $4::int8[]) \
     AS k (station_id, fuel, lo, hi) WHERE EXISTS (SELECT 1 FROM price_history h \
     WHERE h.station_id = k.station_id AND h.fuel = k.fuel AND h.at BETWEEN k.lo AND k.hi))";

const UPSERT_TAIL: &str = " ON CONFLICT (station_id, fuel, at) DO UPDATE SET price = excluded.price";

/// Inserts (or re-prices) history points by multi-row statements (the SQLite path, and
/// PostgreSQL's when `COPY` is off).
pub async fn insert(tx: &mut Tx, texts: &mut Texts, rows: &[HistoryRow]) -> Result<(), sqlx::Error> {
    if tx.backend() == Backend::Sqlite
        && let Some(packed) = rows.iter().map(packed).collect::<Option<Vec<_>>>()
    {
        return batch::rows_by(tx, texts, PACKED_HEAD, PACKED_TAIL, 2, SQLITE_HISTORY_ROWS, &packed, |q, r| {
            q.bind(r.0).bind(r.1)
        })
        .await;
    }
    batch::rows_by(
        tx,
        texts,
        "INSERT INTO price_history (station_id, fuel, at, price) VALUES ",
        UPSERT_TAIL,
        4,
        Backend::batch_rows(4),
        rows,
        |q, r| q.bind(r.0).bind(r.1).bind(r.2).bind(r.3),
    )
    .await
}

/// SQLite: history points that no stored point can conflict with, by a plain insert: those of
/// stations that had none when the import's transaction opened (a key's points are unique in a
/// file: merged by second), and those an archive's merge adds between stored ones (it read every
/// stored point of their spans). A point already stored fails the statement, which refuses the
/// file. Rows that do not pack, and PostgreSQL, go through [`insert`].
pub async fn insert_new(tx: &mut Tx, texts: &mut Texts, rows: &[HistoryRow]) -> Result<(), sqlx::Error> {
    if tx.backend() == Backend::Sqlite
        && let Some(packed) = rows.iter().map(packed).collect::<Option<Vec<_>>>()
    {
        return batch::rows_by(tx, texts, PACKED_NEW_HEAD, ")", 2, SQLITE_HISTORY_ROWS, &packed, |q, r| {
            q.bind(r.0).bind(r.1)
        })
        .await;
    }
    insert(tx, texts, rows).await
}

/// PostgreSQL: `rows`, in key order (as the loader sends them: its flush sorts them, the
/// backfill merge walks its keys and their times in order), into the history by binary `COPY`.
/// When no stored point can conflict with them, straight into `price_history`; otherwise through
/// the temporary table `history_load` (created when `create_staging`) and an upsert. Returns
/// whether the staging table was used (it then exists until the transaction ends).
pub async fn copy(conn: &mut PgConnection, rows: &[HistoryRow], create_staging: bool) -> Result<bool, sqlx::Error> {
    debug_assert!(rows.is_sorted_by_key(|r| (r.0, r.1, r.2)), "history rows in key order");
    // Whether a key may already be stored: one probe of the primary key per (station, fuel)
    // over the span of its times here, not one per row. Usually none (an archive of a past
    // year, new stations): the rows then go straight into the history by `COPY`, which
    // writes the heap a page of rows at a time (no staging table, no `INSERT … SELECT`, no
    // speculative insertion of `ON CONFLICT`). Keys are unique within the rows (the loader
    // merges a key's points by second), so the COPY cannot conflict with itself; if one
    // ever did, the unique violation refuses the file.
    let spans = key_spans(rows);
    let (overlap,): (bool,) = sqlx::query_as(STORED_OVERLAP)
        .bind(spans.iter().map(|k| k.0).collect::<Vec<i64>>())
        .bind(spans.iter().map(|k| k.1).collect::<Vec<i16>>())
        .bind(spans.iter().map(|k| k.2).collect::<Vec<i64>>())
        .bind(spans.iter().map(|k| k.3).collect::<Vec<i64>>())
        .fetch_one(&mut *conn)
        .await?;
    if !overlap {
        copy_in(conn, "COPY price_history (station_id, fuel, at, price) FROM STDIN (FORMAT binary)", rows, copy_tuple)
            .await?;
        return Ok(false);
    }
    if create_staging {
        // Dropped at commit or rollback: nothing of it outlives the import.
        sqlx::query(
            "CREATE TEMPORARY TABLE history_load (station_id BIGINT NOT NULL, fuel SMALLINT NOT NULL, \
             at BIGINT NOT NULL, price INTEGER NOT NULL) ON COMMIT DROP",
        )
        .execute(&mut *conn)
        .await?;
    }
    copy_in(conn, "COPY history_load (station_id, fuel, at, price) FROM STDIN (FORMAT binary)", rows, copy_tuple)
        .await?;
    sqlx::query(
        "INSERT INTO price_history (station_id, fuel, at, price) \
         SELECT station_id, fuel, at, price FROM history_load ORDER BY station_id, fuel, at \
         ON CONFLICT (station_id, fuel, at) DO UPDATE SET price = excluded.price",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("TRUNCATE history_load").execute(&mut *conn).await?;
    Ok(true)
}

/// Removes one point (a merge found it no longer changes the price).
pub async fn delete_point(tx: &mut Tx, station: i64, fuel: i16, at: i64) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => {
        sqlx::query("DELETE FROM price_history WHERE station_id = $1 AND fuel = $2 AND at = $3")
            .bind(station)
            .bind(fuel)
            .bind(at)
            .execute(&mut *conn)
            .await?;
    });
    Ok(())
}

/// For each `(station, fuel, lo, hi)`, its stored points from the last one before `lo` to the
/// first one after `hi`: `(station, fuel, at, price)`, in no order. One fixed text whatever the
/// number of keys (`db::series::around_sql`), so it stays prepared.
pub async fn around(tx: &mut Tx, keys: &[(i64, i16, i64, i64)]) -> Result<Vec<HistoryRow>, sqlx::Error> {
    let sql = super::series::around_sql(tx.backend());
    super::series::keyed_points(tx, sql, keys).await
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
