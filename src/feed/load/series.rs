//! The daily averages an import moves, kept by deltas instead of recomputed from the
//! history: an import costs what it changes, not what the days it touches hold.
//!
//! A stored cell (fuel, area, day) holds the prices in effect at the end of the day over the
//! stations whose price was set at most 30 days before ([`crate::domain::series`]): as its exact
//! sum, count, min and max. A change point `(at, price)` followed by the key's next point at
//! `next` counts on the days `day(at) ..= min(day(next), day(at + 30 days)) - 1` ([`reach`]),
//! in its station's département and nationally. So when an import changes a (station, fuel)'s
//! points, it knows the points before and after the change, up to the first point it leaves
//! alone: the cells move by what the new points add and the old ones no longer add. The moves
//! are summed in memory during the import ([`Deltas`]) and applied once, before the commit
//! ([`Loader::finish_series`]):
//!
//! - each cell's histogram of prices (price → stations, `crate::domain::histogram`) takes the
//!   moves ([`apply`]); sum, count, min, max, p10 and p90 are read from the moved histogram, so
//!   they follow exactly;
//! - a cell whose moves do not fit its stored histogram (a price removed that it does not hold:
//!   never for a series equal to the rebuild) is computed from the history
//!   (`db::series::exact_cells`, one index seek per station of the area);
//! - days after the last one stored that the file reaches (a snapshot of a new day, a newer
//!   archive): the 31 days after it are computed from the history (prices carried over from
//!   before the file), the days beyond only hold the file's own points, which the deltas have;
//! - a station that moves to another département takes its whole history with it;
//! - an empty series over a history (before migration 0013) is computed whole.
//!
//! The result is the series `carburoam series rebuild` computes (tests/it/series.rs checks it
//! after random sequences of imports, on both backends).

use std::cmp::Reverse;
use std::collections::binary_heap::PeekMut;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use super::{ImportError, Loader};
use crate::db::Tx;
use crate::db::series::{self as db_series, Cell, CellRow, State};
use crate::domain::histogram::{self, Histogram};
use crate::domain::series::{self, Day, MAX_AGE_SECS, NATIONAL, REACH_DAYS, day_start};

/// The national area's index in [`Deltas`]: the national cells, and the bucket of the stations
/// counted nationally only (no département).
const NATION: u16 = u16::MAX;

/// Longest range of days one move covers: a point counts on at most 31 days ([`reach`]); longer
/// ranges are cut in pieces of this many days.
const SPAN: Day = 32;

/// Days of stored cells read and moved at a time by [`Loader::finish_series`].
const BLOCK: Day = 32;

/// Rows of cells a first import's fill keeps encoded before they are written.
const WRITE_BATCH: usize = 8_192;

/// What an import's changes add to and remove from one cell: stations by price, positive for
/// prices added, negative for those removed (a price added and removed again nets to nothing
/// and goes), sorted by price as a [`Histogram`].
pub(super) type CellDelta = Histogram;

/// One move of a whole range of days, packed in 8 bytes: bits 63–38 the first day (biased by
/// 2^25, so that the packed moves sort by it), 37–33 the number of days minus one, 32 set for a
/// removal, 31–0 the price. [`Ranges::wide`] keeps the moves whose day does not fit.
type Packed = u64;

const DAY_BIAS: i64 = 1 << 25;

fn pack(first: Day, days: Day, price: i32, sign: i32) -> Option<Packed> {
    let d = i64::from(first) + DAY_BIAS;
    ((0..1 << 26).contains(&d) && (1..=SPAN).contains(&days))
        .then(|| (d as u64) << 38 | ((days - 1) as u64) << 33 | u64::from(sign < 0) << 32 | u64::from(price as u32))
}

/// `(first day, days, price, sign)` of a packed move.
fn unpack(m: Packed) -> (Day, Day, i32, i32) {
    let first = ((m >> 38) as i64 - DAY_BIAS) as Day;
    let days = ((m >> 33) & 31) as Day + 1;
    let sign = if m >> 32 & 1 == 1 { -1 } else { 1 };
    (first, days, m as u32 as i32, sign)
}

/// Moves of one (fuel, area) kept as they come, before they are sorted and encoded as a [`Run`]:
/// 8 KB at most for each of a file's ~600 (fuel, area).
const RUN: usize = 1_024;

/// The moves of one (fuel, area): each a price added (or removed) on a range of days. A point
/// counts on up to 31 consecutive days: one move instead of one histogram entry per day; the
/// per-day histograms of moves are only made by the [`Sweep`] that applies them. A yearly
/// archive makes ~7 million moves: they are kept in sorted runs of [`RUN`], encoded in about
/// 3 bytes a move instead of 8, and merged back in day order by the sweep.
#[derive(Default, Clone)]
struct Ranges {
    /// The latest moves, not sorted yet (fewer than [`RUN`]).
    tail: Vec<Packed>,
    runs: Vec<Run>,
    /// Moves whose first day is beyond ±2^25 days: `(first, days, price, sign)`.
    wide: Vec<(Day, Day, i32, i32)>,
}

impl Ranges {
    fn push(&mut self, m: Packed) {
        // Grown by doubling up to `RUN` (a power of two), then reused: a snapshot's few moves
        // per (fuel, area) take what they need.
        self.tail.push(m);
        if self.tail.len() == RUN {
            self.seal();
        }
    }

    /// The tail sorted and encoded as a run.
    fn seal(&mut self) {
        if !self.tail.is_empty() {
            self.tail.sort_unstable();
            self.runs.push(Run::encode(&self.tail));
            self.tail.clear();
        }
    }
}

/// Packed moves in sorted order, encoded: for each, the varint of its first day's difference
/// with the move before (shifted left by 6) with its 6 bits of days and sign, then the varint
/// of its price's zigzagged difference with the move before's. Read back one move at a time.
#[derive(Clone, Default)]
struct Run {
    bytes: Box<[u8]>,
    /// Where the next move starts in `bytes`.
    at: usize,
    /// The move read last (0 before the first).
    last: Packed,
}

impl Run {
    fn encode(sorted: &[Packed]) -> Run {
        let mut out = Vec::with_capacity(sorted.len() * 3);
        let mut prev: Packed = 0;
        for &m in sorted {
            histogram::put_varint(&mut out, ((m >> 38) - (prev >> 38)) << 6 | (m >> 32 & 63));
            histogram::put_varint(&mut out, histogram::zigzag(price_of(m) - price_of(prev)));
            prev = m;
        }
        Run { bytes: out.into_boxed_slice(), ..Run::default() }
    }

