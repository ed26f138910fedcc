//! Operations: `/readyz`, `/metrics`, the in-house usage counts and the operator's
//! webhook, against the real router and a real HTTP listener standing in for Discord or Slack.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use carburoam::db::Db;
use carburoam::db::usage::{self, UsageRow};
use carburoam::etl::Job;
use carburoam::feed::download::{FetchOptions, Fetcher};
use carburoam::feed::{ImportOptions, import_file};
use carburoam::services::notify::Notifier;
use carburoam::startup::ServeConfig;
use carburoam::web::state::AppState;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::app::{TestApp, spawn_app_and_state};
use crate::db_test;
use crate::helpers::fixture;

use crate::app::PASSWORD;

/// Serves the application over `db` on 127.0.0.1:0, after `configure` has adjusted its settings
/// (a metrics token, a webhook). Returns the app and its state (to reach the registry).
async fn spawn_with(db: &Db, configure: impl FnOnce(&mut ServeConfig)) -> (TestApp, AppState) {
    spawn_app_and_state(db.clone(), configure).await
}

async fn exec(db: &Db, sql: &'static str, bind: i64) {
    match db {
        Db::Sqlite(p) => sqlx::query(sql).bind(bind).execute(p).await.map(|_| ()),
        Db::Postgres(p) => sqlx::query(sql).bind(bind).execute(p).await.map(|_| ()),
    }
    .expect(sql);
}

// ---------------------------------------------------------------------------------------------
// /readyz

db_test!(readyz_needs_a_recent_successful_run, |t| {
    let (app, _) = spawn_with(&t.db, |_| {}).await;

    let r = app.get("/readyz").await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.header("cache-control"), "no-store");
    let v = r.json();
    assert_eq!(v["database"], "ok");
    assert_eq!(v["ready"], false);
    assert_eq!(v["data_age_secs"], Value::Null);
    assert_eq!(v["reason"], "no data loaded yet");
    // Alive all the same.
    assert_eq!(app.get("/healthz").await.status, 200);

    // The fixture's snapshot is old, but the run that loaded it just ended: ready.
    import_file(&t.db, &fixture("snapshot_b.xml"), &Default::default()).await.expect("import");
    let r = app.get("/readyz").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["ready"], true);
    assert_eq!(v["database"], "ok");
    assert!(v["data_age_secs"].as_i64().is_some_and(|a| (0..60).contains(&a)), "{v}");
    assert!(v.get("reason").is_none(), "{v}");

    // The last success ended three hours ago: not ready.
    exec(&t.db, "UPDATE etl_runs SET finished_at = $1", carburoam::db::now() - 3 * 3600).await;
    let r = app.get("/readyz").await;
    assert_eq!(r.status, 503, "{}", r.text);
    let v = r.json();
    assert_eq!(v["ready"], false);
    assert_eq!(v["database"], "ok");
    assert_eq!(v["reason"], "data older than 2 h");
    assert!(v["data_age_secs"].as_i64().is_some_and(|a| a >= 3 * 3600), "{v}");
});

// ---------------------------------------------------------------------------------------------
// /metrics

/// The value of the sample `line_start` (metric name and labels) in an exposition, if present.
fn sample(text: &str, line_start: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(line_start)?.strip_prefix(' ')?.parse().ok())
}

const TOKEN: &str = "s3cret-token";

/// `GET /metrics` with the bearer token.
async fn scrape(app: &TestApp) -> crate::app::Reply {
    app.send(app.client.get(app.url("/metrics")).bearer_auth(TOKEN)).await
}

