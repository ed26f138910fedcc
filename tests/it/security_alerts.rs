//! The alerts' security, on both backends: "send a test" and price alerts go only to a
//! confirmed address and tests are limited in the database (hole 2), IPv6 forms embedding a
//! private IPv4 address are refused (5), a push endpoint of another account stays theirs (7),
//! ntfy tokens with control characters and URLs over 2 KB are refused when saved. Every test
//! here failed before its fix.

use std::time::Duration;

use carburoam::alerts::push::VapidKeys;
use carburoam::alerts::rules::paris_day;
use carburoam::alerts::target::AllowList;
use carburoam::db::alerts::{self as q, TestSlot};
use carburoam::db::{Db, push};
use carburoam::domain::ChannelKind;

use crate::alerts::{BREST, Ntfy, brest_at, count, first_id, import, register, register_unconfirmed, seed};
use crate::app::{Reply, TestApp, spawn_app_and_state, spawn_app_with, user_id};
use crate::db_test;
use crate::smtp::SmtpSink;

/// Follows Brest, alerts under 1.65 € for Gazole, no quiet hours and a daily cap of `cap`.
async fn follow_brest(app: &TestApp, cap: &str) {
    assert_eq!(app.post_form("/me/stations/add", &[("station_id", &BREST.to_string())]).await.status, 303);
    let rule = [("kind", "threshold"), ("fuel", "Gazole"), ("price", "1,65"), ("where", "mine")];
    let r = app.post_form("/me/alerts/rules", &rule).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let r = app.post_form("/me/alerts/settings", &[("quiet_start", "0:00"), ("quiet_end", "0:00"), ("cap", cap)]).await;
    assert_eq!(r.status, 303, "{}", r.text);
}

/// The id of the user's channel on `/me/alerts`.
async fn channel_id(app: &TestApp) -> String {
    first_id(&app.get("/me/alerts").await.text, "/me/alerts/channels/")
}