    /// The next move (`None`: the run is read).
    fn next(&mut self) -> Option<Packed> {
        let mut rest = self.bytes.get(self.at..)?;
        let head = histogram::take_varint(&mut rest)?;
        let price = price_of(self.last) + histogram::unzigzag(histogram::take_varint(&mut rest)?);
        self.at = self.bytes.len() - rest.len();
        self.last = ((self.last >> 38) + (head >> 6)) << 38 | (head & 63) << 32 | u64::from(price as i32 as u32);
        Some(self.last)
    }
}

/// The price of a packed move.
fn price_of(m: Packed) -> i64 {
    i64::from(m as u32 as i32)
}

/// The moves of an import's cells, by (fuel, area). A département's moves count in its cells
/// and in the national ones; those of [`NATION`] (stations without a département) only in the
/// national ones.
#[derive(Default)]
pub(super) struct Deltas {
    ranges: HashMap<(i16, u16), Ranges>,
}

impl Deltas {
    /// One (station, fuel)'s change: its points `before` and `after` it (time order), both
    /// followed by the same point at `bound` that the change leaves alone (`i64::MAX`: none).
    /// `area`: the station's département (`None`: counted nationally only).
    pub(super) fn key(
        &mut self,
        fuel: i16,
        area: Option<u16>,
        before: &[(i64, i32)],
        after: &[(i64, i32)],
        bound: i64,
    ) {
        let area = area.unwrap_or(NATION);
        let next = |v: &[(i64, i32)], i: usize| v.get(i + 1).map_or(bound, |p| p.0);
        // Both lists in time order: a point on both sides only moves the days between its two
        // ends (a later or earlier next point); the others count whole, added or removed.
        let (mut i, mut j) = (0, 0);
        while i < before.len() || j < after.len() {
            let b = before.get(i).copied();
            let a = after.get(j).copied();
            match (b, a) {
                (Some(pb), Some(pa)) if pb == pa => {
                    let (first, last_b) = reach(pb.0, next(before, i));
                    let (_, last_a) = reach(pa.0, next(after, j));
                    if last_b > last_a {
                        self.range(fuel, area, first.max(last_a + 1), last_b, pb.1, -1);
                    } else if last_a > last_b {
                        self.range(fuel, area, first.max(last_b + 1), last_a, pa.1, 1);
                    }
                    i += 1;
                    j += 1;
                }
                (Some(pb), a) if a.is_none_or(|pa| pb.0 <= pa.0) => {
                    let (first, last) = reach(pb.0, next(before, i));
                    self.range(fuel, area, first, last, pb.1, -1);
                    i += 1;
                }
                (_, Some(pa)) => {
                    let (first, last) = reach(pa.0, next(after, j));
                    self.range(fuel, area, first, last, pa.1, 1);
                    j += 1;
                }
                _ => break,
            }
        }
    }

    /// Adds (`sign` 1) or removes (-1) what `points`, followed by `bound`, count on in `area`
    /// (`None`: nationally only). A station that changes département is removed from the old
    /// one and added to the new: the national cells net to nothing.
    pub(super) fn points(&mut self, fuel: i16, area: Option<u16>, points: &[(i64, i32)], bound: i64, sign: i32) {
        let area = area.unwrap_or(NATION);
        for (i, &(at, price)) in points.iter().enumerate() {
            let next = points.get(i + 1).map_or(bound, |p| p.0);
            let (first, last) = reach(at, next);
            self.range(fuel, area, first, last, price, sign);
        }
    }

    fn range(&mut self, fuel: i16, area: u16, first: Day, last: Day, price: i32, sign: i32) {
        let mut day = first;
        while day <= last {
            let days = (last - day).saturating_add(1).min(SPAN);
            let r = self.ranges.entry((fuel, area)).or_default();
            match pack(day, days, price, sign) {
                Some(m) => r.push(m),
                None => r.wide.push((day, days, price, sign)),
            }
            day = day.saturating_add(days);
            if day == Day::MAX {
                break;
            }
        }
    }

    /// The fuels moved, in order.
    pub(super) fn fuels(&self) -> Vec<i16> {
        let mut f: Vec<i16> = self.ranges.keys().map(|k| k.0).collect();
        f.sort_unstable();
        f.dedup();
        f
    }

    /// Takes the moves of `fuel` out, as a sweep over its days.
    pub(super) fn sweep(&mut self, fuel: i16) -> Sweep {
        let keys: Vec<(i16, u16)> = self.ranges.keys().copied().filter(|k| k.0 == fuel).collect();
        let buckets = keys
            .into_iter()
            .filter_map(|k| self.ranges.remove(&k).map(|r| (k.1, r)))
            .map(|(area, mut r)| {
                r.seal();
                r.wide.sort_unstable();
                let mut heads = BinaryHeap::with_capacity(r.runs.len());
                for (i, run) in r.runs.iter_mut().enumerate() {
                    heads.extend(run.next().map(|m| Reverse((m, i))));
                }
                Bucket {
                    area,
                    runs: r.runs,
                    heads,
                    wide: r.wide,
                    next_wide: 0,
                    ends: vec![Vec::new(); RING],
                    pending: 0,
                    hist: Vec::new(),
                }
            })
            .collect();
        Sweep { buckets, national: Vec::new(), day: None }
    }

    /// Every moved cell: `(fuel, area, day, delta)`.
    #[cfg(test)]
    pub(super) fn cells(&self) -> Vec<(i16, u16, Day, CellDelta)> {
        let mut all = Deltas { ranges: self.ranges.clone() };
        let mut out = Vec::new();
        for fuel in all.fuels() {
            let mut sweep = all.sweep(fuel);
            while let Some(day) = sweep.next_day() {
                out.extend(sweep.cells().map(|(area, d)| (fuel, area, day, d.to_vec())));
            }
        }
        out
    }
}

/// Slots of [`Bucket::ends`]: a move ends at most [`SPAN`] days after it starts.
const RING: usize = SPAN as usize + 1;

