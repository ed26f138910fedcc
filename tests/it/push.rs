//! Web Push: the installable app's files, subscribing and unsubscribing (owner only,
//! CSRF), and delivery to a local push endpoint — a real HTTP server standing in for the
//! browser's push service, which checks the VAPID signature against the instance's public key
//! and decrypts the payload with the subscription's private key, as a browser would (RFC 8291,
//! written here from the RFC with RustCrypto, not with the sender's code).

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use carburoam::alerts::push::{self, PushError, PushMessage, PushOutcome};
use carburoam::alerts::target::AllowList;
use carburoam::db::{Db, push as q};
use carburoam::on_db;
use p256::ecdsa::signature::Verifier as _;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::app::{PASSWORD, TestApp, spawn_app, spawn_app_and_state, spawn_app_with, user_id};
use crate::db_test;

/// A browser's side of a subscription: its P-256 key pair and auth secret.
struct Device {
    secret: p256::SecretKey,
    auth: [u8; 16],
}

impl Device {
    fn new() -> Device {
        let secret = loop {
            if let Ok(k) = p256::SecretKey::from_slice(&rand::random::<[u8; 32]>()) {
                break k;
            }
        };
        Device { secret, auth: rand::random() }
    }

    fn public(&self) -> Vec<u8> {
        self.secret.public_key().to_encoded_point(false).as_bytes().to_vec()
    }

    fn p256dh(&self) -> String {
        B64.encode(self.public())
    }

    fn auth(&self) -> String {
        B64.encode(self.auth)
    }

    fn decrypt(&self, body: &[u8]) -> Vec<u8> {
        self.try_decrypt(body).expect("the payload decrypts and authenticates")
    }

    /// RFC 8291 §3.4 and RFC 8188: one `aes128gcm` record, decrypted with this device's keys;
    /// `None` when it does not authenticate.
    fn try_decrypt(&self, body: &[u8]) -> Option<Vec<u8>> {
        assert!(body.len() > 21 + 65 + 16, "body too short: {}", body.len());
        let salt = &body[..16];
        let record_size = u32::from_be_bytes(body[16..20].try_into().expect("4 bytes"));
        assert!(record_size >= 18, "record size {record_size}");
        let id_len = body[20] as usize;
        assert_eq!(id_len, 65, "the key id is the sender's public key");
        let as_public_bytes = &body[21..21 + id_len];
        let ciphertext = &body[21 + id_len..];
        assert!(ciphertext.len() <= record_size as usize, "one record");
        let as_public = p256::PublicKey::from_sec1_bytes(as_public_bytes).expect("sender key");
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), as_public.as_affine());
        // IKM = HKDF(auth, ecdh, "WebPush: info" 0x00 ua_public as_public, 32)
        let mut key_info = b"WebPush: info\0".to_vec();
        key_info.extend_from_slice(&self.public());
        key_info.extend_from_slice(as_public_bytes);
        let mut ikm = [0u8; 32];
        hkdf::Hkdf::<sha2::Sha256>::new(Some(&self.auth[..]), shared.raw_secret_bytes())
            .expand(&key_info, &mut ikm)
            .expect("ikm");
        let prk = hkdf::Hkdf::<sha2::Sha256>::new(Some(salt), &ikm);
        let mut cek = [0u8; 16];
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek).expect("cek");
        let mut nonce = [0u8; 12];
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce).expect("nonce");
        let cipher = aes_gcm::Aes128Gcm::new_from_slice(&cek).expect("key");
        let mut plain = cipher.decrypt(&aes_gcm::Nonce::from(nonce), ciphertext).ok()?;
        // Padding: the last record ends with 0x02 then zeros.
        while plain.last() == Some(&0) {
            plain.pop();
        }
        assert_eq!(plain.pop(), Some(2), "last-record delimiter");
        Some(plain)
    }
}

/// What the local push service received.
#[derive(Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// A push service on 127.0.0.1: records each request and answers with `status`.
struct PushService {
    base: String,
    status: Arc<AtomicU16>,
    rx: mpsc::UnboundedReceiver<Received>,
}

#[derive(Clone)]
struct ServiceState {
    tx: mpsc::UnboundedSender<Received>,
    status: Arc<AtomicU16>,
}