db_test!(metrics_count_requests_by_route_pattern, |t| {
    import_file(&t.db, &fixture("snapshot_b.xml"), &Default::default()).await.expect("import");
    let (app, _) = spawn_with(&t.db, |c| c.metrics_token = Some(TOKEN.into())).await;
    for id in ["92330002", "29200003"] {
        assert_eq!(app.get(&format!("/api/v1/stations/{id}")).await.status, 200);
    }
    assert_eq!(app.get("/api/v1/stations/99999999").await.status, 404);
    assert_eq!(app.get("/no/such/page").await.status, 404);
    assert_eq!(app.get("/api/v1/no-such-endpoint").await.status, 404);
    assert_eq!(app.client.post(app.url("/healthz")).send().await.expect("post").status(), 405);

    let r = scrape(&app).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), carburoam::web::metrics::CONTENT_TYPE);
    assert!(r.text.ends_with("# EOF\n"), "{}", r.text);
    let m = &r.text;
    let requests = |labels: &str| sample(m, &format!("carburoam_http_requests_total{{{labels}}}"));
    assert_eq!(requests(r#"route="/api/v1/stations/{id}",method="GET",status="200""#), Some(2.0), "{m}");
    assert_eq!(requests(r#"route="/api/v1/stations/{id}",method="GET",status="404""#), Some(1.0), "{m}");
    // Both fallbacks (pages and API) are one bounded label.
    assert_eq!(requests(r#"route="unmatched",method="GET",status="404""#), Some(2.0), "{m}");
    assert_eq!(requests(r#"route="/healthz",method="POST",status="405""#), Some(1.0), "{m}");
    assert!(!m.contains("92330002") && !m.contains("no-such") && !m.contains("__private"), "{m}");

    let hist = "carburoam_http_request_duration_seconds";
    assert!(m.contains(&format!("# TYPE {hist} histogram")));
    assert_eq!(sample(m, &format!(r#"{hist}_count{{route="/api/v1/stations/{{id}}"}}"#)), Some(3.0), "{m}");
    assert_eq!(sample(m, &format!(r#"{hist}_bucket{{le="+Inf",route="/api/v1/stations/{{id}}"}}"#)), Some(3.0));
    assert!(sample(m, &format!(r#"{hist}_bucket{{le="5.0",route="/api/v1/stations/{{id}}"}}"#)).is_some());
    assert!(sample(m, &format!(r#"{hist}_bucket{{le="0.001",route="/api/v1/stations/{{id}}"}}"#)).is_some());

    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(sample(m, &format!(r#"carburoam_build_info{{version="{version}"}}"#)), Some(1.0), "{m}");
    assert_eq!(sample(m, r#"carburoam_etl_runs_total{status="success"}"#), Some(1.0), "{m}");
    assert!(sample(m, "carburoam_etl_run_duration_seconds").is_some_and(|d| d >= 0.0), "{m}");
    let refreshed = sample(m, "carburoam_last_successful_refresh_timestamp_seconds").expect("last refresh");
    assert!((refreshed - carburoam::db::now() as f64).abs() < 60.0, "{m}");

    // The scrape itself is counted by the next one.
    let m = scrape(&app).await.text;
    assert_eq!(sample(&m, r#"carburoam_http_requests_total{route="/metrics",method="GET",status="200"}"#), Some(1.0));
});

db_test!(metrics_require_the_bearer_token_when_set, |t| {
    let (app, _) = spawn_with(&t.db, |c| c.metrics_token = Some(TOKEN.into())).await;
    let r = app.get("/metrics").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), "Bearer");
    assert!(!r.text.contains("carburoam_"), "{}", r.text);
    let r = app.send(app.client.get(app.url("/metrics")).bearer_auth("wrong")).await;
    assert_eq!(r.status, 401);
    let r = scrape(&app).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("carburoam_build_info"), "{}", r.text);
    // No run yet: the last refresh is the epoch, so an alert on the data's age fires.
    assert!(r.text.contains("carburoam_last_successful_refresh_timestamp_seconds 0\n"), "{}", r.text);
});

// The figures list the admin routes' hits, so they are not public by default.
db_test!(metrics_are_closed_without_a_token_and_open_on_their_own_listener, |t| {
    let (app, _) = spawn_with(&t.db, |_| {}).await;
    for r in [app.get("/metrics").await, scrape(&app).await] {
        assert_eq!(r.status, 404, "{}", r.text);
        assert!(!r.text.contains("carburoam_"), "{}", r.text);
    }

    // `--metrics-bind`: a second listener serving /metrics alone, without a token, while the
    // main address keeps answering 404.
    let dir = tempfile::tempdir().expect("dir");
    let mut cfg = crate::app::local_config(dir.path());
    cfg.metrics_bind = Some("127.0.0.1:0".into());
    let server = crate::app::build(cfg, t.db.clone()).await;
    let main = format!("http://{}", server.local_addr().expect("address"));
    let metrics = format!("http://{}", server.metrics_addr().expect("a metrics listener").expect("address"));
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(server.run_until(shutdown.clone()));
    let get = |url: String| {
        let client = app.client.clone();
        async move { client.get(url).send().await.expect("request") }
    };
    let r = get(format!("{metrics}/metrics")).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("body");
    assert!(text.contains("carburoam_build_info"), "{text}");
    assert!(text.contains("carburoam_last_successful_refresh_timestamp_seconds 0\n"), "{text}");
    assert_eq!(get(format!("{metrics}/")).await.status(), 404);
    assert_eq!(get(format!("{metrics}/api/v1/status")).await.status(), 404);
    assert_eq!(get(format!("{main}/metrics")).await.status(), 404);
    assert_eq!(get(format!("{main}/healthz")).await.status(), 200);
    // Both listeners stop with the application.
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), running).await.expect("stops").expect("task").expect("run");
    assert!(app.client.get(format!("{metrics}/metrics")).send().await.is_err(), "the metrics listener is closed");
});

// ---------------------------------------------------------------------------------------------
// Usage counts

/// `(page views, API calls)` summed over the last two days (robust to a test run at midnight).
async fn usage_totals(db: &Db) -> (i64, i64) {
    let since = usage::days_back(carburoam::db::now(), 2);
    let days = usage::per_day(db, since).await.expect("per_day");
    days.iter().fold((0, 0), |(p, a), (_, pages, api)| (p + pages, a + api))
}

db_test!(usage_is_counted_per_day_and_route_and_flushed_once, |t| {
    import_file(&t.db, &fixture("snapshot_b.xml"), &Default::default()).await.expect("import");
    let (app, state) = spawn_with(&t.db, |_| {}).await;
    // Page views: 3.
    for path in ["/", "/", "/stations/92330002"] {
        assert_eq!(app.get(path).await.status, 200, "{path}");
    }
    // API calls: 4.
    for path in
        ["/api/v1/stations/92330002", "/api/v1/stations/29200003", "/api/v1/stations/92330002", "/api/v1/status"]
    {
        assert_eq!(app.get(path).await.status, 200, "{path}");
    }
    // Not counted: probes, the scrape, failures, non-GET requests, unmatched paths.
    for path in ["/healthz", "/readyz", "/metrics", "/stations/99999999", "/api/v1/stations/99999999", "/nope"] {
        app.get(path).await;
    }
    app.send(app.client.post(app.url("/login")).form(&[("login", "x")])).await;

    state.metrics.flush(&t.db).await.expect("flush");
    assert_eq!(usage_totals(&t.db).await, (3, 4));
    let today = usage::utc_day(carburoam::db::now());
    let per_day = usage::per_day(&t.db, today).await.expect("per_day");
    assert!(per_day.len() == 1 && per_day[0].0 == today, "{per_day:?}");

    // A second flush with nothing new adds nothing; new requests add up.
    state.metrics.flush(&t.db).await.expect("flush");
    assert_eq!(usage_totals(&t.db).await, (3, 4));
    app.get("/").await;
    app.get("/api/v1/stations/29200003").await;
    state.metrics.flush(&t.db).await.expect("flush");
    state.metrics.flush(&t.db).await.expect("flush");
    assert_eq!(usage_totals(&t.db).await, (4, 5));

    let top = usage::top_routes(&t.db, today, 3).await.expect("top");
    assert_eq!(
        top,
        vec![
            ("/api/v1/stations/{id}".to_owned(), true, 4),
            ("/".to_owned(), false, 3),
            ("/api/v1/status".to_owned(), true, 1)
        ]
    );

    // Upserts add to earlier days' rows too, and old days are deleted by the cleaning query.
    let old = today - 500 * 86_400;
    let row = |day, count| UsageRow { day, route: "/about".into(), api: false, count };
    usage::add(&t.db, &[row(old, 2)]).await.expect("add");
    usage::add(&t.db, &[row(old, 5)]).await.expect("add");
    assert_eq!(usage::per_day(&t.db, old).await.expect("per_day")[0], (old, 7, 0));
    let cutoff = usage::days_back(carburoam::db::now(), usage::RETENTION_DAYS);
    assert_eq!(usage::delete_older_than(&t.db, cutoff).await.expect("delete"), 1);
    assert_eq!(usage::per_day(&t.db, old).await.expect("per_day").len(), 1);
    assert_eq!(usage_totals(&t.db).await, (4, 5));
});

// ---------------------------------------------------------------------------------------------
// Webhook

/// A stand-in for a Discord or Slack incoming webhook: records each POSTed JSON body and answers
/// with the given statuses in turn, then 204.
struct WebhookSink {
    url: String,
    bodies: mpsc::UnboundedReceiver<(String, Value)>,
}

#[derive(Clone)]
struct SinkState {
    tx: mpsc::UnboundedSender<(String, Value)>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
}

impl WebhookSink {
    async fn start(statuses: &[u16]) -> WebhookSink {
        async fn hook(State(s): State<SinkState>, headers: HeaderMap, body: axum::body::Bytes) -> StatusCode {
            let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let _ = s.tx.send((content_type, json));
            let next = s.statuses.lock().expect("statuses").pop_front().unwrap_or(204);
            StatusCode::from_u16(next).expect("status")
        }
        let (tx, bodies) = mpsc::unbounded_channel();
        let state = SinkState { tx, statuses: Arc::new(Mutex::new(statuses.iter().copied().collect())) };
        let app = axum::Router::new().route("/hooks/{secret}", axum::routing::post(hook)).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hooks/s3cret", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("sink") });
        WebhookSink { url, bodies }
    }

    /// The next message's text, checking it is the JSON both services read.
    async fn next(&mut self) -> String {
        let (content_type, body) = tokio::time::timeout(Duration::from_secs(10), self.bodies.recv())
            .await
            .expect("a notification within 10 s")
            .expect("sink running");
        assert_eq!(content_type, "application/json");
        let text = body["content"].as_str().expect("content").to_owned();
        assert_eq!(body["text"], text, "Slack's field equals Discord's");
        text
    }

    /// Asserts nothing more arrives within `wait`.
    async fn assert_quiet(&mut self, wait: Duration) {
        if let Ok(Some(extra)) = tokio::time::timeout(wait, self.bodies.recv()).await {
            panic!("unexpected notification: {extra:?}");
        }
    }
}

async fn register(app: &TestApp, username: &str) -> reqwest::StatusCode {
    let fields = [
        ("username", username),
        ("display_name", "Léa"),
        ("email", &format!("{username}@example.org")),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
        ("fuel", "E10"),
    ];
    app.post_form("/register", &fields).await.status
}

db_test!(webhook_hears_of_new_users_without_slowing_registration, |t| {
    let mut sink = WebhookSink::start(&[]).await;
    let url = sink.url.clone();
    let (app, _) = spawn_with(&t.db, |c| c.webhook_url = Some(url.into())).await;
    assert_eq!(register(&app, "lea").await, 303);
    let text = sink.next().await;
    assert_eq!(text, "New Carburoam user: lea");
    // A refused registration (the same username, from another browser) tells nobody.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client");
    let other = TestApp { client, address: app.address.clone(), db: t.db.clone() };
    assert_eq!(register(&other, "lea").await, 422);
    sink.assert_quiet(Duration::from_millis(500)).await;

    // A webhook that accepts connections and never answers: each attempt waits for the 5 s
    // timeout, which a registration must not.
    let black_hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead = format!("http://{}/hooks/s3cret", black_hole.local_addr().expect("address"));
    let url = dead.clone();
    let (app, _) = spawn_with(&t.db, |c| c.webhook_url = Some(url.into())).await;
    app.csrf().await;
    let started = Instant::now();
    assert_eq!(register(&app, "tom").await, 303);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "registration took {took:?} with a dead webhook");
    drop(black_hole);
});

/// A feed job over `feed` (a local file) that notifies `notifier`.
fn job(db: &Db, feed: &std::path::Path, notifier: &Notifier) -> Job {
    Job {
        db: db.clone(),
        fetcher: Arc::new(Fetcher::new(FetchOptions::default()).expect("fetcher")),
        feed_url: feed.display().to_string(),
        holder: carburoam::etl::holder_id(),
        import: ImportOptions::default(),
        notifier: notifier.clone(),
        alerts: None,
    }
}

db_test!(webhook_hears_once_of_three_failed_runs_in_a_row, |t| {
    let mut sink = WebhookSink::start(&[]).await;
    let notifier = Notifier::new(Some(&sink.url)).expect("notifier");
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = dir.path().join("garbage.xml");
    std::fs::write(&garbage, b"<html>502 Bad Gateway</html> not a feed").expect("write");
    let failing = job(&t.db, &garbage, &notifier);
    let good = job(&t.db, &fixture("snapshot_b.xml"), &notifier);

    failing.run_once(carburoam::domain::Trigger::Schedule).await.expect_err("garbage");
    failing.run_once(carburoam::domain::Trigger::Schedule).await.expect_err("garbage");
    sink.assert_quiet(Duration::from_millis(300)).await;
    failing.run_once(carburoam::domain::Trigger::Schedule).await.expect_err("garbage");
    let text = sink.next().await;
    assert!(text.contains("failed 3 times in a row"), "{text}");
    assert!(text.contains("Last error:"), "{text}");
    // The streak goes on: no more messages.
    failing.run_once(carburoam::domain::Trigger::Schedule).await.expect_err("garbage");
    failing.run_once(carburoam::domain::Trigger::Schedule).await.expect_err("garbage");
    sink.assert_quiet(Duration::from_millis(500)).await;

    // A success ends the streak; three new failures make a new message.
    good.run_once(carburoam::domain::Trigger::Schedule).await.expect("good feed");
    for _ in 0..2 {
        failing.run_once(carburoam::domain::Trigger::Schedule).await.expect_err("garbage");
    }
    sink.assert_quiet(Duration::from_millis(300)).await;
    failing.run_once(carburoam::domain::Trigger::Schedule).await.expect_err("garbage");
    assert!(sink.next().await.contains("failed 3 times in a row"));
    sink.assert_quiet(Duration::from_millis(500)).await;
});

#[tokio::test]
async fn webhook_retries_server_errors_but_not_refusals() {
    crate::helpers::init();
    // 503 then 429: retried, delivered at the third attempt.
    let mut sink = WebhookSink::start(&[503, 429]).await;
    let notifier = Notifier::new(Some(&sink.url)).expect("notifier");
    notifier.send("hello").await.expect("delivered after retries");
    for _ in 0..3 {
        assert_eq!(sink.next().await, "hello");
    }

    // 400 will not get better: one attempt, an error naming the host but not the secret path.
    let mut sink = WebhookSink::start(&[400]).await;
    let notifier = Notifier::new(Some(&sink.url)).expect("notifier");
    let err = notifier.send("hello").await.expect_err("refused").to_string();
    assert!(err.contains("127.0.0.1") && err.contains("400") && !err.contains("s3cret"), "{err}");
    assert_eq!(sink.next().await, "hello");
    sink.assert_quiet(Duration::from_millis(300)).await;

    // Nobody listening: retried, then an error without the secret path.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hooks/s3cret", closed.local_addr().expect("address"));
    drop(closed);
    let err = Notifier::new(Some(&url)).expect("notifier").send("hello").await.expect_err("no listener").to_string();
    assert!(!err.contains("s3cret"), "{err}");
}
