//! The page cache: what the pages show that changes only with the data is served
//! from memory per data version. A cached answer must be exactly what a server with an empty
//! cache answers at the same version (nothing outside the version and the parameters may
//! change it), an import or a series rebuild (by another process too) must move the version and
//! the answers with it, a signed-in visitor's page is never shared, and cached bodies come
//! compressed as the client asks. Both backends.

use std::io::Read;
use std::time::{Duration, Instant};

use carburoam::db::Db;

use crate::app::{spawn_app, spawn_app_and_state};
use crate::db_test;
use crate::series::{import, snapshot};

const STATION: i64 = 29_000_001;

fn urls() -> Vec<String> {
    vec![
        "/tendances".to_owned(),
        "/tendances?fuel=E10&dept=29&period=1m".to_owned(),
        "/trends?fuel=Gazole&period=1y".to_owned(),
        format!("/stations/{STATION}"),
        format!("/stations/{STATION}?fuel=E10&range=1y"),
        format!("/api/v1/stations/{STATION}"),
        format!("/api/v1/stations/{STATION}/history?fuel=Gazole&step=day"),
        format!("/api/v1/stations/{STATION}/history?fuel=E10&step=week&from=2025-03-01"),
        "/api/v1/trends?fuel=Gazole&dept=29".to_owned(),
        // Cached but for the prices' ages, filled in per request.
        "/stations?q=Ville&fuel=Gazole".to_owned(),
        "/stations?lat=46.2&lon=5.2&fuel=E10&sort=distance".to_owned(),
    ]
}

