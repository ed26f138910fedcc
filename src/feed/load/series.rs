//! The daily averages an import moves, kept by deltas (issue 21) instead of recomputed from the
//! history.
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
//! - sum and count follow exactly;
//! - min and max follow from what was added and removed ([`apply`]), except when a removed price
//!   was the extreme and nothing added replaces it: those few cells are computed exactly from
//!   the history (`db::series::exact_cells`, one index seek per station of the area);
//! - days after the last one stored that the file reaches (a snapshot of a new day, a newer
//!   archive): the 31 days after it are computed from the history (prices carried over from
//!   before the file), the days beyond only hold the file's own points, which the deltas have;
//! - a station that moves to another département takes its whole history with it;
//! - an empty series over a history (before migration 0013) is computed whole.
//!
//! The result is the series `carburoam series rebuild` computes (tests/it/series.rs checks it
//! after random sequences of imports, on both backends).

use std::collections::{BTreeMap, HashMap};

use super::{ImportError, Loader};
use crate::db::series::{self as db_series, Cell, CellRow, State};
use crate::domain::histogram::{self, Histogram};
use crate::domain::series::{self, Day, MAX_AGE_SECS, NATIONAL, REACH_DAYS, day_start};

/// The national area's index in [`Deltas`].
const NATION: u16 = u16::MAX;

/// Days per block of cells in [`Deltas`]: a point counts on at most 31 days, so on 2–3 blocks.
const BLOCK: usize = 16;

/// What an import's changes add to and remove from one cell: stations by price, positive for
/// prices added, negative for those removed (a price added and removed again nets to nothing
/// and goes), sorted by price as a [`Histogram`].
pub(super) type CellDelta = Histogram;

/// The moves of an import's cells, by (fuel, area, block of days).
#[derive(Default)]
pub(super) struct Deltas {
    blocks: HashMap<(i16, u16, Day), Box<[CellDelta; BLOCK]>>,
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
        let targets = targets(area, true);
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
                    for &area in &targets {
                        if last_b > last_a {
                            self.range(fuel, area, first.max(last_a + 1), last_b, pb.1, -1);
                        } else if last_a > last_b {
                            self.range(fuel, area, first.max(last_b + 1), last_a, pa.1, 1);
                        }
                    }
                    i += 1;
                    j += 1;
                }
                (Some(pb), a) if a.is_none_or(|pa| pb.0 <= pa.0) || a.is_none() => {
                    let (first, last) = reach(pb.0, next(before, i));
                    for &area in &targets {
                        self.range(fuel, area, first, last, pb.1, -1);
                    }
                    i += 1;
                }
                (_, Some(pa)) => {
                    let (first, last) = reach(pa.0, next(after, j));
                    for &area in &targets {
                        self.range(fuel, area, first, last, pa.1, 1);
                    }
                    j += 1;
                }
                _ => break,
            }
        }
    }

    /// Adds (`sign` 1) or removes (-1) what `points`, followed by `bound`, count on in the
    /// areas `targets`.
    pub(super) fn points(&mut self, fuel: i16, targets: &[u16], points: &[(i64, i32)], bound: i64, sign: i32) {
        for (i, &(at, price)) in points.iter().enumerate() {
            let next = points.get(i + 1).map_or(bound, |p| p.0);
            let (first, last) = reach(at, next);
            for &area in targets {
                self.range(fuel, area, first, last, price, sign);
            }
        }
    }

    fn range(&mut self, fuel: i16, area: u16, first: Day, last: Day, price: i32, sign: i32) {
        let mut day = first;
        while day <= last {
            let block = day.div_euclid(BLOCK as Day);
            let start = block * BLOCK as Day;
            let cells =
                self.blocks.entry((fuel, area, block)).or_insert_with(|| Box::new(std::array::from_fn(|_| Vec::new())));
            let end = last.min(start + BLOCK as Day - 1);
            for cell in &mut cells[(day - start) as usize..=(end - start) as usize] {
                histogram::add(cell, price, sign);
            }
            day = end + 1;
        }
    }

    /// Every moved cell: `(fuel, area, day, delta)`.
    #[cfg(test)]
    pub(super) fn cells(&self) -> impl Iterator<Item = (i16, u16, Day, &CellDelta)> {
        self.blocks.iter().flat_map(|(&(fuel, area, block), cells)| {
            cells
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.is_empty())
                .map(move |(i, c)| (fuel, area, block * BLOCK as Day + i as Day, c))
        })
    }

    /// [`Deltas::cells`], taken: `((fuel, area, day), delta)` for the days `keep` says.
    pub(super) fn into_cells(self, keep: impl Fn(Day) -> bool) -> Vec<((i16, u16, Day), CellDelta)> {
        let mut out = Vec::new();
        for ((fuel, area, block), cells) in self.blocks {
            for (i, c) in cells.into_iter().enumerate() {
                let day = block * BLOCK as Day + i as Day;
                if !c.is_empty() && keep(day) {
                    out.push(((fuel, area, day), c));
                }
            }
        }
        out
    }
}