/// Posts a form as [`TestApp::post_form`] does, in English (the language switch, then back).
async fn post_form_en(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> Reply {
    assert_eq!(app.get("/lang?to=en&back=%2F").await.status, 303);
    let r = app.post_form(path, fields).await;
    assert_eq!(app.get("/lang?to=fr&back=%2F").await.status, 303);
    r
}

db_test!(tests_and_alerts_go_only_to_a_confirmed_address, |t| {
    seed(&t.db).await;
    let sink = SmtpSink::start().await;
    let (app, state) = spawn_app_and_state(t.db.clone(), |c| c.mail.smtp = Some(sink.settings())).await;
    // Someone registers with an address that is not theirs: it stays unconfirmed.
    let link = register_unconfirmed(&app, &sink, "victim").await;
    follow_brest(&app, "5").await;

    // The page says the address is not confirmed, and where to get the link again.
    let page = app.get("/me/alerts").await;
    assert!(page.text.contains("data-testid=\"email-unconfirmed\""), "{}", page.text);
    assert!(page.text.contains("href=\"/me/profile#p-email\""), "{}", page.text);
    let channel = channel_id(&app).await;

    // "Send a test": refused, with the reason; nothing queued, nothing mailed.
    let test = format!("/me/alerts/channels/{channel}/test");
    for _ in 0..3 {
        let r = app.post_form(&test, &[]).await;
        assert_eq!(r.status, 409, "{}", r.text);
        assert!(r.text.contains("adresse e-mail n’est pas encore confirmée"), "{}", r.text);
    }
    let r = post_form_en(&app, &test, &[]).await;
    assert!(r.text.contains("Your email address is not confirmed yet"), "{}", r.text);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_outbox").await, 0);

    // A price alert: evaluated, but no row for the email channel and no mail.
    import(&t.db, brest_at("1.629", "11:06:00")).await;
    let pass = state.alerts.run_once(carburoam::db::now()).await.expect("pass");
    assert_eq!(pass.delivered.sent, 0, "{pass:?}");
    sink.none_within(Duration::from_millis(500)).await;
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_outbox").await, 0);

    // Once confirmed, the test goes.
    assert_eq!(app.get(link.trim_start_matches(&app.address)).await.status, 200);
    assert!(!app.get("/me/alerts").await.text.contains("data-testid=\"email-unconfirmed\""));
    assert_eq!(app.post_form(&test, &[]).await.status, 303);
    let mail = sink.next().await;
    assert_eq!(mail.to, vec!["victim@example.org".to_owned()]);
    assert_eq!(mail.subject, "Carburoam\u{202f}: message de test");
});

db_test!(tests_are_limited_per_channel_and_user_and_count_in_the_daily_cap, |t| {
    seed(&t.db).await;
    let sink = SmtpSink::start().await;
    let (app, state) = spawn_app_and_state(t.db.clone(), |c| c.mail.smtp = Some(sink.settings())).await;
    register(&app, &sink, "tess").await;
    follow_brest(&app, "3").await;
    let test = format!("/me/alerts/channels/{}/test", channel_id(&app).await);

    // Three tests an hour on a channel, then a clear answer in both languages.
    for _ in 0..3 {
        assert_eq!(app.post_form(&test, &[]).await.status, 303);
    }
    for _ in 0..3 {
        sink.next().await;
    }
    let r = app.post_form(&test, &[]).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(r.text.contains("Pas plus de 3 tests par heure pour ce moyen"), "{}", r.text);
    let r = post_form_en(&app, &test, &[]).await;
    assert_eq!(r.status, 429);
    assert!(r.text.contains("No more than 3 tests an hour for this channel"), "{}", r.text);
    // Another instance over the same database counts the same tests.
    let other = spawn_app_with(t.db.clone(), |c| c.mail.smtp = Some(sink.settings())).await;
    let there = TestApp { address: other.address.clone(), client: app.client.clone(), db: t.db.clone() };
    assert_eq!(there.post_form(&test, &[]).await.status, 429);
    sink.none_within(Duration::from_millis(500)).await;

    // The three tests used the day's cap of 3 alert messages: the alert is recorded, not sent.
    import(&t.db, brest_at("1.629", "11:06:00")).await;
    state.alerts.run_once(carburoam::db::now()).await.expect("pass");
    sink.none_within(Duration::from_millis(500)).await;
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_messages WHERE kind = 'alert'").await, 0);

    // The counter itself, at given times: per channel an hour, per user a day.
    let uid = user_id(&t.db, "tess").await;
    let at = carburoam::db::now() + 10 * 86_400;
    let take = |kind: &'static str, now: i64| {
        let db = t.db.clone();
        async move {
            let mut tx = db.begin().await.expect("begin");
            let slot =
                q::take_test_slot(&mut tx, uid, ChannelKind::parse(kind).expect("channel kind"), now, paris_day(now))
                    .await
                    .expect("slot");
            tx.commit().await.expect("commit");
            slot
        }
    };
    for kind in ["email", "ntfy", "push"] {
        for _ in 0..3 {
            assert_eq!(take(kind, at).await, TestSlot::Taken, "{kind}");
        }
        assert_eq!(take(kind, at + 60).await, TestSlot::ChannelHour, "{kind}");
    }
    assert_eq!(take("email", at + 3601).await, TestSlot::Taken, "an hour later");
    assert_eq!(take("ntfy", at + 3602).await, TestSlot::UserDay, "ten in a day");
    assert_eq!(take("ntfy", at + 86_401).await, TestSlot::Taken, "a day later");
    let day: i64 = carburoam::on_db!(&t.db, p => sqlx::query_scalar::<_, i32>(
        "SELECT count FROM alert_daily WHERE user_id = $1 AND day = $2",
    )
    .bind(uid)
    .bind(paris_day(at))
    .fetch_one(p)
    .await)
    .expect("daily count")
    .into();
    assert!(day >= 9, "tests count in the day's cap: {day}");
});