impl PushService {
    async fn start() -> PushService {
        let (tx, rx) = mpsc::unbounded_channel();
        let status = Arc::new(AtomicU16::new(201));
        let state = ServiceState { tx, status: status.clone() };
        async fn handle(
            State(s): State<ServiceState>,
            uri: axum::http::Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> StatusCode {
            let _ = s.tx.send(Received { path: uri.path().to_owned(), headers, body });
            StatusCode::from_u16(s.status.load(Ordering::SeqCst)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        }
        let app = axum::Router::new().route("/push/{id}", axum::routing::post(handle)).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        PushService { base, status, rx }
    }

    async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
            .await
            .expect("a push request within 10 s")
            .expect("channel open")
    }

    fn nothing_received(&mut self) -> bool {
        self.rx.try_recv().is_err()
    }
}

/// Checks the request's VAPID `Authorization` (RFC 8292) against the instance's public key and
/// returns the token's claims.
fn verify_vapid(headers: &HeaderMap, public_key: &str) -> Value {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).expect("Authorization header");
    let rest = auth.strip_prefix("vapid ").expect("vapid scheme");
    let mut token = None;
    let mut key = None;
    for part in rest.split(',').map(str::trim) {
        if let Some(t) = part.strip_prefix("t=") {
            token = Some(t);
        } else if let Some(k) = part.strip_prefix("k=") {
            key = Some(k);
        }
    }
    let (token, key) = (token.expect("t="), key.expect("k="));
    assert_eq!(key, public_key, "k= is the instance's public key");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS");
    let header: Value = serde_json::from_slice(&B64.decode(parts[0]).expect("b64")).expect("JSON");
    assert_eq!(header["alg"], "ES256");
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&B64.decode(key).expect("b64")).expect("P-256 key");
    let sig = p256::ecdsa::Signature::from_slice(&B64.decode(parts[2]).expect("b64")).expect("64-byte signature");
    vk.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig).expect("the VAPID signature verifies");
    // A signature over anything else fails: the check above can fail.
    assert!(vk.verify(b"something else", &sig).is_err());
    serde_json::from_slice(&B64.decode(parts[1]).expect("b64")).expect("claims")
}

async fn subscribe(app: &TestApp, endpoint: &str, dev: &Device) -> crate::app::Reply {
    let (key, auth) = (dev.p256dh(), dev.auth());
    app.post_form("/me/push/subscribe", &[("endpoint", endpoint), ("p256dh", key.as_str()), ("auth", auth.as_str())])
        .await
}

async fn subscriptions(db: &Db) -> Vec<(carburoam::domain::UserId, String)> {
    on_db!(db, p => sqlx::query_as::<_, (carburoam::domain::UserId, String)>("SELECT user_id, endpoint FROM push_subscriptions ORDER BY id")
        .fetch_all(p)
        .await)
    .expect("subscriptions")
}

// ---------------------------------------------------------------------------------------------

