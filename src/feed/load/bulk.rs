//! Writing history points and current prices in bulk, the bulk of a yearly archive (3–4 million
//! rows). The statements are in [`crate::db::price_history`] and [`crate::db::prices`]; here is
//! which path a batch takes:
//!
//! - SQLite: packed multi-row statements ([`crate::db::price_history::insert`]);
//! - PostgreSQL: binary `COPY` ([`crate::db::price_history::copy`]), straight into the history
//!   or through a temporary table. A multi-row INSERT costs the server a parse and a plan of
//!   30,000 parameters per statement; COPY streams rows, its binary form spares the server
//!   parsing numbers from text, and it writes the heap a page of rows at a time. Sorted by key,
//!   the rows reach the primary key's B-tree in its order.
//!   [`ImportOptions::pg_copy`](super::ImportOptions::pg_copy) = false keeps the INSERT path
//!   (the tests compare both).
//! - The history has no foreign key on PostgreSQL (migration 0015; SQLite's imports run without
//!   the checks): each batch's stations are checked at once ([`Loader::check_history_stations`]),
//!   one set-based query instead of a trigger per row, and a row naming no station refuses the
//!   file.

use std::collections::BTreeSet;

use super::{ImportError, Loader};
use crate::db::price_history::{self, HistoryRow};
use crate::db::prices::{self, PriceRow};
use crate::db::{Backend, Tx};

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
        let (tx, texts) = self.tx_texts()?;
        Ok(price_history::insert(tx, texts, rows).await?)
    }

    /// Inserts or moves current prices: `(station, fuel, price, at)`.
    pub(super) async fn write_prices(&mut self, rows: &[PriceRow]) -> Result<(), ImportError> {
        let (tx, texts) = self.tx_texts()?;
        Ok(prices::upsert(tx, texts, rows).await?)
    }

    /// PostgreSQL: the rows by binary `COPY`, the staging table kept for the next batches once
    /// it exists.
    async fn copy_history(&mut self, rows: &[HistoryRow]) -> Result<(), ImportError> {
        let first = !self.pg_history_table;
        let Tx::Postgres(t) = self.tx()? else {
            return Err(ImportError::Internal("COPY on a SQLite transaction".into()));
        };
        if price_history::copy(t, rows, first).await? {
            self.pg_history_table = true;
        }
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