db_test!(an_ntfy_test_is_one_request_per_accepted_press, |t| {
    let sink = SmtpSink::start().await;
    let ntfy = Ntfy::default();
    let base = ntfy.start().await;
    let (app, state) = spawn_app_and_state(t.db.clone(), |c| {
        c.mail.smtp = Some(sink.settings());
        c.alert_allow_hosts = AllowList::parse("127.0.0.1").expect("allow");
    })
    .await;
    register(&app, &sink, "nina").await;
    // A topic whose server fails: before, each failed test was retried with a backoff.
    let r = app.post_form("/me/alerts/channels/ntfy", &[("url", &format!("{base}/broken"))]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let test = format!("/me/alerts/channels/{}/test", channel_id(&app).await);
    let mut accepted = 0;
    for _ in 0..20 {
        match app.post_form(&test, &[]).await.status.as_u16() {
            303 => accepted += 1,
            429 => {}
            other => panic!("status {other}"),
        }
    }
    assert_eq!(accepted, 3);
    // The app's worker sends them at once: wait until it is done with them.
    for _ in 0..200 {
        let sending = count(&t.db, "SELECT COUNT(*) FROM alert_outbox WHERE state = 'sending'").await;
        if ntfy.requests().len() >= accepted && sending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The worker over the next hours (the retries of an alert would come at 1, 2, 4… minutes).
    let now = carburoam::db::now();
    for later in [0, 61, 200, 500, 1000, 3000, 7200] {
        state.alerts.run_once(now + later).await.expect("pass");
    }
    assert_eq!(ntfy.requests().len(), 3, "one request per accepted test");
    let failed = count(&t.db, "SELECT COUNT(*) FROM alert_outbox WHERE state = 'failed' AND attempts = 1").await;
    assert_eq!(failed, 3);
});

/// A device's keys as a browser sends them: a P-256 point and 16 bytes.
fn device_keys() -> (String, String) {
    use base64::Engine as _;
    (VapidKeys::generate().public, base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()))
}

async fn subscribe(app: &TestApp, endpoint: &str, keys: &(String, String)) -> Reply {
    let fields = [("endpoint", endpoint), ("p256dh", keys.0.as_str()), ("auth", keys.1.as_str())];
    app.post_form("/me/push/subscribe", &fields).await
}

async fn devices(db: &Db) -> Vec<(carburoam::domain::UserId, String, String)> {
    carburoam::on_db!(db, p => sqlx::query_as::<_, (carburoam::domain::UserId, String, String)>(
        "SELECT user_id, endpoint, p256dh FROM push_subscriptions ORDER BY id",
    )
    .fetch_all(p)
    .await)
    .expect("devices")
}

db_test!(a_push_endpoint_of_another_account_stays_theirs, |t| {
    let sink = SmtpSink::start().await;
    let (lea, _state) = spawn_app_and_state(t.db.clone(), |c| c.mail.smtp = Some(sink.settings())).await;
    let zoe = lea.browser();
    register(&lea, &sink, "lea").await;
    register(&zoe, &sink, "zoe").await;
    let endpoint = "https://push.example.org/send/lea-phone";
    let (lea_keys, zoe_keys) = (device_keys(), device_keys());
    assert_eq!(subscribe(&lea, endpoint, &lea_keys).await.status, 200);
    let lea_id = user_id(&t.db, "lea").await;

    // Zoé sends Léa's endpoint (with her own keys): refused, Léa keeps her device and its keys.
    let r = subscribe(&zoe, endpoint, &zoe_keys).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.json()["error"]["code"], "endpoint_taken");
    assert!(r.json()["error"]["message"].as_str().is_some_and(|m| m.contains("autre compte")), "{}", r.text);
    assert_eq!(devices(&t.db).await, vec![(lea_id, endpoint.to_owned(), lea_keys.0.clone())]);
    // The same at the database layer, on both backends.
    let zoe_id = user_id(&t.db, "zoe").await;
    let new = push::NewSubscription { endpoint, p256dh: &zoe_keys.0, auth: &zoe_keys.1, user_agent: "" };
    assert_eq!(push::upsert(&t.db, zoe_id, &new, carburoam::db::now()).await.expect("upsert"), None);
    assert_eq!(devices(&t.db).await, vec![(lea_id, endpoint.to_owned(), lea_keys.0.clone())]);
    // Léa renewing her own keys still works.
    let renewed = device_keys();
    assert_eq!(subscribe(&lea, endpoint, &renewed).await.status, 200);
    assert_eq!(devices(&t.db).await, vec![(lea_id, endpoint.to_owned(), renewed.0)]);
});

