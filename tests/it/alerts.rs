//! Price alerts, on both backends: each rule type, quiet hours, the daily cap,
//! coalescing, de-duplication across imports and instances, a crash between import and delivery,
//! unsubscribe without login, ntfy through a real local HTTP server, the SSRF guard, and the
//! `/me/alerts` pages (owners only). Mail goes through the real SMTP listener of `smtp.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use carburoam::alerts::Alerts;
use carburoam::alerts::target::AllowList;
use carburoam::db::alerts::{self as q, RuleFields, Settings};
use carburoam::db::{Db, favourites, users};
use carburoam::domain::{ChannelKind, RuleKind};
use carburoam::email::{MailSettings, Mailer};
use carburoam::feed::{ImportOptions, import_bytes, import_file};

use crate::app::{TestApp, spawn_app_and_state};
use crate::db_test;
use crate::helpers::{fixture, sid};
use crate::smtp::{SmtpSink, find_link};

/// 2025-10-27 12:00 in Paris (winter time): outside the default quiet hours.
pub(crate) const NOON: i64 = 1_761_562_800;
const HOUR: i64 = 3600;

pub(crate) const BREST: i64 = 29200003;
const SCEAUX: i64 = 92330002;
const CANNET: i64 = 6110002;

pub(crate) async fn seed(db: &Db) {
    import_file(db, &fixture("snapshot_a.xml"), &Default::default()).await.expect("import a");
    import_file(db, &fixture("snapshot_b.xml"), &Default::default()).await.expect("import b");
}

/// snapshot_b with Brest's Gazole (1.699 at 10:06) moved to `price` at `time` (Paris).
pub(crate) fn brest_at(price: &str, time: &str) -> Bytes {
    let b = std::fs::read(fixture("snapshot_b.xml")).expect("fixture");
    let text = String::from_utf8_lossy(&b).into_owned();
    assert!(text.contains("maj=\"2025-10-26 10:06:00\" valeur=\"1.699\""));
    let changed = replace_bytes(
        &b,
        b"maj=\"2025-10-26 10:06:00\" valeur=\"1.699\"",
        format!("maj=\"2025-10-26 {time}\" valeur=\"{price}\"").as_bytes(),
    );
    Bytes::from(changed)
}

fn replace_bytes(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = hay.windows(from.len()).position(|w| w == from).expect("pattern in the fixture");
    [&hay[..at], to, &hay[at + from.len()..]].concat()
}

pub(crate) async fn import(db: &Db, bytes: Bytes) {
    let opts = ImportOptions { force: true, ..ImportOptions::default() };
    import_bytes(db, "test", bytes, &opts).await.expect("import");
}

async fn user(db: &Db, name: &str) -> carburoam::domain::UserId {
    let email = format!("{name}@example.org");
    users::insert(
        db,
        &users::NewUser {
            username: name,
            username_key: name,
            display_name: name,
            email: &email,
            email_key: &email,
            email_confirmed: true,
            password_hash: "x",
            lang: "fr",
            fuels: &[1],
            now: NOON - 86_400,
        },
    )
    .await
    .expect("user")
}

pub(crate) fn rule(kind: &str, price: Option<i32>, drop_by: Option<i32>) -> RuleFields {
    RuleFields {
        kind: RuleKind::parse(kind).expect("rule kind"),
        fuel: Some(1),
        price,
        drop_by,
        ..RuleFields::default()
    }
}

async fn no_quiet(db: &Db, uid: carburoam::domain::UserId, cap: i16) {
    q::save_settings(db, uid, Settings { quiet_start: 0, quiet_end: 0, daily_cap: cap }).await.expect("settings");
}

pub(crate) fn alerts(db: &Db, sink: &SmtpSink, allow: &str) -> Alerts {
    let dir = std::env::temp_dir().join("carburoam-alerts-test-outbox");
    let mailer = Mailer::new(MailSettings {
        smtp: Some(sink.settings()),
        from: "Carburoam <noreply@carburoam.test>".into(),
        outbox_dir: dir,
    })
    .expect("mailer");
    Alerts::new(db.clone(), mailer, "http://carburoam.test", AllowList::parse(allow).expect("allow"))
        .expect("http client")
}