/// One area's moves during a [`Sweep`].
struct Bucket {
    area: u16,
    /// The area's runs, merged: `heads` holds the next move of each run not read to its end,
    /// with the run's index, smallest first.
    runs: Vec<Run>,
    heads: BinaryHeap<Reverse<(Packed, usize)>>,
    wide: Vec<(Day, Day, i32, i32)>,
    /// The next move of `wide` to start.
    next_wide: usize,
    /// The moves started, by the day after their last (modulo [`RING`]): `(price, -sign)`.
    ends: Vec<Vec<(i32, i32)>>,
    pending: usize,
    /// The moves in force on the current day.
    hist: CellDelta,
}

impl Bucket {
    fn next_start(&self) -> Option<Day> {
        let a = self.heads.peek().map(|h| unpack(h.0.0).0);
        let b = self.wide.get(self.next_wide).map(|w| w.0);
        a.into_iter().chain(b).min()
    }

    /// Takes the next packed move out if it starts on `day`.
    fn take_packed(&mut self, day: Day) -> Option<Packed> {
        let mut top = self.heads.peek_mut()?;
        let Reverse((m, i)) = *top;
        if unpack(m).0 != day {
            return None;
        }
        match self.runs[i].next() {
            Some(n) => *top = Reverse((n, i)),
            None => {
                PeekMut::pop(top);
                // Read to its end: its bytes go now, not with the whole bucket.
                self.runs[i] = Run::default();
            }
        }
        Some(m)
    }
}

/// The per-day deltas of one fuel's cells, day after day: each area's moves in force on the
/// day, and their sum for the nation. Each move is added on its first day and taken back the
/// day after its last, so a day costs what changes on it, not what is in force.
pub(super) struct Sweep {
    buckets: Vec<Bucket>,
    national: CellDelta,
    day: Option<Day>,
}

impl Sweep {
    /// Moves to the next day with moves in force (`None`: no more).
    pub(super) fn next_day(&mut self) -> Option<Day> {
        let day = if self.buckets.iter().any(|b| b.pending > 0) {
            self.day?.checked_add(1)?
        } else {
            self.buckets.iter().filter_map(Bucket::next_start).min()?
        };
        let slot = day.rem_euclid(RING as Day) as usize;
        for b in &mut self.buckets {
            for (price, count) in std::mem::take(&mut b.ends[slot]) {
                histogram::add(&mut b.hist, price, count);
                histogram::add(&mut self.national, price, count);
                b.pending -= 1;
            }
            loop {
                let (first, days, price, sign) = match b.take_packed(day) {
                    Some(m) => unpack(m),
                    None => match b.wide.get(b.next_wide) {
                        Some(&w) if w.0 == day => {
                            b.next_wide += 1;
                            w
                        }
                        _ => break,
                    },
                };
                histogram::add(&mut b.hist, price, sign);
                histogram::add(&mut self.national, price, sign);
                if let Some(end) = first.checked_add(days) {
                    b.ends[end.rem_euclid(RING as Day) as usize].push((price, -sign));
                    b.pending += 1;
                }
            }
        }
        self.day = Some(day);
        Some(day)
    }

    /// The cells the current day moves: `(area, delta)`, the nation as [`NATION`].
    pub(super) fn cells(&self) -> impl Iterator<Item = (u16, &[(i32, i32)])> {
        self.buckets
            .iter()
            .filter(|b| b.area != NATION)
            .map(|b| (b.area, b.hist.as_slice()))
            .chain(std::iter::once((NATION, self.national.as_slice())))
            .filter(|c| !c.1.is_empty())
    }
}

/// The days a price set at `at` and replaced at `next` (`i64::MAX`: never) counts on, as
/// `(first, last)` (empty when `first > last`): in effect at the end of the day (set before it
/// ends, not replaced before it ends) and at most [`MAX_AGE_SECS`] old then.
pub(super) fn reach(at: i64, next: i64) -> (Day, Day) {
    let first = day_of(at);
    let mut last = day_of(at.saturating_add(MAX_AGE_SECS)) - 1;
    if next != i64::MAX {
        last = last.min(day_of(next) - 1);
    }
    (first, last)
}

/// [`series::day_of`] without the tz database where the EU rule of [`day_start`] holds: Paris is
/// UTC+1 or UTC+2, so the day is the one of `ts + 2 h` or the one before.
pub(super) fn day_of(ts: i64) -> Day {
    // 1996-01-01 to 2099-12-31: the years `day_start` computes by the rule.
    if !(820_454_400..4_102_444_800).contains(&ts) {
        return series::day_of(ts);
    }
    let d = (ts + 7200).div_euclid(86_400) as Day;
    if day_start(d) <= ts { d } else { d - 1 }
}

/// What becomes of a stored cell (`None`: no row) under a delta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    Keep,
    /// The new cell and its histogram.
    Write(Cell, Histogram),
    Delete,
    /// The delta removes a price the stored histogram does not hold (never in a series equal
    /// to the history's): compute the cell from the history.
    Exact,
}

/// Applies a delta to a stored cell's histogram: every figure of the cell (sum, count, min,
/// max, percentiles) follows from the new histogram.
pub(super) fn apply(old: Option<&[(i32, i32)]>, d: &[(i32, i32)]) -> Outcome {
    let Some(new) = histogram::apply(old.unwrap_or(&[]), d) else { return Outcome::Exact };
    match Cell::of(&new) {
        None if old.is_some() => Outcome::Delete,
        None => Outcome::Keep,
        Some(_) if old == Some(new.as_slice()) => Outcome::Keep,
        Some(cell) => Outcome::Write(cell, new),
    }
}

/// Cells an import has settled and not written yet, and what it did for them.
#[derive(Default)]
struct Settled {
    /// `(fuel, area, day, cell, encoded histogram)`.
    writes: Vec<(i16, u16, Day, Cell, Vec<u8>)>,
    deletes: Vec<(i16, u16, Day)>,
    /// Cells to compute from the history: `(fuel, day, area)`.
    exact: Vec<(i16, Day, u16)>,
    /// Days with cells computed from the history.
    days: usize,
    rows: usize,
}

/// How an import keeps the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// By deltas on a stored series ending at this day.
    Deltas(Day),
    /// By deltas from nothing: the history was empty.
    Fresh,
    /// Computed whole at the end (a history without a series).
    Whole,
}

