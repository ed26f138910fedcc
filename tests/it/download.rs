//! The feed downloader against real local servers: an axum app for well-behaved (and
//! misbehaving) HTTP, and a hand-written TCP server for a body cut short.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use carburoam::db::feed_sources::{last_sha256, save_state as save_source_state};
use carburoam::feed::download::{Conditional, DownloadError, FetchOptions, Fetched, Fetcher, load_conditional};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::db_test;

const ETAG: &str = "\"v1-abc\"";
const LAST_MODIFIED: &str = "Tue, 03 Jun 2025 10:00:00 GMT";
const BODY: &[u8] = b"PK\x03\x04 pretend this is a zip";

/// Requests seen per route, so tests can count attempts.
#[derive(Clone, Default)]
struct Counters {
    feed: Arc<AtomicU32>,
    flaky: Arc<AtomicU32>,
    down: Arc<AtomicU32>,
    missing: Arc<AtomicU32>,
    slow: Arc<AtomicU32>,
    big: Arc<AtomicU32>,
    rate_limited: Arc<AtomicU32>,
    busy: Arc<AtomicU32>,
}

fn bump(c: &AtomicU32) -> u32 {
    c.fetch_add(1, Ordering::SeqCst) + 1
}

async fn feed(State(c): State<Counters>, headers: HeaderMap) -> Response {
    bump(&c.feed);
    let h = |name| headers.get(name).and_then(|v: &header::HeaderValue| v.to_str().ok());
    if h(header::IF_NONE_MATCH) == Some(ETAG) || h(header::IF_MODIFIED_SINCE) == Some(LAST_MODIFIED) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, ETAG)]).into_response();
    }
    ([(header::ETAG, ETAG), (header::LAST_MODIFIED, LAST_MODIFIED), (header::CONTENT_TYPE, "application/zip")], BODY)
        .into_response()
}

/// 503 twice, then the body.
async fn flaky(State(c): State<Counters>) -> Response {
    if bump(&c.flaky) <= 2 {
        (StatusCode::SERVICE_UNAVAILABLE, "maintenance").into_response()
    } else {
        BODY.into_response()
    }
}

async fn down(State(c): State<Counters>) -> Response {
    bump(&c.down);
    (StatusCode::BAD_GATEWAY, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], "<html>bad gateway</html>")
        .into_response()
}

async fn missing(State(c): State<Counters>) -> Response {
    bump(&c.missing);
    (StatusCode::NOT_FOUND, "no such feed").into_response()
}

async fn slow(State(c): State<Counters>) -> Response {
    bump(&c.slow);
    tokio::time::sleep(Duration::from_secs(5)).await;
    BODY.into_response()
}

/// 2000 bytes with a Content-Length.
async fn big(State(c): State<Counters>) -> Response {
    bump(&c.big);
    vec![b'x'; 2000].into_response()
}

/// 2000 bytes, chunked (no Content-Length): only the streaming check can stop it.
async fn big_chunked() -> Response {
    let chunks = (0..20).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 100])));
    Body::from_stream(futures_util::stream::iter(chunks)).into_response()
}

/// 429 with a one-second Retry-After, then the body.
async fn rate_limited(State(c): State<Counters>) -> Response {
    if bump(&c.rate_limited) == 1 {
        (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")]).into_response()
    } else {
        BODY.into_response()
    }
}

/// 503 asking to come back in an hour.
async fn busy(State(c): State<Counters>) -> Response {
    bump(&c.busy);
    (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "3600")]).into_response()
}

