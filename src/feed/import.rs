//! Importing a feed file: open it, sniff it, stream it through the parser into the loader,
//! and record the run (successful or not) with its rejections.
//!
//! The file is read once: a blocking thread opens it ([`archive`]: sniff, unzip with caps),
//! reports what the ZIP entry says, then parses it ([`parse`], pure) and streams stations in
//! chunks to this task, which hands them to the [`Loader`] (the writer, one transaction) — parse
//! and write overlap on two cores. The snapshot time comes from the ZIP entry; a bare XML file
//! has none, so its stations wait for the end of the parse, which gives the latest `maj`.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Datelike, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use super::archive;
use super::load::{KnownStations, Loader, Sieve, Sieved};
use super::model::Chunk;
use super::parse::{self, ParseOutcome, RawPdv, RawSieve, Verdict};
pub use super::report::{ImportError, ImportOptions, ImportReport, Progress};
use super::{FeedError, FeedKind, FeedStation};
use crate::db::Db;
use crate::db::etl_runs::{self, Finish, RunCounts, RunStatus};
use crate::domain::{Rejection, RunId};

/// SQLite: copies the write-ahead log into the database file in a task of its own, after the
/// commit. The import's connection does not checkpoint at its commit ([`Db::begin_import`]):
/// for a yearly archive that was 0.18 s of it. A checkpoint runs beside readers and the next
/// writer (`PASSIVE`), so it overlaps the next file of a backfill rather than delaying it.
fn checkpoint_in_background(db: &Db) {
    if db.backend() != crate::db::Backend::Sqlite {
        return;
    }
    let db = db.clone();
    tokio::spawn(async move {
        let t = Instant::now();
        match db.checkpoint(crate::db::Checkpoint::Passive).await {
            Ok(_) => tracing::debug!(elapsed_ms = t.elapsed().as_millis() as u64, "write-ahead log checkpointed"),
            Err(e) => tracing::warn!(error = %e, "checkpoint failed (a later write will do it)"),
        }
    });
}

/// Reads a file (any name: the content says what it is) and imports it.
pub async fn import_file(db: &Db, path: &Path, opts: &ImportOptions) -> Result<ImportReport, ImportError> {
    let shown = path.display().to_string();
    let meta = tokio::fs::metadata(path).await.map_err(|source| ImportError::Read { path: shown.clone(), source })?;
    if meta.len() > opts.limits.max_input_bytes {
        return Err(FeedError::TooLarge { what: "the file", cap: opts.limits.max_input_bytes }.into());
    }
    // Read as a stream by the parser, never whole into memory: a yearly archive is 27 MB.
    let file = tokio::fs::File::open(path).await.map_err(|source| ImportError::Read { path: shown.clone(), source })?;
    import_input(db, &shown, Input::File(file.into_std().await, meta.len()), opts).await
}

/// Imports the bytes of a feed file (ZIP or XML). Records the run, successful or not.
pub async fn import_bytes(
    db: &Db,
    source: &str,
    bytes: Bytes,
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    import_input(db, source, Input::Bytes(bytes), opts).await
}

/// A feed file to import: bytes in memory (a download) or a file on disk.
enum Input {
    Bytes(Bytes),
    /// The file and its length.
    File(std::fs::File, u64),
}

impl Input {
    fn len(&self) -> u64 {
        match self {
            Input::Bytes(b) => b.len() as u64,
            Input::File(_, len) => *len,
        }
    }

    /// The SHA-256 of the content, hex. A file is read through once in a blocking thread, then
    /// rewound for the parser.
    async fn sha256(self, source: &str) -> Result<(Input, String), ImportError> {
        match self {
            Input::Bytes(b) => {
                let sha = hex::encode(Sha256::digest(&b));
                Ok((Input::Bytes(b), sha))
            }
            Input::File(mut file, len) => {
                let read = |source: std::io::Error, path: &str| ImportError::Read { path: path.to_owned(), source };
                let hashed = tokio::task::spawn_blocking(move || -> std::io::Result<(std::fs::File, String)> {
                    use std::io::{Read, Seek};
                    let mut hasher = Sha256::new();
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = file.read(&mut buf)?;
                        if n == 0 {
                            break;
                        }
                        hasher.update(&buf[..n]);
                    }
                    file.rewind()?;
                    Ok((file, hex::encode(hasher.finalize())))
                })
                .await
                .map_err(|e| ImportError::Internal(e.to_string()))?;
                let (file, sha) = hashed.map_err(|e| read(e, source))?;
                Ok((Input::File(file, len), sha))
            }
        }
    }
}