/// The loader's side of the series: the mode, the areas, and the moves so far.
pub(super) struct Tracker {
    pub(super) mode: Mode,
    state: State,
    pub(super) deltas: Deltas,
    /// Areas (départements) by index, and back.
    areas: Vec<std::sync::Arc<str>>,
    area_index: HashMap<String, u16>,
    /// The area of each station this import writes, as stored when the import began (new
    /// stations: the one they are written with).
    area_of: HashMap<i64, Option<u16>>,
    /// Stations written with another département: (station, old area, new area).
    moved: Vec<(i64, Option<u16>, Option<u16>)>,
    /// The newest point written.
    pub(super) newest_written: Option<i64>,
    /// The newest point deleted.
    pub(super) newest_deleted: Option<i64>,
    /// Time spent on the deltas while the file loads (reads of the stored points around the
    /// changes, the sums), added to the report's share of the daily averages.
    spent: std::time::Duration,
    /// Time the cells' writes took on their task ([`Loader::write_settled`]).
    pub(super) written: std::time::Duration,
}

/// A cell to write, owned by the task that writes it: `(fuel, area, day, cell, encoded
/// histogram)`.
type OwnedCell = (i16, std::sync::Arc<str>, Day, Cell, Vec<u8>);

/// A batch of cells being written on a task of its own, which holds the import's transaction
/// meanwhile and gives it back with the time the writes took ([`Loader::settle`]).
pub(super) type CellsWriting = tokio::task::JoinHandle<(Tx, Result<std::time::Duration, sqlx::Error>)>;

impl Tracker {
    pub(super) fn new(state: State) -> Tracker {
        let mode = match (state.has_series, state.last_day, state.has_history) {
            (true, Some(last), _) => Mode::Deltas(last),
            (false, _, false) => Mode::Fresh,
            _ => Mode::Whole,
        };
        Tracker {
            mode,
            state,
            deltas: Deltas::default(),
            areas: Vec::new(),
            area_index: HashMap::new(),
            area_of: HashMap::new(),
            moved: Vec::new(),
            newest_written: None,
            newest_deleted: None,
            spent: std::time::Duration::ZERO,
            written: std::time::Duration::ZERO,
        }
    }

    /// A station stored before the import, with its stored `dept`: told before any of its rows
    /// (the loader reads it with the station's other stored values when the station changed).
    pub(super) fn station_known(&mut self, id: i64, dept: &str) {
        let a = self.area(dept);
        self.area_of.entry(id).or_insert(a);
    }

    /// Whether the import keeps deltas at all.
    pub(super) fn active(&self) -> bool {
        self.mode != Mode::Whole
    }

    fn area(&mut self, dept: &str) -> Option<u16> {
        if dept.is_empty() {
            return None;
        }
        if let Some(&i) = self.area_index.get(dept) {
            return Some(i);
        }
        let i = u16::try_from(self.areas.len()).ok().filter(|&i| i < NATION)?;
        self.areas.push(dept.into());
        self.area_index.insert(dept.to_owned(), i);
        Some(i)
    }

    /// A station row is written with `dept`: a new station takes it; a known one that changes
    /// département is moved at the end.
    pub(super) fn station_written(&mut self, id: i64, dept: &str) {
        let new = self.area(dept);
        match self.area_of.get(&id) {
            None => {
                self.area_of.insert(id, new);
            }
            Some(&old) if old != new => {
                self.moved.retain(|m| m.0 != id);
                self.moved.push((id, old, new));
            }
            Some(_) => {}
        }
    }

    /// The area a station's deltas go to during this import.
    pub(super) fn area_of(&self, id: i64) -> Option<u16> {
        self.area_of.get(&id).copied().flatten()
    }

    pub(super) fn wrote(&mut self, at: i64) {
        self.newest_written = Some(self.newest_written.map_or(at, |m| m.max(at)));
    }

    pub(super) fn deleted(&mut self, at: i64) {
        self.newest_deleted = Some(self.newest_deleted.map_or(at, |m| m.max(at)));
    }
}

/// A (station, fuel) with its points written in a batch.
type KeyRows = ((i64, i16), Vec<(i64, i32)>);

/// A merge into a key's history: the key, its newest new point, its stored points around them
/// and what they become.
pub(super) type Merge = ((i64, i16), i64, Vec<(i64, i32)>, Vec<(i64, i32)>);

impl Loader {
    /// Before history rows of the newer kind (after a key's current price, or a new key) are
    /// written: what they move. Stations known before the import read their stored points
    /// around the rows (one statement per batch); new stations have none.
    pub(super) async fn series_before_insert(&mut self, rows: &[(i64, i16, i64, i32)]) -> Result<(), ImportError> {
        if !self.series.active() || rows.is_empty() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        // Rows come grouped by key and in time order; a key met twice is merged.
        let mut keys: Vec<KeyRows> = Vec::new();
        let mut seen: HashMap<(i64, i16), usize> = HashMap::new();
        for &(s, f, at, price) in rows {
            self.series.wrote(at);
            match keys.last_mut() {
                Some((k, pts)) if *k == (s, f) => pts.push((at, price)),
                _ => {
                    if let Some(&i) = seen.get(&(s, f)) {
                        keys[i].1.push((at, price));
                    } else {
                        seen.insert((s, f), keys.len());
                        keys.push(((s, f), vec![(at, price)]));
                    }
                }
            }
        }
        for (_, pts) in &mut keys {
            pts.sort_by_key(|p| p.0);
        }
        // Only stations known before the import can have stored points (none in a fresh one).
        let stored_possible = self.series.mode != Mode::Fresh;
        let ask: Vec<(i64, i16, i64, i64)> = keys
            .iter()
            .filter(|((s, _), _)| stored_possible && self.known.get(*s).is_some())
            .map(|((s, f), pts)| (*s, *f, pts.first().map_or(0, |p| p.0), pts.last().map_or(0, |p| p.0)))
            .collect();
        let around = if ask.is_empty() {
            HashMap::new()
        } else {
            crate::db::series::history_around(self.tx_ready().await?, &ask).await?
        };
        for ((s, f), pts) in keys {
            let area = self.series.area_of(s);
            match around.get(&(s, f)) {
                None => self.series.deltas.key(f, area, &[], &pts, i64::MAX),
                Some(a) => {
                    let before: Vec<(i64, i32)> = a.before.iter().copied().chain(a.inside.iter().copied()).collect();
                    let mut after: BTreeMap<i64, i32> = before.iter().copied().collect();
                    after.extend(pts.iter().copied());
                    let after: Vec<(i64, i32)> = after.into_iter().collect();
                    self.series.deltas.key(f, area, &before, &after, a.after.map_or(i64::MAX, |p| p.0));
                }
            }
        }
        self.series.spent += started.elapsed();
        Ok(())
    }