async fn serve() -> (String, Counters) {
    let counters = Counters::default();
    let app = Router::new()
        .route("/feed", get(feed))
        .route("/flaky", get(flaky))
        .route("/down", get(down))
        .route("/missing", get(missing))
        .route("/slow", get(slow))
        .route("/big", get(big))
        .route("/big-chunked", get(big_chunked))
        .route("/rate-limited", get(rate_limited))
        .route("/busy", get(busy))
        .with_state(counters.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (format!("http://{addr}"), counters)
}

/// Short delays so retries cost milliseconds.
fn opts() -> FetchOptions {
    FetchOptions {
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        max_bytes: 1000,
        retries: 3,
        backoff_base: Duration::from_millis(5),
        ..FetchOptions::default()
    }
}

fn fetcher(opts: FetchOptions) -> Fetcher {
    crate::helpers::init();
    Fetcher::new(opts).expect("client")
}

fn body(f: Fetched) -> (Bytes, Option<String>, Option<String>, String) {
    match f {
        Fetched::Body { bytes, etag, last_modified, source } => (bytes, etag, last_modified, source),
        Fetched::NotModified => panic!("expected a body, got 304"),
    }
}

#[tokio::test]
async fn conditional_get_yields_not_modified() {
    let (base, c) = serve().await;
    let f = fetcher(opts());
    let url = format!("{base}/feed");

    let (bytes, etag, lm, source) = body(f.fetch(&url, &Conditional::none()).await.expect("fetch"));
    assert_eq!(&bytes[..], BODY);
    assert_eq!(etag.as_deref(), Some(ETAG));
    assert_eq!(lm.as_deref(), Some(LAST_MODIFIED));
    assert_eq!(source, url);

    let cond = Conditional { etag, last_modified: lm };
    assert!(matches!(f.fetch(&url, &cond).await.expect("fetch"), Fetched::NotModified));
    // Last-Modified alone is enough too.
    let lm_only = Conditional { etag: None, last_modified: cond.last_modified.clone() };
    assert!(matches!(f.fetch(&url, &lm_only).await.expect("fetch"), Fetched::NotModified));
    // A stale validator gets the body again.
    let stale = Conditional { etag: Some("\"old\"".into()), last_modified: None };
    assert!(matches!(f.fetch(&url, &stale).await.expect("fetch"), Fetched::Body { .. }));
    assert_eq!(c.feed.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn too_large_with_content_length_is_refused_early() {
    let (base, c) = serve().await;
    let url = format!("{base}/big");
    let err = fetcher(opts()).fetch(&url, &Conditional::none()).await.expect_err("over the cap");
    assert!(matches!(err, DownloadError::TooLarge { cap: 1000, .. }), "{err}");
    assert!(err.to_string().contains(&url), "{err}");
    assert_eq!(c.big.load(Ordering::SeqCst), 1, "a too-large body is not retried");

    // Exactly at the cap is fine.
    let ok = fetcher(FetchOptions { max_bytes: 2000, ..opts() })
        .fetch(&url, &Conditional::none())
        .await
        .expect("at the cap");
    assert_eq!(body(ok).0.len(), 2000);
}

#[tokio::test]
async fn too_large_chunked_is_refused_while_streaming() {
    let (base, _c) = serve().await;
    let url = format!("{base}/big-chunked");
    let err = fetcher(opts()).fetch(&url, &Conditional::none()).await.expect_err("over the cap");
    assert!(matches!(err, DownloadError::TooLarge { cap: 1000, .. }), "{err}");
    let ok = fetcher(FetchOptions { max_bytes: 2000, ..opts() })
        .fetch(&url, &Conditional::none())
        .await
        .expect("at the cap");
    assert_eq!(body(ok).0.len(), 2000);
}

#[tokio::test]
async fn slow_server_times_out_then_gives_up() {
    let (base, c) = serve().await;
    let url = format!("{base}/slow");
    let started = Instant::now();
    let err = fetcher(FetchOptions { timeout: Duration::from_millis(200), retries: 1, ..opts() })
        .fetch(&url, &Conditional::none())
        .await
        .expect_err("too slow");
    let elapsed = started.elapsed();
    assert!(matches!(err, DownloadError::Timeout { attempts: 2, .. }), "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(c.slow.load(Ordering::SeqCst), 2, "timeouts are retried");
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

#[tokio::test]
async fn service_unavailable_twice_then_success_takes_three_attempts() {
    let (base, c) = serve().await;
    let f = fetcher(opts());
    let (bytes, ..) = body(f.fetch(&format!("{base}/flaky"), &Conditional::none()).await.expect("third time lucky"));
    assert_eq!(&bytes[..], BODY);
    assert_eq!(c.flaky.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn persistent_5xx_exhausts_retries_with_a_clear_error() {
    let (base, c) = serve().await;
    let url = format!("{base}/down");
    let err = fetcher(FetchOptions { retries: 2, ..opts() })
        .fetch(&url, &Conditional::none())
        .await
        .expect_err("always down");
    assert!(matches!(err, DownloadError::Http { status: 502, attempts: 3, .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&url) && text.contains("502"), "{text}");
    assert!(text.contains("text/html"), "content type kept: {text}");
    assert_eq!(c.down.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn not_found_is_not_retried() {
    let (base, c) = serve().await;
    let url = format!("{base}/missing");
    let err = fetcher(opts()).fetch(&url, &Conditional::none()).await.expect_err("404");
    assert!(matches!(err, DownloadError::Http { status: 404, attempts: 1, .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&url) && text.contains("404 Not Found"), "{text}");
    assert_eq!(c.missing.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn short_retry_after_is_honoured() {
    let (base, c) = serve().await;
    let started = Instant::now();
    let f = fetcher(opts());
    body(f.fetch(&format!("{base}/rate-limited"), &Conditional::none()).await.expect("after the pause"));
    assert_eq!(c.rate_limited.load(Ordering::SeqCst), 2);
    assert!(started.elapsed() >= Duration::from_millis(950), "waited only {:?}", started.elapsed());
}

#[tokio::test]
async fn long_retry_after_gives_up_at_once() {
    let (base, c) = serve().await;
    let started = Instant::now();
    let err = fetcher(opts()).fetch(&format!("{base}/busy"), &Conditional::none()).await.expect_err("busy for an hour");
    assert!(matches!(err, DownloadError::Http { status: 503, .. }), "{err}");
    assert_eq!(c.busy.load(Ordering::SeqCst), 1);
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// A server that promises `announced` bytes, sends `sent`, and closes; counts connections.
async fn truncating_server(announced: usize, sent: usize) -> (String, Arc<AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let conns = Arc::new(AtomicU32::new(0));
    let counter = conns.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                // Read the request head before answering, as a real server would.
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let head =
                    format!("HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {announced}\r\n\r\n");
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&vec![b'z'; sent]).await;
                let _ = sock.flush().await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (format!("http://{addr}/feed.zip"), conns)
}

#[tokio::test]
async fn body_cut_short_is_an_error_not_a_shorter_body() {
    let (url, conns) = truncating_server(900, 100).await;
    let err =
        fetcher(FetchOptions { retries: 2, ..opts() }).fetch(&url, &Conditional::none()).await.expect_err("truncated");
    assert!(matches!(err, DownloadError::Network { attempts: 3, .. }), "{err}");
    assert!(err.to_string().contains(&url), "{err}");
    assert_eq!(conns.load(Ordering::SeqCst), 3, "a cut connection is retried");
}

#[tokio::test]
async fn connection_refused_is_a_network_error() {
    // Bind then drop: the port is very likely closed now.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let url = format!("http://{addr}/feed");
    let err =
        fetcher(FetchOptions { retries: 1, ..opts() }).fetch(&url, &Conditional::none()).await.expect_err("refused");
    assert!(matches!(err, DownloadError::Network { attempts: 2, .. }), "{err}");
    assert!(err.to_string().contains("cannot connect"), "{err}");
}

#[tokio::test]
async fn local_path_and_file_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("feed.zip");
    std::fs::write(&path, BODY).expect("write");
    let f = fetcher(opts());

    let plain = path.to_str().expect("utf-8 path");
    let (bytes, etag, lm, source) = body(f.fetch(plain, &Conditional::none()).await.expect("path"));
    assert_eq!(&bytes[..], BODY);
    assert_eq!((etag, lm), (None, None));
    assert_eq!(source, plain);

    let file_url = url::Url::from_file_path(&path).expect("file url").to_string();
    let (bytes, ..) = body(f.fetch(&file_url, &Conditional::none()).await.expect("file url"));
    assert_eq!(&bytes[..], BODY);

    // The cap applies to files too.
    std::fs::write(&path, vec![0u8; 1001]).expect("write");
    let err = f.fetch(plain, &Conditional::none()).await.expect_err("too large");
    assert!(matches!(err, DownloadError::TooLarge { cap: 1000, .. }), "{err}");
}

#[tokio::test]
async fn missing_file_names_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nope.zip");
    let shown = path.display().to_string();
    let err = fetcher(opts()).fetch(&shown, &Conditional::none()).await.expect_err("missing");
    assert!(matches!(err, DownloadError::Io { .. }), "{err}");
    assert!(err.to_string().contains(&shown), "{err}");
}

#[tokio::test]
async fn unsupported_scheme_is_invalid() {
    let err = fetcher(opts()).fetch("ftp://example.org/feed.zip", &Conditional::none()).await.expect_err("ftp");
    assert!(matches!(err, DownloadError::InvalidUrl { .. }), "{err}");
}

db_test!(conditional_state_round_trip, |t| {
    let url = "https://donnees.roulez-eco.fr/opendata/instantane_ruptures";
    assert_eq!(load_conditional(&t.db, url).await.expect("load"), Conditional::none());
    assert_eq!(last_sha256(&t.db, url).await.expect("sha"), None);

    save_source_state(&t.db, url, Some(ETAG), Some(LAST_MODIFIED), Some("aa11"), 100).await.expect("save");
    assert_eq!(
        load_conditional(&t.db, url).await.expect("load"),
        Conditional { etag: Some(ETAG.into()), last_modified: Some(LAST_MODIFIED.into()) }
    );
    assert_eq!(last_sha256(&t.db, url).await.expect("sha").as_deref(), Some("aa11"));

    // A later check without a hash keeps the hash but replaces the validators.
    save_source_state(&t.db, url, None, Some("Wed, 04 Jun 2025 10:00:00 GMT"), None, 200).await.expect("save again");
    assert_eq!(
        load_conditional(&t.db, url).await.expect("load"),
        Conditional { etag: None, last_modified: Some("Wed, 04 Jun 2025 10:00:00 GMT".into()) }
    );
    assert_eq!(last_sha256(&t.db, url).await.expect("sha").as_deref(), Some("aa11"));

    save_source_state(&t.db, url, Some("\"v2\""), None, Some("bb22"), 300).await.expect("save new hash");
    assert_eq!(last_sha256(&t.db, url).await.expect("sha").as_deref(), Some("bb22"));
    // Other URLs are independent.
    assert_eq!(load_conditional(&t.db, "http://other.example/feed").await.expect("load"), Conditional::none());
});
