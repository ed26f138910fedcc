//! Downloading the feed: timeouts, size cap, retries with backoff, conditional GET.
//!
//! The feed is a ~1.2 MB ZIP refreshed every few minutes by a government server that is
//! sometimes slow, sometimes down, and occasionally answers with an HTML error page. This module
//! only guarantees that what it hands over is the *complete* body the server meant to send,
//! no larger than a cap, fetched at most `retries + 1` times; deciding whether those bytes are a
//! feed is the archive sniffer's job.
//!
//! A source is an `http(s)://` URL, a `file://` URL or a plain local path, so that operators can
//! import a file they downloaded by hand and tests can run without a network.
//!
//! The conditional-GET state (`ETag`, `Last-Modified`) and the hash of the last imported file are
//! kept per URL in the `feed_sources` table ([`load_conditional`],
//! [`crate::db::feed_sources::save_state`], [`crate::db::feed_sources::last_sha256`]) so that a
//! restart does not download an unchanged feed again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_TYPE, ETAG, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER,
};
use tokio::io::AsyncReadExt;

use crate::db::Db;

/// The longest `Retry-After` we are willing to sleep through. The feed is fetched again on the
/// next schedule tick anyway, so a server asking for a longer pause gets it: we give up instead.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Upper bound of one exponential backoff delay, before jitter.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How a [`Fetcher`] talks to the server. The defaults suit the official feed (a ~1.2 MB file
/// every 10 minutes); tests shrink the delays.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Limit for one whole attempt: connecting, sending, and reading the full body.
    pub timeout: Duration,
    /// Limit for establishing the TCP (and TLS) connection, shorter so a dead host fails fast.
    pub connect_timeout: Duration,
    /// Largest body accepted, checked against `Content-Length` before reading and again while
    /// streaming (a server may send no length, or lie). Also caps local files.
    pub max_bytes: u64,
    /// Extra attempts after the first one for transient failures (connect errors, timeouts,
    /// cut connections, 5xx, 429). `0` means a single attempt.
    pub retries: u32,
    /// First retry delay; each further retry doubles it (capped at 60 s), with jitter so that
    /// several instances do not hammer a recovering server in lockstep.
    pub backoff_base: Duration,
    /// `User-Agent` header: lets the feed's operators know who is calling.
    pub user_agent: String,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_bytes: 64 * 1024 * 1024,
            retries: 3,
            backoff_base: Duration::from_secs(1),
            user_agent: concat!(
                env!("CARGO_PKG_NAME"),
                "/",
                env!("CARGO_PKG_VERSION"),
                " (+self-hosted fuel price finder)"
            )
            .to_owned(),
        }
    }
}

/// Validators from the previous download of a URL, sent back so an unchanged feed costs a 304
/// instead of a full download.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditional {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Conditional {
    /// No validators: the next fetch downloads unconditionally.
    pub fn none() -> Self {
        Self::default()
    }
}

/// What a fetch produced.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// The server answered 304: the copy we already imported is still current.
    NotModified,
    /// The complete body (never a truncated one), with the validators to store for next time.
    Body {
        bytes: Bytes,
        etag: Option<String>,
        last_modified: Option<String>,
        /// The source as it was asked for (URL or path), for logs and run records.
        source: String,
    },
}

/// Why a download failed. Each variant reads as one line naming the source and the cause.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("GET {url}: the server answered HTTP {status}{detail} (after {attempts} attempt(s))")]
    Http {
        url: String,
        status: u16,
        /// Reason phrase and `Content-Type`, already formatted (", Service Unavailable, text/html").
        detail: String,
        attempts: u32,
    },
    #[error("{source_name}: larger than the cap of {cap} bytes")]
    TooLarge { source_name: String, cap: u64 },
    #[error("GET {url}: timed out ({what}) (after {attempts} attempt(s))")]
    Timeout {
        url: String,
        /// Which limit was hit, e.g. "no complete answer within 60s".
        what: String,
        attempts: u32,
    },
    #[error("GET {url}: {cause} (after {attempts} attempt(s))")]
    Network { url: String, cause: String, attempts: u32 },
    #[error("cannot read the feed file {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("invalid feed source {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

impl DownloadError {
    /// Whether another attempt may succeed: the failure looks transient.
    fn is_retriable(&self) -> bool {
        match self {
            DownloadError::Http { status, .. } => *status >= 500 || *status == 429,
            DownloadError::Timeout { .. } | DownloadError::Network { .. } => true,
            _ => false,
        }
    }

