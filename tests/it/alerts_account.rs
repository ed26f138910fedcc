//! Price alerts and the account, on both backends: `/me/export` holds the user's alert
//! settings, rules, channels and push devices without a secret, and deleting the account deletes
//! all of them (rules, settings, channels, messages, outbox, de-duplication records, daily
//! counts, unsubscribe tokens, push devices). Unsubscribe tokens expire and the cleanup job
//! sweeps them.

use carburoam::db::alerts as q;
use carburoam::db::push;

use crate::alerts::{BREST, NOON, alerts, brest_at, count, import, register, rule, seed};
use crate::app::spawn_app_and_state;
use crate::db_test;
use crate::smtp::SmtpSink;

use crate::app::PASSWORD;
const NTFY_TOKEN: &str = "tk_very_secret_ntfy_token";
const ENDPOINT: &str = "https://push.example.net/wpush/v2/capability-path-secret";
const P256DH: &str = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM";
const AUTH: &str = "tBHItJI5svbpez7KI4CCXg";

/// Every table that holds a user's alert data, directly or through a rule, channel or message.
const ALERT_TABLES: [&str; 9] = [
    "alert_rules",
    "alert_settings",
    "alert_channels",
    "alert_messages",
    "alert_outbox",
    "alert_dedup",
    "alert_daily",
    "alert_unsubscribe",
    "push_subscriptions",
];

fn count_sql(table: &str) -> &'static str {
    Box::leak(format!("SELECT COUNT(*) FROM {table}").into_boxed_str())
}

