//! Writing history points in bulk, the bulk of a yearly archive (3–4 million rows).
//!
//! - SQLite: multi-row `INSERT … ON CONFLICT` of [`SQLITE_HISTORY_ROWS`] rows, one prepared text
//!   reused (sqlx caches statements by text), anonymous `?` placeholders;
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

/// Rows per SQLite statement: 4 parameters each, under SQLite's 32,766 parameters.
const SQLITE_HISTORY_ROWS: usize = 4_096;

/// Bytes of COPY text sent per message.
const COPY_CHUNK: usize = 1 << 20;

const UPSERT_TAIL: &str = " ON CONFLICT (station_id, fuel, at) DO UPDATE SET price = excluded.price";

impl Loader {
    /// Inserts (or re-prices) history points.
    pub(super) async fn write_history(&mut self, rows: &[HistoryRow]) -> Result<(), ImportError> {
        if rows.is_empty() {
            return Ok(());
        }
        rows.iter().for_each(|r| self.touched.mark(r.1, r.2)); // series: days touched
        if self.backend == Backend::Postgres && self.pg_copy {
            return self.copy_history(rows).await;
        }
        let per = match self.backend {
            Backend::Sqlite => SQLITE_HISTORY_ROWS,
            Backend::Postgres => Backend::batch_rows(4),
        };
        self.batched_by(
            "INSERT INTO price_history (station_id, fuel, at, price) VALUES ",
            UPSERT_TAIL,
            4,
            per,
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