    fn set_attempts(&mut self, n: u32) {
        match self {
            DownloadError::Http { attempts, .. }
            | DownloadError::Timeout { attempts, .. }
            | DownloadError::Network { attempts, .. } => *attempts = n,
            _ => {}
        }
    }
}

/// Downloads feed sources. Holds one HTTP client (connection pool, TLS configuration) built
/// once and reused by every fetch, so keep one `Fetcher` for the life of the process.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    opts: FetchOptions,
}

/// Where a source string points.
enum Source {
    Http(reqwest::Url),
    File(PathBuf),
}

/// One failed attempt: the error, and a delay the server asked for (`Retry-After`), if any.
struct AttemptError {
    error: DownloadError,
    retry_after: Option<Duration>,
}

impl From<DownloadError> for AttemptError {
    fn from(error: DownloadError) -> Self {
        AttemptError { error, retry_after: None }
    }
}

impl Fetcher {
    /// Builds the HTTP client. reqwest is compiled without a built-in crypto provider: the
    /// process-wide one must be installed first ([`crate::tls::install_provider`], done by `main`).
    pub fn new(opts: FetchOptions) -> Result<Fetcher, DownloadError> {
        crate::tls::require_provider().map_err(DownloadError::Client)?;
        let client = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.connect_timeout)
            .user_agent(opts.user_agent.clone())
            .build()
            .map_err(|e| DownloadError::Client(error_chain(&e)))?;
        Ok(Fetcher { client, opts })
    }

    pub fn options(&self) -> &FetchOptions {
        &self.opts
    }

    /// Fetches `source` (an `http(s)://` URL, a `file://` URL or a local path).
    ///
    /// For HTTP, `cond`'s validators are sent as `If-None-Match` / `If-Modified-Since` and a 304
    /// yields [`Fetched::NotModified`]. Transient failures (connect errors, timeouts, cut
    /// connections, 5xx, 429) are retried up to `retries` times with exponential backoff and
    /// jitter, or after the server's `Retry-After` when it is short; 4xx and oversized bodies
    /// fail at once. Local files are always read in full (`cond` is ignored), under the same cap.
    #[tracing::instrument(skip(self, cond))]
    pub async fn fetch(&self, source: &str, cond: &Conditional) -> Result<Fetched, DownloadError> {
        match parse_source(source)? {
            Source::File(path) => {
                let bytes = read_file_capped(&path, self.opts.max_bytes).await?;
                tracing::info!(path = %path.display(), bytes = bytes.len(), "read local feed file");
                Ok(Fetched::Body { bytes, etag: None, last_modified: None, source: source.to_owned() })
            }
            Source::Http(url) => self.fetch_http(source, url, cond).await,
        }
    }

    async fn fetch_http(&self, source: &str, url: reqwest::Url, cond: &Conditional) -> Result<Fetched, DownloadError> {
        let max_attempts = self.opts.retries.saturating_add(1);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            tracing::info!(attempt, max_attempts, "downloading feed");
            let started = std::time::Instant::now();
            match self.attempt(source, &url, cond).await {
                Ok(fetched) => {
                    match &fetched {
                        Fetched::NotModified => {
                            tracing::info!(attempt, "feed not modified (304)")
                        }
                        Fetched::Body { bytes, .. } => tracing::info!(
                            attempt,
                            bytes = bytes.len(),
                            elapsed_ms = started.elapsed().as_millis() as u64,
                            "feed downloaded"
                        ),
                    }
                    return Ok(fetched);
                }
                Err(AttemptError { mut error, retry_after }) => {
                    error.set_attempts(attempt);
                    if !error.is_retriable() || attempt >= max_attempts {
                        tracing::warn!(attempt, error = %error, "feed download failed");
                        return Err(error);
                    }
                    let backoff = backoff_delay(self.opts.backoff_base, attempt);
                    let delay = match retry_after {
                        Some(asked) if asked > MAX_RETRY_AFTER => {
                            tracing::warn!(
                                attempt,
                                retry_after_s = asked.as_secs(),
                                error = %error,
                                "server asks to come back much later: giving up for now"
                            );
                            return Err(error);
                        }
                        Some(asked) => asked.max(backoff),
                        None => backoff,
                    };
                    tracing::warn!(
                        attempt,
                        max_attempts,
                        delay_ms = delay.as_millis() as u64,
                        error = %error,
                        "feed download attempt failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// One GET, body included. Errors carry `attempts: 0`; the caller fills it in.
    async fn attempt(&self, source: &str, url: &reqwest::Url, cond: &Conditional) -> Result<Fetched, AttemptError> {
        let mut req = self.client.get(url.clone());
        if let Some(etag) = cond.etag.as_deref().and_then(header_value) {
            req = req.header(IF_NONE_MATCH, etag);
        }
        if let Some(lm) = cond.last_modified.as_deref().and_then(header_value) {
            req = req.header(IF_MODIFIED_SINCE, lm);
        }
        let mut resp = req.send().await.map_err(|e| self.map_reqwest(source, e))?;
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            let retry_after = parse_retry_after(resp.headers());
            let mut detail = String::new();
            if let Some(reason) = status.canonical_reason() {
                detail.push(' ');
                detail.push_str(reason);
            }
            if let Some(ct) = content_type(resp.headers()) {
                detail.push_str(", ");
                detail.push_str(&ct);
            }
            if let Some(after) = retry_after {
                detail.push_str(&format!(", Retry-After {}s", after.as_secs()));
            }
            return Err(AttemptError {
                error: DownloadError::Http { url: source.to_owned(), status: status.as_u16(), detail, attempts: 0 },
                retry_after,
            });
        }

        let cap = self.opts.max_bytes;
        let too_large = || DownloadError::TooLarge { source_name: source.to_owned(), cap };
        let expected = resp.content_length();
        if expected.is_some_and(|n| n > cap) {
            return Err(too_large().into());
        }
        let etag = header_string(resp.headers(), &ETAG);
        let last_modified = header_string(resp.headers(), &LAST_MODIFIED);
        let ctype = content_type(resp.headers());

        // `expected <= cap` here, so the pre-allocation is bounded by the cap.
        let mut buf = BytesMut::with_capacity(expected.unwrap_or(0) as usize);
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.map_reqwest(source, e))? {
            if buf.len() as u64 + chunk.len() as u64 > cap {
                return Err(too_large().into());
            }
            buf.extend_from_slice(&chunk);
        }
        // hyper already fails a body that ends before its Content-Length; checked again here
        // because a short feed must never be mistaken for a complete one.
        if let Some(n) = expected
            && buf.len() as u64 != n
        {
            return Err(DownloadError::Network {
                url: source.to_owned(),
                cause: format!(
                    "body cut short: received {} of {n} announced bytes{}",
                    buf.len(),
                    ctype.map(|c| format!(" ({c})")).unwrap_or_default()
                ),
                attempts: 0,
            }
            .into());
        }
        Ok(Fetched::Body { bytes: buf.freeze(), etag, last_modified, source: source.to_owned() })
    }

    fn map_reqwest(&self, source: &str, e: reqwest::Error) -> AttemptError {
        let url = source.to_owned();
        let error = if e.is_timeout() {
            let what = if e.is_connect() {
                format!("no connection within {:?}", self.opts.connect_timeout)
            } else {
                format!("no complete answer within {:?}", self.opts.timeout)
            };
            DownloadError::Timeout { url, what, attempts: 0 }
        } else {
            // Reading the body fails as "decode" in reqwest when no decompression is enabled.
            let cause = if e.is_body() || e.is_decode() {
                format!("connection broken while reading the body: {}", error_chain(&e))
            } else if e.is_connect() {
                format!("cannot connect: {}", error_chain(&e))
            } else {
                error_chain(&e)
            };
            DownloadError::Network { url, cause, attempts: 0 }
        };
        error.into()
    }
}

/// Classifies a source string. Anything with `scheme://` must be http, https or file; anything
/// else is a local path (which also covers Windows paths like `C:\feed.zip`).
fn parse_source(source: &str) -> Result<Source, DownloadError> {
    let invalid = |reason: String| DownloadError::InvalidUrl { url: source.to_owned(), reason };
    if source.trim().is_empty() {
        return Err(invalid("empty".to_owned()));
    }
    if !source.contains("://") {
        return Ok(Source::File(PathBuf::from(source)));
    }
    let url = reqwest::Url::parse(source).map_err(|e| invalid(e.to_string()))?;
    match url.scheme() {
        "http" | "https" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(invalid("no host".to_owned()));
            }
            Ok(Source::Http(url))
        }
        "file" => url.to_file_path().map(Source::File).map_err(|()| invalid("not a local file path".to_owned())),
        other => Err(invalid(format!("unsupported scheme {other:?} (use http, https, file or a plain path)"))),
    }
}

