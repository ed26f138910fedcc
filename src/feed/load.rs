//! Loading a feed into the database: the writer of an import ([`super::import`] opens the file
//! and feeds it here). One transaction, only what changed.
//!
//! What "changed" means:
//! - a station whose content (attributes, prices, shortages) hashes the same as the last file
//!   that touched it, and that is not coming back from missing, is skipped without a write;
//! - a price with a later `maj` and another value moves the current price and adds a history
//!   point; with the same value it only re-dates the current price;
//! - a price older than the current one (an archive imported late) never moves the current price:
//!   it is merged into the history, which stays a list of change points in time order;
//! - a snapshot newer than everything loaded marks the stations it lacks as missing (never
//!   deletes them), and is refused when it holds far fewer stations than are loaded.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

// The loader's maps are keyed by station ids, tens of thousands of lookups per file: foldhash,
// seeded per map, instead of the standard SipHash (5 % of a first import's loader thread).
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use super::model::{Chunk, content_hash};
use super::parse::RawPdv;
use super::report::{ImportError, ImportOptions};
use super::{FeedKind, FeedStation};
use crate::db::batch::Texts;
use crate::db::etl_runs::{self, RunCounts};
use crate::db::price_history::HistoryRow;
use crate::db::prices::PriceRow;
use crate::db::shortages::ShortageRow;
use crate::db::stations::{STATION_COLUMNS, StationWrite};
use crate::db::{Backend, Db, Tx};
use crate::domain::Fuel;

pub use super::model::department_of;

mod bulk;
mod merge;
mod series;

/// A station stored before the import, as read when the transaction opens.
#[derive(Clone, Copy)]
struct KnownStation {
    hash: i64,
    missing: bool,
    /// The hash of the `<pdv>` element's bytes it was written from, if the parser vouched for it.
    raw: Option<i64>,
}

/// The stations stored when the import's transaction opened, shared with the parsing thread
/// ([`Sieve`]) so that it drops unchanged stations as soon as they are parsed. Keyed by the
/// station's raw number, as [`crate::db::stations::import_state`] reads it from SQLite's packed
/// text and as the loader's multi-row binds and COPY rows write it: the table never leaves the
/// loader, and the parser has checked every id of the file as a [`crate::domain::StationId`].
pub(super) struct KnownStations {
    stations: HashMap<i64, KnownStation>,
    /// Whether this file is at least as recent as everything loaded before it.
    is_newest: bool,
}

impl KnownStations {
    fn get(&self, id: i64) -> Option<KnownStation> {
        self.stations.get(&id).copied()
    }

    /// Whether a station of the file with content `hash` changes nothing: same hash, so same
    /// attributes, prices, dates and shortages, and not coming back from missing in the newest
    /// file.
    fn unchanged(&self, k: KnownStation, hash: i64) -> bool {
        k.hash == hash && (!k.missing || !self.is_newest)
    }

    /// Whether a `<pdv>` element whose bytes hash to `raw` changes nothing: the station was
    /// written from the same bytes (so parsing them gives its stored content hash again).
    fn unchanged_raw(&self, k: KnownStation, raw: i64) -> bool {
        k.raw == Some(raw) && self.unchanged(k, k.hash)
    }
}

impl KnownStation {
    /// The raw hash to store for an unchanged station parsed from `st`: its element's, when the
    /// parser vouched for it and it is not the stored one (written before it was kept, or by
    /// another parser).
    fn raw_to_store(self, st: &FeedStation) -> Option<i64> {
        st.raw_hash.filter(|&r| self.raw != Some(r))
    }
}

/// The parsing thread's filter: drops the stations whose content hash is the stored one (9,839
/// of 10,010 in a national snapshot ten minutes after the last) before they are queued for the
/// loader, and counts them. The loader takes what it saw with [`Loader::absorb`].
pub(super) struct Sieve {
    known: std::sync::Arc<KnownStations>,
    sieved: Sieved,
}

/// What the [`Sieve`] saw: every station id of the file, and the unchanged ones' counts.
#[derive(Default)]
pub(super) struct Sieved {
    seen: HashSet<i64>,
    /// The unchanged stations' counts (stations, prices and shortages unchanged).
    unchanged: RunCounts,
    /// Unchanged stations stored without the raw hash of their element (written before it was
    /// kept, or by another parser): (station, raw hash), stored at the end.
    raw_refresh: Vec<(i64, i64)>,
}

impl Sieve {
    pub(super) fn new(known: std::sync::Arc<KnownStations>) -> Sieve {
        Sieve { known, sieved: Sieved::default() }
    }