#[tracing::instrument(skip(db, input, opts), fields(bytes = input.len(), trigger = %opts.trigger))]
async fn import_input(db: &Db, source: &str, input: Input, opts: &ImportOptions) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let (input, sha) = input.sha256(source).await?;
    tracing::debug!(elapsed_us = started.elapsed().as_micros() as u64, "hashed");
    let run_id = etl_runs::start(db, source, opts.trigger, crate::db::now()).await?;
    tracing::debug!(elapsed_us = started.elapsed().as_micros() as u64, "run recorded");
    let mut log = format!("received {} bytes from {source} (sha256 {sha})\n", input.len());
    let outcome = import_inner(db, source, input, &sha, opts, run_id, started).await;
    let now = crate::db::now();
    match outcome {
        Ok((report, rejections)) => {
            let status = report.status;
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
            tracing::debug!(elapsed_us = started.elapsed().as_micros() as u64, "run finished");
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

/// Stations per chunk sent to the loader, or fewer when they carry [`CHUNK_PRICES`] prices (an
/// archive's station brings hundreds): the queue between parser and loader stays a few MB.
const CHUNK: usize = 512;
const CHUNK_PRICES: usize = 65_536;
/// Chunks the parser may have parsed ahead of the loader. One waiting is enough for parse and
/// write to overlap; each more held an archive's 1.3 MB of prices (8 of them were a sixth of a
/// yearly import's peak heap).
const CHUNKS_AHEAD: usize = 2;
/// An archive station's prices grow by doubling (≈ 350 a year): the slack of more than this
/// many is given back before the station waits in the queue.
const PRICES_SLACK: usize = 64;
/// Stations, and their prices, the parser may hold while the loader opens its transaction and
/// reads the stored stations (which its [`Sieve`] needs): the parse overlaps that read, and a
/// yearly archive's stations still wait no more than [`CHUNKS_AHEAD`] chunks' worth of prices.
const WAITING_STATIONS: usize = 8 * CHUNK;
const WAITING_PRICES: usize = CHUNKS_AHEAD * CHUNK_PRICES;

/// The parsing thread's side of the queue to the loader: stations grouped in chunks, and,
/// once the loader has read the stored stations, the [`Sieve`] that drops unchanged ones.
struct Queue {
    tx: mpsc::Sender<Chunk>,
    chunk: Chunk,
    chunk_prices: usize,
    receiver_gone: bool,
    sieve: SieveState,
}

enum SieveState {
    /// The loader has not read the stored stations yet: parsed stations wait here.
    Waiting {
        rx: oneshot::Receiver<Arc<KnownStations>>,
        stations: Vec<FeedStation>,
        prices: usize,
    },
    On(Sieve),
    /// No sieve (no station stored; a bare XML file, whose loader opens after the parse; a
    /// loader that failed): the loader sees every station.
    Off,
}

impl Queue {
    /// `rx`: where the stored stations will come from; `None`, no sieve.
    fn new(tx: mpsc::Sender<Chunk>, rx: Option<oneshot::Receiver<Arc<KnownStations>>>) -> Queue {
        Queue {
            tx,
            chunk: Vec::with_capacity(CHUNK),
            chunk_prices: 0,
            receiver_gone: false,
            sieve: match rx {
                Some(rx) => SieveState::Waiting { rx, stations: Vec::new(), prices: 0 },
                None => SieveState::Off,
            },
        }
    }

    fn station(&mut self, mut station: FeedStation) {
        if self.receiver_gone {
            return;
        }
        if station.prices.capacity() - station.prices.len() > PRICES_SLACK {
            station.prices.shrink_to_fit();
        }
        match &mut self.sieve {
            SieveState::On(sieve) => {
                if sieve.keep(&station) {
                    self.push(station);
                }
            }
            SieveState::Off => self.push(station),
            SieveState::Waiting { rx, stations, prices } => match rx.try_recv() {
                Ok(known) => {
                    self.sieve_on(Some(known));
                    self.station(station);
                }
                Err(oneshot::error::TryRecvError::Closed) => {
                    self.sieve_on(None);
                    self.station(station);
                }
                Err(oneshot::error::TryRecvError::Empty) => {
                    *prices += station.prices.len();
                    stations.push(station);
                    if stations.len() >= WAITING_STATIONS || *prices >= WAITING_PRICES {
                        self.wait_for_loader();
                    }
                }
            },
        }
    }

    /// Blocks until the loader has read the stored stations (or gave up), then passes the
    /// waiting stations on.
    fn wait_for_loader(&mut self) {
        if !matches!(self.sieve, SieveState::Waiting { .. }) {
            return;
        }
        if let SieveState::Waiting { rx, stations, .. } = std::mem::replace(&mut self.sieve, SieveState::Off) {
            let known = rx.blocking_recv().ok();
            self.pass_waiting(known, stations);
        }
    }

    /// Sets the sieve on (`None`: off) and passes the stations that waited through it.
    fn sieve_on(&mut self, known: Option<Arc<KnownStations>>) {
        if !matches!(self.sieve, SieveState::Waiting { .. }) {
            return;
        }
        if let SieveState::Waiting { stations, .. } = std::mem::replace(&mut self.sieve, SieveState::Off) {
            self.pass_waiting(known, stations);
        }
    }

    fn pass_waiting(&mut self, known: Option<Arc<KnownStations>>, waiting: Vec<FeedStation>) {
        if let Some(k) = known {
            self.sieve = SieveState::On(Sieve::new(k));
        }
        for st in waiting {
            self.station(st);
        }
    }

    fn push(&mut self, station: FeedStation) {
        self.chunk_prices += station.prices.len();
        self.chunk.push(station);
        if self.chunk.len() == CHUNK || self.chunk_prices >= CHUNK_PRICES {
            self.chunk_prices = 0;
            let full = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
            self.receiver_gone = self.tx.blocking_send(full).is_err();
        }
    }

    /// Whether the parser drops a `<pdv>` element unparsed (its bytes are the stored station's).
    /// Before the loader has read the stored stations, [`Verdict::Wait`] while the parser may
    /// read ahead, else it waits for them.
    fn judge(&mut self, pdv: &RawPdv, may_wait: bool) -> Verdict {
        loop {
            match &mut self.sieve {
                SieveState::On(sieve) => return if sieve.skip_raw(pdv) { Verdict::Skip } else { Verdict::Parse },
                SieveState::Off => return Verdict::Parse,
                SieveState::Waiting { rx, .. } => match rx.try_recv() {
                    Ok(known) => self.sieve_on(Some(known)),
                    Err(oneshot::error::TryRecvError::Closed) => self.sieve_on(None),
                    Err(oneshot::error::TryRecvError::Empty) if may_wait => return Verdict::Wait,
                    Err(oneshot::error::TryRecvError::Empty) => self.wait_for_loader(),
                },
            }
        }
    }

    /// At the end of the parse: what still waits goes out, and the sieve's findings back.
    fn finish(&mut self) -> Option<Sieved> {
        self.wait_for_loader();
        if !self.chunk.is_empty() && !self.receiver_gone {
            let _ = self.tx.blocking_send(std::mem::take(&mut self.chunk));
        }
        match std::mem::replace(&mut self.sieve, SieveState::Off) {
            SieveState::On(sieve) => Some(sieve.into_sieved()),
            _ => None,
        }
    }
}

/// The parser's [`RawSieve`]: the queue's, shared with the callback that takes the parsed
/// stations (one thread: the filter asks between two events, never while a station is handed
/// over). Off ([`ImportOptions::raw_skip`] false): every element is parsed.
struct QueueSieve {
    queue: Rc<RefCell<Queue>>,
    on: bool,
}

impl RawSieve for QueueSieve {
    fn judge(&mut self, pdv: &RawPdv, may_wait: bool) -> Verdict {
        if !self.on {
            return Verdict::Parse;
        }
        self.queue.borrow_mut().judge(pdv, may_wait)
    }
}

/// What opening the file told, before any station: sent by the parsing thread as soon as the
/// file is open, so that a refused file fails before the transaction opens.
struct Head {
    /// The ZIP entry read, `None` for a bare XML file.
    entry_name: Option<String>,
    /// The ZIP entry's time, when it is a real one.
    entry_time: Option<DateTime<Utc>>,
}

async fn import_inner(
    db: &Db,
    source: &str,
    input: Input,
    sha: &str,
    opts: &ImportOptions,
    run_id: RunId,
    started: Instant,
) -> Result<(ImportReport, Vec<Rejection>), ImportError> {
    if !opts.force && etl_runs::latest_loaded_sha256(db).await?.as_deref() == Some(sha) {
        return Ok((unchanged_report(source, run_id, started), Vec::new()));
    }
    tracing::debug!(elapsed_us = started.elapsed().as_micros() as u64, "not the last file");

    // With no station stored, the sieve would drop none: the parser sends every station on
    // from the start instead of holding them while the loader opens its transaction. Another
    // import storing stations meanwhile changes nothing: without a sieve the loader diffs
    // every station itself.
    let sieve = crate::db::stations::any(db).await?;
    tracing::debug!(elapsed_us = started.elapsed().as_micros() as u64, sieve, "stations stored");
    let (parsing, rx_head) = spawn_parser(input, opts, sieve);
    let head = match rx_head.await {
        Ok(head) => head,
        // The file could not be opened: the parser's error says why.
        Err(_) => {
            return Err(join_parser(parsing.parser).await.err().unwrap_or_else(|| internal("no file was opened")));
        }
    };
    let now = Utc::now();
    // The snapshot time: the ZIP entry's (UTC); for a bare XML file, the latest `maj` in it, known
    // once it is parsed; never in the future. A ZIP without a time is taken as of now.
    let known_time = match (&head.entry_name, head.entry_time) {
        (_, Some(t)) => Some(t),
        (Some(_), None) => Some(now),
        (None, None) => None,
    };
    let (loader, outcome, snapshot_at) = match known_time {
        Some(t) => load_while_parsing(db, parsing, t.min(now), opts, started).await?,
        None => load_after_parsing(db, parsing, now, opts, started).await?,
    };

    let kind = head.entry_name.as_deref().and_then(archive::kind_hint).unwrap_or(outcome.kind);
    let stats = loader.finish(kind, outcome.has_shortages, opts).await?;
    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "committed");
    checkpoint_in_background(db);
    let mut counts = stats.counts;
    counts.rejected = i32::try_from(outcome.rejections.len()).unwrap_or(i32::MAX);
    let report = ImportReport {
        run_id,
        source: source.to_owned(),
        status: RunStatus::Success,
        kind: Some(kind),
        snapshot_at: Some(snapshot_at),
        stations_in_file: outcome.stations,
        price_elements: outcome.price_elements,
        counts,
        prices_removed: stats.prices_removed,
        shortages_changed: stats.shortages_changed,
        history_backfilled: stats.history_backfilled,
        elapsed: started.elapsed(),
        series_elapsed: stats.series_elapsed,
        elements_skipped: outcome.skipped,
    };
    Ok((report, outcome.rejections))
}

/// The report of a file identical to the last one loaded: nothing done.
fn unchanged_report(source: &str, run_id: RunId, started: Instant) -> ImportReport {
    ImportReport {
        run_id,
        source: source.to_owned(),
        status: RunStatus::Unchanged,
        kind: None,
        snapshot_at: None,
        stations_in_file: 0,
        price_elements: 0,
        counts: RunCounts::default(),
        prices_removed: 0,
        shortages_changed: 0,
        history_backfilled: 0,
        series_elapsed: Duration::ZERO,
        elapsed: started.elapsed(),
        elements_skipped: 0,
    }
}

/// The parsing thread and its channels: the station chunks, and the stations already stored
/// (sent once the transaction is open, for the parser's sieve).
struct Parsing {
    parser: tokio::task::JoinHandle<Result<(ParseOutcome, Option<Sieved>), FeedError>>,
    chunks: mpsc::Receiver<Chunk>,
    known: oneshot::Sender<Arc<KnownStations>>,
}

/// One pass over the bytes: the parsing thread sniffs and opens the file once, tells what the
/// ZIP entry says (the receiver returned beside), then decompresses and parses it as a stream
/// of station chunks.
fn spawn_parser(input: Input, opts: &ImportOptions, sieve: bool) -> (Parsing, oneshot::Receiver<Head>) {
    let limits = opts.limits;
    let raw_skip = opts.raw_skip;
    let (tx_head, rx_head) = oneshot::channel::<Head>();
    let (tx_chunks, rx_chunks) = mpsc::channel::<Chunk>(CHUNKS_AHEAD);
    let (tx_known, rx_known) = oneshot::channel::<Arc<KnownStations>>();
    let input_len = input.len();
    let progress = opts.progress.clone();
    let parser = tokio::task::spawn_blocking(move || -> Result<(ParseOutcome, Option<Sieved>), FeedError> {
        let held;
        let reader = match input {
            Input::Bytes(bytes) => {
                held = bytes;
                archive::open(&held, &limits)?
            }
            Input::File(file, _) => archive::open_file(file, &limits)?,
        };
        let head = Head {
            entry_name: reader.entry_name.clone(),
            // 1980-01-01 is the DOS epoch that ZIP writers put when they have no time: no time.
            entry_time: reader.entry_time.filter(|t| t.year() >= 2000),
        };
        if tx_head.send(head).is_err() {
            // The import was cancelled (its future dropped): nobody reads this error.
            return Err(FeedError::Zip("the import was abandoned".into()));
        }
        if let Some(p) = &progress {
            // A ZIP entry's size is only declared (not trusted): the bar shows bytes read without a total.
            let total = if reader.entry_name.is_some() { 0 } else { input_len };
            p.total.store(total, Ordering::Relaxed);
        }
        // An archive, as its entry's name says, has no element to drop unparsed: the raw filter
        // then never waits for the stored stations, nor reads up to 16 MB ahead meanwhile (that
        // read-ahead stayed in the parsing thread's heap for the rest of a yearly archive).
        let archive_named = reader.entry_name.as_deref().and_then(archive::kind_hint) == Some(FeedKind::Archive);
        let reader = ProgressReader { inner: reader, progress: progress.clone() };
        let queue = Rc::new(RefCell::new(Queue::new(tx_chunks, sieve.then_some(rx_known))));
        let raw_sieve = QueueSieve { queue: Rc::clone(&queue), on: raw_skip && !archive_named };
        let outcome = parse::parse_stream_sieved(reader, raw_sieve, |station| queue.borrow_mut().station(station))?;
        let sieved = queue.borrow_mut().finish();
        Ok((outcome, sieved))
    });
    (Parsing { parser, chunks: rx_chunks, known: tx_known }, rx_head)
}

/// A snapshot whose time is known from the start (a ZIP): parse and write overlap, each chunk
/// diffed and written as it arrives.
async fn load_while_parsing(
    db: &Db,
    parsing: Parsing,
    snapshot_at: DateTime<Utc>,
    opts: &ImportOptions,
    started: Instant,
) -> Result<(Loader, ParseOutcome, DateTime<Utc>), ImportError> {
    let Parsing { parser, chunks: mut rx_chunks, known: tx_known } = parsing;
    let mut loader = Loader::new(db, snapshot_at.timestamp(), opts).await?;
    // The parser drops the unchanged stations from now on (it stops if the import is gone).
    let _ = tx_known.send(loader.known_stations());
    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, known = loader.known(), "transaction open");
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
    match (join_parser(parser).await, load_result) {
        (Ok((outcome, sieved)), Ok(())) => {
            if let Some(sieved) = sieved {
                loader.absorb(sieved);
            }
            Ok((loader, outcome, snapshot_at))
        }
        (Err(e), _) | (Ok(_), Err(e)) => {
            loader.abort().await;
            Err(e)
        }
    }
}