    /// A merge of older points into a key's history: its stored points `existing` (the last
    /// before the new points, those among them, the first after: `hi` is the newest new point)
    /// become `wanted`.
    pub(super) async fn series_merge(&mut self, merges: &[Merge]) -> Result<(), ImportError> {
        if !self.series.active() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        // Keys whose first point after the new ones is deleted: the one after it bounds them.
        let mut ask: Vec<(i64, i16, i64, i64)> = Vec::new();
        for ((s, f), hi, existing, wanted) in merges {
            if let Some(&succ) = existing.last().filter(|p| p.0 > *hi)
                && wanted.binary_search(&succ).is_err()
            {
                ask.push((*s, *f, succ.0, succ.0));
            }
        }
        let next = if ask.is_empty() {
            HashMap::new()
        } else {
            crate::db::series::history_around(self.tx_ready().await?, &ask).await?
        };
        for ((s, f), hi, existing, wanted) in merges {
            for p in wanted {
                if existing.binary_search(p).is_err() {
                    self.series.wrote(p.0);
                }
            }
            for p in existing {
                if wanted.binary_search(p).is_err() {
                    self.series.deleted(p.0);
                }
            }
            let area = self.series.area_of(*s);
            match existing.last().filter(|p| p.0 > *hi) {
                Some(succ) if wanted.binary_search(succ).is_ok() => {
                    let cut = |v: &[(i64, i32)]| v.iter().copied().filter(|p| p.0 < succ.0).collect::<Vec<_>>();
                    self.series.deltas.key(*f, area, &cut(existing), &cut(wanted), succ.0);
                }
                Some(_) => {
                    let bound = next.get(&(*s, *f)).and_then(|a| a.after).map_or(i64::MAX, |p| p.0);
                    self.series.deltas.key(*f, area, existing, wanted, bound);
                }
                None => self.series.deltas.key(*f, area, existing, wanted, i64::MAX),
            }
        }
        self.series.spent += started.elapsed();
        Ok(())
    }

    /// Brings the stored series to what the history now gives, before the commit. `snapshot`:
    /// the Paris day of this file when it is the newest snapshot.
    pub(super) async fn finish_series(&mut self, snapshot: Option<Day>) -> Result<db_series::Refreshed, ImportError> {
        let now = std::time::Instant::now();
        let started = now.checked_sub(self.series.spent).unwrap_or(now);
        let state = self.series.state;
        let snapshot_day = state.snapshot_day.max(snapshot);
        let c0 = match self.series.mode {
            Mode::Whole => {
                let mut done = db_series::recompute_all(self.tx_ready().await?, snapshot).await?;
                done.elapsed = started.elapsed();
                return Ok(done);
            }
            Mode::Fresh => None,
            Mode::Deltas(last) => Some(last),
        };
        let written = self.series.newest_written.map(day_of);
        let mut c1 = c0.max(written).max(snapshot_day);
        // A deleted point may have been the newest: then the last day is the newest left's.
        if let (Some(last), Some(deleted)) = (c0, self.series.newest_deleted)
            && day_of(deleted) >= last
            && snapshot_day.is_none_or(|d| d < last)
            && written.is_none_or(|w| w < last)
        {
            let newest = db_series::newest_point(self.tx_ready().await?).await?;
            c1 = newest.map(day_of).max(snapshot_day).max(written);
        }

        // Stations moved to another département: their whole history changes area.
        let moved = std::mem::take(&mut self.series.moved);
        if !moved.is_empty() {
            let ids: Vec<i64> = moved.iter().map(|m| m.0).collect();
            let points = db_series::stations_history(self.tx_ready().await?, &ids).await?;
            for (id, old, new) in moved {
                let mut by_fuel: BTreeMap<i16, Vec<(i64, i32)>> = BTreeMap::new();
                for &(_, f, at, price) in points.iter().filter(|p| p.0 == id) {
                    by_fuel.entry(f).or_default().push((at, price));
                }
                for (f, pts) in by_fuel {
                    self.series.deltas.points(f, old, &pts, i64::MAX, -1);
                    self.series.deltas.points(f, new, &pts, i64::MAX, 1);
                }
            }
        }

        let mut done = db_series::Refreshed::default();
        let Some(c1) = c1 else {
            self.finish_state(None, snapshot_day).await?;
            done.elapsed = started.elapsed();
            return Ok(done);
        };
        // The days after the last one stored that prices from before the file reach: computed
        // from the history. Beyond, only this file's points count: the deltas have them.
        let zone = c0.filter(|&l| c1 > l).map(|l| (l + 1, c1.min(l + REACH_DAYS + 1)));

        let mut deltas = std::mem::take(&mut self.series.deltas);
        let mut out = if self.series.mode == Mode::Fresh {
            self.fill(deltas, c1).await?
        } else {
            self.moved_cells(&mut deltas, c0, c1, zone).await?
        };
        if let Some((first, end)) = zone {
            let z = db_series::recompute_days(self.tx_ready().await?, first, end).await?;
            done.days += z.days;
            done.points += z.points;
            done.rows += z.rows;
        }
        if let Some(last) = c0
            && c1 < last
        {
            db_series::delete_after(self.tx_ready().await?, c1).await?;
        }
        self.write_settled(&mut out).await?;
        // The last batch's writes are done before the state is set.
        self.settle().await?;
        done.days += out.days;
        done.rows += out.rows;
        done.written = self.series.written;
        self.finish_state(Some(c1), snapshot_day).await?;
        done.elapsed = started.elapsed();
        Ok(done)
    }