/// A page without the visitor's own CSRF token (each client gets its own).
fn shared_part(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let mut out = String::new();
    let mut rest = page;
    while let Some(at) = rest.find(marker) {
        out.push_str(&rest[..at + marker.len()]);
        rest = rest.get(at + marker.len() + 64..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

async fn answers(app: &crate::app::TestApp) -> Vec<String> {
    let mut out = Vec::new();
    for u in urls() {
        let r = app.get(&u).await;
        assert_eq!(r.status, 200, "{u}: {}", r.text);
        out.push(shared_part(&r.text));
    }
    out
}

db_test!(cached_answers_follow_the_data_version, |t| {
    for i in 0..20 {
        import(&t.db, &format!("snapshot-{i}"), snapshot(i)).await;
    }
    let (app, state) = spawn_app_and_state(t.db.clone(), |_| {}).await;
    let first = answers(&app).await;
    let again = answers(&app.browser()).await;
    let stats = state.cache.data.stats();
    assert!(stats.hits >= urls().len() as u64, "the second round comes from the cache: {stats:?}");
    // A server with an empty cache on the same data answers the same, byte for byte: no cached
    // answer depends on anything but the data version and its parameters.
    for (u, a) in urls().iter().zip(&first).filter(|(u, _)| u.starts_with("/stations?")) {
        assert!(a.contains("<time class=\"old\""), "{u}: a list with its prices' ages");
    }
    let fresh = answers(&spawn_app(t.db.clone()).await).await;
    for ((u, a), (b, c)) in urls().iter().zip(&first).zip(again.iter().zip(&fresh)) {
        assert_eq!(a, b, "{u}: the cached answer changed without the data changing");
        assert_eq!(a, c, "{u}: the cached answer is not what the data gives");
    }

    // An import moves the version: every answer shows the new data at once.
    let version = stats.version;
    for i in 20..30 {
        import(&t.db, &format!("snapshot-{i}"), snapshot(i)).await;
    }
    state.index.refresh().await.expect("refresh");
    let after = answers(&app).await;
    assert_ne!(state.cache.data.stats().version, version, "the import moved the data version");
    let fresh = answers(&spawn_app(t.db.clone()).await).await;
    for ((u, before), (a, c)) in urls().iter().zip(&first).zip(after.iter().zip(&fresh)) {
        assert_ne!(before, a, "{u}: the import's data is not shown");
        if a != c {
            let (x, y): (Vec<&str>, Vec<&str>) = (a.lines().collect(), c.lines().collect());
            for (l, m) in x.iter().zip(&y).filter(|(l, m)| l != m) {
                eprintln!("- {l}\n+ {m}");
            }
        }
        assert_eq!(a, c, "{u}: the answer after the import is not what the data gives");
    }
    let trends = app.get("/api/v1/trends?fuel=Gazole&dept=29").await.json();
    assert_eq!(trends["points"].as_array().map(Vec::len), Some(30), "{trends}");
});

db_test!(a_signed_in_visitor_never_gets_a_shared_page, |t| {
    for i in 0..3 {
        import(&t.db, &format!("snapshot-{i}"), snapshot(i)).await;
    }
    let app = spawn_app(t.db.clone()).await;
    let anonymous = app.get("/tendances").await;
    let user = app.browser();
    user.register("gwenola").await;
    let mine = user.get("/tendances").await;
    assert!(mine.text.contains("gwenola"), "the account menu is the user's");
    assert!(!anonymous.text.contains("gwenola"));
    let later = app.browser().get("/tendances").await;
    assert!(!later.text.contains("gwenola"), "a signed-in page was shared");
    assert!(!later.text.contains(&user.csrf().await), "a token was shared");
});

db_test!(cached_answers_come_compressed, |t| {
    for i in 0..3 {
        import(&t.db, &format!("snapshot-{i}"), snapshot(i)).await;
    }
    let app = spawn_app(t.db.clone()).await;
    for u in ["/tendances", "/api/v1/trends?fuel=Gazole", "/stations?q=Brest&fuel=Gazole"] {
        let plain = app.get(u).await;
        for (asked, expected) in [("br", "br"), ("gzip", "gzip"), ("gzip, deflate, br", "br")] {
            let resp = app.client.get(app.url(u)).header("accept-encoding", asked).send().await.expect("request");
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.headers()["content-encoding"], expected, "{u} with {asked}");
            assert!(
                resp.headers().get_all("vary").iter().any(|v| v.to_str().unwrap_or("").contains("ccept-")),
                "{u}: Vary"
            );
            let bytes = resp.bytes().await.expect("body");
            let mut text = String::new();
            if expected == "br" {
                brotli::Decompressor::new(&bytes[..], 4096).read_to_string(&mut text).expect("brotli");
            } else {
                flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut text).expect("gzip");
            }
            assert_eq!(shared_part(&text), shared_part(&plain.text), "{u} with {asked}");
            if plain.text.len() > 4096 {
                assert!(bytes.len() * 2 < plain.text.len(), "{u}: {} of {}", bytes.len(), plain.text.len());
            }
        }
    }
});

db_test!(a_series_rebuild_elsewhere_moves_the_pages_within_five_seconds, |t| {
    for i in 0..5 {
        import(&t.db, &format!("snapshot-{i}"), snapshot(i)).await;
    }
    // Averages off by 0.111 € everywhere, as a series computed by an older program would be:
    // what `carburoam series rebuild` is for.
    let sql = "UPDATE price_series SET average = average + 111, total = total + 111 * stations";
    match &t.db {
        Db::Sqlite(p) => sqlx::query(sql).execute(p).await.map(drop),
        Db::Postgres(p) => sqlx::query(sql).execute(p).await.map(drop),
    }
    .expect(sql);
    // The server has its own pool, as another process would; nobody requests a page while the
    // rebuild runs: the server notices it by itself.
    let (app, state) = spawn_app_and_state(Db::connect(&t.url).await.expect("second pool"), |_| {}).await;
    let wrong = answers(&app).await;
    let version = state.cache.data.stats().version;

    carburoam::history::series::rebuild(&t.db, Duration::from_secs(5)).await.expect("rebuild");
    let rebuilt = Instant::now();
    while state.index.current().data_version() == version {
        assert!(rebuilt.elapsed() < Duration::from_secs(5), "the rebuild did not move the data version within 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let right = answers(&app).await;
    assert_ne!(state.cache.data.stats().version, version, "the pages are cached at the new version");
    let fresh = answers(&spawn_app(t.db.clone()).await).await;
    for ((u, w), (r, f)) in urls().iter().zip(&wrong).zip(right.iter().zip(&fresh)) {
        assert_eq!(r, f, "{u}: the answer after the rebuild is not what the data gives");
        // The trends and the stations' charts (their area lines) show the averages.
        if u.contains("tend") || u.contains("trends") || u.starts_with("/stations/") {
            assert_ne!(w, r, "{u}: the rebuilt averages are not shown");
        }
    }
});