db_test!(the_app_is_installable, |t| {
    let app = spawn_app(t.db.clone()).await;
    let home = app.get("/").await;
    assert!(home.text.contains(r#"<link rel="manifest" href="/manifest.webmanifest">"#));
    assert!(home.text.contains("js/pwa.js"));
    // The CSP lets the worker and the manifest load from this origin.
    let csp = home.header("content-security-policy");
    assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("worker-src") && !csp.contains("manifest-src"), "{csp}");

    let m = app.get("/manifest.webmanifest").await;
    assert_eq!(m.status, 200);
    assert_eq!(m.header("content-type"), "application/manifest+json");
    let v = m.json();
    assert_eq!(v["start_url"], "/me");
    assert_eq!(v["display"], "standalone");
    assert_eq!(v["theme_color"], "#0b6e4f");
    let icons = v["icons"].as_array().expect("icons");
    assert!(icons.iter().any(|i| i["purpose"] == "maskable"));
    for icon in icons {
        let src = icon["src"].as_str().expect("src");
        let resp = app.client.get(app.url(src)).send().await.expect("icon");
        assert_eq!(resp.status(), 200, "{src}");
        let png = resp.bytes().await.expect("bytes");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{src}");
        let dim = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes"));
        let (w, h) = (dim(16), dim(20));
        assert_eq!(format!("{w}x{h}"), icon["sizes"].as_str().expect("sizes"), "{src}");
    }
    let en = app.send(app.client.get(app.url("/manifest.webmanifest")).header("accept-language", "en")).await;
    assert_eq!(en.json()["lang"], "en");

    let sw = app.get("/sw.js").await;
    assert_eq!(sw.status, 200);
    assert!(sw.header("content-type").starts_with("text/javascript"));
    assert_eq!(sw.header("cache-control"), "no-cache");
    assert!(sw.text.contains("showNotification") && sw.text.contains("notificationclick"));
    assert!(sw.text.contains(r#""/offline""#) && !sw.text.contains("__PRECACHE__"));

    let off = app.get("/offline").await;
    assert_eq!(off.status, 200);
    assert!(off.text.contains("data-testid=\"offline\""));
    // Nobody's page: no form token in it (the worker keeps it for every visitor).
    assert!(!off.text.contains("name=\"csrf\""));

    let key = app.get("/push/key").await.json();
    let stored = q::vapid(&t.db).await.expect("vapid").expect("made at first start");
    assert_eq!(key["publicKey"], stored.public_key.as_str());
    assert_eq!(B64.decode(&stored.public_key).expect("b64").len(), 65);
    // A second instance over the same database keeps the same pair.
    let other = spawn_app(t.db.clone()).await;
    assert_eq!(other.get("/push/key").await.json()["publicKey"], stored.public_key.as_str());
});

db_test!(subscriptions_belong_to_their_owner, |t| {
    let lea = spawn_app(t.db.clone()).await;
    let zoe = lea.browser();
    let nobody = lea.browser();
    lea.register("lea").await;
    zoe.register("zoe").await;
    let dev = Device::new();
    let (key, auth) = (dev.p256dh(), dev.auth());
    let endpoint = "https://push.example.org/send/abc123";

    // The CSRF check: no token, or another origin, is refused before anything is stored.
    let no_token = lea
        .send(lea.client.post(lea.url("/me/push/subscribe")).header("origin", &lea.address).form(&[
            ("endpoint", endpoint),
            ("p256dh", key.as_str()),
            ("auth", auth.as_str()),
        ]))
        .await;
    assert_eq!(no_token.status, 403);
    let token = lea.csrf().await;
    let cross = lea
        .send(lea.client.post(lea.url("/me/push/subscribe")).header("origin", "https://evil.example").form(&[
            ("csrf", token.as_str()),
            ("endpoint", endpoint),
            ("p256dh", key.as_str()),
            ("auth", auth.as_str()),
        ]))
        .await;
    assert_eq!(cross.status, 403);
    // Signed out: a JSON 401.
    let anon = subscribe(&nobody, endpoint, &dev).await;
    assert_eq!(anon.status, 401);
    assert_eq!(anon.json()["error"]["code"], "login_required");
    assert!(subscriptions(&t.db).await.is_empty());

    // Bad keys and refused endpoints.
    let bad = lea
        .post_form("/me/push/subscribe", &[("endpoint", endpoint), ("p256dh", "AAAA"), ("auth", auth.as_str())])
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["code"], "bad_subscription");
    for refused in ["http://push.example.org/x", "https://10.0.0.8/x", "https://[::1]/x", "https://localhost/x"] {
        let r = subscribe(&lea, refused, &dev).await;
        assert_eq!(r.status, 400, "{refused}");
        assert_eq!(r.json()["error"]["code"], "endpoint_refused", "{refused}");
    }
    assert!(subscriptions(&t.db).await.is_empty());

    let ok = subscribe(&lea, endpoint, &dev).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.header("cache-control"), "no-store");
    let id = ok.json()["id"].as_i64().expect("id");
    let lea_id = user_id(&t.db, "lea").await;
    assert_eq!(subscriptions(&t.db).await, vec![(lea_id, endpoint.to_owned())]);
    // Subscribing again changes nothing.
    assert_eq!(subscribe(&lea, endpoint, &dev).await.json()["id"], id);
    assert_eq!(subscriptions(&t.db).await.len(), 1);

    // Zoé can neither unsubscribe nor remove Léa's device, nor see it.
    let r = zoe.post_form("/me/push/unsubscribe", &[("endpoint", endpoint)]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["removed"], false);
    let r = zoe.post_form(&format!("/me/push/{id}/delete"), &[]).await;
    assert_eq!(r.status, 404);
    assert_eq!(subscriptions(&t.db).await.len(), 1);
    let zoe_page = zoe.get("/me/push").await;
    assert!(zoe_page.text.contains("data-testid=\"push-no-devices\""));
    assert!(!zoe_page.text.contains("push.example.org"));
    let lea_page = lea.get("/me/push").await;
    assert_eq!(lea_page.text.matches("data-testid=\"push-device\"").count(), 1);
    assert!(lea_page.text.contains("data-testid=\"push-block\""));
    // The page never shows the endpoint (a capability URL).
    assert!(!lea_page.text.contains("abc123"));

    let r = lea.post_form("/me/push/unsubscribe", &[("endpoint", endpoint)]).await;
    assert_eq!(r.json()["removed"], true);
    assert!(subscriptions(&t.db).await.is_empty());

    // Removal without JavaScript: a form, back to the page with a notice.
    let id = subscribe(&lea, endpoint, &dev).await.json()["id"].as_i64().expect("id");
    let r = lea.post_form(&format!("/me/push/{id}/delete"), &[("back", "/me/push")]).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), "/me/push?push=removed");
    assert!(subscriptions(&t.db).await.is_empty());
    // Deleting the account deletes its devices.
    subscribe(&lea, endpoint, &dev).await;
    let r = lea.post_form("/me/delete", &[("password", PASSWORD)]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(
        on_db!(&t.db, p => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE id = $1")
        .bind(lea_id)
        .fetch_one(p)
        .await)
        .expect("count"),
        0
    );
    assert!(subscriptions(&t.db).await.is_empty());
});

