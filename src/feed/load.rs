//! Loading a feed file into the database: one transaction, only what changed.
//!
//! The file is opened and parsed on a blocking thread ([`archive`] → [`parse`], pure) that
//! streams stations in chunks to this task, which diffs them against the database and writes
//! multi-row batches — parse and write overlap on two cores. Everything happens inside one
//! transaction: a file loads completely or not at all.
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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Datelike, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::archive::{self, Limits};
use super::parse::{self, ParseOutcome};
use super::{FeedError, FeedKind, FeedStation};
use crate::db::etl_runs::{self, Finish, RunCounts, RunStatus};
use crate::db::{Backend, Db, Tx, in_list, values_placeholders};
use crate::domain::Fuel;
use crate::on_tx;

/// Why an import was refused or failed. Displayed as one line after the file name.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error(
        "refused: the snapshot holds {found} stations but {loaded} are loaded (a truncated upstream file?); \
         use --force to load it anyway"
    )]
    TooFewStations { found: usize, loaded: usize },
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("the parser stopped unexpectedly: {0}")]
    Internal(String),
}

/// Bytes of XML read so far and the total when known, for progress bars.
#[derive(Debug, Default)]
pub struct Progress {
    pub read: AtomicU64,
    pub total: AtomicU64,
}

#[derive(Clone)]
pub struct ImportOptions {
    /// Load a snapshot even when it holds far fewer stations than are loaded, and a file
    /// identical to the last one imported.
    pub force: bool,
    pub limits: Limits,
    /// A newest snapshot with fewer than this share of the stations present in the database is
    /// refused (truncated upstream file).
    pub min_station_ratio: f64,
    /// Who asked: `cli`, `schedule`, `admin`… stored with the run.
    pub trigger: String,
    pub progress: Option<Arc<Progress>>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            force: false,
            limits: Limits::default(),
            min_station_ratio: 0.8,
            trigger: "cli".to_owned(),
            progress: None,
        }
    }
}

/// What one import did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    pub run_id: i64,
    pub source: String,
    pub status: &'static str,
    pub kind: Option<&'static str>,
    pub snapshot_at: Option<DateTime<Utc>>,
    pub stations_in_file: usize,
    pub counts: RunCounts,
    pub prices_removed: usize,
    pub shortages_changed: usize,
    pub history_backfilled: usize,
    #[serde(serialize_with = "ser_duration")]
    pub elapsed: Duration,
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl ImportReport {
    /// Whether a good part of the data changed (a first import, an archive): the planner's
    /// statistics are then worth refreshing ([`refresh_statistics`]).
    pub fn changed_much(&self) -> bool {
        let touched = i64::from(self.counts.stations_new) + i64::from(self.counts.stations_updated);
        touched > 1000 || touched * 5 > self.stations_in_file as i64
    }
}

