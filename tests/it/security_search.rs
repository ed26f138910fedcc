//! The public search under attack, and histories that stop at the data: a search text is bounded
//! (characters and words) before any matching, its matching runs off the async workers, and a
//! station's history never invents days after the newest snapshot. Over HTTP against the real
//! application, on both backends.

use std::time::{Duration, Instant};

use carburoam::domain::{MAX_SEARCH_CHARS, MAX_SEARCH_WORDS};
use carburoam::feed::synth;
use carburoam::feed::{self, ImportOptions};

use crate::app::{TestApp, spawn_app};
use crate::db_test;
use crate::helpers::fixture;

/// `s+` 32,000 times: a 64 KB query that matched every word against every station.
fn worst_query() -> String {
    format!("q={}&fuel=Gazole", "s+".repeat(32_000))
}

async fn get_en(app: &TestApp, client: &reqwest::Client, path_and_query: &str) -> (u16, String) {
    let r = client
        .get(format!("{}{path_and_query}", app.address))
        .header("accept-language", "en")
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

/// A national-size feed: 10,000 stations, a tenth of them in Saint-Étienne (every `s` word
/// starts one of their place words).
async fn national(t: &crate::helpers::TestDb) {
    let opts = ImportOptions { trigger: carburoam::domain::Trigger::Cli, ..ImportOptions::default() };
    feed::import_bytes(&t.db, "national", synth::generate_zip(10_000, 19).into(), &opts).await.expect("feed");
}

db_test!(long_searches_are_refused_with_a_message, |t| {
    national(&t).await;
    let app = spawn_app(t.db.clone()).await;
    let client = reqwest::Client::new();
    for path in ["/stations", "/"] {
        let (status, body) = get_en(&app, &client, &format!("{path}?{}", worst_query())).await;
        assert_eq!(status, 400, "{path}: a refused search is a bad request");
        assert!(body.contains("Search too long: 100 characters at most"), "{path}: the message");
        // The box shows what was typed, bounded: not 64 KB echoed several times.
        assert!(body.len() < 40_000, "{path}: {} bytes", body.len());
        assert!(body.contains(&format!("value=\"{}\"", "s ".repeat(MAX_SEARCH_CHARS / 2).trim_end())), "{path}");
    }
    // Short words, many of them.
    let words = "a+".repeat(MAX_SEARCH_WORDS + 1);
    let (status, body) = get_en(&app, &client, &format!("/stations?q={words}")).await;
    assert_eq!(status, 400);
    assert!(body.contains("Search too long: 12 words at most"));
    // In bounds, the same words are searched (and each distinct word matched once).
    let words = "saint+".repeat(MAX_SEARCH_WORDS);
    let (status, body) = get_en(&app, &client, &format!("/stations?q={words}&fuel=Gazole")).await;
    assert_eq!(status, 200);
    assert!(!body.contains("Search too long"));
    let (status, _) = get_en(&app, &client, "/?q=Besan%C3%A7on").await;
    assert_eq!(status, 200);
    // Suggestions for an over-long text: none, at once.
    let (status, body) = get_en(&app, &client, &format!("/suggest?{}", worst_query())).await;
    assert_eq!((status, body.as_str()), (200, "[]"));
    // The texts say the bounds the code applies.
    for (fr, en) in [
        (carburoam::text::site::FR.search_too_long, carburoam::text::site::EN.search_too_long),
        (carburoam::text::site::FR.search_too_many_words, carburoam::text::site::EN.search_too_many_words),
    ] {
        assert!(fr.contains(&MAX_SEARCH_CHARS.to_string()) || fr.contains(&MAX_SEARCH_WORDS.to_string()));
        assert!(en.contains(&MAX_SEARCH_CHARS.to_string()) || en.contains(&MAX_SEARCH_WORDS.to_string()));
    }
});

db_test!(health_answers_while_eight_clients_send_the_worst_search, |t| {
    national(&t).await;
    let app = spawn_app(t.db.clone()).await;
    let query = std::sync::Arc::new(format!("/stations?{}", worst_query()));
    // Eight clients, each with its own connections, send the worst query 15 times (or until 20 s
    // have passed, so that a stalled server fails the test instead of hanging it).
    let deadline = Instant::now() + Duration::from_secs(20);
    // Each attacker runs on a thread and runtime of its own: the server's workers are the test's,
    // and the clients must not take them.
    let mut attackers = Vec::new();
    for _ in 0..8 {
        let (address, query) = (app.address.clone(), query.clone());
        attackers.push(std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client");
                let mut refused = 0;
                for _ in 0..15 {
                    if Instant::now() > deadline {
                        break;
                    }
                    let r = client.get(format!("{address}{query}")).send().await.expect("request");
                    refused += usize::from(r.status() == 400);
                    r.bytes().await.expect("body");
                }
                refused
            })
        }));
    }
    let probe = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client");
    let mut waits = Vec::new();
    while waits.len() < 200 && Instant::now() < deadline {
        let start = Instant::now();
        let r = probe.get(format!("{}/healthz", app.address)).send().await.expect("healthz");
        assert!(r.status().is_success());
        r.bytes().await.expect("healthz body");
        waits.push(start.elapsed());
        if attackers.iter().all(std::thread::JoinHandle::is_finished) && waits.len() >= 50 {
            break;
        }
    }
    let mut refused = 0;
    for a in attackers {
        refused += a.join().expect("attacker");
    }
    assert_eq!(refused, 8 * 15, "every worst query answered 400 in time");
    waits.sort();
    let at = |q: usize| waits[(waits.len() * q / 100).min(waits.len() - 1)];
    let (median, p95) = (at(50), at(95));
    // Under 20 ms at p99 in a release build on a quiet machine (docs/benchmarks.md). This debug
    // build shares two cores with the rest of the suite, where a single probe can wait for the
    // scheduler: the bounds are on the median and the 95th percentile, which a search holding the
    // workers (seconds per query, as an unbounded one did) moves for every probe.
    assert!(
        median < Duration::from_millis(150) && p95 < Duration::from_millis(1_500),
        "/healthz median {median:?}, p95 {p95:?} over {} probes",
        waits.len()
    );
});

db_test!(a_history_ends_at_the_newest_snapshot, |t| {
    carburoam::feed::import_file(&t.db, &fixture("snapshot_a.xml"), &Default::default()).await.expect("import a");
    let newest = carburoam::db::stations::latest_snapshot_at(&t.db).await.expect("query").expect("a snapshot");
    let last_day = chrono::DateTime::from_timestamp(newest, 0).expect("time").date_naive();
    let app = spawn_app(t.db.clone()).await;
    let client = reqwest::Client::new();
    let (status, body) =
        get_en(&app, &client, "/api/v1/stations/92330002/history?fuel=Gazole&from=2000-01-01&to=2200-12-31&step=day")
            .await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let points = json["points"].as_array().expect("points");
    assert!(!points.is_empty());
    let last = points.last().and_then(|p| p["at"].as_str()).expect("a day");
    assert_eq!(last, last_day.format("%Y-%m-%d").to_string(), "no day after the newest snapshot");
    assert!(points.len() < 10_000);
    // The weekly and monthly steps end there too.
    for step in ["week", "month"] {
        let (_, body) = get_en(
            &app,
            &client,
            &format!("/api/v1/stations/92330002/history?fuel=Gazole&from=2000-01-01&to=2200-12-31&step={step}"),
        )
        .await;
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        let last = json["points"].as_array().and_then(|p| p.last()).and_then(|p| p["at"].as_str()).expect("a day");
        assert!(last <= last_day.format("%Y-%m-%d").to_string().as_str(), "{step}: {last}");
    }
});