    /// Whether the loader needs `st`: a new or changed station, at its first occurrence in the
    /// file (a later one is dropped, as the loader would).
    pub(super) fn keep(&mut self, st: &FeedStation) -> bool {
        let id = st.id.get();
        if !self.sieved.seen.insert(id) {
            return false;
        }
        match self.known.get(id) {
            Some(k) if self.known.unchanged(k, content_hash(st)) => {
                if let Some(raw) = k.raw_to_store(st) {
                    self.sieved.raw_refresh.push((id, raw));
                }
                self.sieved.unchanged.unchanged_station(st.prices.len(), st.shortages.len());
                false
            }
            _ => true,
        }
    }

    /// Whether the parser may drop a `<pdv>` element unparsed: its bytes are those the stored
    /// station was written from. Counted as [`Sieve::keep`] counts an unchanged station (an
    /// element the parser vouched for has as many prices and shortages as tags).
    pub(super) fn skip_raw(&mut self, pdv: &RawPdv) -> bool {
        match self.known.get(pdv.id) {
            Some(k) if self.known.unchanged_raw(k, pdv.hash) => {
                // A later occurrence of a station already seen is dropped, as `keep` does.
                if self.sieved.seen.insert(pdv.id) {
                    self.sieved.unchanged.unchanged_station(pdv.prices, pdv.shortages);
                }
                true
            }
            _ => false,
        }
    }