    /// The cells the moves change on a stored series ending at `c0` (if any), up to `c1`, the
    /// `zone`'s days left out (computed from the history): fuel by fuel and day after day,
    /// against the stored cells read a block of days at a time. Written cells keep their
    /// histogram encoded only, and are written a block at a time while the next block is swept
    /// ([`Loader::write_settled`]); the last block's are returned.
    async fn moved_cells(
        &mut self,
        deltas: &mut Deltas,
        c0: Option<Day>,
        c1: Day,
        zone: Option<(Day, Day)>,
    ) -> Result<Settled, ImportError> {
        let in_zone = |d: Day| zone.is_some_and(|(a, b)| (a..=b).contains(&d));
        let mut out = Settled::default();
        for fuel in deltas.fuels() {
            let mut sweep = deltas.sweep(fuel);
            let mut block: Option<Day> = None;
            let mut stored: HashMap<(u16, Day), Histogram> = HashMap::new();
            let mut exact: BTreeMap<Day, Vec<u16>> = BTreeMap::new();
            while let Some(day) = sweep.next_day() {
                if day > c1 {
                    break;
                }
                if in_zone(day) {
                    continue;
                }
                if block.is_none_or(|end| day > end) {
                    self.settle_exact(fuel, std::mem::take(&mut exact), &stored, &mut out).await?;
                    let end = day.saturating_add(BLOCK - 1);
                    stored = self.stored_block(fuel, day, end, c0).await?;
                    block = Some(end);
                    // The cells settled so far, all of days before this block, are written on
                    // their task while this block is swept: its stored cells are read first.
                    self.write_settled(&mut out).await?;
                }
                for (area, d) in sweep.cells() {
                    match apply(stored.get(&(area, day)).map(Vec::as_slice), d) {
                        Outcome::Keep => {}
                        Outcome::Write(c, h) => out.writes.push((fuel, area, day, c, histogram::to_bytes(&h))),
                        Outcome::Delete => out.deletes.push((fuel, area, day)),
                        Outcome::Exact => exact.entry(day).or_default().push(area),
                    }
                }
            }
            self.settle_exact(fuel, exact, &stored, &mut out).await?;
        }
        Ok(out)
    }

    /// The cells of an empty series (a first import), up to `c1`: every cell is new, so none is
    /// read and the moves alone give them. A thread of their own sweeps the days while this one
    /// writes the batch before, and the day index is built after them
    /// ([`db_series::fill_begin`]). Returns what was written. A first national snapshot: 46,000
    /// cells, 61-71 ms of writes in the 96-105 ms of its averages (before: 80 ms of 98-136).
    async fn fill(&mut self, mut deltas: Deltas, c1: Day) -> Result<Settled, ImportError> {
        db_series::fill_begin(self.tx_ready().await?).await?;
        let (batches, mut rx) = tokio::sync::mpsc::channel::<Settled>(1);
        let sweeper = tokio::task::spawn_blocking(move || {
            let mut out = Settled::default();
            for fuel in deltas.fuels() {
                let mut sweep = deltas.sweep(fuel);
                while let Some(day) = sweep.next_day().filter(|&d| d <= c1) {
                    for (area, d) in sweep.cells() {
                        match apply(None, d) {
                            Outcome::Keep | Outcome::Delete => {}
                            Outcome::Write(c, h) => out.writes.push((fuel, area, day, c, histogram::to_bytes(&h))),
                            Outcome::Exact => out.exact.push((fuel, day, area)),
                        }
                    }
                    if out.writes.len() >= WRITE_BATCH && batches.blocking_send(std::mem::take(&mut out)).is_err() {
                        // The import failed meanwhile.
                        return;
                    }
                }
            }
            let _ = batches.blocking_send(out);
        });
        // Each batch is written as it comes; the sweep makes the next one meanwhile.
        let mut done = Settled::default();
        while let Some(mut batch) = rx.recv().await {
            // A cell whose moves take out more than they put in: never for moves made of one
            // file's points, computed from the history all the same.
            let mut by_fuel: BTreeMap<i16, BTreeMap<Day, Vec<u16>>> = BTreeMap::new();
            for (fuel, day, area) in std::mem::take(&mut batch.exact) {
                by_fuel.entry(fuel).or_default().entry(day).or_default().push(area);
            }
            for (fuel, days) in by_fuel {
                self.settle_exact(fuel, days, &HashMap::new(), &mut batch).await?;
            }
            self.write_settled(&mut batch).await?;
            done.rows += batch.rows;
            done.days += batch.days;
        }
        sweeper.await.map_err(|e| ImportError::Internal(format!("the daily averages' sweep: {e}")))?;
        db_series::fill_done(self.tx_ready().await?).await?;
        Ok(done)
    }

    /// The stored cells of `fuel` on `first..=last` (those up to the last day stored, `c0`).
    async fn stored_block(
        &mut self,
        fuel: i16,
        first: Day,
        last: Day,
        c0: Option<Day>,
    ) -> Result<HashMap<(u16, Day), Histogram>, ImportError> {
        let mut stored = HashMap::new();
        let Some(c0) = c0.filter(|&c0| first <= c0) else { return Ok(stored) };
        for (area, day, hist) in db_series::stored_cells(self.tx_ready().await?, fuel, first, last.min(c0)).await? {
            let a = if area == NATIONAL { Some(NATION) } else { self.series.area_index.get(&area).copied() };
            if let Some(a) = a {
                stored.insert((a, day), hist);
            }
        }
        Ok(stored)
    }

    /// The cells of `fuel` whose moves do not fit their stored histogram, by day: computed from
    /// the history.
    async fn settle_exact(
        &mut self,
        fuel: i16,
        exact: BTreeMap<Day, Vec<u16>>,
        stored: &HashMap<(u16, Day), Histogram>,
        out: &mut Settled,
    ) -> Result<(), ImportError> {
        for (day, areas) in exact {
            let national = areas.contains(&NATION);
            let names: Vec<std::sync::Arc<str>> = areas
                .iter()
                .filter(|&&a| a != NATION)
                .filter_map(|&a| self.series.areas.get(usize::from(a)).cloned())
                .collect();
            let refs: Vec<&str> = names.iter().map(|n| &**n).collect();
            let cells = db_series::exact_cells(self.tx_ready().await?, fuel, day, &refs, national).await?;
            let found: HashMap<u16, Histogram> = cells
                .into_iter()
                .filter_map(|(area, h)| {
                    let a = if area == NATIONAL { Some(NATION) } else { self.series.area_index.get(&area).copied() };
                    a.map(|a| (a, h))
                })
                .collect();
            for area in areas {
                let old = stored.get(&(area, day));
                match (found.get(&area).and_then(|h| Cell::of(h).map(|c| (c, h))), old) {
                    (Some((c, h)), old) if old != Some(h) => {
                        out.writes.push((fuel, area, day, c, histogram::to_bytes(h)));
                    }
                    (None, Some(_)) => out.deletes.push((fuel, area, day)),
                    _ => {}
                }
            }
            out.days += 1;
        }
        Ok(())
    }