pub(crate) async fn count(db: &Db, sql: &'static str) -> i64 {
    carburoam::on_db!(db, p => sqlx::query_as::<_, (i64,)>(sql).fetch_one(p).await).expect("count").0
}

db_test!(each_rule_type_fires_once_in_one_message, |t| {
    seed(&t.db).await;
    let sink = SmtpSink::start().await;
    let a = alerts(&t.db, &sink, "");
    let uid = user(&t.db, "zoe").await;
    no_quiet(&t.db, uid, 3).await;
    for s in [CANNET, SCEAUX, BREST] {
        favourites::add(&t.db, uid, sid(s), NOON).await.expect("follow");
    }
    q::insert_rule(&t.db, uid, &rule("threshold", Some(1640), None), NOON).await.unwrap();
    q::insert_rule(&t.db, uid, &rule("drop", None, Some(30)), NOON).await.unwrap();
    q::insert_rule(&t.db, uid, &rule("cheapest", None, None), NOON).await.unwrap();
    let place = RuleFields {
        place: Some("Brest".into()),
        latitude: Some(48.40),
        longitude: Some(-4.49),
        radius_km: Some(10.0),
        ..rule("threshold", Some(1690), None)
    };
    q::insert_rule(&t.db, uid, &place, NOON).await.unwrap();
    // Never met: a threshold below the new price, a drop bigger than it, another fuel.
    q::insert_rule(&t.db, uid, &rule("threshold", Some(1600), None), NOON).await.unwrap();
    q::insert_rule(&t.db, uid, &rule("drop", None, Some(100)), NOON).await.unwrap();
    q::insert_rule(&t.db, uid, &RuleFields { fuel: Some(2), ..rule("drop", None, Some(10)) }, NOON).await.unwrap();
    q::save_channel(&t.db, uid, ChannelKind::Email, None, None, false, NOON).await.unwrap();

    // Brest's Gazole 1.699 → 1.629: under 1.640 and 1.690, a 7-cent drop, the new cheapest
    // (Le Cannet was, at 1.649).
    import(&t.db, brest_at("1.629", "11:06:00")).await;
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_changes").await, 1);
    let pass = a.run_once(NOON).await.expect("pass");
    assert_eq!(pass.evaluated.triggers, 4, "{pass:?}");
    assert_eq!(pass.evaluated.stored.messages, 1, "coalesced: {pass:?}");
    assert_eq!(pass.delivered.sent, 1);
    let mail = sink.next().await;
    assert_eq!(mail.to, vec!["zoe@example.org".to_owned()]);
    assert_eq!(mail.subject, "Carburoam\u{202f}: 4 alertes prix");
    for line in [
        "Gazole à 1,629 € à Brest (votre seuil 1,640 €)",
        "Gazole à 1,629 € à Brest (votre seuil 1,690 €)",
        "Gazole\u{202f}: 1,699 € → 1,629 € à Brest",
        "Gazole\u{202f}: Brest est maintenant la moins chère de vos stations, à 1,629 €",
    ] {
        assert!(mail.text.contains(line), "{line} in {}", mail.text);
    }
    assert!(mail.text.contains("http://carburoam.test/stations/29200003"), "{}", mail.text);
    let unsub = mail.header("List-Unsubscribe").expect("List-Unsubscribe");
    assert!(unsub.starts_with("<http://carburoam.test/alerts/unsubscribe/") && unsub.ends_with('>'), "{unsub}");
    assert_eq!(mail.header("List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
    assert!(!mail.html.is_empty());

    // The same file again, and a replay of the same change: nothing new.
    import(&t.db, brest_at("1.629", "11:06:00")).await;
    carburoam::on_db!(&t.db, p => sqlx::query(
        "INSERT INTO alert_changes (station_id, fuel, old_price, new_price, changed_at, created_at) \
         SELECT station_id, fuel, 1699, 1629, at, 0 FROM price_history WHERE station_id = $1 AND fuel = 1 AND price = 1629",
    )
    .bind(BREST)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("replay");
    let pass = a.run_once(NOON + 60).await.expect("pass");
    assert_eq!(pass.evaluated.stored.duplicates, 4, "{pass:?}");
    assert_eq!(pass.delivered.sent, 0);
    sink.none_within(Duration::from_millis(300)).await;
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_changes").await, 0, "consumed");
});

db_test!(quiet_hours_wait_and_the_daily_cap_holds, |t| {
    seed(&t.db).await;
    let sink = SmtpSink::start().await;
    let a = alerts(&t.db, &sink, "");
    let uid = user(&t.db, "lea").await;
    q::save_settings(&t.db, uid, Settings { quiet_start: 22 * 60, quiet_end: 7 * 60, daily_cap: 1 }).await.unwrap();
    favourites::add(&t.db, uid, sid(BREST), NOON).await.unwrap();
    q::insert_rule(&t.db, uid, &rule("drop", None, Some(10)), NOON).await.unwrap();
    q::save_channel(&t.db, uid, ChannelKind::Email, None, None, false, NOON).await.unwrap();

    // 23:00 in Paris: quiet. The message waits for 07:00.
    let late = NOON + 11 * HOUR;
    import(&t.db, brest_at("1.659", "11:06:00")).await;
    let pass = a.run_once(late).await.unwrap();
    assert_eq!((pass.evaluated.stored.messages, pass.delivered.sent), (1, 0), "{pass:?}");
    // A second drop in the night joins the waiting message.
    import(&t.db, brest_at("1.629", "12:06:00")).await;
    let pass = a.run_once(late + 1800).await.unwrap();
    assert_eq!((pass.evaluated.stored.merged, pass.delivered.sent), (1, 0), "{pass:?}");
    sink.none_within(Duration::from_millis(200)).await;
    // 06:59: still quiet; 07:00: one message with both drops.
    assert_eq!(a.run_once(NOON + 19 * HOUR - 60).await.unwrap().delivered.sent, 0);
    let morning = NOON + 19 * HOUR;
    assert_eq!(a.run_once(morning).await.unwrap().delivered.sent, 1);
    let mail = sink.next().await;
    assert!(mail.text.contains("1,699 € → 1,659 €") && mail.text.contains("1,659 € → 1,629 €"), "{}", mail.text);
    // That was the day's one message: the next drop that day is recorded, not sent.
    import(&t.db, brest_at("1.599", "13:06:00")).await;
    let pass = a.run_once(morning + HOUR).await.unwrap();
    assert_eq!((pass.evaluated.stored.capped, pass.delivered.sent), (1, 0), "{pass:?}");
    sink.none_within(Duration::from_millis(300)).await;
});

db_test!(two_instances_deliver_once_and_a_crash_loses_nothing, |t| {
    seed(&t.db).await;
    let sink = SmtpSink::start().await;
    let uid = user(&t.db, "max").await;
    no_quiet(&t.db, uid, 3).await;
    favourites::add(&t.db, uid, sid(BREST), NOON).await.unwrap();
    q::insert_rule(&t.db, uid, &rule("threshold", Some(1650), None), NOON).await.unwrap();
    q::save_channel(&t.db, uid, ChannelKind::Email, None, None, false, NOON).await.unwrap();
    // A second process on the same database (its own pool).
    let other = Db::connect(&t.url).await.expect("second pool");
    let (a1, a2) = (alerts(&t.db, &sink, ""), alerts(&other, &sink, ""));
    import(&t.db, brest_at("1.629", "11:06:00")).await;
    let (p1, p2) = tokio::join!(a1.run_once(NOON), a2.run_once(NOON));
    let (p1, p2) = (p1.expect("first"), p2.expect("second"));
    assert_eq!(p1.evaluated.stored.messages + p2.evaluated.stored.messages, 1, "{p1:?} {p2:?}");
    assert_eq!(p1.delivered.sent + p2.delivered.sent, 1, "{p1:?} {p2:?}");
    sink.next().await;
    sink.none_within(Duration::from_millis(300)).await;

    // The importing process dies after evaluating, before delivering: the outbox row waits.
    import(&t.db, brest_at("1.699", "12:06:00")).await;
    import(&t.db, brest_at("1.619", "13:06:00")).await;
    let e = carburoam::alerts::engine::evaluate_pending(&t.db, carburoam::db::now()).await.unwrap();
    assert_eq!(e.stored.messages, 1, "{e:?}");
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_outbox WHERE state = 'pending'").await, 1);
    // A new server starts: its worker delivers it, once.
    let (_app, _state) = spawn_app_and_state(other.clone(), |c| c.mail.smtp = Some(sink.settings())).await;
    let mail = sink.next().await;
    assert!(mail.text.contains("1,619 €"), "{}", mail.text);
    sink.none_within(Duration::from_millis(500)).await;
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_outbox WHERE state = 'sent' AND attempts = 1").await, 2);
});

/// A fake ntfy server: records every request, answers 200 on `/ok`, 500 elsewhere.
#[derive(Clone, Default)]
pub(crate) struct Ntfy {
    seen: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl Ntfy {
    pub(crate) async fn start(&self) -> String {
        use axum::routing::post;
        let seen = self.seen.clone();
        let handler = move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                seen.lock().unwrap().push((uri.to_string(), auth, body));
                if uri.path() == "/ok" {
                    (axum::http::StatusCode::OK, "{\"id\":\"x\"}".to_owned())
                } else {
                    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "{\"error\":\"boom\"}".to_owned())
                }
            }
        };
        let app = axum::Router::new().route("/{topic}", post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    pub(crate) fn requests(&self) -> Vec<(String, String, String)> {
        self.seen.lock().unwrap().clone()
    }
}

db_test!(ntfy_delivers_retries_and_pauses_after_a_week, |t| {
    seed(&t.db).await;
    let sink = SmtpSink::start().await;
    let ntfy = Ntfy::default();
    let base = ntfy.start().await;
    let a = alerts(&t.db, &sink, "127.0.0.1");
    let uid = user(&t.db, "ana").await;
    no_quiet(&t.db, uid, 5).await;
    favourites::add(&t.db, uid, sid(BREST), NOON).await.unwrap();
    q::insert_rule(&t.db, uid, &rule("drop", None, Some(10)), NOON).await.unwrap();
    let ch =
        q::save_channel(&t.db, uid, ChannelKind::Ntfy, Some(&format!("{base}/ok")), Some("tok-secret"), false, NOON)
            .await
            .unwrap();
    import(&t.db, brest_at("1.629", "11:06:00")).await;
    assert_eq!(a.run_once(NOON).await.unwrap().delivered.sent, 1);
    let reqs = ntfy.requests();
    assert_eq!(reqs.len(), 1);
    let (uri, auth, body) = &reqs[0];
    assert_eq!(auth, "Bearer tok-secret");
    let u = url::Url::parse(&format!("http://x{uri}")).unwrap();
    let qp: std::collections::HashMap<String, String> = u.query_pairs().into_owned().collect();
    assert_eq!(qp["title"], "Carburoam\u{202f}: alerte prix");
    assert_eq!(qp["priority"], "4");
    assert_eq!(qp["click"], "http://carburoam.test/stations/29200003");
    assert!(body.contains("1,699 € → 1,629 €"), "{body}");
    let c = q::channel(&t.db, uid, ch).await.unwrap().unwrap();
    assert_eq!(c.last_delivered_at, Some(NOON));

    // The server fails: retried with backoff, the error shown without the URL nor the token.
    q::save_channel(&t.db, uid, ChannelKind::Ntfy, Some(&format!("{base}/broken")), None, false, NOON).await.unwrap();
    import(&t.db, brest_at("1.599", "12:06:00")).await;
    let pass = a.run_once(NOON + 60).await.unwrap();
    assert_eq!((pass.delivered.sent, pass.delivered.failed), (0, 1), "{pass:?}");
    let c = q::channel(&t.db, uid, ch).await.unwrap().unwrap();
    let err = c.last_error.clone().unwrap();
    assert!(err.contains("500") && !err.contains("tok-secret") && !err.contains("127.0.0.1"), "{err}");
    assert!(!c.paused);
    assert_eq!(a.run_once(NOON + 90).await.unwrap().delivered.failed, 0, "not before the backoff");
    assert_eq!(a.run_once(NOON + 60 + 60).await.unwrap().delivered.failed, 1, "retried after a minute");
    // Failing for a week: paused, and the user told by email.
    carburoam::on_db!(&t.db, p => sqlx::query("UPDATE alert_channels SET failing_since = $1 WHERE id = $2")
        .bind(NOON - 8 * 86_400).bind(ch).execute(p).await.map(|_| ()))
    .unwrap();
    let pass = a.run_once(NOON + 60 + 180).await.unwrap();
    assert_eq!(pass.delivered.paused_channels, 1, "{pass:?}");
    assert!(q::channel(&t.db, uid, ch).await.unwrap().unwrap().paused);
    let notice = sink.next().await;
    assert_eq!(notice.subject, "Carburoam\u{202f}: un moyen de recevoir vos alertes est en pause");
});

db_test!(alert_targets_refuse_private_and_local_addresses, |t| {
    seed(&t.db).await;
    let sink = SmtpSink::start().await;
    let ntfy = Ntfy::default();
    let base = ntfy.start().await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    let a = alerts(&t.db, &sink, "");
    let uid = user(&t.db, "eve").await;
    no_quiet(&t.db, uid, 20).await;
    favourites::add(&t.db, uid, sid(BREST), NOON).await.unwrap();
    q::insert_rule(&t.db, uid, &rule("drop", None, Some(10)), NOON).await.unwrap();
    let mut price = 1.690;
    for (i, target) in [
        format!("http://127.0.0.1:{port}/ok"),
        format!("https://127.0.0.1:{port}/ok"),
        format!("https://localhost:{port}/ok"),
        "https://169.254.169.254/latest".to_owned(),
        "https://[::1]/ok".to_owned(),
    ]
    .iter()
    .enumerate()
    {
        // Written directly, as if the form's check had been bypassed: delivery checks again.
        let ch = q::save_channel(&t.db, uid, ChannelKind::Ntfy, Some(target), None, false, NOON).await.unwrap();
        price -= 0.020;
        import(&t.db, brest_at(&format!("{price:.3}"), &format!("1{}:30:00", i + 1))).await;
        let pass = a.run_once(NOON + i as i64 * 600).await.unwrap();
        assert!(pass.delivered.sent == 0 && pass.delivered.failed >= 1, "{target}: {pass:?}");
        let err = q::channel(&t.db, uid, ch).await.unwrap().unwrap().last_error.unwrap();
        assert!(err.contains("not allowed") || err.contains("https"), "{target}: {err}");
    }
    assert!(ntfy.requests().is_empty(), "no request reached the local server");
});

/// Registers a user through the site (logged in afterwards) and confirms the address with the
/// link mailed to it: alerts and tests go only to a confirmed address.
pub(crate) async fn register(app: &TestApp, sink: &SmtpSink, name: &str) {
    let link = register_unconfirmed(app, sink, name).await;
    assert_eq!(app.get(link.trim_start_matches(&app.address)).await.status, 200);
}

/// Registers a user through the site (logged in afterwards), leaves the address unconfirmed and
/// returns the confirmation link mailed to it.
pub(crate) async fn register_unconfirmed(app: &TestApp, sink: &SmtpSink, name: &str) -> String {
    let pw = "plume cerise fenêtre 42";
    let email = format!("{name}@example.org");
    let r = app
        .post_form(
            "/register",
            &[
                ("username", name),
                ("display_name", name),
                ("email", &email),
                ("password", pw),
                ("confirm", pw),
                ("fuel", "Gazole"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let mail = sink.next().await;
    find_link(&mail.text, &format!("{}/me/email/confirm?token=", app.address)).expect("confirm link")
}

pub(crate) fn first_id(html: &str, marker: &str) -> String {
    let at = html.find(marker).unwrap_or_else(|| panic!("{marker} in {html}")) + marker.len();
    html[at..].chars().take_while(char::is_ascii_digit).collect()
}

db_test!(alert_pages_for_the_owner_only, |t| {
    seed(&t.db).await;
    let sink = SmtpSink::start().await;
    let (app, _state) = spawn_app_and_state(t.db.clone(), |c| c.mail.smtp = Some(sink.settings())).await;
    register(&app, &sink, "owner").await;
    let me = app.get("/me").await;
    assert!(me.text.contains("href=\"/me/alerts\""), "{}", me.text);
    let page = app.get("/me/alerts").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("data-testid=\"no-rules\""));

    // Bad input: every problem said, nothing stored.
    let r = app
        .post_form(
            "/me/alerts/rules",
            &[
                ("kind", "threshold"),
                ("fuel", "Gazole"),
                ("price", "12"),
                ("where", "place"),
                ("place", ""),
                ("radius", "500"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    for e in ["Un prix entre", "Lieu inconnu", "Un rayon entre"] {
        assert!(r.text.contains(e), "{e} in {}", r.text);
    }
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_rules").await, 0);
    // Created, listed, an email channel made for it.
    let r = app
        .post_form(
            "/me/alerts/rules",
            &[
                ("kind", "threshold"),
                ("fuel", "Gazole"),
                ("price", "1,65"),
                ("where", "place"),
                ("place", "Brest"),
                ("radius", "15"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = app.get("/me/alerts?msg=created").await;
    assert!(
        page.text.contains("Gazole à 1,650 € ou moins, à moins de 15,0 km de Brest")
            || page.text.contains("Gazole à 1,650 € ou moins"),
        "{}",
        page.text
    );
    let rule_id = first_id(&page.text, "data-testid=\"rule-");
    let channel_id = first_id(&page.text, "/me/alerts/channels/");
    // Edited, paused.
    let r = app
        .post_form(&format!("/me/alerts/rules/{rule_id}/save"), &[("kind", "drop"), ("fuel", "E10"), ("drop", "4")])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(app.post_form(&format!("/me/alerts/rules/{rule_id}/pause"), &[]).await.status, 303);
    // An unknown action is the site's 404 page.
    for path in [format!("/me/alerts/rules/{rule_id}/snooze"), format!("/me/alerts/channels/{channel_id}/mute")] {
        let r = app.post_form(&path, &[]).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(r.text.contains("Page introuvable"), "{path}: {}", r.text);
    }
    let page = app.get("/me/alerts").await;
    assert!(
        page.text.contains("E10\u{202f}: baisse d’au moins 0,040 €") && page.text.contains("En pause"),
        "{}",
        page.text
    );
    // Settings: checked, saved.
    assert_eq!(
        app.post_form("/me/alerts/settings", &[("quiet_start", "25:00"), ("quiet_end", "7:00"), ("cap", "3")])
            .await
            .status,
        422
    );
    assert_eq!(
        app.post_form("/me/alerts/settings", &[("quiet_start", "0:00"), ("quiet_end", "0:00"), ("cap", "5")])
            .await
            .status,
        303
    );
    // "Send a test" reaches the mailbox.
    assert_eq!(app.post_form(&format!("/me/alerts/channels/{channel_id}/test"), &[]).await.status, 303);
    let mail = sink.next().await;
    assert_eq!(mail.subject, "Carburoam\u{202f}: message de test");
    // ntfy to a local address: refused by the form.
    let r = app.post_form("/me/alerts/channels/ntfy", &[("url", "http://127.0.0.1:9/topic")]).await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("Adresse refusée"), "{}", r.text);

    // Another user gets 404 for every id of the owner, and changes nothing.
    let other = app.browser();
    register(&other, &sink, "intruder").await;
    for (path, action) in [
        (format!("/me/alerts/rules/{rule_id}/delete"), true),
        (format!("/me/alerts/rules/{rule_id}/resume"), true),
        (format!("/me/alerts/rules/{rule_id}/save"), true),
        (format!("/me/alerts/channels/{channel_id}/test"), true),
        (format!("/me/alerts/channels/{channel_id}/delete"), true),
        (format!("/me/alerts?edit={rule_id}"), false),
    ] {
        let r = if action {
            other.post_form(&path, &[("kind", "cheapest"), ("fuel", "Gazole")]).await
        } else {
            other.get(&path).await
        };
        assert_eq!(r.status, 404, "{path}");
    }
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_rules WHERE paused").await, 1);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_channels").await, 1);
    // And the owner deletes.
    assert_eq!(app.post_form(&format!("/me/alerts/rules/{rule_id}/delete"), &[]).await.status, 303);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_rules").await, 0);
});

db_test!(unsubscribe_pauses_only_that_rule_without_login, |t| {
    seed(&t.db).await;
    let sink = SmtpSink::start().await;
    let (app, state) = spawn_app_and_state(t.db.clone(), |c| c.mail.smtp = Some(sink.settings())).await;
    let uid = user(&t.db, "ugo").await;
    no_quiet(&t.db, uid, 5).await;
    favourites::add(&t.db, uid, sid(BREST), NOON).await.unwrap();
    let drop = q::insert_rule(&t.db, uid, &rule("drop", None, Some(10)), NOON).await.unwrap().unwrap();
    let cheap = q::insert_rule(&t.db, uid, &RuleFields { fuel: Some(2), ..rule("drop", None, Some(10)) }, NOON)
        .await
        .unwrap()
        .unwrap();
    q::save_channel(&t.db, uid, ChannelKind::Email, None, None, false, NOON).await.unwrap();
    import(&t.db, brest_at("1.629", "11:06:00")).await;
    state.alerts.run_once(NOON).await.unwrap();
    let mail = sink.next().await;
    let link = find_link(&mail.text, &format!("{}/alerts/unsubscribe/", app.address)).expect("an unsubscribe link");
    let path = link.split_once("/alerts/").map(|(_, p)| format!("/alerts/{p}")).unwrap();
    // The mail went out at the test's NOON (2025) and links expire after a year: it is read today.
    // The server's cleaning job deletes expired tokens, and its first pass may come after the
    // mail: the token is stored again as today's (it pauses the rule of the message, `drop`).
    carburoam::on_db!(&t.db, p => sqlx::query("UPDATE alert_unsubscribe SET created_at = $1")
        .bind(carburoam::db::now())
        .execute(p)
        .await
        .map(|_| ()))
    .expect("today's link");
    let token = path.rsplit('/').next().expect("the token");
    let hash = carburoam::auth::secret::digest(token);
    q::add_unsubscribe(&t.db, &hash, &[drop], carburoam::db::now()).await.expect("today's token");
    // A browser without any cookie: the page, then the button.
    let stranger = app.browser();
    let page = stranger.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("data-testid=\"unsubscribe\""), "{}", page.text);
    // The mail provider's one-click POST (RFC 8058): no cookie, no CSRF token.
    let r = stranger
        .send(
            stranger
                .client
                .post(stranger.url(&path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("List-Unsubscribe=One-Click"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(q::rule(&t.db, uid, drop).await.unwrap().unwrap().paused);
    assert!(!q::rule(&t.db, uid, cheap).await.unwrap().unwrap().paused, "only the rule of the message");
    // A made-up token: 404, nothing paused.
    let bad = format!("/alerts/unsubscribe/{}", "ab".repeat(32));
    assert_eq!(stranger.get(&bad).await.status, 404);
    assert_eq!(stranger.send(stranger.client.post(stranger.url(&bad))).await.status, 404);
});

db_test!(the_weekly_digest_goes_once_per_week, |t| {
    seed(&t.db).await;
    let sink = SmtpSink::start().await;
    let a = alerts(&t.db, &sink, "");
    let uid = user(&t.db, "dan").await;
    for s in [CANNET, SCEAUX, BREST] {
        favourites::add(&t.db, uid, sid(s), NOON).await.unwrap();
    }
    q::save_channel(&t.db, uid, ChannelKind::Email, None, None, false, NOON).await.unwrap();
    let f = RuleFields {
        kind: RuleKind::Digest,
        weekday: Some(1),
        hour: Some(12),
        next_run_at: Some(NOON),
        ..RuleFields::default()
    };
    let id = q::insert_rule(&t.db, uid, &f, NOON - 86_400).await.unwrap().unwrap();
    let pass = a.run_once(NOON).await.unwrap();
    assert_eq!((pass.digests, pass.delivered.sent), (1, 1), "{pass:?}");
    let mail = sink.next().await;
    assert_eq!(mail.subject, "Carburoam\u{202f}: votre résumé de la semaine");
    assert!(mail.text.contains("Gazole\u{202f}: la moins chère est Le Cannet, à 1,649 €"), "{}", mail.text);
    assert!(mail.text.contains("économiser"), "{}", mail.text);
    assert_eq!(q::rule(&t.db, uid, id).await.unwrap().unwrap().f.next_run_at, Some(NOON + 7 * 86_400));
    assert_eq!(a.run_once(NOON + HOUR).await.unwrap().digests, 0);
    sink.none_within(Duration::from_millis(300)).await;
});

db_test!(the_feed_job_wakes_the_alerts_worker_after_its_import, |t| {
    seed(&t.db).await;
    let sink = SmtpSink::start().await;
    let kicker = carburoam::alerts::Kicker::default();
    let worker = alerts(&t.db, &sink, "").woken_by(kicker.clone());
    let uid = user(&t.db, "yann").await;
    no_quiet(&t.db, uid, 3).await;
    favourites::add(&t.db, uid, sid(BREST), NOON).await.expect("follow");
    q::insert_rule(&t.db, uid, &rule("threshold", Some(1640), None), NOON).await.expect("rule");
    q::save_channel(&t.db, uid, ChannelKind::Email, None, None, false, NOON).await.expect("channel");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(worker.worker(shutdown.clone()));
    // Its first pass, at start, finds nothing to send; the next tick is 30 s away.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The feed job imports Brest's Gazole under the threshold, from a local file as its feed.
    let dir = tempfile::tempdir().expect("tempdir");
    let feed = dir.path().join("feed.xml");
    std::fs::write(&feed, brest_at("1.629", "11:06:00")).expect("feed");
    let job = carburoam::etl::Job {
        db: t.db.clone(),
        fetcher: Arc::new(carburoam::feed::download::Fetcher::new(Default::default()).expect("fetcher")),
        feed_url: feed.display().to_string(),
        holder: carburoam::etl::holder_id(),
        import: ImportOptions { force: true, ..ImportOptions::default() },
        notifier: carburoam::services::notify::Notifier::disabled(),
        alerts: Some(kicker),
    };
    let outcome = job.run_once(carburoam::domain::Trigger::Admin).await.expect("run");
    assert!(matches!(outcome, carburoam::etl::RunOutcome::Imported(_)), "{outcome:?}");
    // The mail comes within `next`'s 10 s, long before the worker's next tick: the job woke it.
    let mail = sink.next().await;
    assert_eq!(mail.to_header().as_deref(), Some("yann@example.org"), "{:?}", mail.subject);
    shutdown.cancel();
    running.await.expect("worker");
});