    pub(super) fn into_sieved(self) -> Sieved {
        self.sieved
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Current {
    price: i32,
    at: i64,
}

/// The default of [`ImportOptions::whole_tables_from`]: changed stored stations in one chunk
/// from which [`Loader::load_current`] reads the stored state of every station (three table
/// scans, [`StoredState`]) instead of the chunk's: an
/// archive changes nearly all of a chunk's 512 stations, and lists of ids cost a seek per
/// station and a statement prepared per list (101 ms of an archive's import into a live
/// instance, docs/benchmarks.md); a snapshot ten minutes after the last changes ~170 in all.
pub const WHOLE_TABLES_FROM: usize = 256;

/// The stored state of stations read by [`Loader::read_stored`] (a chunk's, or every station's
/// once): attributes' date and département, current prices, shortages (newest file only). Each
/// station's entries are taken out by the one chunk that holds it.
#[derive(Default)]
struct StoredState {
    details: HashMap<i64, (i64, String)>,
    prices: HashMap<i64, Vec<(i16, Current)>>,
    shortages: HashMap<i64, Vec<(i16, String, Option<i64>)>>,
}

impl StoredState {
    fn details(&mut self, rows: Vec<crate::db::stations::StationDetails>) {
        self.details.extend(rows.into_iter().map(|d| (d.id, (d.updated_at, d.department))));
    }

    fn prices(&mut self, rows: Vec<PriceRow>) {
        for (s, f, price, at) in rows {
            self.prices.entry(s).or_default().push((f, Current { price, at }));
        }
    }

    fn shortages(&mut self, rows: Vec<(i64, i16, String, Option<i64>)>) {
        for (s, f, kind, since) in rows {
            self.shortages.entry(s).or_default().push((f, kind, since));
        }
    }
}

/// Writes waiting for a batch (or, for those that depend on what the whole file turns out to
/// be, for the end).
#[derive(Default)]
struct Pending {
    stations_new: Vec<StationWrite>,
    stations_update: Vec<StationWrite>,
    prices_upsert: Vec<PriceRow>,
    history_insert: Vec<HistoryRow>,
    /// SQLite: points merged into the history of earlier chunks' keys, waiting for a whole
    /// statement ([`Loader::write_merged`]).
    history_merged: Vec<HistoryRow>,
    /// Applied at the end, for the newest snapshot only.
    prices_delete: Vec<(i64, i16)>,
    /// Applied at the end, when the file carries shortages and is the newest.
    shortages_replace: Vec<i64>,
    shortages_insert: Vec<ShortageRow>,
}

/// What the loader did, for the run's report.
#[derive(Default)]
pub(super) struct Stats {
    pub counts: RunCounts,
    pub prices_removed: usize,
    pub shortages_changed: usize,
    pub history_backfilled: usize,
    /// Time spent bringing the daily averages up to date ([`Loader::finish_series`]).
    pub series_elapsed: std::time::Duration,
}

/// Where the loader's time went, chunk after chunk (wall time, waits for SQL included): logged
/// at debug level before the daily averages, whose own line follows (`RUST_LOG=carburoam=debug`,
/// docs/benchmarks.md).
#[derive(Default)]
struct Phases {
    /// Reading the stored state of the chunks' changed stations ([`Loader::load_current`]).
    read: Duration,
    /// Planning their writes.
    plan: Duration,
    /// Writing stations, current prices and newer history points (with their averages' deltas).
    write: Duration,
    /// Older points (an archive into a live instance): reading the stored points around them,
    around: Duration,
    /// merging them,
    merge: Duration,
    /// the averages' deltas of the merge,
    merge_series: Duration,
    /// and writing the merged points.
    merge_write: Duration,
}

impl Phases {
    fn log(&self) {
        let ms = |d: Duration| d.as_millis() as u64;
        tracing::debug!(
            read_ms = ms(self.read),
            plan_ms = ms(self.plan),
            write_ms = ms(self.write),
            around_ms = ms(self.around),
            merge_ms = ms(self.merge),
            merge_series_ms = ms(self.merge_series),
            merge_write_ms = ms(self.merge_write),
            "loader phases"
        );
    }
}

/// Diffs the stations of one file against the database and writes what changed, in batches,
/// inside one transaction: committed by [`Loader::finish`], rolled back by [`Loader::abort`].
pub(super) struct Loader {
    tx: Option<Tx>,
    backend: Backend,
    known: std::sync::Arc<KnownStations>,
    seen: HashSet<i64>,
    /// Whether this file is at least as recent as everything loaded before it.
    is_newest: bool,
    latest_loaded: Option<i64>,
    snapshot: i64,
    pending: Pending,
    /// Points older than the current price, of the chunk being loaded: merged into the
    /// history once the chunk's other writes are flushed ([`Loader::merge_backfill`]).
    backfill: BTreeMap<(i64, i16), Vec<(i64, i32)>>,
    stats: Stats,
    /// PostgreSQL: history rows go through `COPY` ([`ImportOptions::pg_copy`]).
    pg_copy: bool,
    /// [`ImportOptions::whole_tables_from`].
    whole_tables_from: usize,
    /// PostgreSQL: the temporary table of `COPY` exists in this transaction.
    pg_history_table: bool,
    /// PostgreSQL: the history's `COPY` of the last batch, on its own task with the transaction
    /// (`tx` is `None` meanwhile) until [`Loader::settle`] takes it back.
    copying: Option<tokio::task::JoinHandle<(Tx, Result<bool, sqlx::Error>)>>,
    /// PostgreSQL: the stations the file's current prices and history rows name, checked once
    /// before the commit.
    written_stations: BTreeSet<i64>,
    /// The daily averages: the cells this file's changes move, applied before the commit.
    series: series::Tracker,
    /// The daily averages' last batch of cells, being written on its own task with the
    /// transaction (`tx` is `None` meanwhile) until [`Loader::settle`] takes it back.
    cells_writing: Option<series::CellsWriting>,
    /// The stored stations' state, once a chunk changed [`Loader::whole_tables_from`] of them.
    stored: Option<StoredState>,
    /// Current prices this file moved to another value, for the price alerts.
    changes: Vec<crate::db::alerts::PriceChange>,
    /// Multi-row statement texts built so far.
    texts: Texts,
    phases: Phases,
    /// Unchanged stations whose element's raw hash is to be stored ([`Sieved::raw_refresh`]).
    raw_refresh: Vec<(i64, i64)>,
}

/// Pending history points written at once: a yearly archive brings ~350 per station.
const HISTORY_FLUSH_ROWS: usize = 16_384;

impl Loader {
    /// Opens the transaction for a file taken at `snapshot` (Unix seconds).
    pub(super) async fn new(db: &Db, snapshot: i64, opts: &ImportOptions) -> Result<Loader, ImportError> {
        // Debug timings (µs since the loader began) of what the import waits for before its first chunk.
        let t = std::time::Instant::now();
        let latest_loaded = etl_runs::latest_full_snapshot_at(db).await?;
        tracing::debug!(us = t.elapsed().as_micros() as u64, "latest snapshot read");
        let mut tx = db.begin_import().await?;
        tracing::debug!(us = t.elapsed().as_micros() as u64, "begun");
        // First: the series' lock (one import at a time on PostgreSQL too) and its state.
        let state = crate::db::series::begin(&mut tx).await?;
        tracing::debug!(us = t.elapsed().as_micros() as u64, "series state");
        let rows = crate::db::stations::import_state(&mut tx).await?;
        tracing::debug!(us = t.elapsed().as_micros() as u64, "stations read");
        let stations: HashMap<i64, KnownStation> = rows
            .into_iter()
            .map(|r| (r.id, KnownStation { hash: r.content_hash, missing: r.missing, raw: r.raw_hash }))
            .collect();
        let is_newest = latest_loaded.is_none_or(|l| snapshot >= l);
        tracing::debug!(us = t.elapsed().as_micros() as u64, "stored stations indexed");
        Ok(Loader {
            backend: tx.backend(),
            tx: Some(tx),
            known: std::sync::Arc::new(KnownStations { stations, is_newest }),
            seen: HashSet::new(),
            is_newest,
            latest_loaded,
            snapshot,
            pending: Pending::default(),
            backfill: BTreeMap::new(),
            stats: Stats::default(),
            pg_copy: opts.pg_copy,
            whole_tables_from: opts.whole_tables_from,
            pg_history_table: false,
            copying: None,
            written_stations: BTreeSet::new(),
            series: series::Tracker::new(state),
            cells_writing: None,
            stored: None,
            changes: Vec::new(),
            texts: Texts::default(),
            phases: Phases::default(),
            raw_refresh: Vec::new(),
        })
    }

    fn tx(&mut self) -> Result<&mut Tx, ImportError> {
        self.tx.as_mut().ok_or_else(|| ImportError::Internal("the transaction is already closed".into()))
    }

    /// The transaction, once the writes running on a task of their own with it (the history's
    /// `COPY`, a batch of cells) are done.
    async fn tx_ready(&mut self) -> Result<&mut Tx, ImportError> {
        self.settle().await?;
        self.tx()
    }

    /// The transaction and the texts of its multi-row statements.
    fn tx_texts(&mut self) -> Result<(&mut Tx, &mut Texts), ImportError> {
        let tx = self.tx.as_mut().ok_or_else(|| ImportError::Internal("the transaction is already closed".into()))?;
        Ok((tx, &mut self.texts))
    }

    /// Stations in the database when the transaction opened.
    pub(super) fn known(&self) -> usize {
        self.known.stations.len()
    }

    /// The stored stations, for the parsing thread's [`Sieve`].
    pub(super) fn known_stations(&self) -> std::sync::Arc<KnownStations> {
        std::sync::Arc::clone(&self.known)
    }

    /// Takes in what the parsing thread's [`Sieve`] saw and dropped: before [`Loader::finish`],
    /// which marks missing the stored stations the file did not list.
    pub(super) fn absorb(&mut self, sieved: Sieved) {
        tracing::debug!(seen = sieved.seen.len(), unchanged = sieved.unchanged.stations_unchanged, "sieved");
        self.seen.extend(sieved.seen);
        self.stats.counts.stations_unchanged += sieved.unchanged.stations_unchanged;
        self.stats.counts.prices_unchanged += sieved.unchanged.prices_unchanged;
        self.stats.counts.shortages += sieved.unchanged.shortages;
        self.raw_refresh.extend(sieved.raw_refresh);
    }

    pub(super) async fn abort(mut self) {
        // A COPY in flight gives the transaction back, failed or not: it is rolled back below.
        if let Err(e) = self.settle().await {
            tracing::debug!(error = %e, "the history's COPY failed before the rollback");
        }
        if let Some(tx) = self.tx.take()
            && let Err(e) = tx.rollback().await
        {
            tracing::warn!(error = %e, "rollback failed (the connection is discarded)");
        }
    }

    pub(super) async fn add_chunk(&mut self, chunk: Chunk) -> Result<(), ImportError> {
        let mut changed_known: Vec<i64> = Vec::new();
        let mut plan: Vec<(FeedStation, i64, Option<KnownStation>)> = Vec::with_capacity(chunk.len());
        for st in chunk {
            let id = st.id.get();
            if !self.seen.insert(id) {
                // The same station twice in one file: the first occurrence wins.
                continue;
            }
            let hash = content_hash(&st);
            let known = self.known.get(id);
            match known {
                Some(k) if self.known.unchanged(k, hash) => {
                    if let Some(raw) = k.raw_to_store(&st) {
                        self.raw_refresh.push((id, raw));
                    }
                    // Same hash, same prices and dates: every price of it is unchanged too.
                    self.stats.counts.unchanged_station(st.prices.len(), st.shortages.len());
                    continue;
                }
                Some(_) => changed_known.push(id),
                None => {}
            }
            plan.push((st, hash, known));
        }
        if plan.is_empty() {
            return Ok(());
        }
        let t = Instant::now();
        let (mut current, mut old_shortages, updated_at) = self.load_current(&changed_known).await?;
        self.phases.read += t.elapsed();
        let t = Instant::now();
        for (st, hash, known) in plan {
            let id = st.id.get();
            let old = old_shortages.remove(&id).unwrap_or_default();
            // A known station's attributes were set by the file at `updated_at`.
            let known_updated_at = known.and_then(|_| updated_at.get(&id).copied());
            self.plan_station(st, hash, known_updated_at, &mut current, old);
        }
        self.phases.plan += t.elapsed();
        let t = Instant::now();
        if self.backfill.is_empty() {
            self.flush(false).await?;
            self.phases.write += t.elapsed();
            return Ok(());
        }
        // Older points: merged now, against the stored history with this chunk's writes of
        // their stations in it, so that a yearly archive never waits whole in memory. Only
        // stations stored before the file have older points (a new one's first point is its
        // current price): the rows of new stations may wait for full statements.
        let known_rows = self.pending.history_insert.iter().any(|r| self.known.get(r.0).is_some())
            || self.pending.prices_upsert.iter().any(|r| self.known.get(r.0).is_some());
        self.flush(known_rows).await?;
        self.phases.write += t.elapsed();
        self.merge_backfill().await
    }

    /// Current prices and shortages of the given stored stations, and when their attributes
    /// were last set; their départements go to the series' tracker. Shortages only for the
    /// newest file: an older one never replaces them ([`Loader::finish`]).
    #[allow(clippy::type_complexity)]
    async fn load_current(
        &mut self,
        ids: &[i64],
    ) -> Result<
        (HashMap<(i64, i16), Current>, HashMap<i64, Vec<(i16, String, Option<i64>)>>, HashMap<i64, i64>),
        ImportError,
    > {
        let mut current = HashMap::new();
        let mut shortages: HashMap<i64, Vec<(i16, String, Option<i64>)>> = HashMap::new();
        let mut updated_at = HashMap::with_capacity(ids.len());
        if ids.is_empty() {
            return Ok((current, shortages, updated_at));
        }
        self.settle().await?;
        if self.stored.is_none() && ids.len() >= self.whole_tables_from {
            self.stored = Some(self.read_stored(None).await?);
        }
        // Below the threshold, the chunk's own stations are read into a state of their own.
        let mut of_chunk = match self.stored {
            Some(_) => None,
            None => Some(self.read_stored(Some(ids)).await?),
        };
        let Some(stored) = of_chunk.as_mut().or(self.stored.as_mut()) else {
            return Err(ImportError::Internal("the stored stations' state was not read".into()));
        };
        // A station is in one chunk only: what it takes from the state is its own, and goes.
        for &id in ids {
            if let Some((at, department)) = stored.details.remove(&id) {
                self.series.station_known(id, &department);
                updated_at.insert(id, at);
            }
            for (f, c) in stored.prices.remove(&id).unwrap_or_default() {
                current.insert((id, f), c);
            }
            if let Some(s) = stored.shortages.remove(&id) {
                shortages.insert(id, s);
            }
        }
        Ok((current, shortages, updated_at))
    }

    /// The stored state [`Loader::load_current`] needs of the stations `ids` (lists of ids), or
    /// of every station (`None`: whole tables at once).
    async fn read_stored(&mut self, ids: Option<&[i64]>) -> Result<StoredState, ImportError> {
        use crate::db::{prices, shortages, stations};
        let mut stored = StoredState::default();
        let Some(ids) = ids else {
            stored.details(stations::import_details_all(self.tx()?).await?);
            stored.prices(prices::all(self.tx()?).await?);
            if self.is_newest {
                stored.shortages(shortages::all(self.tx()?).await?);
            }
            return Ok(stored);
        };
        for part in ids.chunks(Backend::MAX_PARAMS) {
            stored.details(stations::import_details(self.tx()?, part).await?);
            stored.prices(prices::of_stations(self.tx()?, part).await?);
            if self.is_newest {
                stored.shortages(shortages::of_stations(self.tx()?, part).await?);
            }
        }
        Ok(stored)
    }

    /// Plans the writes of a new or changed station. `known_updated_at`: for a stored station,
    /// the snapshot time of the file that last set its attributes (`None`: a new station).
    fn plan_station(
        &mut self,
        st: FeedStation,
        hash: i64,
        known_updated_at: Option<i64>,
        current: &mut HashMap<(i64, i16), Current>,
        old_shortages: Vec<(i16, String, Option<i64>)>,
    ) {
        let FeedStation {
            id: station,
            latitude,
            longitude,
            postcode,
            city,
            address,
            road_type,
            automate_24_24,
            opening_hours,
            services,
            prices,
            shortages,
            raw_hash,
        } = st;
        let id = station.get();
        // Attributes come from a file at least as recent as the one that last set them.
        let known = known_updated_at.is_some();
        let newer_than_station = known_updated_at.is_none_or(|at| self.snapshot >= at);
        if newer_than_station {
            // The station's strings move into its row: nothing is copied.
            let row = StationWrite {
                id,
                latitude,
                longitude,
                department: department_of(&postcode),
                postcode,
                city,
                address,
                road_type: road_type.as_str(),
                automate: automate_24_24,
                hours: opening_hours.as_ref().and_then(|h| serde_json::to_string(h).ok()),
                services: serde_json::to_string(&services).unwrap_or_else(|_| "[]".to_owned()),
                hash,
                raw_hash,
            };
            self.series.station_written(id, &row.department);
            if !known {
                self.pending.stations_new.push(row);
            } else {
                self.pending.stations_update.push(row);
            }
        }
        if !known {
            self.stats.counts.stations_new += 1;
        } else {
            self.stats.counts.stations_updated += 1;
        }

        // Prices: per fuel, in time order. One vector sorted by (fuel, time), not a map of
        // vectors: a snapshot's station has one price per fuel, and this ran 10,000 times.
        let mut points: Vec<(i16, i64, i32)> =
            prices.iter().map(|p| (p.fuel.id(), p.updated_at.timestamp(), p.price.milli())).collect();
        sort_points_by(&mut points, |p| (p.0, p.1));
        let mut fuels_listed = 0u32;
        for group in points.chunk_by(|a, b| a.0 == b.0) {
            let fuel = group[0].0;
            fuels_listed |= 1 << fuel;
            let key = (id, fuel);
            let before = current.get(&key).copied();
            let mut cur = before;
            for &(_, at, price) in group {
                match cur {
                    None => {
                        self.pending.history_insert.push((id, fuel, at, price));
                        self.stats.counts.history_added += 1;
                        self.stats.counts.prices_changed += 1;
                        cur = Some(Current { price, at });
                    }
                    Some(c) if at > c.at => {
                        if price != c.price {
                            self.pending.history_insert.push((id, fuel, at, price));
                            self.stats.counts.history_added += 1;
                            self.stats.counts.prices_changed += 1;
                        } else {
                            self.stats.counts.prices_redated += 1;
                        }
                        cur = Some(Current { price, at });
                    }
                    Some(c) if at == c.at && price == c.price => self.stats.counts.prices_unchanged += 1,
                    Some(_) => {
                        // Older than the current price: it can only add to the history.
                        self.backfill.entry(key).or_default().push((at, price));
                    }
                }
            }
            if let Some(c) = cur {
                if before != cur {
                    self.pending.prices_upsert.push((id, fuel, c.price, c.at));
                }
                // Alerts hook: a current price that took another value (not a first price). One
                // past the bulk-load bound is enough for `record_changes` to skip them all: an
                // archive's millions of changes are never held.
                if let Some(b) = before.filter(|b| b.price != c.price && self.is_newest)
                    && self.changes.len() <= crate::db::alerts::MAX_CHANGES_PER_IMPORT
                {
                    let (old_price, new_price, changed_at) = (b.price, c.price, c.at);
                    self.changes.push(crate::db::alerts::PriceChange {
                        station_id: station,
                        fuel,
                        old_price,
                        new_price,
                        changed_at,
                    });
                }
                current.insert(key, c);
            }
        }

        // A snapshot lists every current price: a fuel it no longer lists is no longer sold
        // there (kept in the history). Applied at the end if the file is the newest snapshot.
        if known {
            for fuel in Fuel::ALL {
                let key = (id, fuel.id());
                if fuels_listed & (1 << fuel.id()) == 0 && current.contains_key(&key) {
                    self.pending.prices_delete.push(key);
                }
            }
        }

        // Shortages: the station's set is replaced by the file's (applied at the end when the
        // file carries shortages at all).
        let mut new: Vec<(i16, &str, Option<i64>)> =
            shortages.iter().map(|s| (s.fuel.id(), s.kind.as_str(), s.since.map(|t| t.timestamp()))).collect();
        new.sort_unstable();
        let mut old: Vec<(i16, &str, Option<i64>)> =
            old_shortages.iter().map(|(f, kind, since)| (*f, kind.as_str(), *since)).collect();
        old.sort_unstable();
        if new != old {
            self.stats.shortages_changed += 1;
            self.pending.shortages_replace.push(id);
            for s in &shortages {
                self.pending.shortages_insert.push((id, s.fuel.id(), s.kind.as_str(), s.since.map(|t| t.timestamp())));
            }
        }
        self.stats.counts.shortages += i32::try_from(shortages.len()).unwrap_or(0);
    }

    /// Sends pending writes in full multi-row batches; with `all`, everything left. Stations go
    /// first: prices and history rows reference them. On PostgreSQL the history's `COPY` may
    /// still run when it returns, except with `all` (what follows reads the stored history).
    async fn flush(&mut self, all: bool) -> Result<(), ImportError> {
        let full = |n: usize, width: usize| n > 0 && (all || n >= Backend::batch_rows(width));
        let history_full = {
            let n = self.pending.history_insert.len();
            n > 0 && (all || n >= HISTORY_FLUSH_ROWS)
        };
        let prices_full = full(self.pending.prices_upsert.len(), 4);
        let children = prices_full || history_full;
        let stations_new = children || full(self.pending.stations_new.len(), STATION_COLUMNS);
        let stations_update = children || full(self.pending.stations_update.len(), STATION_COLUMNS);
        let history = if history_full {
            let mut rows = std::mem::take(&mut self.pending.history_insert);
            self.pending.history_insert = Vec::with_capacity(rows.len());
            // In key order: the file lists stations in no order, and B-tree inserts in key order
            // touch each page once. A key is written once per file (its points merged by second).
            // Sorted before waiting for the last batch's COPY, which runs meanwhile.
            rows.sort_unstable_by_key(|r| (r.0, r.1, r.2));
            Some(rows)
        } else {
            None
        };
        if !(all || stations_new || stations_update) {
            return Ok(());
        }
        self.settle().await?;
        let snapshot = self.snapshot;
        if stations_new {
            let mut rows = std::mem::take(&mut self.pending.stations_new);
            // By a sorted list of keys, then one move per row: a row is 170 bytes.
            rows.sort_by_cached_key(|r| r.id);
            self.write_stations(rows, snapshot, true).await?;
        }
        if stations_update {
            let mut rows = std::mem::take(&mut self.pending.stations_update);
            rows.sort_by_cached_key(|r| r.id);
            self.write_stations(rows, snapshot, false).await?;
        }
        if prices_full {
            let mut rows = std::mem::take(&mut self.pending.prices_upsert);
            rows.sort_unstable_by_key(|r| (r.0, r.1));
            // Stations new to the database: a plain insert (nothing stored can conflict, and the
            // file plans each station once); the others' prices are upserted.
            let (new, rows) = self.split_new(rows, |r| r.0);
            if !new.is_empty() {
                let (tx, texts) = self.tx_texts()?;
                crate::db::prices::insert_new(tx, texts, &new).await?;
            }
            self.write_prices(&rows).await?;
        }
        if let Some(rows) = history {
            self.series_before_insert(&rows).await?;
            // The same for the history (a key's points are unique in a file: merged by second).
            let (new, rows) = self.split_new(rows, |r| r.0);
            if !new.is_empty() {
                let (tx, texts) = self.tx_texts()?;
                crate::db::price_history::insert_new(tx, texts, &new).await?;
            }
            self.write_history(rows).await?;
        }
        if all {
            self.settle().await?;
        }
        Ok(())
    }

    /// SQLite: `rows` of stations not stored when the transaction opened, and the others (order
    /// kept). PostgreSQL: none split off (its own paths tell them apart: `COPY`).
    fn split_new<T>(&self, rows: Vec<T>, station: impl Fn(&T) -> i64) -> (Vec<T>, Vec<T>) {
        if self.backend != Backend::Sqlite {
            return (Vec::new(), rows);
        }
        if self.known.stations.is_empty() {
            return (rows, Vec::new());
        }
        rows.into_iter().partition(|r| self.known.get(station(r)).is_none())
    }

    async fn write_stations(&mut self, rows: Vec<StationWrite>, snapshot: i64, new: bool) -> Result<(), ImportError> {
        let (tx, texts) = self.tx_texts()?;
        Ok(crate::db::stations::write(tx, texts, rows, snapshot, new).await?)
    }

    /// Applies what depends on the whole file (missing stations, removed prices, shortages,
    /// history backfill) and commits. `has_shortages`: the file carries `<rupture>` at all.
    pub(super) async fn finish(
        mut self,
        kind: FeedKind,
        has_shortages: bool,
        opts: &ImportOptions,
    ) -> Result<Stats, ImportError> {
        let done = match self.finish_inner(kind, has_shortages, opts).await {
            Ok(()) => self.settle().await,
            Err(e) => Err(e),
        };
        match done {
            Ok(()) => {
                let tx =
                    self.tx.take().ok_or_else(|| ImportError::Internal("the transaction is already closed".into()))?;
                tx.commit().await?;
                Ok(std::mem::take(&mut self.stats))
            }
            Err(e) => {
                self.abort().await;
                Err(e)
            }
        }
    }

    async fn finish_inner(
        &mut self,
        kind: FeedKind,
        has_shortages: bool,
        opts: &ImportOptions,
    ) -> Result<(), ImportError> {
        let newest_snapshot = kind == FeedKind::Snapshot && self.is_newest;
        let missing: Vec<i64> = if newest_snapshot {
            self.known
                .stations
                .iter()
                .filter(|(id, k)| !k.missing && !self.seen.contains(id))
                .map(|(id, _)| *id)
                .collect()
        } else {
            Vec::new()
        };

        // The truncated-upstream-file guard, before any more work.
        if newest_snapshot && !opts.force {
            let loaded = self.known.stations.values().filter(|k| !k.missing).count();
            let found = self.seen.len();
            if loaded > 0 && (found as f64) < opts.min_station_ratio * loaded as f64 {
                return Err(ImportError::TooFewStations { found, loaded });
            }
        }

        self.flush(true).await?;

        // Unchanged stations' raw hashes, so that their next unchanged element is dropped unparsed.
        let refresh = std::mem::take(&mut self.raw_refresh);
        if !refresh.is_empty() {
            let (tx, texts) = self.tx_texts()?;
            crate::db::stations::set_raw_hashes(tx, texts, &refresh).await?;
        }

        if newest_snapshot && !missing.is_empty() {
            let last_seen = self.latest_loaded.unwrap_or(self.snapshot);
            let snapshot = self.snapshot;
            crate::db::stations::mark_missing(self.tx()?, snapshot, last_seen, &missing).await?;
            self.stats.counts.stations_missing = i32::try_from(missing.len()).unwrap_or(i32::MAX);
        }

        if newest_snapshot {
            let deletes = std::mem::take(&mut self.pending.prices_delete);
            self.stats.prices_removed = deletes.len();
            for (station, fuel) in deletes {
                crate::db::prices::delete(self.tx()?, station, fuel).await?;
            }
        }

        if has_shortages && self.is_newest {
            let replace = std::mem::take(&mut self.pending.shortages_replace);
            crate::db::shortages::delete_of(self.tx()?, &replace).await?;
            let rows = std::mem::take(&mut self.pending.shortages_insert);
            let (tx, texts) = self.tx_texts()?;
            crate::db::shortages::insert(tx, texts, &rows).await?;
        } else {
            self.stats.shortages_changed = 0;
        }

        self.merge_backfill().await?;
        self.write_merged(true).await?;
        self.settle().await?;
        if self.backend == Backend::Postgres {
            self.check_written_stations().await?;
        }

        // The daily averages: the cells this file moved, in this transaction.
        let snapshot = newest_snapshot.then(|| series::day_of(self.snapshot));
        self.phases.log();
        let done = self.finish_series(snapshot).await?;
        self.stats.series_elapsed = done.elapsed;
        tracing::debug!(
            days = done.days,
            points = done.points,
            rows = done.rows,
            ms = done.elapsed.as_millis() as u64,
            written_ms = done.written.as_millis() as u64,
            "daily averages refreshed"
        );
        // Alerts hook: the changes are committed with the prices, or not at all, so
        // the alert engine finds them even if this process dies right after the commit.
        let changes = std::mem::take(&mut self.changes);
        crate::db::alerts::record_changes(self.tx()?, &changes, crate::db::now()).await?;
        Ok(())
    }
}

/// Puts (time, price) points in time order, one per second: the stable sort keeps document
/// order within a second, and the later point wins.
fn sort_points(points: &mut Vec<(i64, i32)>) {
    sort_points_by(points, |p| p.0);
}

/// Sorts `points` by `key`, one per key: the stable sort keeps document order among equal keys,
/// and the later point wins. A station's prices of every fuel, `(fuel, time, price)`, go by
/// `(fuel, time)`.
fn sort_points_by<T: Copy, K: Ord>(points: &mut Vec<T>, key: impl Fn(&T) -> K) {
    points.sort_by_key(&key);
    points.dedup_by(|later, earlier| {
        if key(later) == key(earlier) {
            *earlier = *later;
            true
        } else {
            false
        }
    });
}