/// The areas a station's point counts in.
fn targets(area: Option<u16>, national: bool) -> Vec<u16> {
    area.into_iter().chain(national.then_some(NATION)).collect()
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
    areas: Vec<String>,
    area_index: HashMap<String, u16>,
    /// Each station's area when the import began (new stations: the one they are written with).
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
}

impl Tracker {
    pub(super) fn new(state: State, departments: impl Iterator<Item = (i64, String)>) -> Tracker {
        let mode = match (state.has_series, state.last_day, state.has_history) {
            (true, Some(last), _) => Mode::Deltas(last),
            (false, _, false) => Mode::Fresh,
            _ => Mode::Whole,
        };
        let mut t = Tracker {
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
        };
        for (id, dept) in departments {
            let a = t.area(&dept);
            t.area_of.insert(id, a);
        }
        t
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
        self.areas.push(dept.to_owned());
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
    /// around the rows (three statements per batch); new stations have none.
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
            .filter(|((s, _), _)| stored_possible && self.known.contains_key(s))
            .map(|((s, f), pts)| (*s, *f, pts.first().map_or(0, |p| p.0), pts.last().map_or(0, |p| p.0)))
            .collect();
        let around =
            if ask.is_empty() { HashMap::new() } else { crate::db::series::history_around(self.tx()?, &ask).await? };
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
        let next =
            if ask.is_empty() { HashMap::new() } else { crate::db::series::history_around(self.tx()?, &ask).await? };
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
                let mut done = db_series::recompute_all(self.tx()?, snapshot).await?;
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
            let newest = db_series::newest_point(self.tx()?).await?;
            c1 = newest.map(day_of).max(snapshot_day).max(written);
        }

