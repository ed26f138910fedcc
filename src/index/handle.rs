//! Which [`PriceIndex`] requests use, and when it is replaced.
//!
//! Several server instances may share one database and only one of them imports, so an instance
//! cannot wait to be told about new data: each checks `etl_runs` for a newer successful import,
//! (and `names_imports` for newer OpenStreetMap names) at most once every [`CHECK_EVERY`] and
//! from one request at a time (one-row queries), and rebuilds in the background when there is one. Requests never wait for a rebuild: they keep
//! the snapshot they have (stale by seconds) until the new one is swapped in. Only the very first
//! request of a process waits, for the first build, so that a fresh server never answers from an
//! empty index.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::{IndexError, PriceIndex};
use crate::db::Db;
use crate::db::station_names;
use crate::db::stations as q;

/// How often an instance asks the database whether a newer import exists (three one-row
/// queries). Short enough that a serving instance's pages follow an import, a names import or a
/// series rebuild done by another process within 5 s, rebuild of the index included (a few
/// hundred milliseconds on the national file).
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// The current [`PriceIndex`] of this process, shared by all requests. Cheap to clone.
#[derive(Clone)]
pub struct IndexHandle {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    /// Swapped whole; readers clone the `Arc` and drop the lock at once.
    current: RwLock<Arc<PriceIndex>>,
    /// Set once the first build succeeded.
    loaded: AtomicBool,
    check_every: Duration,
    /// Milliseconds after `epoch` from which the next request triggers a check. Claimed with a
    /// compare-and-swap, so one request per period does it.
    next_check_ms: AtomicU64,
    epoch: Instant,
    /// Held by whoever checks or rebuilds: one build at a time, never two of the same data.
    rebuild: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for IndexHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexHandle")
            .field("version", &self.current().version())
            .field("loaded", &self.inner.loaded.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl IndexHandle {
    /// An empty handle: the first [`IndexHandle::get`] builds the index.
    pub fn new(db: Db) -> IndexHandle {
        IndexHandle::with_check_every(db, CHECK_EVERY)
    }

    /// [`IndexHandle::new`] checking for new imports every `every` (tests use a short period).
    pub fn with_check_every(db: Db, every: Duration) -> IndexHandle {
        IndexHandle {
            inner: Arc::new(Inner {
                db,
                current: RwLock::new(Arc::new(PriceIndex::empty())),
                loaded: AtomicBool::new(false),
                check_every: every,
                next_check_ms: AtomicU64::new(0),
                epoch: Instant::now(),
                rebuild: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The snapshot to answer a request from. Waits only for the first build of the process;
    /// afterwards returns at once, starting a background check when one is due.
    pub async fn get(&self) -> Result<Arc<PriceIndex>, IndexError> {
        if !self.inner.loaded.load(Ordering::Acquire) {
            let _flight = self.inner.rebuild.lock().await;
            // Whoever held the lock before may have loaded it.
            if !self.inner.loaded.load(Ordering::Acquire) {
                self.rebuild_locked().await?;
            }
            return Ok(self.current());
        }
        // The snapshot is taken before the check starts: the request that starts it answers
        // from the snapshot it found, whatever a fast check on another thread does meanwhile.
        let snapshot = self.current();
        self.check_in_background_if_due();
        Ok(snapshot)
    }

    /// The snapshot in use, without checking anything (empty before the first build).
    pub fn current(&self) -> Arc<PriceIndex> {
        // A poisoned lock still holds a valid `Arc` (writers only assign it).
        Arc::clone(&self.inner.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Checks for a newer import now and rebuilds if there is one, waiting for it: what an
    /// instance that just imported, or a test, calls instead of waiting for the next check.
    /// Returns whether the snapshot changed.
    pub async fn refresh(&self) -> Result<bool, IndexError> {
        let _flight = self.inner.rebuild.lock().await;
        if self.inner.loaded.load(Ordering::Acquire) && !self.stale().await? {
            return Ok(false);
        }
        self.rebuild_locked().await?;
        Ok(true)
    }

    /// Whether a newer feed import, names import or series generation than the current
    /// snapshot's exists.
    async fn stale(&self) -> Result<bool, IndexError> {
        let current = self.current();
        let db = &self.inner.db;
        Ok(q::latest_import(db).await? != current.version()
            || station_names::last_import_id(db).await? != current.names_version()
            || crate::db::series::generation(db).await? != current.series_version())
    }

    /// Checks every period even without requests (`serve`): the first visitor after a quiet
    /// spell gets the new data too, not the snapshot of before it. Stops with `shutdown`.
    pub async fn watch(self, shutdown: tokio_util::sync::CancellationToken) {
        let mut ticker = tokio::time::interval(self.inner.check_every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticker.tick() => {}
            }
            if self.inner.loaded.load(Ordering::Acquire) {
                self.check_in_background_if_due();
            }
        }
    }

    fn check_in_background_if_due(&self) {
        let inner = &self.inner;
        let now = u64::try_from(inner.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let due = inner.next_check_ms.load(Ordering::Relaxed);
        if now < due {
            return;
        }
        let next = now.saturating_add(u64::try_from(inner.check_every.as_millis()).unwrap_or(u64::MAX));
        if inner.next_check_ms.compare_exchange(due, next, Ordering::AcqRel, Ordering::Relaxed).is_err() {
            // Another request claimed this check.
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            // A rebuild still running (slow database) covers this check too.
            let Ok(_flight) = this.inner.rebuild.try_lock() else { return };
            let result = async {
                if this.stale().await? {
                    this.rebuild_locked().await?;
                }
                Ok::<_, IndexError>(())
            }
            .await;
            if let Err(e) = result {
                // The previous snapshot keeps serving; the next check retries.
                tracing::warn!(error = %e, "price index: refresh failed");
            }
        });
    }

    /// Builds a snapshot of the database as it is now and swaps it in. The caller holds
    /// `rebuild`.
    async fn rebuild_locked(&self) -> Result<(), IndexError> {
        let index = PriceIndex::load(&self.inner.db).await?;
        let s = index.stats();
        tracing::info!(
            version = index.version(),
            stations = s.stations,
            prices = s.prices,
            read_ms = s.read.as_millis() as u64,
            build_ms = s.build.as_millis() as u64,
            heap_kib = s.heap_bytes / 1024,
            "price index built"
        );
        *self.inner.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(index);
        self.inner.loaded.store(true, Ordering::Release);
        Ok(())
    }
}