db_test!(export_holds_alerts_without_secrets_and_delete_removes_them, |t| {
    seed(&t.db).await;
    let sink = SmtpSink::start().await;
    let (app, _state) = spawn_app_and_state(t.db.clone(), |c| c.mail.smtp = Some(sink.settings())).await;
    register(&app, &sink, "ines").await;
    let (uid,): (carburoam::domain::UserId,) =
        carburoam::on_db!(&t.db, p => sqlx::query_as("SELECT id FROM users WHERE username = 'ines'")
        .fetch_one(p)
        .await)
        .expect("user");

    // Set through the pages, as the user would.
    assert_eq!(app.post_form("/me/stations/add", &[("station_id", &BREST.to_string())]).await.status, 303);
    let r = app
        .post_form(
            "/me/alerts/rules",
            &[("kind", "threshold"), ("fuel", "Gazole"), ("price", "1,65"), ("where", "mine")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let r = app.post_form("/me/alerts/settings", &[("quiet_start", "0:00"), ("quiet_end", "0:00"), ("cap", "5")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    // An ntfy channel with a token and a push device (their pages check the target over the
    // network: written directly here).
    q::save_channel(
        &t.db,
        uid,
        carburoam::domain::ChannelKind::Ntfy,
        Some("https://ntfy.example.net/carburoam-ines"),
        Some(NTFY_TOKEN),
        false,
        NOON,
    )
    .await
    .expect("ntfy channel");
    let device = push::NewSubscription { endpoint: ENDPOINT, p256dh: P256DH, auth: AUTH, user_agent: "Firefox/140" };
    let id = push::upsert(&t.db, uid, &device, NOON).await.expect("push device").expect("a new device");
    push::mark_success(&t.db, id, NOON + 60).await.expect("push success");

    // An alert: messages, outbox, de-duplication records, daily counts, an unsubscribe token.
    import(&t.db, brest_at("1.629", "11:06:00")).await;
    let pass = alerts(&t.db, &sink, "").run_once(NOON).await.expect("pass");
    assert_eq!(pass.evaluated.triggers, 1, "{pass:?}");
    let mail = sink.next().await;
    assert!(mail.header("List-Unsubscribe").is_some(), "{}", mail.text);
    for table in ALERT_TABLES {
        assert!(count(&t.db, count_sql(table)).await > 0, "{table} has rows before the deletion");
    }

    let r = app.get("/me/export").await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    let a = &doc["alerts"];
    assert_eq!(a["settings"]["quiet_start"], "00:00");
    assert_eq!(a["settings"]["quiet_end"], "00:00");
    assert_eq!(a["settings"]["daily_cap"], 5);
    assert_eq!(a["rules"].as_array().map(Vec::len), Some(1), "{a}");
    assert_eq!(a["rules"][0]["kind"], "threshold");
    assert_eq!(a["rules"][0]["fuel"], "Gazole");
    assert_eq!(a["rules"][0]["price_thousandths"], 1650);
    assert_eq!(a["rules"][0]["paused"], false);
    let channels = a["channels"].as_array().expect("channels");
    let ntfy = channels.iter().find(|c| c["kind"] == "ntfy").expect("the ntfy channel");
    assert_eq!(ntfy["target"], "https://ntfy.example.net/carburoam-ines");
    assert_eq!(ntfy["token_set"], true);
    let email = channels.iter().find(|c| c["kind"] == "email").expect("the email channel");
    assert_eq!(email["token_set"], false);
    assert_eq!(email["delivered_count"], 1);
    assert_eq!(a["push_devices"].as_array().map(Vec::len), Some(1), "{a}");
    assert_eq!(a["push_devices"][0]["endpoint_host"], "push.example.net");
    assert_eq!(a["push_devices"][0]["user_agent"], "Firefox/140");
    assert!(a["push_devices"][0]["created_at"].is_string());
    for secret in [NTFY_TOKEN, "capability-path-secret", P256DH, AUTH] {
        assert!(!r.text.contains(secret), "the export holds no secret ({secret})");
    }

    // Deleting the account deletes every row of its alerts.
    let r = app.post_form("/me/delete", &[("password", PASSWORD)]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.header("location"), "/login?done=deleted");
    for table in ALERT_TABLES {
        assert_eq!(count(&t.db, count_sql(table)).await, 0, "{table} after the deletion");
    }
});

/// What a mail client sends for RFC 8058: a POST without cookies nor CSRF token.
async fn one_click(app: &crate::app::TestApp, token: &str) -> u16 {
    reqwest::Client::new()
        .post(app.url(&format!("/alerts/unsubscribe/{token}")))
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .expect("one-click POST")
        .status()
        .as_u16()
}

db_test!(unsubscribe_tokens_expire_and_are_swept, |t| {
    use carburoam::services::cleanup;
    let sink = SmtpSink::start().await;
    let (app, _state) = spawn_app_and_state(t.db.clone(), |c| c.mail.smtp = Some(sink.settings())).await;
    register(&app, &sink, "leo").await;
    let (uid,): (carburoam::domain::UserId,) =
        carburoam::on_db!(&t.db, p => sqlx::query_as("SELECT id FROM users WHERE username = 'leo'")
        .fetch_one(p)
        .await)
        .expect("user");
    let now = carburoam::db::now();
    let year = q::UNSUBSCRIBE_TOKEN_LIFETIME;
    let old = q::insert_rule(&t.db, uid, &rule("threshold", Some(1600), None), now).await.unwrap().expect("rule");
    let fresh = q::insert_rule(&t.db, uid, &rule("threshold", Some(1500), None), now).await.unwrap().expect("rule");
    let gone = q::insert_rule(&t.db, uid, &rule("drop", None, Some(30)), now).await.unwrap().expect("rule");
    let (old_token, fresh_token, gone_token) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
    let digest = carburoam::auth::secret::digest;
    q::add_unsubscribe(&t.db, &digest(&old_token), &[old], now - year - 60).await.unwrap();
    q::add_unsubscribe(&t.db, &digest(&fresh_token), &[fresh], now - year + 3600).await.unwrap();
    q::add_unsubscribe(&t.db, &digest(&gone_token), &[gone], now).await.unwrap();

    // A link older than a year no longer works, with or without login, and pauses nothing.
    let anon = app.browser();
    assert_eq!(anon.get(&format!("/alerts/unsubscribe/{old_token}")).await.status, 404);
    assert_eq!(one_click(&app, &old_token).await, 404);
    assert!(!q::rule(&t.db, uid, old).await.unwrap().expect("rule").paused);
    // One just under a year old still does.
    assert_eq!(anon.get(&format!("/alerts/unsubscribe/{fresh_token}")).await.status, 200);
    // Deleting a rule deletes its tokens (the foreign key cascades, SQLite included).
    assert!(q::delete_rule(&t.db, uid, gone).await.unwrap());
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_unsubscribe").await, 2);

    // The cleaning job sweeps the expired one only.
    let report = cleanup::run_once(&t.db, now).await.expect("cleanup");
    assert_eq!(report.unsubscribe_tokens, 1, "{report:?}");
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_unsubscribe").await, 1);
    assert_eq!(one_click(&app, &fresh_token).await, 200);
    assert!(q::rule(&t.db, uid, fresh).await.unwrap().expect("rule").paused);
    assert!(!q::rule(&t.db, uid, old).await.unwrap().expect("rule").paused);
});