db_test!(pushes_are_signed_encrypted_and_expire, |t| {
    let mut service = PushService::start().await;
    let (app, state) = spawn_app_and_state(t.db.clone(), |cfg| {
        cfg.alert_allow_hosts = AllowList::parse("127.0.0.1").expect("allow list");
    })
    .await;
    app.register("lea").await;
    let lea_id = user_id(&t.db, "lea").await;
    let public_key = app.get("/push/key").await.json()["publicKey"].as_str().expect("key").to_owned();
    let dev = Device::new();
    let endpoint = format!("{}/push/dev1", service.base);
    assert_eq!(subscribe(&app, &endpoint, &dev).await.status, 200);

    // The page's test button, through the real router.
    let r = app.post_form("/me/push/test", &[("back", "/me/push")]).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), "/me/push?push=sent&n=1");
    let got = service.next().await;
    assert_eq!(got.path, "/push/dev1");
    assert_eq!(got.headers["content-encoding"], "aes128gcm");
    assert_eq!(got.headers["ttl"], push::TTL_SECS.to_string().as_str());
    let claims = verify_vapid(&got.headers, &public_key);
    assert_eq!(claims["aud"], service.base.as_str());
    assert_eq!(claims["sub"], "mailto:noreply@carburoam.test");
    let exp = claims["exp"].as_i64().expect("exp");
    let now = carburoam::db::now();
    assert!(exp > now && exp <= now + 24 * 3600, "exp {exp}, now {now}");
    let test: PushMessage = serde_json::from_slice(&dev.decrypt(&got.body)).expect("JSON payload");
    assert_eq!(test.body, "Les notifications fonctionnent sur cet appareil.");
    assert_eq!(test.url, "/me");
    let page = app.get("/me/push?push=sent&n=1").await;
    assert!(page.text.contains("Notification de test envoyée à 1 appareil."), "{}", page.text);

    // The function the alerts engine calls.
    let http = state.push.http.clone().expect("client");
    let settings = state.push.settings.clone();
    let msg = PushMessage {
        title: "Gazole à 1,649 €".into(),
        body: "Total Lyon 7e : sous votre seuil de 1,650 €".into(),
        url: "/stations/69007001".into(),
        tag: "threshold-42".into(),
    };
    let out = push::deliver(&t.db, &http, &settings, lea_id, &msg).await.expect("delivered");
    assert_eq!(out, PushOutcome::Delivered { endpoints: 1 });
    let got = service.next().await;
    verify_vapid(&got.headers, &public_key);
    assert!(got.headers.contains_key("topic"));
    let back: Value = serde_json::from_slice(&dev.decrypt(&got.body)).expect("JSON");
    assert_eq!(back, serde_json::to_value(&msg).expect("JSON"));
    // Another device's keys cannot read it.
    let other = Device::new();
    assert!(other.try_decrypt(&got.body).is_none(), "a different key must not decrypt the payload");
    let row = &q::for_user(&t.db, lea_id).await.expect("rows")[0];
    assert!(row.last_success_at.is_some());

    // A server error is kept for a retry, and recorded.
    service.status.store(503, Ordering::SeqCst);
    let err = push::deliver(&t.db, &http, &settings, lea_id, &msg).await.expect_err("503");
    assert!(matches!(err, PushError::Status(503)) && !err.is_permanent(), "{err}");
    service.next().await;
    let row = &q::for_user(&t.db, lea_id).await.expect("rows")[0];
    assert_eq!(row.last_error.as_deref(), Some("status:503"), "a code, shown in the viewer's language");

    // 410 Gone: the device unsubscribed; its row goes.
    service.status.store(410, Ordering::SeqCst);
    let out = push::deliver(&t.db, &http, &settings, lea_id, &msg).await.expect("gone is handled");
    assert_eq!(out, PushOutcome::NoSubscription);
    service.next().await;
    assert!(subscriptions(&t.db).await.is_empty());
    // Nothing left to send to.
    let out = push::deliver(&t.db, &http, &settings, lea_id, &msg).await.expect("none");
    assert_eq!(out, PushOutcome::NoSubscription);
    assert!(service.nothing_received());
});

