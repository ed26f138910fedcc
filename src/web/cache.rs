//! Small time-limited caches for what every page needs and what changes only with an import
//! (the feed's period is ten minutes): the place index of the search box and the freshness of
//! the data. Stale by at most their TTL; never shared across processes. (Prices and their
//! averages live in the versioned [`crate::index`] instead.)

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::db::search::Place;

/// One value and when it was computed.
#[derive(Debug)]
pub struct Ttl<T> {
    ttl: Duration,
    slot: Mutex<Option<(Instant, T)>>,
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
    fn fresh(&self) -> Option<T> {
        let slot = self.slot.lock().ok()?;
        let (at, v) = slot.as_ref()?;
        (at.elapsed() < self.ttl).then(|| v.clone())
    }

    fn stale(&self) -> Option<T> {
        self.slot.lock().ok()?.as_ref().map(|(_, v)| v.clone())
    }

    pub async fn get_or_try<E, F, Fut>(&self, make: F) -> Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(v) = self.fresh() {
            return Ok(v);
        }
        let _flight = match self.refresh.try_lock() {
            Ok(guard) => guard,
            // Being refreshed: serve the previous value meanwhile (stale by seconds), or wait
            // for the first one.
            Err(_) => match self.stale() {
                Some(v) => return Ok(v),
                None => self.refresh.lock().await,
            },
        };
        // Another request may have refreshed it while this one waited.
        if let Some(v) = self.fresh() {
            return Ok(v);
        }
        let v = make().await?;
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some((Instant::now(), v.clone()));
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
}

impl Default for PageCache {
    fn default() -> Self {
        PageCache { places: Ttl::new(Duration::from_secs(300)), freshness: Ttl::new(Duration::from_secs(5)) }
    }
}