/// Reads a local file, refusing it (without reading it all) when larger than `cap`.
async fn read_file_capped(path: &Path, cap: u64) -> Result<Bytes, DownloadError> {
    let io = |source: std::io::Error| DownloadError::Io { path: path.to_owned(), source };
    let too_large = || DownloadError::TooLarge { source_name: path.display().to_string(), cap };
    let file = tokio::fs::File::open(path).await.map_err(io)?;
    let len = file.metadata().await.map_err(io)?.len();
    if len > cap {
        return Err(too_large());
    }
    // The file may grow between `metadata` and the read: read at most one byte past the cap.
    let mut buf = Vec::with_capacity(len as usize);
    file.take(cap.saturating_add(1)).read_to_end(&mut buf).await.map_err(io)?;
    if buf.len() as u64 > cap {
        return Err(too_large());
    }
    Ok(Bytes::from(buf))
}

/// `base · 2^(attempt-1)`, capped, then "equal jitter": a random point in the upper half, so
/// the delay still grows but concurrent clients spread out.
fn backoff_delay(base: Duration, attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(20);
    let full = base.saturating_mul(1u32 << exp).min(MAX_BACKOFF);
    let half = full / 2;
    let jitter_ns = rand::random_range(0..=half.as_nanos().min(u64::MAX as u128) as u64);
    half + Duration::from_nanos(jitter_ns)
}