        // Stations moved to another département: their whole history changes area.
        let moved = std::mem::take(&mut self.series.moved);
        if !moved.is_empty() {
            let ids: Vec<i64> = moved.iter().map(|m| m.0).collect();
            let points = db_series::stations_history(self.tx()?, &ids).await?;
            for (id, old, new) in moved {
                let mut by_fuel: BTreeMap<i16, Vec<(i64, i32)>> = BTreeMap::new();
                for &(_, f, at, price) in points.iter().filter(|p| p.0 == id) {
                    by_fuel.entry(f).or_default().push((at, price));
                }
                for (f, pts) in by_fuel {
                    self.series.deltas.points(f, &targets(old, false), &pts, i64::MAX, -1);
                    self.series.deltas.points(f, &targets(new, false), &pts, i64::MAX, 1);
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
        let in_zone = |d: Day| zone.is_some_and(|(a, b)| (a..=b).contains(&d));

        // The moved cells, with the stored ones where there are some.
        let moves = std::mem::take(&mut self.series.deltas).into_cells(|day| day <= c1 && !in_zone(day));
        let mut stored: HashMap<(i16, u16, Day), Histogram> = HashMap::new();
        if let Some(last) = c0 {
            let mut spans: BTreeMap<i16, (Day, Day)> = BTreeMap::new();
            for &(fuel, _, day) in moves.iter().map(|m| &m.0).filter(|k| k.2 <= last) {
                let s = spans.entry(fuel).or_insert((day, day));
                s.0 = s.0.min(day);
                s.1 = s.1.max(day);
            }
            for (fuel, (first, end)) in spans {
                for (area, day, hist) in db_series::stored_cells(self.tx()?, fuel, first, end).await? {
                    let a = if area == NATIONAL { Some(NATION) } else { self.series.area_index.get(&area).copied() };
                    if let Some(a) = a {
                        stored.insert((fuel, a, day), hist);
                    }
                }
            }
        }
        // Written cells keep their histogram encoded only: a yearly import writes 200,000 of them.
        let mut writes: Vec<(i16, u16, Day, Cell, Vec<u8>)> = Vec::new();
        let mut deletes: Vec<(i16, u16, Day)> = Vec::new();
        let mut exact: BTreeMap<(i16, Day), Vec<u16>> = BTreeMap::new();
        for ((fuel, area, day), d) in moves {
            let old = stored.get(&(fuel, area, day)).map(Vec::as_slice);
            match apply(old, &d) {
                Outcome::Keep => {}
                Outcome::Write(c, h) => writes.push((fuel, area, day, c, histogram::to_bytes(&h))),
                Outcome::Delete => deletes.push((fuel, area, day)),
                Outcome::Exact => exact.entry((fuel, day)).or_default().push(area),
            }
        }
        for ((fuel, day), areas) in exact {
            let national = areas.contains(&NATION);
            let names: Vec<String> = areas
                .iter()
                .filter(|&&a| a != NATION)
                .filter_map(|&a| self.series.areas.get(usize::from(a)).cloned())
                .collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let cells = db_series::exact_cells(self.tx()?, fuel, day, &refs, national).await?;
            let found: HashMap<u16, Histogram> = cells
                .into_iter()
                .filter_map(|(area, h)| {
                    let a = if area == NATIONAL { Some(NATION) } else { self.series.area_index.get(&area).copied() };
                    a.map(|a| (a, h))
                })
                .collect();
            for area in areas {
                let old = stored.get(&(fuel, area, day));
                match (found.get(&area).and_then(|h| Cell::of(h).map(|c| (c, h))), old) {
                    (Some((c, h)), old) if old != Some(h) => writes.push((fuel, area, day, c, histogram::to_bytes(h))),
                    (None, Some(_)) => deletes.push((fuel, area, day)),
                    _ => {}
                }
            }
            done.days += 1;
        }
        if let Some((first, end)) = zone {
            let z = db_series::recompute_days(self.tx()?, first, end).await?;
            done.days += z.days;
            done.points += z.points;
            done.rows += z.rows;
        }
        if let Some(last) = c0
            && c1 < last
        {
            db_series::delete_after(self.tx()?, c1).await?;
        }
        let name = |a: u16| -> &str {
            if a == NATION { NATIONAL } else { self.series.areas.get(usize::from(a)).map_or("", String::as_str) }
        };
        let rows: Vec<CellRow> = writes.iter().map(|(f, a, d, c, h)| (*f, name(*a), *d, *c, h.as_slice())).collect();
        let gone: Vec<(i16, &str, Day)> = deletes.iter().map(|&(f, a, d)| (f, name(a), d)).collect();
        done.rows += rows.len() + gone.len();
        let tx = self.tx.as_mut().ok_or_else(|| ImportError::Internal("the transaction is already closed".into()))?;
        db_series::write_cells(tx, &rows).await?;
        db_series::delete_cells(tx, &gone).await?;
        self.finish_state(Some(c1), snapshot_day).await?;
        done.elapsed = started.elapsed();
        Ok(done)
    }

    async fn finish_state(&mut self, last: Option<Day>, snapshot_day: Option<Day>) -> Result<(), ImportError> {
        db_series::set_state(self.tx()?, last, snapshot_day).await?;
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
                    match apply(old.map(|o| o.0.as_slice()), d) {
                        Outcome::Keep => assert_eq!(old, now, "round {round}"),
                        Outcome::Write(c, h) => assert_eq!(Some(&(h, c)), now, "round {round}"),
                        Outcome::Delete => assert_eq!(None, now, "round {round}"),
                        Outcome::Exact => panic!("round {round}: a delta that does not fit its cell"),
                    }
                }
                // A cell no delta touches is unchanged.
                let touched: std::collections::HashSet<(u16, Day)> =
                    deltas.cells().map(|(_, a, d, _)| (a, d)).collect();
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