/// Refreshes the planner's statistics after imports that changed much. Maintenance, run by the
/// callers after the import (it is not part of loading a file); a failure only logs.
pub async fn refresh_statistics(db: &Db) {
    let t = Instant::now();
    match db.analyze().await {
        Ok(()) => tracing::debug!(elapsed_ms = t.elapsed().as_millis() as u64, "statistics refreshed"),
        Err(e) => tracing::warn!(error = %e, "ANALYZE failed (queries may be slower until the next one)"),
    }
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.counts;
        if self.status != RunStatus::Success.as_str() {
            return write!(
                f,
                "{}: {} (identical to the last file imported), {:.3} s",
                self.source,
                self.status,
                self.elapsed.as_secs_f64()
            );
        }
        write!(
            f,
            "{}: {} {} stations (new {}, updated {}, unchanged {}, missing {}); prices changed {}, re-dated {}, unchanged {}, \
             removed {}; history +{}; shortages {}; rejected {}; {:.3} s",
            self.source,
            self.kind.unwrap_or("?"),
            self.stations_in_file,
            c.stations_new,
            c.stations_updated,
            c.stations_unchanged,
            c.stations_missing,
            c.prices_changed,
            c.prices_redated,
            c.prices_unchanged,
            self.prices_removed,
            c.history_added,
            c.shortages,
            c.rejected,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Reads a file (any name: the content says what it is) and imports it.
pub async fn import_file(db: &Db, path: &Path, opts: &ImportOptions) -> Result<ImportReport, ImportError> {
    let shown = path.display().to_string();
    let meta = tokio::fs::metadata(path).await.map_err(|source| ImportError::Read { path: shown.clone(), source })?;
    if meta.len() > opts.limits.max_input_bytes {
        return Err(FeedError::TooLarge { what: "the file", cap: opts.limits.max_input_bytes }.into());
    }
    let bytes = tokio::fs::read(path).await.map_err(|source| ImportError::Read { path: shown.clone(), source })?;
    import_bytes(db, &shown, Bytes::from(bytes), opts).await
}

/// Imports the bytes of a feed file (ZIP or XML). Records the run, successful or not.
#[tracing::instrument(skip(db, bytes, opts), fields(bytes = bytes.len(), trigger = %opts.trigger))]
pub async fn import_bytes(
    db: &Db,
    source: &str,
    bytes: Bytes,
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let run_id = etl_runs::start(db, source, &opts.trigger, crate::db::now()).await?;
    let sha = hex::encode(Sha256::digest(&bytes));
    let mut log = format!("received {} bytes from {source} (sha256 {sha})\n", bytes.len());
    let outcome = import_inner(db, source, bytes, &sha, opts, run_id, started).await;
    let now = crate::db::now();
    match outcome {
        Ok((report, rejections)) => {
            let status =
                if report.status == RunStatus::Unchanged.as_str() { RunStatus::Unchanged } else { RunStatus::Success };
            etl_runs::finish(
                db,
                run_id,
                Finish {
                    status,
                    now,
                    feed_kind: report.kind,
                    sha256: Some(&sha),
                    snapshot_at: report.snapshot_at.map(|t| t.timestamp()),
                    counts: &report.counts,
                    error: None,
                    rejections: &rejections,
                    log: Some(&{
                        log.push_str(&format!("{report}\n"));
                        if !rejections.is_empty() {
                            log.push_str(&format!("{} records rejected (listed below)\n", rejections.len()));
                        }
                        log
                    }),
                },
            )
            .await?;
            tracing::info!(%report, "import done");
            Ok(report)
        }
        Err(e) => {
            let text = e.to_string();
            tracing::warn!(error = %text, "import failed");
            // Recording the failure must not hide the cause.
            if let Err(db_err) = etl_runs::finish(
                db,
                run_id,
                Finish {
                    sha256: Some(&sha),
                    log: Some(&format!(
                        "{log}failed after {:.3} s: {text}\nrolled back: nothing loaded was changed\n",
                        started.elapsed().as_secs_f64()
                    )),
                    ..Finish::nothing_loaded(RunStatus::Failed, now, Some(&text))
                },
            )
            .await
            {
                tracing::error!(error = %db_err, "could not record the failed run");
            }
            Err(e)
        }
    }
}

type Chunk = Vec<FeedStation>;
const CHUNK: usize = 512;

async fn import_inner(
    db: &Db,
    source: &str,
    bytes: Bytes,
    sha: &str,
    opts: &ImportOptions,
    run_id: i64,
    started: Instant,
) -> Result<(ImportReport, Vec<super::Rejection>), ImportError> {
    if !opts.force && etl_runs::latest_loaded_sha256(db).await?.as_deref() == Some(sha) {
        let report = ImportReport {
            run_id,
            source: source.to_owned(),
            status: RunStatus::Unchanged.as_str(),
            kind: None,
            snapshot_at: None,
            stations_in_file: 0,
            counts: RunCounts::default(),
            prices_removed: 0,
            shortages_changed: 0,
            history_backfilled: 0,
            elapsed: started.elapsed(),
        };
        return Ok((report, Vec::new()));
    }

    // Sniff and open here: a refused file fails before any transaction, and the ZIP entry
    // tells the snapshot time and, by its publisher-given name, the kind of file.
    let limits = opts.limits;
    let (entry_name, entry_time) = {
        let probe = archive::open(&bytes, &limits)?;
        // 1980-01-01 is the DOS epoch that ZIP writers put when they have no time: no time.
        (probe.entry_name.clone(), probe.entry_time.filter(|t| t.year() >= 2000))
    };
    let now = Utc::now();
    let bare_xml_time = if entry_time.is_none() { prescan_max_maj(&bytes) } else { None };
    // The snapshot time: the ZIP entry's (UTC), else the latest `maj` of a bare XML file; never
    // in the future.
    let snapshot_at = entry_time.or(bare_xml_time).unwrap_or(now).min(now);

    let (tx_chunks, mut rx_chunks) = mpsc::channel::<Chunk>(8);
    let progress = opts.progress.clone();
    let parse_bytes = bytes.clone();
    let parser = tokio::task::spawn_blocking(move || -> Result<ParseOutcome, FeedError> {
        let reader = archive::open(&parse_bytes, &limits)?;
        if let Some(p) = &progress {
            // A ZIP entry's size is only declared (not trusted): the bar shows bytes read without a total.
            let total = if reader.entry_name.is_some() { 0 } else { parse_bytes.len() as u64 };
            p.total.store(total, Ordering::Relaxed);
        }
        let reader = ProgressReader { inner: reader, progress: progress.clone() };
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut receiver_gone = false;
        let outcome = parse::parse_stream(reader, |station| {
            if receiver_gone {
                return;
            }
            chunk.push(station);
            if chunk.len() == CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                receiver_gone = tx_chunks.blocking_send(full).is_err();
            }
        })?;
        if !chunk.is_empty() && !receiver_gone {
            let _ = tx_chunks.blocking_send(chunk);
        }
        Ok(outcome)
    });

    let mut loader = Loader::new(db, snapshot_at.timestamp()).await?;
    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, known = loader.known.len(), "transaction open");
    let mut load_result: Result<(), ImportError> = Ok(());
    while let Some(chunk) = rx_chunks.recv().await {
        if let Err(e) = loader.add_chunk(chunk).await {
            load_result = Err(e);
            break;
        }
    }
    // Dropping the receiver tells the parser to stop sending.
    drop(rx_chunks);
    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "file streamed");
    let parsed = parser.await.map_err(|e| ImportError::Internal(e.to_string()));
    let outcome = match (parsed, load_result) {
        (Ok(Ok(outcome)), Ok(())) => outcome,
        (Ok(Err(feed_error)), _) => {
            loader.abort().await;
            return Err(feed_error.into());
        }
        (Err(e), _) | (Ok(Ok(_)), Err(e)) => {
            loader.abort().await;
            return Err(e);
        }
    };

    let kind = entry_name.as_deref().and_then(archive::kind_hint).unwrap_or(outcome.kind);
    let stats = loader.finish(kind, &outcome, opts).await?;
    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "committed");
    let mut counts = stats.counts;
    counts.rejected = i32::try_from(outcome.rejections.len()).unwrap_or(i32::MAX);
    let report = ImportReport {
        run_id,
        source: source.to_owned(),
        status: RunStatus::Success.as_str(),
        kind: Some(kind.as_str()),
        snapshot_at: Some(snapshot_at),
        stations_in_file: outcome.stations,
        counts,
        prices_removed: stats.prices_removed,
        shortages_changed: stats.shortages_changed,
        history_backfilled: stats.history_backfilled,
        elapsed: started.elapsed(),
    };
    Ok((report, outcome.rejections))
}

