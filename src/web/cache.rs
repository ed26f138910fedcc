//! Small time-limited caches for what every page needs and what changes only with an import
//! (the feed's period is ten minutes): the place index of the search box and the freshness of
//! the data. Stale by at most their TTL; never shared across processes. (Prices and their
//! averages live in the versioned [`crate::index`] instead.)

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::index::DataVersion;
use crate::index::places::Place;

/// One value and when it was computed.
#[derive(Debug)]
pub struct Ttl<T> {
    ttl: Duration,
    /// The value, when it was computed, and the data version it was computed at.
    slot: Mutex<Option<(Instant, DataVersion, T)>>,
    /// Single flight: when the value expires under load, one request recomputes it while the
    /// others get the previous value, instead of all running the same query at once.
    refresh: tokio::sync::Mutex<()>,
}

impl<T: Clone> Ttl<T> {
    pub fn new(ttl: Duration) -> Ttl<T> {
        Ttl { ttl, slot: Mutex::new(None), refresh: tokio::sync::Mutex::new(()) }
    }

    /// The cached value if fresh, else `make()`'s (cached when it succeeds). Two requests that
    /// miss at once both compute: harmless for these read-only queries.
    fn fresh(&self, version: DataVersion) -> Option<T> {
        let slot = self.slot.lock().ok()?;
        let (at, of, v) = slot.as_ref()?;
        (at.elapsed() < self.ttl && *of == version).then(|| v.clone())
    }

    fn stale(&self, version: DataVersion) -> Option<T> {
        let slot = self.slot.lock().ok()?;
        let (_, of, v) = slot.as_ref()?;
        (*of == version).then(|| v.clone())
    }

    pub async fn get_or_try<E, F, Fut>(&self, make: F) -> Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.get_or_try_at(DataVersion::default(), make).await
    }

    /// [`Ttl::get_or_try`] for a value that also expires when the data version moves (what the
    /// pages computed from the version must agree with, such as the newest snapshot's time).
    pub async fn get_or_try_at<E, F, Fut>(&self, version: DataVersion, make: F) -> Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(v) = self.fresh(version) {
            return Ok(v);
        }
        let _flight = match self.refresh.try_lock() {
            Ok(guard) => guard,
            // Being refreshed: serve the previous value of this version meanwhile (stale by
            // seconds), or wait for the new one.
            Err(_) => match self.stale(version) {
                Some(v) => return Ok(v),
                None => self.refresh.lock().await,
            },
        };
        // Another request may have refreshed it while this one waited.
        if let Some(v) = self.fresh(version) {
            return Ok(v);
        }
        let v = make().await?;
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some((Instant::now(), version, v.clone()));
        }
        Ok(v)
    }
}

/// When the data was last refreshed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Freshness {
    /// End of the last ETL run without error (Unix seconds).
    pub last_success_at: Option<i64>,
    /// Snapshot time of the newest file imported (Unix seconds).
    pub latest_snapshot_at: Option<i64>,
}

/// The caches of the public pages, shared by all requests.
#[derive(Debug)]
pub struct PageCache {
    pub places: Ttl<Arc<Vec<Place>>>,
    pub freshness: Ttl<Freshness>,
    pub area_series: AreaSeries,
    /// Everything else that changes only with the data: per data version and parameters.
    pub data: crate::web::versioned::Versioned,
}

impl Default for PageCache {
    fn default() -> Self {
        PageCache {
            places: Ttl::new(Duration::from_secs(300)),
            freshness: Ttl::new(Duration::from_secs(5)),
            area_series: AreaSeries::default(),
            data: Default::default(),
        }
    }
}

/// A whole series of daily averages: `(day, average)` in day order.
pub type DailyLine = Arc<Vec<(crate::domain::series::Day, i32)>>;

/// The national and département lines drawn faint beside every station's chart, whole, per
/// (fuel, area). A chart over twenty years read 14,600 stored days for them per request, four
/// fifths of its time under load (docs/benchmarks.md); they change only with an import.
///
/// Keyed by the data's version ([`DataVersion`]: the last import, names import and series
/// generation, which move with every import or series rebuild of any instance sharing the
/// database), as the page cache is. At most [`AreaSeries::MAX_ENTRIES`] lines (≈ 60 KB each
/// over twenty years); full, it starts again empty.
#[derive(Debug, Default)]
pub struct AreaSeries {
    slot: Mutex<(Option<DataVersion>, Lines)>,
}

/// The lines held, by (fuel id, area).
type Lines = HashMap<(i16, String), DailyLine>;

impl AreaSeries {
    pub const MAX_ENTRIES: usize = 256;

    pub fn get(&self, version: DataVersion, fuel: i16, area: &str) -> Option<DailyLine> {
        let slot = self.slot.lock().ok()?;
        if slot.0 != Some(version) {
            return None;
        }
        slot.1.get(&(fuel, area.to_owned())).cloned()
    }

    pub fn put(&self, version: DataVersion, fuel: i16, area: &str, line: DailyLine) {
        let Ok(mut slot) = self.slot.lock() else { return };
        if slot.0 != Some(version) || slot.1.len() >= Self::MAX_ENTRIES {
            *slot = (Some(version), HashMap::new());
        }
        slot.1.insert((fuel, area.to_owned()), line);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{AreaSeries, DataVersion};

    #[test]
    fn area_lines_follow_the_data_version() {
        let cache = AreaSeries::default();
        let v1 = DataVersion { import: Some(10), names: None, series: 0 };
        let v2 = DataVersion { series: 1, ..v1 };
        assert!(cache.get(v1, 1, "FR").is_none());
        cache.put(v1, 1, "FR", Arc::new(vec![(1, 1500)]));
        assert_eq!(cache.get(v1, 1, "FR").as_deref(), Some(&vec![(1, 1500)]));
        assert!(cache.get(v1, 2, "FR").is_none());
        assert!(cache.get(v1, 1, "33").is_none());
        assert!(cache.get(v2, 1, "FR").is_none(), "a rebuild made it stale");
        cache.put(v2, 1, "33", Arc::new(vec![]));
        assert!(cache.get(v2, 1, "FR").is_none(), "the old version's lines are gone");
        for i in 0..AreaSeries::MAX_ENTRIES + 1 {
            cache.put(v2, 1, &i.to_string(), Arc::new(vec![]));
        }
        assert!(cache.slot.lock().unwrap().1.len() <= AreaSeries::MAX_ENTRIES);
    }
}
