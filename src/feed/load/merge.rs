//! Merging points older than the current price (an archive imported after newer files) into
//! the history, chunk by chunk as the file streams in: the history stays the list of points
//! where the price changed, in time order, whatever order files came in.
//!
//! For one (station, fuel) whose new points span `lo..=hi`, only these stored points can change
//! or decide: those inside `lo..=hi`, the last one before `lo` (the value the first new point is
//! compared with) and the first one after `hi` (dropped when it no longer changes the price).
//! The stored history is already a list of change points, so the rest is untouched. They are
//! read in one statement per chunk (per key, a seek to each neighbour and one range of the
//! primary key between them), not the whole history of every station: cost and memory stay flat
//! over twenty years of history. Its text is fixed whatever the number of keys
//! (`db::price_history::around`): prepared once per import.

use std::collections::HashMap;
use std::time::Instant;

use super::{ImportError, Loader, sort_points};
use crate::db::Backend;
use crate::db::price_history::{self, HistoryRow, SQLITE_HISTORY_ROWS};

/// A (station, fuel) and its points (time, price).
type KeyPoints = ((i64, i16), Vec<(i64, i32)>);

impl Loader {
    /// Merges the points collected in `self.backfill` (this chunk's) and empties it. The
    /// chunk's other writes must be flushed first: they are part of the stored history read here.
    pub(super) async fn merge_backfill(&mut self) -> Result<(), ImportError> {
        let backfill = std::mem::take(&mut self.backfill);
        if backfill.is_empty() {
            return Ok(());
        }
        // The stored history read here includes the last batch's rows.
        self.settle().await?;
        // Each key's points in time order, the same second once (the later in the file wins,
        // as for a key's current points), and the key's span.
        let mut keys: Vec<KeyPoints> = Vec::with_capacity(backfill.len());
        for (key, mut points) in backfill {
            sort_points(&mut points);
            keys.push((key, points));
        }
        let t = Instant::now();
        let stored = self.stored_around(&keys).await?;
        self.phases.around += t.elapsed();
        let t = Instant::now();

        let mut inserts: Vec<HistoryRow> = Vec::new();
        let mut deletes: Vec<(i64, i16, i64)> = Vec::new();
        let mut merges = Vec::with_capacity(keys.len());
        for ((station, fuel), points) in keys {
            let hi = points.last().map_or(i64::MIN, |p| p.0);
            let existing = stored.get(&(station, fuel)).map(Vec::as_slice).unwrap_or_default();
            let merged = merge_points(existing, &points);
            inserts.extend(merged.inserted.iter().map(|&(at, p)| (station, fuel, at, p)));
            deletes.extend(merged.deleted.iter().map(|&at| (station, fuel, at)));
            if self.series.active() {
                merges.push(((station, fuel), hi, existing.to_vec(), merged.wanted));
            }
        }
        self.phases.merge += t.elapsed();
        let t = Instant::now();
        // Series: what the merge moves, from the points before and after it.
        self.series_merge(&merges).await?;
        self.phases.merge_series += t.elapsed();
        let t = Instant::now();
        for &(station, fuel, at) in &deletes {
            price_history::delete_point(self.tx()?, station, fuel, at).await?;
        }
        self.stats.history_backfilled += inserts.len();
        self.stats.counts.history_added += i32::try_from(inserts.len()).unwrap_or(i32::MAX);
        if self.backend == Backend::Sqlite {
            self.pending.history_merged.extend(inserts);
            self.write_merged(false).await?;
        } else {
            // On PostgreSQL the COPY may run on after this returns: the next write waits for it.
            self.write_history(inserts).await?;
        }
        self.phases.merge_write += t.elapsed();
        Ok(())
    }

    /// SQLite: writes the merged points waiting, in whole statements of
    /// [`SQLITE_HISTORY_ROWS`] rows; with `all`, every one. A chunk's merge gives a few
    /// thousand rows of no fixed count: written per chunk, they would end in statements of
    /// every power of two below 8,192 rows, each a text of its own to prepare, pushing the full
    /// statement out of the connection's small statement cache. They can wait for the next
    /// chunk's: a chunk's stations appear in no other chunk, so no later read of the history
    /// (the merges and the averages' deltas read only their own chunk's keys) needs them before
    /// [`Loader::finish`] writes the rest.
    pub(super) async fn write_merged(&mut self, all: bool) -> Result<(), ImportError> {
        let waiting = self.pending.history_merged.len();
        let now = if all { waiting } else { waiting / SQLITE_HISTORY_ROWS * SQLITE_HISTORY_ROWS };
        if now == 0 {
            return Ok(());
        }
        let rest = self.pending.history_merged.split_off(now);
        let rows = std::mem::replace(&mut self.pending.history_merged, rest);
        // A plain insert, as for new stations: the merge read every stored point in each key's
        // span and keeps a stored one where a new point has the same second, so none of these
        // can conflict (if one did, the statement fails and the file is refused, where an upsert
        // would have overwritten a stored point). No time measured gained (docs/benchmarks.md).
        let (tx, texts) = self.tx_texts()?;
        Ok(price_history::insert_new(tx, texts, &rows).await?)
    }