struct ProgressReader<R> {
    inner: R,
    progress: Option<Arc<Progress>>,
}

impl<R: std::io::Read> std::io::Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(p) = &self.progress {
            p.read.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

impl<R: std::io::BufRead> std::io::BufRead for ProgressReader<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if let Some(p) = &self.progress {
            p.read.fetch_add(amt as u64, Ordering::Relaxed);
        }
        self.inner.consume(amt)
    }
}

/// The latest `maj="…"` of a bare XML document, as the snapshot time when no ZIP entry gives one.
fn prescan_max_maj(xml: &[u8]) -> Option<DateTime<Utc>> {
    const NEEDLE: &[u8] = b"maj=\"";
    let mut best: Option<&[u8]> = None;
    let mut i = 0;
    while i + NEEDLE.len() + 19 <= xml.len() {
        match xml[i..].iter().position(|&b| b == b'm') {
            None => break,
            Some(off) => {
                i += off;
                if xml[i..].starts_with(NEEDLE) {
                    let v = &xml[i + NEEDLE.len()..];
                    let end = v.iter().take(32).position(|&b| b == b'"').unwrap_or(0);
                    let v = &v[..end];
                    if v.len() >= 19 && best.is_none_or(|b| v > b) {
                        best = Some(v);
                    }
                    i += NEEDLE.len();
                } else {
                    i += 1;
                }
            }
        }
    }
    let s = std::str::from_utf8(best?).ok()?;
    crate::domain::paris_local_to_utc(s).ok()
}

// ---------------------------------------------------------------------------------------------
// The loader: diff and batched writes inside one transaction.