/// IPv6 spellings of private IPv4 addresses: refused like the IPv4 address they spell.
const EMBEDDED: [&str; 7] = [
    "https://[::127.0.0.1]/t",
    "https://[::ffff:0:7f00:1]/t",
    "https://[::ffff:0:a9fe:a9fe]/t",
    "https://[2002:7f00:1::1]/t",
    "https://[2002:c0a8:101::1]/t",
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/t",
    "https://[::10.1.2.3]/t",
];

db_test!(ipv6_forms_of_private_ipv4_addresses_are_refused_when_saved, |t| {
    let sink = SmtpSink::start().await;
    let (app, _state) = spawn_app_and_state(t.db.clone(), |c| c.mail.smtp = Some(sink.settings())).await;
    register(&app, &sink, "eve").await;
    let keys = device_keys();
    for url in EMBEDDED {
        let r = app.post_form("/me/alerts/channels/ntfy", &[("url", url)]).await;
        assert_eq!(r.status, 422, "{url}: {}", r.text);
        assert!(r.text.contains("Adresse refusée"), "{url}: {}", r.text);
        let r = subscribe(&app, url, &keys).await;
        assert_eq!(r.status, 400, "{url}: {}", r.text);
        assert_eq!(r.json()["error"]["code"], "endpoint_refused", "{url}");
    }
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_channels").await, 0);
    assert!(devices(&t.db).await.is_empty());
});

db_test!(ntfy_tokens_and_long_urls_are_refused_when_saved, |t| {
    let sink = SmtpSink::start().await;
    let (app, _state) = spawn_app_and_state(t.db.clone(), |c| c.mail.smtp = Some(sink.settings())).await;
    register(&app, &sink, "rob").await;
    let topic = "https://ntfy.example.net/carburoam";
    for token in ["tk\r\nX-Injected: 1", "tk\nsecond", "tk\0", "\ttk"] {
        let r = app.post_form("/me/alerts/channels/ntfy", &[("url", topic), ("token", token)]).await;
        assert_eq!(r.status, 422, "{token:?}: {}", r.text);
        assert!(r.text.contains("Jeton refusé"), "{}", r.text);
    }
    let r = post_form_en(&app, "/me/alerts/channels/ntfy", &[("url", topic), ("token", "a\rb")]).await;
    assert!(r.text.contains("Token refused: no line break"), "{}", r.text);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_channels").await, 0);

    // 2048 bytes are accepted, one more is not, with the bound said.
    let longest = format!("{topic}/{}", "a".repeat(2048 - topic.len() - 1));
    let r = app.post_form("/me/alerts/channels/ntfy", &[("url", &format!("{longest}a"))]).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("elle dépasse 2048 octets"), "{}", r.text);
    let r = post_form_en(&app, "/me/alerts/channels/ntfy", &[("url", &"x".repeat(60_000))]).await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("longer than 2048 bytes"), "{}", r.text);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_channels").await, 0);
    let r = app.post_form("/me/alerts/channels/ntfy", &[("url", &longest), ("token", " tk_ok ")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let uid = user_id(&t.db, "rob").await;
    let saved = q::channels(&t.db, uid).await.expect("channels");
    assert_eq!(saved[0].target.as_deref(), Some(longest.as_str()));
    assert_eq!(saved[0].secret.as_deref(), Some("tk_ok"));

    // Push endpoints too.
    let keys = device_keys();
    let long = format!("https://push.example.org/{}", "a".repeat(2048));
    let r = subscribe(&app, &long, &keys).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json()["error"]["code"], "endpoint_too_long");
    assert!(r.json()["error"]["message"].as_str().is_some_and(|m| m.contains("2048 octets")), "{}", r.text);
    assert!(devices(&t.db).await.is_empty());
});
