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
//! - Neither the history nor the current prices have a foreign key on PostgreSQL (migrations 0015
//!   and 0020; SQLite's imports run without the checks): the stations the file's rows name are
//!   checked once, before the commit ([`Loader::check_written_stations`]), one anti-join instead
//!   of a trigger per row, and a row naming no station refuses the file.

use super::{ImportError, Loader};
use crate::db::price_history::{self, HistoryRow};
use crate::db::prices::{self, PriceRow};
use crate::db::{Backend, Tx};

impl Loader {
    /// Inserts (or re-prices) history points.
    /// With `COPY` (PostgreSQL), the rows go on their own task, which holds the transaction
    /// until [`Loader::settle`] takes it back: the loader plans the next chunk meanwhile.
    pub(super) async fn write_history(&mut self, rows: Vec<HistoryRow>) -> Result<(), ImportError> {
        if rows.is_empty() {
            return Ok(());
        }
        if self.backend == Backend::Postgres {
            self.note_stations(rows.iter().map(|r| r.0));
        }
        if self.backend == Backend::Postgres && self.pg_copy {
            return self.copy_history(rows);
        }
        let (tx, texts) = self.tx_texts()?;
        Ok(price_history::insert(tx, texts, &rows).await?)
    }

    /// Inserts or moves current prices: `(station, fuel, price, at)`. On PostgreSQL (with
    /// `COPY`), the prices of stations new to the database go by a plain `COPY`: they had no
    /// current price when the transaction opened, and a file plans each station once.
    pub(super) async fn write_prices(&mut self, rows: &[PriceRow]) -> Result<(), ImportError> {
        if self.backend == Backend::Postgres {
            self.note_stations(rows.iter().map(|r| r.0));
        }
        if self.backend == Backend::Postgres && self.pg_copy {
            let (new, known): (Vec<PriceRow>, Vec<PriceRow>) = rows.iter().partition(|r| self.known.get(r.0).is_none());
            if !new.is_empty() {
                let Tx::Postgres(t) = self.tx()? else {
                    return Err(ImportError::Internal("COPY on a SQLite transaction".into()));
                };
                prices::copy_new(t, &new).await?;
            }
            if known.is_empty() {
                return Ok(());
            }
            let (tx, texts) = self.tx_texts()?;
            return Ok(prices::upsert(tx, texts, &known).await?);
        }
        let (tx, texts) = self.tx_texts()?;
        Ok(prices::upsert(tx, texts, rows).await?)
    }

    /// PostgreSQL: the rows by binary `COPY`, the staging table kept for the next batches once
    /// it exists. The COPY runs on a task of its own, which takes the transaction: the server
    /// writes the rows (its heap, the primary key's B-tree: a second of an archive of a quarter)
    /// while this task goes on with the next chunk, up to the next write, which waits for it
    /// ([`Loader::settle`]). One connection: the chunk's stations and prices were written before.
    fn copy_history(&mut self, rows: Vec<HistoryRow>) -> Result<(), ImportError> {
        if self.backend != Backend::Postgres || self.copying.is_some() {
            return Err(ImportError::Internal("COPY on a SQLite transaction, or a second one at once".into()));
        }
        let first = !self.pg_history_table;
        let mut tx = self.tx.take().ok_or_else(|| ImportError::Internal("the transaction is already closed".into()))?;
        self.copying = Some(tokio::spawn(async move {
            let done = match &mut tx {
                Tx::Postgres(t) => price_history::copy(t, &rows, first).await,
                Tx::Sqlite(_) => Ok(false),
            };
            (tx, done)
        }));
        Ok(())
    }

    /// Waits for the history's `COPY` or the batch of cells in flight, if any, and takes the
    /// transaction back. Its error, if it failed, is the import's (the transaction is then
    /// rolled back).
    pub(super) async fn settle(&mut self) -> Result<(), ImportError> {
        if let Some(writing) = self.cells_writing.take() {
            let (tx, done) =
                writing.await.map_err(|e| ImportError::Internal(format!("the daily averages' writes stopped: {e}")))?;
            self.tx = Some(tx);
            self.series.written += done?;
        }
        let Some(copying) = self.copying.take() else {
            return Ok(());
        };
        let (tx, done) =
            copying.await.map_err(|e| ImportError::Internal(format!("the history's COPY task stopped: {e}")))?;
        self.tx = Some(tx);
        if done? {
            self.pg_history_table = true;
        }
        Ok(())
    }

    /// PostgreSQL: notes the stations that rows name (their `station_id`s, in row order), checked
    /// once for the whole file by [`Loader::check_written_stations`].
    fn note_stations(&mut self, stations: impl Iterator<Item = i64>) {
        // Rows come in key order: one insert per run of a station's rows.
        let mut last = None;
        for s in stations {
            if last != Some(s) {
                self.written_stations.insert(s);
                last = Some(s);
            }
        }
    }

    /// PostgreSQL: refuses the file when a current price or history row it wrote names a station
    /// that is neither in this file nor loaded before: one anti-join over the file's distinct
    /// stations, before the commit, where a foreign key would run a lookup per row.
    pub(super) async fn check_written_stations(&mut self) -> Result<(), ImportError> {
        if self.written_stations.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = std::mem::take(&mut self.written_stations).into_iter().collect();
        let Tx::Postgres(t) = self.tx()? else {
            return Err(ImportError::Internal("the station check runs on PostgreSQL".into()));
        };
        match crate::db::stations::count_missing(t, &ids).await? {
            0 => Ok(()),
            missing => Err(ImportError::UnknownStations { missing }),
        }
    }
}