/// A bare XML file: its time is the latest `maj`, known at the end of the parse. The parsed
/// stations wait in memory (the file itself is there already); the transaction opens once the
/// file is known to be whole, so the parser has no sieve.
async fn load_after_parsing(
    db: &Db,
    parsing: Parsing,
    now: DateTime<Utc>,
    opts: &ImportOptions,
    started: Instant,
) -> Result<(Loader, ParseOutcome, DateTime<Utc>), ImportError> {
    let Parsing { parser, chunks: mut rx_chunks, known: tx_known } = parsing;
    drop(tx_known);
    let mut chunks = Vec::new();
    while let Some(chunk) = rx_chunks.recv().await {
        chunks.push(chunk);
    }
    let (outcome, _) = join_parser(parser).await?;
    let snapshot_at = outcome.latest_maj.unwrap_or(now).min(now);
    let mut loader = Loader::new(db, snapshot_at.timestamp(), opts).await?;
    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, known = loader.known(), "transaction open");
    for chunk in chunks {
        if let Err(e) = loader.add_chunk(chunk).await {
            loader.abort().await;
            return Err(e);
        }
    }
    Ok((loader, outcome, snapshot_at))
}

fn internal(what: &str) -> ImportError {
    ImportError::Internal(what.to_owned())
}

/// The parsing thread's result, its panic as an [`ImportError::Internal`].
async fn join_parser<T>(parser: tokio::task::JoinHandle<Result<T, FeedError>>) -> Result<T, ImportError> {
    match parser.await {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(feed_error)) => Err(feed_error.into()),
        Err(e) => Err(ImportError::Internal(e.to_string())),
    }
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