/// `Retry-After` as delta-seconds or an HTTP date.
fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let secs = (at.timestamp() - chrono::Utc::now().timestamp()).max(0);
    Some(Duration::from_secs(secs as u64))
}

fn header_value(s: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(s).ok()
}

fn header_string(headers: &HeaderMap, name: &reqwest::header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    header_string(headers, &CONTENT_TYPE).map(|c| format!("Content-Type {c}"))
}

/// The error's causes on one line. reqwest's own layers ("error sending request for url (…)",
/// "error decoding response body") are generic and repeat the URL we already name, so they are
/// skipped whenever a deeper cause says what actually happened.
fn error_chain(e: &reqwest::Error) -> String {
    let mut out = String::new();
    let mut next: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = next {
        next = err.source();
        if err.is::<reqwest::Error>() && next.is_some() {
            continue;
        }
        let text = match err.downcast_ref::<reqwest::Error>() {
            Some(re) => match re.url() {
                Some(u) => re.to_string().replace(&format!(" for url ({u})"), ""),
                None => re.to_string(),
            },
            None => err.to_string(),
        };
        // Layers often repeat their source's message; keep each text once.
        if !text.is_empty() && !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

/// The stored validators of `url`, or none when it was never fetched.
pub async fn load_conditional(db: &Db, url: &str) -> Result<Conditional, sqlx::Error> {
    let row = crate::db::feed_sources::validators(db, url).await?;
    Ok(row.map(|(etag, last_modified)| Conditional { etag, last_modified }).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        assert!(matches!(
            parse_source("https://donnees.roulez-eco.fr/opendata/instantane_ruptures"),
            Ok(Source::Http(_))
        ));
        assert!(matches!(parse_source("/tmp/x.zip"), Ok(Source::File(p)) if p == Path::new("/tmp/x.zip")));
        assert!(matches!(parse_source("file:///tmp/x.zip"), Ok(Source::File(p)) if p == Path::new("/tmp/x.zip")));
        assert!(matches!(parse_source("feed.zip"), Ok(Source::File(_))));
        assert!(matches!(parse_source("ftp://example.org/x"), Err(DownloadError::InvalidUrl { .. })));
        assert!(matches!(parse_source(""), Err(DownloadError::InvalidUrl { .. })));
        assert!(matches!(parse_source("http://"), Err(DownloadError::InvalidUrl { .. })));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        for attempt in 1..=30 {
            let d = backoff_delay(base, attempt);
            let full = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(MAX_BACKOFF);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn retry_after_seconds() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(parse_retry_after(&h), Some(Duration::ZERO));
    }
}