#[derive(Clone, Copy)]
struct KnownStation {
    hash: i64,
    updated_at: i64,
    missing_since: Option<i64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Current {
    price: i32,
    at: i64,
}

struct StationRow {
    id: i64,
    latitude: f64,
    longitude: f64,
    postcode: String,
    department: String,
    city: String,
    address: String,
    road_type: &'static str,
    automate: bool,
    hours: Option<String>,
    services: String,
    hash: i64,
}

type ShortageRow = (i64, i16, &'static str, Option<i64>);

/// Writes waiting for a batch (or, for those that depend on what the whole file turns out to
/// be, for the end).
#[derive(Default)]
struct Pending {
    stations_new: Vec<StationRow>,
    stations_update: Vec<StationRow>,
    prices_upsert: Vec<(i64, i16, i32, i64)>,
    history_insert: Vec<(i64, i16, i64, i32)>,
    /// Applied at the end, for the newest snapshot only.
    prices_delete: Vec<(i64, i16)>,
    /// Applied at the end, when the file carries shortages and is the newest.
    shortages_replace: Vec<i64>,
    shortages_insert: Vec<ShortageRow>,
}

#[derive(Default)]
struct Stats {
    counts: RunCounts,
    prices_removed: usize,
    shortages_changed: usize,
    history_backfilled: usize,
}

struct Loader {
    tx: Option<Tx>,
    backend: Backend,
    known: HashMap<i64, KnownStation>,
    seen: HashSet<i64>,
    /// Whether this file is at least as recent as everything loaded before it.
    is_newest: bool,
    latest_loaded: Option<i64>,
    snapshot: i64,
    pending: Pending,
    /// Points older than the current price: merged into the history at the end.
    backfill: BTreeMap<(i64, i16), Vec<(i64, i32)>>,
    stats: Stats,
}

const STATION_COLUMNS: usize = 16;

impl Loader {
    async fn new(db: &Db, snapshot: i64) -> Result<Loader, ImportError> {
        let latest_loaded = etl_runs::latest_snapshot_at(db).await?;
        let mut tx = db.begin().await?;
        let rows: Vec<(i64, i64, i64, Option<i64>)> = on_tx!(&mut tx, conn => {
            sqlx::query_as("SELECT id, content_hash, updated_at, missing_since FROM stations").fetch_all(&mut *conn).await?
        });
        let known = rows
            .into_iter()
            .map(|(id, hash, updated_at, missing_since)| (id, KnownStation { hash, updated_at, missing_since }))
            .collect();
        Ok(Loader {
            backend: tx.backend(),
            tx: Some(tx),
            known,
            seen: HashSet::new(),
            is_newest: latest_loaded.is_none_or(|l| snapshot >= l),
            latest_loaded,
            snapshot,
            pending: Pending::default(),
            backfill: BTreeMap::new(),
            stats: Stats::default(),
        })
    }

    fn tx(&mut self) -> Result<&mut Tx, ImportError> {
        self.tx.as_mut().ok_or_else(|| ImportError::Internal("the transaction is already closed".into()))
    }

    async fn abort(mut self) {
        if let Some(tx) = self.tx.take() {
            if let Err(e) = tx.rollback().await {
                tracing::warn!(error = %e, "rollback failed (the connection is discarded)");
            }
        }
    }

    async fn add_chunk(&mut self, chunk: Chunk) -> Result<(), ImportError> {
        let mut changed_known: Vec<i64> = Vec::new();
        let mut plan: Vec<(FeedStation, i64, Option<KnownStation>)> = Vec::with_capacity(chunk.len());
        for st in chunk {
            let id = st.id.get();
            if !self.seen.insert(id) {
                // The same station twice in one file: the first occurrence wins.
                continue;
            }
            let hash = content_hash(&st);
            let known = self.known.get(&id).copied();
            match known {
                Some(k) if k.hash == hash && (k.missing_since.is_none() || !self.is_newest) => {
                    // Same hash, same prices and dates: every price of it is unchanged too.
                    self.stats.counts.stations_unchanged += 1;
                    self.stats.counts.prices_unchanged += i32::try_from(st.prices.len()).unwrap_or(0);
                    self.stats.counts.shortages += i32::try_from(st.shortages.len()).unwrap_or(0);
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
        let (mut current, mut old_shortages) = self.load_current(&changed_known).await?;
        for (st, hash, known) in plan {
            let old = old_shortages.remove(&st.id.get()).unwrap_or_default();
            self.plan_station(st, hash, known, &mut current, old);
        }
        self.flush(false).await
    }

    /// Current prices and shortages of the given stations.
    #[allow(clippy::type_complexity)]
    async fn load_current(
        &mut self,
        ids: &[i64],
    ) -> Result<(HashMap<(i64, i16), Current>, HashMap<i64, Vec<(i16, String, Option<i64>)>>), ImportError> {
        let mut current = HashMap::new();
        let mut shortages: HashMap<i64, Vec<(i16, String, Option<i64>)>> = HashMap::new();
        for part in ids.chunks(Backend::MAX_PARAMS) {
            let list = in_list(self.backend, 1, part.len());
            let sql = format!("SELECT station_id, fuel, price, updated_at FROM prices WHERE station_id IN ({list})");
            let rows: Vec<(i64, i16, i32, i64)> = on_tx!(self.tx()?, conn => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in part {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut *conn).await?
            });
            for (s, f, price, at) in rows {
                current.insert((s, f), Current { price, at });
            }
            let sql = format!("SELECT station_id, fuel, kind, since FROM shortages WHERE station_id IN ({list})");
            let rows: Vec<(i64, i16, String, Option<i64>)> = on_tx!(self.tx()?, conn => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in part {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut *conn).await?
            });
            for (s, f, kind, since) in rows {
                shortages.entry(s).or_default().push((f, kind, since));
            }
        }
        Ok((current, shortages))
    }

    fn plan_station(
        &mut self,
        st: FeedStation,
        hash: i64,
        known: Option<KnownStation>,
        current: &mut HashMap<(i64, i16), Current>,
        mut old_shortages: Vec<(i16, String, Option<i64>)>,
    ) {
        let id = st.id.get();
        // Attributes come from a file at least as recent as the one that last set them.
        let newer_than_station = known.is_none_or(|k| self.snapshot >= k.updated_at);
        if newer_than_station {
            let row = StationRow {
                id,
                latitude: st.latitude,
                longitude: st.longitude,
                department: department_of(&st.postcode),
                postcode: st.postcode.clone(),
                city: st.city.clone(),
                address: st.address.clone(),
                road_type: st.road_type.as_str(),
                automate: st.automate_24_24,
                hours: st.opening_hours.as_ref().and_then(|h| serde_json::to_string(h).ok()),
                services: serde_json::to_string(&st.services).unwrap_or_else(|_| "[]".to_owned()),
                hash,
            };
            if known.is_none() {
                self.pending.stations_new.push(row);
            } else {
                self.pending.stations_update.push(row);
            }
        }
        if known.is_none() {
            self.stats.counts.stations_new += 1;
        } else {
            self.stats.counts.stations_updated += 1;
        }

        // Prices: per fuel, in time order.
        let mut by_fuel: BTreeMap<i16, Vec<(i64, i32)>> = BTreeMap::new();
        for p in &st.prices {
            by_fuel.entry(p.fuel.id()).or_default().push((p.updated_at.timestamp(), p.price.milli()));
        }
        for (&fuel, points) in by_fuel.iter_mut() {
            // Stable sort: two prices of the same second keep document order, the later wins.
            points.sort_by_key(|p| p.0);
            points.dedup_by(|later, earlier| {
                if later.0 == earlier.0 {
                    *earlier = *later;
                    true
                } else {
                    false
                }
            });
            let key = (id, fuel);
            let before = current.get(&key).copied();
            let mut cur = before;
            for &(at, price) in points.iter() {
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
                current.insert(key, c);
            }
        }

        // A snapshot lists every current price: a fuel it no longer lists is no longer sold
        // there (kept in the history). Applied at the end if the file is the newest snapshot.
        if known.is_some() {
            for fuel in Fuel::ALL {
                let key = (id, fuel.id());
                if !by_fuel.contains_key(&fuel.id()) && current.contains_key(&key) {
                    self.pending.prices_delete.push(key);
                }
            }
        }

        // Shortages: the station's set is replaced by the file's (applied at the end when the
        // file carries shortages at all).
        let mut new: Vec<(i16, String, Option<i64>)> = st
            .shortages
            .iter()
            .map(|s| (s.fuel.id(), s.kind.as_str().to_owned(), s.since.map(|t| t.timestamp())))
            .collect();
        new.sort();
        old_shortages.sort();
        if new != old_shortages {
            self.stats.shortages_changed += 1;
            self.pending.shortages_replace.push(id);
            for s in &st.shortages {
                self.pending.shortages_insert.push((id, s.fuel.id(), s.kind.as_str(), s.since.map(|t| t.timestamp())));
            }
        }
        self.stats.counts.shortages += i32::try_from(st.shortages.len()).unwrap_or(0);
    }

    /// Sends pending writes in full multi-row batches; with `all`, everything left. Stations go
    /// first: prices and history rows reference them.
    async fn flush(&mut self, all: bool) -> Result<(), ImportError> {
        let full = |n: usize, width: usize| n > 0 && (all || n >= Backend::batch_rows(width));
        let children = full(self.pending.prices_upsert.len(), 4) || full(self.pending.history_insert.len(), 4);
        let snapshot = self.snapshot;
        if children || full(self.pending.stations_new.len(), STATION_COLUMNS) {
            let rows = std::mem::take(&mut self.pending.stations_new);
            self.write_stations(&rows, snapshot, true).await?;
        }
        if children || full(self.pending.stations_update.len(), STATION_COLUMNS) {
            let rows = std::mem::take(&mut self.pending.stations_update);
            self.write_stations(&rows, snapshot, false).await?;
        }
        if full(self.pending.prices_upsert.len(), 4) {
            let rows = std::mem::take(&mut self.pending.prices_upsert);
            self.batched(
                "INSERT INTO prices (station_id, fuel, price, updated_at) VALUES ",
                " ON CONFLICT (station_id, fuel) DO UPDATE SET price = excluded.price, updated_at = excluded.updated_at",
                4,
                &rows,
                |q, r| q.bind(r.0).bind(r.1).bind(r.2).bind(r.3),
            )
            .await?;
        }
        if full(self.pending.history_insert.len(), 4) {
            let rows = std::mem::take(&mut self.pending.history_insert);
            self.batched(
                "INSERT INTO price_history (station_id, fuel, at, price) VALUES ",
                " ON CONFLICT (station_id, fuel, at) DO UPDATE SET price = excluded.price",
                4,
                &rows,
                |q, r| q.bind(r.0).bind(r.1).bind(r.2).bind(r.3),
            )
            .await?;
        }
        Ok(())
    }

    async fn write_stations(&mut self, rows: &[StationRow], snapshot: i64, new: bool) -> Result<(), ImportError> {
        let head = "INSERT INTO stations (id, latitude, longitude, postcode, department, city, address, road_type, \
                    automate_24_24, opening_hours, services, content_hash, first_seen_at, last_seen_at, missing_since, \
                    updated_at) VALUES ";
        let tail = if new {
            ""
        } else {
            " ON CONFLICT (id) DO UPDATE SET latitude = excluded.latitude, longitude = excluded.longitude, \
              postcode = excluded.postcode, department = excluded.department, city = excluded.city, \
              address = excluded.address, road_type = excluded.road_type, automate_24_24 = excluded.automate_24_24, \
              opening_hours = excluded.opening_hours, services = excluded.services, \
              content_hash = excluded.content_hash, missing_since = NULL, \
              first_seen_at = CASE WHEN excluded.first_seen_at < stations.first_seen_at \
                  THEN excluded.first_seen_at ELSE stations.first_seen_at END, \
              last_seen_at = CASE WHEN excluded.last_seen_at > stations.last_seen_at \
                  THEN excluded.last_seen_at ELSE stations.last_seen_at END, \
              updated_at = excluded.updated_at"
        };
        self.batched(head, tail, STATION_COLUMNS, rows, |q, r| {
            q.bind(r.id)
                .bind(r.latitude)
                .bind(r.longitude)
                .bind(r.postcode.as_str())
                .bind(r.department.as_str())
                .bind(r.city.as_str())
                .bind(r.address.as_str())
                .bind(r.road_type)
                .bind(r.automate)
                .bind(r.hours.as_deref())
                .bind(r.services.as_str())
                .bind(r.hash)
                .bind(snapshot)
                .bind(snapshot)
                .bind(None::<i64>)
                .bind(snapshot)
        })
        .await
    }

    /// Runs `head VALUES (…),(…) tail` over `rows` in statements of at most
    /// [`Backend::MAX_PARAMS`] parameters: the same text on both backends.
    async fn batched<T, F>(
        &mut self,
        head: &str,
        tail: &str,
        width: usize,
        rows: &[T],
        bind: F,
    ) -> Result<(), ImportError>
    where
        F: for<'q> Fn(AnyQuery<'q>, &'q T) -> AnyQuery<'q>,
    {
        for part in rows.chunks(Backend::batch_rows(width)) {
            let sql = format!("{head}{}{tail}", values_placeholders(self.backend, part.len(), width));
            match self.tx()? {
                Tx::Sqlite(t) => {
                    let mut q = AnyQuery::Sqlite(sqlx::query(sqlx::AssertSqlSafe(sql)));
                    for r in part {
                        q = bind(q, r);
                    }
                    if let AnyQuery::Sqlite(q) = q {
                        q.execute(&mut **t).await?;
                    }
                }
                Tx::Postgres(t) => {
                    let mut q = AnyQuery::Postgres(sqlx::query(sqlx::AssertSqlSafe(sql)));
                    for r in part {
                        q = bind(q, r);
                    }
                    if let AnyQuery::Postgres(q) = q {
                        q.execute(&mut **t).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs an `… IN (…)` statement over `ids` in batches. `sql` gets the placeholders of the
    /// `leading` parameters (bound first, in every batch) and the list for the ids, both in the
    /// backend's style (see [`in_list`]).
    async fn by_ids(
        &mut self,
        leading: &[i64],
        ids: &[i64],
        sql: impl Fn(&[&str], &str) -> String,
    ) -> Result<(), ImportError> {
        let heads = in_list(self.backend, 1, leading.len());
        let heads: Vec<&str> = heads.split(',').filter(|p| !p.is_empty()).collect();
        for part in ids.chunks(Backend::MAX_PARAMS) {
            let text = sql(&heads, &in_list(self.backend, 1 + leading.len(), part.len()));
            on_tx!(self.tx()?, conn => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(text));
                for v in leading.iter().chain(part) {
                    q = q.bind(*v);
                }
                q.execute(&mut *conn).await?;
            });
        }
        Ok(())
    }

    async fn finish(
        mut self,
        kind: FeedKind,
        outcome: &ParseOutcome,
        opts: &ImportOptions,
    ) -> Result<Stats, ImportError> {
        match self.finish_inner(kind, outcome, opts).await {
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
        outcome: &ParseOutcome,
        opts: &ImportOptions,
    ) -> Result<(), ImportError> {
        let newest_snapshot = kind == FeedKind::Snapshot && self.is_newest;
        let missing: Vec<i64> = if newest_snapshot {
            self.known
                .iter()
                .filter(|(id, k)| k.missing_since.is_none() && !self.seen.contains(id))
                .map(|(id, _)| *id)
                .collect()
        } else {
            Vec::new()
        };

        // The truncated-upstream-file guard, before any more work.
        if newest_snapshot && !opts.force {
            let loaded = self.known.values().filter(|k| k.missing_since.is_none()).count();
            let found = self.seen.len();
            if loaded > 0 && (found as f64) < opts.min_station_ratio * loaded as f64 {
                return Err(ImportError::TooFewStations { found, loaded });
            }
        }

        self.flush(true).await?;

        if newest_snapshot && !missing.is_empty() {
            let last_seen = self.latest_loaded.unwrap_or(self.snapshot);
            let snapshot = self.snapshot;
            self.by_ids(&[snapshot, last_seen], &missing, |p, list| {
                format!("UPDATE stations SET missing_since = {}, last_seen_at = {} WHERE id IN ({list})", p[0], p[1])
            })
            .await?;
            self.stats.counts.stations_missing = i32::try_from(missing.len()).unwrap_or(i32::MAX);
        }

        if newest_snapshot {
            let deletes = std::mem::take(&mut self.pending.prices_delete);
            self.stats.prices_removed = deletes.len();
            for (station, fuel) in deletes {
                on_tx!(self.tx()?, conn => {
                    sqlx::query("DELETE FROM prices WHERE station_id = $1 AND fuel = $2")
                        .bind(station)
                        .bind(fuel)
                        .execute(&mut *conn)
                        .await?;
                });
            }
        }

        if outcome.has_shortages && self.is_newest {
            let replace = std::mem::take(&mut self.pending.shortages_replace);
            self.by_ids(&[], &replace, |_, list| format!("DELETE FROM shortages WHERE station_id IN ({list})")).await?;
            let rows = std::mem::take(&mut self.pending.shortages_insert);
            self.batched("INSERT INTO shortages (station_id, fuel, kind, since) VALUES ", "", 4, &rows, |q, r| {
                q.bind(r.0).bind(r.1).bind(r.2).bind(r.3)
            })
            .await?;
        } else {
            self.stats.shortages_changed = 0;
        }

        self.apply_backfill().await?;
        Ok(())
    }

    /// Merges prices older than the current one into the history: the history stays the list
    /// of points where the price changed, in time order, whatever order files came in.
    async fn apply_backfill(&mut self) -> Result<(), ImportError> {
        let backfill = std::mem::take(&mut self.backfill);
        let mut inserts: Vec<(i64, i16, i64, i32)> = Vec::new();
        let mut deletes: Vec<(i64, i16, i64)> = Vec::new();
        for ((station, fuel), mut points) in backfill {
            let existing: Vec<(i64, i32)> = on_tx!(self.tx()?, conn => {
                sqlx::query_as("SELECT at, price FROM price_history WHERE station_id = $1 AND fuel = $2 ORDER BY at")
                    .bind(station)
                    .bind(fuel)
                    .fetch_all(&mut *conn)
                    .await?
            });
            let mut merged: BTreeMap<i64, i32> = existing.iter().copied().collect();
            points.sort_by_key(|p| p.0);
            for (at, price) in points {
                // A point already in the history at that second is kept as it is.
                merged.entry(at).or_insert(price);
            }
            let mut wanted: Vec<(i64, i32)> = Vec::with_capacity(merged.len());
            for (at, price) in merged {
                if wanted.last().is_none_or(|&(_, p)| p != price) {
                    wanted.push((at, price));
                }
            }
            let existing_set: HashSet<(i64, i32)> = existing.iter().copied().collect();
            let wanted_set: HashSet<(i64, i32)> = wanted.iter().copied().collect();
            for &(at, price) in &wanted {
                if !existing_set.contains(&(at, price)) {
                    inserts.push((station, fuel, at, price));
                }
            }
            for &(at, price) in &existing {
                if !wanted_set.contains(&(at, price)) {
                    deletes.push((station, fuel, at));
                }
            }
        }
        for (station, fuel, at) in &deletes {
            on_tx!(self.tx()?, conn => {
                sqlx::query("DELETE FROM price_history WHERE station_id = $1 AND fuel = $2 AND at = $3")
                    .bind(*station)
                    .bind(*fuel)
                    .bind(*at)
                    .execute(&mut *conn)
                    .await?;
            });
        }
        self.stats.history_backfilled = inserts.len();
        self.stats.counts.history_added += i32::try_from(inserts.len()).unwrap_or(0);
        self.batched(
            "INSERT INTO price_history (station_id, fuel, at, price) VALUES ",
            " ON CONFLICT (station_id, fuel, at) DO UPDATE SET price = excluded.price",
            4,
            &inserts,
            |q, r| q.bind(r.0).bind(r.1).bind(r.2).bind(r.3),
        )
        .await
    }
}

/// A query for either backend, so one binding closure serves both.
pub enum AnyQuery<'q> {
    Sqlite(sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>),
    Postgres(sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>),
}

impl<'q> AnyQuery<'q> {
    pub fn bind<T>(self, v: T) -> AnyQuery<'q>
    where
        T: 'q
            + sqlx::Encode<'q, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>
            + sqlx::Encode<'q, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>,
    {
        match self {
            AnyQuery::Sqlite(q) => AnyQuery::Sqlite(q.bind(v)),
            AnyQuery::Postgres(q) => AnyQuery::Postgres(q.bind(v)),
        }
    }
}

/// Département code from a postcode: `06110` → `06`; Corsica `20xxx` → `2A`/`2B`; overseas
/// `97x`/`98x` → three digits.
pub fn department_of(postcode: &str) -> String {
    let p = postcode.trim();
    if p.len() < 2 || !p.is_ascii() {
        return String::new();
    }
    if p.starts_with("97") || p.starts_with("98") {
        return p.get(..3).unwrap_or(p).to_owned();
    }
    if let Some(rest) = p.strip_prefix("20") {
        // 200xx–201xx: Corse-du-Sud; 202xx–206xx: Haute-Corse.
        return match rest.as_bytes().first() {
            Some(b'0') | Some(b'1') => "2A".to_owned(),
            Some(_) => "2B".to_owned(),
            None => "20".to_owned(),
        };
    }
    p[..2].to_owned()
}

/// FNV-1a over a canonical encoding of everything the loader stores about a station: stable
/// across builds and Rust versions (it is stored in the database).
fn content_hash(st: &FeedStation) -> i64 {
    struct Fnv(u64);
    impl Fnv {
        fn bytes(&mut self, b: &[u8]) {
            for &x in b {
                self.0 ^= u64::from(x);
                self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
            }
            self.0 ^= 0xff;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        fn num(&mut self, v: i64) {
            self.bytes(&v.to_le_bytes());
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    h.num(st.id.get());
    h.bytes(&st.latitude.to_bits().to_le_bytes());
    h.bytes(&st.longitude.to_bits().to_le_bytes());
    h.bytes(st.postcode.as_bytes());
    h.bytes(st.city.as_bytes());
    h.bytes(st.address.as_bytes());
    h.bytes(st.road_type.as_str().as_bytes());
    h.num(i64::from(st.automate_24_24));
    if let Some(hours) = &st.opening_hours {
        for d in &hours.days {
            h.num(i64::from(d.day) * 2 + i64::from(d.closed));
            for s in &d.slots {
                h.num(i64::from(s.open) << 16 | i64::from(s.close));
            }
        }
    } else {
        h.num(-1);
    }
    for s in &st.services {
        h.bytes(s.as_bytes());
    }
    for p in &st.prices {
        h.num(i64::from(p.fuel.id()) << 32 | i64::from(p.price.milli()));
        h.num(p.updated_at.timestamp());
    }
    for s in &st.shortages {
        h.num(i64::from(s.fuel.id()));
        h.bytes(s.kind.as_str().as_bytes());
        h.num(s.since.map_or(-1, |t| t.timestamp()));
    }
    h.0 as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departments() {
        assert_eq!(department_of("06110"), "06");
        assert_eq!(department_of("75013"), "75");
        assert_eq!(department_of("20090"), "2A");
        assert_eq!(department_of("20200"), "2B");
        assert_eq!(department_of("97400"), "974");
        assert_eq!(department_of(""), "");
    }

    #[test]
    fn prescan() {
        let xml =
            br#"<pdv_liste><pdv><prix maj="2025-02-07 01:58:00"/><prix maj="2025-02-07 03:00:00"/></pdv></pdv_liste>"#;
        assert_eq!(prescan_max_maj(xml).map(|t| t.to_rfc3339()).as_deref(), Some("2025-02-07T02:00:00+00:00"));
        assert_eq!(prescan_max_maj(b"<pdv_liste/>"), None);
    }
}