    /// Writes and deletes the cells settled so far, on a task of their own that holds the
    /// transaction ([`CellsWriting`]): the sweep of the next cells goes on meanwhile, up to the
    /// next use of the transaction, which waits for it ([`Loader::tx_ready`]). On PostgreSQL,
    /// whose server writes in a process of its own, an archive's averages into a live instance
    /// (70,000 cells) took 438–519 ms instead of 528–806; on SQLite no change (docs/benchmarks.md).
    async fn write_settled(&mut self, out: &mut Settled) -> Result<(), ImportError> {
        let writes = std::mem::take(&mut out.writes);
        let deletes = std::mem::take(&mut out.deletes);
        if writes.is_empty() && deletes.is_empty() {
            return Ok(());
        }
        let name = |a: u16| -> std::sync::Arc<str> {
            if a == NATION {
                NATIONAL.into()
            } else {
                self.series.areas.get(usize::from(a)).cloned().unwrap_or_else(|| "".into())
            }
        };
        let mut rows: Vec<OwnedCell> = writes.into_iter().map(|(f, a, d, c, h)| (f, name(a), d, c, h)).collect();
        // In the key's order (fuel, area, day), not the sweep's (fuel, day, area): each page of
        // the table is then filled once instead of taking one row per area and day in turn.
        rows.sort_unstable_by(|a, b| (a.0, &a.1, a.2).cmp(&(b.0, &b.1, b.2)));
        let gone: Vec<(i16, std::sync::Arc<str>, Day)> = deletes.into_iter().map(|(f, a, d)| (f, name(a), d)).collect();
        out.rows += rows.len() + gone.len();
        // The batch before is written first: one writer at a time.
        self.settle().await?;
        let mut tx = self.tx.take().ok_or_else(|| ImportError::Internal("the transaction is already closed".into()))?;
        self.cells_writing = Some(tokio::spawn(async move {
            let t = std::time::Instant::now();
            let cells: Vec<CellRow> = rows.iter().map(|(f, a, d, c, h)| (*f, &**a, *d, *c, h.as_slice())).collect();
            let gone: Vec<(i16, &str, Day)> = gone.iter().map(|(f, a, d)| (*f, &**a, *d)).collect();
            let done = match db_series::write_cells(&mut tx, &cells).await {
                Ok(()) => db_series::delete_cells(&mut tx, &gone).await,
                Err(e) => Err(e),
            };
            (tx, done.map(|()| t.elapsed()))
        }));
        Ok(())
    }

    async fn finish_state(&mut self, last: Option<Day>, snapshot_day: Option<Day>) -> Result<(), ImportError> {
        db_series::set_state(self.tx_ready().await?, last, snapshot_day).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::series::DailyAverages;

    /// Stations of a check: area and change points.
    type Stations = Vec<(Option<u16>, Vec<(i64, i32)>)>;

    /// Pseudo-random numbers for the checks below (no dependency).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn fast_day_is_the_tz_databases() {
        let mut r = Rng(7);
        for _ in 0..200_000 {
            let ts = 500_000_000 + r.below(4_000_000_000) as i64;
            assert_eq!(day_of(ts), series::day_of(ts), "{ts}");
        }
        // Around every change of time from 1996 to 2040, minute by minute.
        for year in 1996..2040 {
            for month in [3, 10] {
                let d = crate::domain::time::last_sunday(year, month) as Day;
                let start = day_start(d);
                for m in -180..(26 * 60) {
                    let ts = start + m * 60;
                    assert_eq!(day_of(ts), series::day_of(ts), "{ts}");
                }
            }
        }
    }

    /// The cells of a set of stations' points, by [`DailyAverages`] on `first..=last`: their
    /// histograms, and what the computation says of them.
    fn brute(stations: &Stations, first: Day, last: Day) -> BTreeMap<(u16, Day), (Histogram, Cell)> {
        let mut avg = DailyAverages::new(first, last, 3);
        for (area, pts) in stations {
            avg.station(area.map(usize::from), pts);
        }
        avg.finish()
            .into_iter()
            .map(|(a, d, s)| {
                let a = a.map_or(NATION, |a| a as u16);
                let cell =
                    Cell { total: s.total, stations: s.stations, min: s.min, max: s.max, p10: s.p10, p90: s.p90 };
                ((a, d), (s.hist, cell))
            })
            .collect()
    }

    #[test]
    fn deltas_follow_random_changes_exactly() {
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        let t0 = 1_700_000_000i64;
        let (first, last) = (day_of(t0), day_of(t0) + 120);
        for round in 0..300 {
            // Random stations with random points; then random changes of random stations.
            let n = 1 + r.below(6) as usize;
            let mut stations: Stations = (0..n)
                .map(|_| {
                    let area = (r.below(4) != 3).then(|| r.below(3) as u16);
                    let mut pts: BTreeMap<i64, i32> = BTreeMap::new();
                    for _ in 0..r.below(8) {
                        pts.insert(t0 + r.below(100 * 86_400) as i64, 1500 + r.below(6) as i32 * 10);
                    }
                    (area, pts.into_iter().collect())
                })
                .collect();
            let mut cells = brute(&stations, first, last);
            for _ in 0..4 {
                let mut deltas = Deltas::default();
                let i = r.below(n as u64) as usize;
                let before = stations[i].1.clone();
                let mut after: BTreeMap<i64, i32> = before.iter().copied().collect();
                for _ in 0..r.below(4) {
                    let at = t0 + r.below(100 * 86_400) as i64;
                    if r.below(3) == 0 {
                        after.remove(&at);
                        if let Some(&k) = after.keys().nth(r.below(after.len() as u64 + 1) as usize) {
                            after.remove(&k);
                        }
                    } else {
                        after.insert(at, 1500 + r.below(6) as i32 * 10);
                    }
                }
                let after: Vec<(i64, i32)> = after.into_iter().collect();
                deltas.key(1, stations[i].0, &before, &after, i64::MAX);
                stations[i].1 = after;
                let want = brute(&stations, first, last);
                for (_, area, day, d) in deltas.cells() {
                    if !(first..=last).contains(&day) {
                        continue;
                    }
                    let old = cells.get(&(area, day));
                    let now = want.get(&(area, day));
                    match apply(old.map(|o| o.0.as_slice()), &d) {
                        Outcome::Keep => assert_eq!(old, now, "round {round}"),
                        Outcome::Write(c, h) => assert_eq!(Some(&(h, c)), now, "round {round}"),
                        Outcome::Delete => assert_eq!(None, now, "round {round}"),
                        Outcome::Exact => panic!("round {round}: a delta that does not fit its cell"),
                    }
                }
                // A cell no delta touches is unchanged.
                let touched: std::collections::HashSet<(u16, Day)> =
                    deltas.cells().into_iter().map(|(_, a, d, _)| (a, d)).collect();
                for (k, v) in &want {
                    if !touched.contains(k) {
                        assert_eq!(cells.get(k), Some(v), "round {round}: untouched cell moved");
                    }
                }
                cells = want;
            }
        }
    }

