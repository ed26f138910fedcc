use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{HeaderMap, HeaderValue, header};
use bytes::Bytes;

use super::{Body, DataVersion, Encoding, Key, Versioned, Weigh};
use crate::domain::Fuel;
use crate::error::AppError;

struct Blob(usize);

impl Weigh for Blob {
    fn weight(&self) -> usize {
        self.0
    }
}

fn v(import: i64) -> DataVersion {
    DataVersion { import: Some(import), names: None, series: 0 }
}

fn key(area: &str) -> Key {
    Key::AreaLine { fuel: Fuel::Gazole, area: area.to_owned() }
}

#[tokio::test]
async fn entries_live_as_long_as_their_data_version() {
    let cache = Versioned::new(10_000);
    let made = AtomicUsize::new(0);
    let get = |version, area: &'static str| {
        let made = &made;
        let cache = &cache;
        async move {
            cache
                .get_or_try(version, key(area), || async {
                    made.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, AppError>(Blob(100))
                })
                .await
                .expect("made")
        }
    };
    get(v(1), "FR").await;
    get(v(1), "FR").await;
    assert_eq!(made.load(Ordering::SeqCst), 1, "the second request is a hit");
    get(v(1), "29").await;
    assert_eq!(made.load(Ordering::SeqCst), 2, "another parameter is another entry");
    get(v(2), "FR").await;
    assert_eq!(made.load(Ordering::SeqCst), 3, "a new version recomputes");
    assert_eq!(cache.stats().entries, 1, "the old version's entries are gone");
    let names = DataVersion { import: Some(2), names: Some(7), series: 0 };
    get(names, "FR").await;
    assert_eq!(made.load(Ordering::SeqCst), 4, "a names import moves the version too");
    let rebuilt = DataVersion { series: 1, ..names };
    get(rebuilt, "FR").await;
    assert_eq!(made.load(Ordering::SeqCst), 5, "a series rebuild moves the version too");
    cache.clear();
    get(rebuilt, "FR").await;
    assert_eq!(made.load(Ordering::SeqCst), 6, "cleared: computed again");
}

#[tokio::test]
async fn the_cache_stays_within_its_bytes() {
    let cache = Versioned::new(8_000);
    for i in 0..100 {
        let area = i.to_string();
        cache.get_or_try(v(1), key(&area), || async { Ok::<_, AppError>(Blob(500)) }).await.expect("made");
        assert!(cache.stats().bytes <= 8_000, "{:?}", cache.stats());
    }
    assert!(cache.stats().entries >= 10);
    // Too large to keep: served, not kept.
    let big = cache.get_or_try(v(1), key("big"), || async { Ok::<_, AppError>(Blob(5_000)) }).await.expect("made");
    assert_eq!(big.0, 5_000);
    let again = AtomicUsize::new(0);
    cache
        .get_or_try(v(1), key("big"), || async {
            again.fetch_add(1, Ordering::SeqCst);
            Ok::<_, AppError>(Blob(5_000))
        })
        .await
        .expect("made");
    assert_eq!(again.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn concurrent_misses_compute_once_and_errors_are_not_kept() {
    let cache = Arc::new(Versioned::new(1 << 20));
    let made = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (cache, made) = (cache.clone(), made.clone());
        tasks.push(tokio::spawn(async move {
            cache
                .get_or_try(v(1), key("FR"), || async move {
                    made.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    Ok::<_, AppError>(Blob(10))
                })
                .await
                .expect("made")
                .0
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), 10);
    }
    assert_eq!(made.load(Ordering::SeqCst), 1, "one computation for sixteen requests");
    let failed = cache.get_or_try(v(1), key("33"), || async { Err::<Blob, _>(AppError::not_found("x")) }).await;
    assert!(failed.is_err());
    let ok = cache.get_or_try(v(1), key("33"), || async { Ok::<_, AppError>(Blob(1)) }).await;
    assert_eq!(ok.expect("made").0, 1, "a failure is retried");
}

fn accept(v: &'static str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
    h
}

#[test]
fn accept_encoding() {
    assert_eq!(Encoding::accepted(&HeaderMap::new()), Encoding::Identity);
    assert_eq!(Encoding::accepted(&accept("gzip, deflate, br, zstd")), Encoding::Brotli);
    assert_eq!(Encoding::accepted(&accept("gzip")), Encoding::Gzip);
    assert_eq!(Encoding::accepted(&accept("br;q=0, gzip;q=0.5")), Encoding::Gzip);
    assert_eq!(Encoding::accepted(&accept("identity")), Encoding::Identity);
    assert_eq!(Encoding::accepted(&accept("*")), Encoding::Brotli);
}

#[tokio::test]
async fn a_body_decodes_to_itself_in_every_form() {
    let page = "<p>Prix moyen du gazole : 1,789 €</p>".repeat(200);
    let body = Body::new(Body::HTML, Bytes::from(page.clone()));
    for (asked, encoding) in [("br", Some("br")), ("gzip", Some("gzip")), ("identity", None)] {
        let resp = body.respond(&accept(asked));
        assert_eq!(resp.headers().get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()), encoding);
        assert_eq!(resp.headers()[header::VARY], "accept-encoding");
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body");
        let mut plain = Vec::new();
        match encoding {
            Some("br") => {
                brotli::BrotliDecompress(&mut &bytes[..], &mut plain).expect("brotli");
            }
            Some(_) => {
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut plain).expect("gzip");
            }
            None => plain = bytes.to_vec(),
        }
        assert_eq!(String::from_utf8(plain).expect("UTF-8"), page);
        assert!(encoding.is_none() || bytes.len() < page.len() / 4);
    }
    let small = Body::new(Body::JSON, Bytes::from_static(b"{}"));
    assert!(small.respond(&accept("br")).headers().get(header::CONTENT_ENCODING).is_none());
}
