//! What the pages show that changes only when the data changes, computed once per data version
//! ([`DataVersion`]: the last import and names import the price index reflects) and per set of
//! parameters, and served from memory by every worker of the process.
//!
//! - **Keyed** by [`Key`] (the page or answer and its parameters, typed) within one version: a
//!   request carrying another version than the one held empties the cache first, so an import
//!   or a names refresh makes every entry unreachable at once.
//! - **Bounded** in bytes ([`Weigh`]): past [`Versioned::max_bytes`], the oldest entries go
//!   first; an entry larger than an eighth of it is served but not kept.
//! - **Single flight**: requests that miss the same key at once wait for one computation
//!   (a `OnceCell` per key), instead of all running the same queries.
//!
//! [`Body`] is the rendered answer itself with its gzip and brotli forms, for answers that
//! depend on nothing else than their key (the JSON API; pages for visitors without a session).

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::domain::Fuel;
use crate::domain::Lang;
use crate::domain::StationId;
use crate::domain::series::Day;
use crate::error::AppError;
use crate::history::series::Step;
pub use crate::index::DataVersion;

/// What an entry is: the answer or the data, and every parameter it depends on besides the
/// data version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// The data of `/tendances` (`/trends`, `path`), with `last` the last day of data.
    Trends { path: &'static str, lang: Lang, fuel: Fuel, dept: Option<String>, period: &'static str, last: Day },
    /// A whole page for visitors without a session: its data key and the fingerprint of its
    /// layout (language, URL, freshness line: [`crate::web::page::Layout::fingerprint`]).
    Page { data: Box<Key>, layout: u64 },
    /// A page cached whole but for the prices' ages, for visitors without a session
    /// (`/stations`): its path, its query string as sent (every parameter of the page) and the
    /// fingerprint of its layout.
    Frame { path: &'static str, query: String, layout: u64 },
    /// A station page's data (the station, its name, its chart).
    /// `fuel` and `range` as the query gives them (the chart's choice).
    Station { id: StationId, lang: Lang, fuel: Option<String>, range: Option<String>, last: Day },
    /// Where the text of a search leads (a place, or stations by name).
    Place { text: String },
    /// The daily averages of an area, whole (the faint lines of a station's chart).
    AreaLine { fuel: Fuel, area: String },
    /// `GET /api/v1/stations/{id}`.
    ApiStation { id: StationId },
    /// `GET /api/v1/stations/{id}/history` with the days resolved.
    ApiHistory { id: StationId, fuel: Fuel, from: Option<Day>, to: Option<Day>, step: Option<Step>, last: Day },
    /// `GET /api/v1/trends`.
    ApiTrends { fuel: Fuel, area: String, from: Option<Day>, to: Option<Day>, step: Step },
}

/// The bytes an entry holds, about (its heap allocations): what the bound counts.
pub trait Weigh {
    fn weight(&self) -> usize;
}

type Value = Arc<dyn Any + Send + Sync>;
type Cell = Arc<tokio::sync::OnceCell<(Value, usize)>>;

#[derive(Default)]
struct Store {
    version: DataVersion,
    cells: HashMap<Key, Cell>,
    /// Keys of the computed entries, oldest first.
    order: VecDeque<Key>,
    bytes: usize,
}

impl Store {
    fn reset(&mut self, version: DataVersion) {
        *self = Store { version, ..Store::default() };
    }
}

/// The cache. See the module documentation.
pub struct Versioned {
    max_bytes: usize,
    store: Mutex<Store>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for Versioned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.stats();
        f.debug_struct("Versioned").field("max_bytes", &self.max_bytes).field("stats", &s).finish()
    }
}

/// What [`Versioned::stats`] reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub entries: usize,
    pub bytes: usize,
    pub hits: u64,
    pub misses: u64,
    pub version: DataVersion,
}

impl Default for Versioned {
    fn default() -> Self {
        Versioned::new(Versioned::DEFAULT_MAX_BYTES)
    }
}

impl Versioned {
    /// 32 MB: every trends page (6 fuels × 5 periods × ~100 areas × 2 languages is far more than
    /// visitors ask for) would not fit, the popular ones do, and the server stays under 100 MB.
    pub const DEFAULT_MAX_BYTES: usize = 32 << 20;