    #[test]
    fn moves_pack_in_eight_bytes_and_sweep_day_by_day() {
        for (first, days, price, sign) in
            [(0, 1, 0, 1), (19_000, 32, 1_799, -1), (-(1 << 25), 5, i32::MIN, 1), ((1 << 25) - 1, 1, i32::MAX, -1)]
        {
            assert_eq!(pack(first, days, price, sign).map(unpack), Some((first, days, price, sign)));
        }
        assert_eq!(pack(1 << 25, 1, 1, 1), None, "a day out of the packed range");
        assert_eq!(pack(0, 33, 1, 1), None, "a range over the longest span");
        assert!(pack(5, 1, 9, 1) < pack(6, 1, 1, 1), "packed moves sort by their first day");
        // One national-only range of 40 days (cut in two), one département's far out of the
        // packed range (kept wide), one removed again: each day gets what is in force.
        let mut deltas = Deltas::default();
        deltas.range(3, NATION, 100, 139, 1_500, 1);
        deltas.range(3, 7, 1 << 26, (1 << 26) + 2, 1_600, 1);
        deltas.range(3, 7, 110, 111, 1_500, 1);
        deltas.range(3, 7, 111, 111, 1_500, -1);
        let cells = deltas.cells();
        let national: Vec<Day> = cells.iter().filter(|c| c.1 == NATION).map(|c| c.2).collect();
        let want: Vec<Day> = (100..=139).chain((1 << 26)..=((1 << 26) + 2)).collect();
        assert_eq!(national, want);
        let on = |area: u16, day: Day| cells.iter().find(|c| c.1 == area && c.2 == day).map(|c| c.3.clone());
        assert_eq!(on(NATION, 110), Some(vec![(1_500, 2)]));
        assert_eq!(on(NATION, 111), Some(vec![(1_500, 1)]));
        assert_eq!(on(7, 110), Some(vec![(1_500, 1)]));
        assert_eq!(on(7, 111), None, "added and removed: no move");
        assert_eq!(on(7, (1 << 26) + 1), Some(vec![(1_600, 1)]));
        assert!(cells.iter().all(|c| c.0 == 3));
    }

    #[test]
    fn runs_give_back_their_moves_in_order() {
        // Extremes of every field, repeated days and prices, then a run of a yearly kind.
        let mut moves: Vec<Packed> = [
            (-(1 << 25), 1, i32::MIN, 1),
            (-(1 << 25), 32, i32::MAX, -1),
            (0, 1, 0, 1),
            (19_000, 31, 1_799, -1),
            (19_000, 31, 1_799, -1),
            (19_000, 31, 1_801, 1),
            ((1 << 25) - 1, 32, i32::MIN, -1),
        ]
        .into_iter()
        .filter_map(|(f, d, p, s)| pack(f, d, p, s))
        .collect();
        let mut x: u64 = 7;
        for _ in 0..RUN {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let (day, days, price) =
                (19_000 + (x >> 40) as Day % 366, 1 + (x >> 20) as Day % 32, 1_500 + (x >> 8) as i32 % 900);
            moves.extend(pack(day, days, price, if x & 1 == 0 { 1 } else { -1 }));
        }
        moves.sort_unstable();
        let mut run = Run::encode(&moves);
        assert!(run.bytes.len() < moves.len() * 4, "{} bytes for {} moves", run.bytes.len(), moves.len());
        let back: Vec<Packed> = std::iter::from_fn(|| run.next()).collect();
        assert_eq!(back, moves);
        assert_eq!(run.next(), None);
    }

    #[test]
    fn histograms_follow_every_figure() {
        // Stations at 1.400, 1.500 and 1.600 (twice): min, max and the band move with them.
        let old: Histogram = vec![(1400, 1), (1500, 1), (1600, 2)];
        let mut d = CellDelta::new();
        histogram::add(&mut d, 1450, 1);
        let cell = |total, stations, min, max, p10, p90| Cell { total, stations, min, max, p10, p90 };
        assert_eq!(
            apply(Some(&old), &d),
            Outcome::Write(cell(7550, 5, 1400, 1600, 1400, 1600), vec![(1400, 1), (1450, 1), (1500, 1), (1600, 2)])
        );
        // The min removed, nothing below it added: the next price is the min, no history read.
        let mut d = CellDelta::new();
        histogram::add(&mut d, 1400, -1);
        assert!(matches!(apply(Some(&old), &d), Outcome::Write(c, _) if c.min == 1500 && c.p10 == 1500));
        histogram::add(&mut d, 1400, 1);
        assert!(d.is_empty(), "a price removed and added again is no move");
        let mut d = CellDelta::new();
        for p in [1600, 1500, 1400, 1600] {
            histogram::add(&mut d, p, -1);
        }
        assert_eq!(apply(Some(&old), &d), Outcome::Delete);
        assert_eq!(apply(None, &d), Outcome::Exact, "removing from a cell that holds nothing");
        let mut d = CellDelta::new();
        histogram::add(&mut d, 1300, 1);
        histogram::add(&mut d, 1300, -1);
        assert_eq!(apply(Some(&old), &d), Outcome::Keep);
    }
}