    /// The stored points that can matter to each key (see the module's comment), per key, in
    /// time order.
    async fn stored_around(&mut self, keys: &[KeyPoints]) -> Result<HashMap<(i64, i16), Vec<(i64, i32)>>, ImportError> {
        let bounds: Vec<(i64, i16, i64, i64)> = keys
            .iter()
            .map(|((s, f), points)| (*s, *f, points.first().map_or(0, |p| p.0), points.last().map_or(0, |p| p.0)))
            .collect();
        let mut stored: HashMap<(i64, i16), Vec<(i64, i32)>> = HashMap::with_capacity(keys.len());
        for (s, f, at, price) in price_history::around(self.tx()?, &bounds).await? {
            stored.entry((s, f)).or_default().push((at, price));
        }
        for points in stored.values_mut() {
            points.sort_unstable();
        }
        Ok(stored)
    }
}

/// What merging new points into a key's stored ones gives: the key's points afterwards, and
/// the writes that take the stored ones there.
#[derive(Debug, PartialEq, Eq)]
struct Merged {
    /// The points afterwards, in time order, each price different from the one before.
    wanted: Vec<(i64, i32)>,
    /// New points to insert.
    inserted: Vec<(i64, i32)>,
    /// Times of stored points to delete: they no longer change the price.
    deleted: Vec<i64>,
}

/// Merges `new` (time order, one point per second) into `existing` (the stored points, time
/// order, one per second): a stored point at the same second is kept as it is, and a point
/// whose price is the one before it goes. One walk over both lists: an archive merges
/// hundreds of thousands of points this way.
fn merge_points(existing: &[(i64, i32)], new: &[(i64, i32)]) -> Merged {
    let mut out = Merged {
        wanted: Vec::with_capacity(existing.len() + new.len()),
        inserted: Vec::with_capacity(new.len()),
        deleted: Vec::new(),
    };
    let (mut i, mut j) = (0, 0);
    loop {
        // The next point in time, and whether it is stored.
        let (point, stored) = match (existing.get(i), new.get(j)) {
            (Some(&e), Some(&n)) if e.0 <= n.0 => {
                i += 1;
                if e.0 == n.0 {
                    j += 1;
                }
                (e, true)
            }
            (Some(&e), None) => {
                i += 1;
                (e, true)
            }
            (_, Some(&n)) => {
                j += 1;
                (n, false)
            }
            (None, None) => break,
        };
        if out.wanted.last().is_some_and(|&(_, p)| p == point.1) {
            if stored {
                out.deleted.push(point.0);
            }
        } else {
            out.wanted.push(point);
            if !stored {
                out.inserted.push(point);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use super::{Merged, merge_points};

    /// The merge written plainly: a map of the stored points, the new ones where no stored point
    /// is, the repeated prices dropped, then the differences as sets.
    fn by_sets(existing: &[(i64, i32)], new: &[(i64, i32)]) -> Merged {
        let mut merged: BTreeMap<i64, i32> = existing.iter().copied().collect();
        for &(at, price) in new {
            merged.entry(at).or_insert(price);
        }
        let mut wanted: Vec<(i64, i32)> = Vec::new();
        for (at, price) in merged {
            if wanted.last().is_none_or(|&(_, p)| p != price) {
                wanted.push((at, price));
            }
        }
        let existing_set: HashSet<(i64, i32)> = existing.iter().copied().collect();
        let wanted_set: HashSet<(i64, i32)> = wanted.iter().copied().collect();
        Merged {
            inserted: wanted.iter().copied().filter(|p| !existing_set.contains(p)).collect(),
            deleted: existing.iter().filter(|p| !wanted_set.contains(p)).map(|p| p.0).collect(),
            wanted,
        }
    }

    #[test]
    fn merge_walk_is_the_plain_merge() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..20_000 {
            let mut points = |count: u64| {
                let mut m: BTreeMap<i64, i32> = BTreeMap::new();
                for _ in 0..count {
                    m.insert(next(30) as i64, 1_500 + next(3) as i32);
                }
                m.into_iter().collect::<Vec<_>>()
            };
            // Stored points are change points (no price twice in a row); new ones are not.
            let mut existing = points(6);
            existing.dedup_by(|b, a| a.1 == b.1);
            let new = points(10);
            assert_eq!(merge_points(&existing, &new), by_sets(&existing, &new), "{existing:?} + {new:?}");
        }
        assert_eq!(
            merge_points(&[(10, 1_500), (20, 1_600)], &[(5, 1_500), (10, 1_700), (15, 1_600)]),
            Merged {
                wanted: vec![(5, 1_500), (15, 1_600)],
                inserted: vec![(5, 1_500), (15, 1_600)],
                deleted: vec![10, 20]
            }
        );
    }
}