db_test!(private_push_endpoints_are_refused_unless_allowed, |t| {
    let mut service = PushService::start().await;
    // No allow list: the local push service is a private address.
    let (app, state) = spawn_app_and_state(t.db.clone(), |_| {}).await;
    app.register("lea").await;
    let lea_id = user_id(&t.db, "lea").await;
    let dev = Device::new();
    let endpoint = format!("{}/push/dev1", service.base);
    let r = subscribe(&app, &endpoint, &dev).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "endpoint_refused");
    let https = endpoint.replace("http://", "https://");
    assert_eq!(subscribe(&app, &https, &dev).await.status, 400);

    // At send time too: a row stored while the host was allowed (or by hand) gets no request.
    let (key, auth) = (dev.p256dh(), dev.auth());
    let new = q::NewSubscription { endpoint: &https, p256dh: &key, auth: &auth, user_agent: "" };
    q::upsert(&t.db, lea_id, &new, carburoam::db::now()).await.expect("insert");
    let http = state.push.http.clone().expect("client");
    let err = push::deliver(
        &t.db,
        &http,
        &state.push.settings,
        lea_id,
        &PushMessage { title: "t".into(), body: "b".into(), url: "/".into(), tag: String::new() },
    )
    .await
    .expect_err("refused");
    assert!(matches!(err, PushError::Target(_)) && err.is_permanent(), "{err}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(service.nothing_received(), "no request reached the private address");
    let row = &q::for_user(&t.db, lea_id).await.expect("rows")[0];
    assert_eq!(row.last_error.as_deref(), Some("refused"));
    let page = app.get("/me/push").await;
    assert!(
        page.text.contains("dernière erreur le")
            && page.text.contains("l’adresse du service de notification est refusée"),
        "{}",
        page.text
    );

    // With the host allowed, the same endpoint over http is accepted.
    let allowed =
        spawn_app_with(t.db.clone(), |cfg| cfg.alert_allow_hosts = AllowList::parse("127.0.0.1").expect("parse")).await;
    allowed.register("zoe").await;
    assert_eq!(subscribe(&allowed, &endpoint, &dev).await.status, 200);
});

db_test!(push_tests_are_limited_per_hour, |t| {
    let mut service = PushService::start().await;
    let app = spawn_app_with(t.db.clone(), |cfg| {
        cfg.alert_allow_hosts = AllowList::parse("127.0.0.1").expect("allow list");
    })
    .await;
    app.register("lea").await;
    let dev = Device::new();
    assert_eq!(subscribe(&app, &format!("{}/push/dev1", service.base), &dev).await.status, 200);
    for _ in 0..3 {
        let r = app.post_form("/me/push/test", &[("back", "/me/push")]).await;
        assert_eq!(r.header("location"), "/me/push?push=sent&n=1");
        service.next().await;
    }
    // The fourth within the hour: nothing sent, and the page says why.
    let r = app.post_form("/me/push/test", &[("back", "/me/push")]).await;
    assert_eq!(r.header("location"), "/me/push?push=limit-hour");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(service.nothing_received(), "no fourth request");
    let page = app.get("/me/push?push=limit-hour").await;
    assert!(page.text.contains("Pas plus de 3 notifications de test par heure"), "{}", page.text);
    assert_eq!(app.get("/lang?to=en&back=%2F").await.status, 303);
    let en = app.get("/me/push?push=limit-hour").await;
    assert!(en.text.contains("No more than 3 test notifications an hour"), "{}", en.text);
});