    pub fn new(max_bytes: usize) -> Versioned {
        Versioned { max_bytes, store: Mutex::new(Store::default()), hits: AtomicU64::new(0), misses: AtomicU64::new(0) }
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    pub fn stats(&self) -> CacheStats {
        let s = self.lock();
        CacheStats {
            entries: s.order.len(),
            bytes: s.bytes,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            version: s.version,
        }
    }

    /// Drops every entry: for data that changed without a new version (the daily averages
    /// computed at `serve`'s first start).
    pub fn clear(&self) {
        let mut s = self.lock();
        let version = s.version;
        s.reset(version);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        // The store is consistent after any statement: a panic elsewhere leaves it usable.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry of `key` at `version`, or `make()`'s result, kept when it succeeds. Requests
    /// missing the same key at once share one `make`.
    pub async fn get_or_try<T, F, Fut>(&self, version: DataVersion, key: Key, make: F) -> Result<Arc<T>, AppError>
    where
        T: Weigh + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, AppError>>,
    {
        let cell = {
            let mut s = self.lock();
            if s.version != version {
                s.reset(version);
            }
            s.cells.entry(key.clone()).or_default().clone()
        };
        let mut made = false;
        let made_here = &mut made;
        let result = cell
            .get_or_try_init(|| async move {
                *made_here = true;
                let v = make().await?;
                let weight = v.weight() + std::mem::size_of::<T>() + 64;
                Ok::<_, AppError>((Arc::new(v) as Value, weight))
            })
            .await;
        let (value, weight) = match result {
            Ok(v) => v.clone(),
            Err(e) => {
                let mut s = self.lock();
                if s.cells.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell) && !c.initialized()) {
                    s.cells.remove(&key);
                }
                return Err(e);
            }
        };
        if made {
            self.misses.fetch_add(1, Ordering::Relaxed);
            self.admit(version, key, &cell, weight);
        } else {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        value.downcast::<T>().map_err(|_| AppError::Internal(anyhow::anyhow!("page cache: two types under one key")))
    }

    /// Counts a new entry, then drops the oldest ones past the bound.
    fn admit(&self, version: DataVersion, key: Key, cell: &Cell, weight: usize) {
        let mut s = self.lock();
        if s.version != version || !s.cells.get(&key).is_some_and(|c| Arc::ptr_eq(c, cell)) {
            // Emptied by a newer version meanwhile: served once, not kept.
            return;
        }
        if weight > self.max_bytes / 8 {
            s.cells.remove(&key);
            return;
        }
        s.bytes += weight;
        s.order.push_back(key);
        while s.bytes > self.max_bytes {
            let Some(old) = s.order.pop_front() else { break };
            if let Some(c) = s.cells.remove(&old) {
                s.bytes -= c.get().map_or(0, |v| v.1);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Whole answers

/// A rendered answer and its compressed forms, made once when it enters the cache.
#[derive(Debug, Clone)]
pub struct Body {
    content_type: HeaderValue,
    identity: Bytes,
    /// Empty when not worth it (small bodies).
    gzip: Bytes,
    br: Bytes,
}

/// Below this, compressing costs more than it saves.
const MIN_COMPRESS_BYTES: usize = 256;
/// Brotli quality of cached bodies: made once per data version, served thousands of times.
const BROTLI_QUALITY: u32 = 9;

impl Weigh for Body {
    fn weight(&self) -> usize {
        self.identity.len() + self.gzip.len() + self.br.len()
    }
}

/// Which form of a [`Body`] the client accepts best.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    /// From `Accept-Encoding`: brotli, else gzip, when accepted with a non-zero weight.
    pub fn accepted(headers: &HeaderMap) -> Encoding {
        let (mut br, mut gzip) = (false, false);
        for value in headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()) {
            for item in value.split(',') {
                let mut parts = item.split(';');
                let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
                let zero = parts.any(|p| {
                    p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()).is_some_and(|q| q <= 0.0)
                });
                match name.as_str() {
                    "br" => br = !zero,
                    "gzip" | "x-gzip" => gzip = !zero,
                    "*" if !zero => {
                        br = true;
                        gzip = true;
                    }
                    _ => {}
                }
            }
        }
        if br {
            Encoding::Brotli
        } else if gzip {
            Encoding::Gzip
        } else {
            Encoding::Identity
        }
    }
}

impl Body {
    pub const HTML: &'static str = "text/html; charset=utf-8";
    pub const JSON: &'static str = "application/json";

    pub fn new(content_type: &'static str, identity: Bytes) -> Body {
        let (gzip, br) = if identity.len() < MIN_COMPRESS_BYTES {
            (Bytes::new(), Bytes::new())
        } else {
            (gzip(&identity), brotli(&identity))
        };
        Body { content_type: HeaderValue::from_static(content_type), identity, gzip, br }
    }

    /// A JSON answer of `value`.
    pub fn json<T: serde::Serialize>(value: &T) -> Result<Body, AppError> {
        let bytes = serde_json::to_vec(value).map_err(|e| AppError::Internal(anyhow::anyhow!("JSON: {e}")))?;
        Ok(Body::new(Body::JSON, Bytes::from(bytes)))
    }

    pub fn identity(&self) -> &Bytes {
        &self.identity
    }

    /// A 200 answer in the best form `request` accepts (`Vary: Accept-Encoding`).
    pub fn respond(&self, request: &HeaderMap) -> Response {
        let (bytes, encoding) = match Encoding::accepted(request) {
            Encoding::Brotli if !self.br.is_empty() => (self.br.clone(), Some("br")),
            Encoding::Brotli | Encoding::Gzip if !self.gzip.is_empty() => (self.gzip.clone(), Some("gzip")),
            _ => (self.identity.clone(), None),
        };
        let mut resp = (StatusCode::OK, bytes).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, self.content_type.clone());
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if let Some(e) = encoding {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
        }
        resp
    }
}

fn gzip(bytes: &[u8]) -> Bytes {
    let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 4), flate2::Compression::new(6));
    // Writing to a Vec cannot fail.
    let _ = e.write_all(bytes);
    e.finish().map(Bytes::from).unwrap_or_default()
}

fn brotli(bytes: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(bytes.len() / 4);
    {
        let mut w = ::brotli::CompressorWriter::new(&mut out, 4096, BROTLI_QUALITY, 22);
        if w.write_all(bytes).is_err() {
            return Bytes::new();
        }
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests;
