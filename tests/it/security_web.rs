//! Security, the web side: redirects that stay on the site, the sessions' absolute lifetime, the
//! backup download as a CSRF-checked POST, security headers on every response, the client
//! address behind a proxy, and the CSRF cookie (`__Host-` under HTTPS, renewed at login). Over
//! HTTP against the real router, on both backends.

use std::collections::BTreeMap;

use carburoam::db::Db;
use carburoam::on_db;

use crate::app::{Reply, TestApp, spawn_app, spawn_app_with};
use crate::db_test;

use crate::app::PASSWORD;
const PUBLIC_HTTPS: &str = "https://carburoam.example.org";
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// Serves the application over `db` on 127.0.0.1:0 with a public URL and proxy setting of the
/// test's choosing (`None`: the listener's own address), and a client without a cookie store.
async fn spawn_with(db: &Db, public_url: Option<&str>, behind_proxy: bool) -> TestApp {
    let mut app = spawn_app_with(db.clone(), |cfg| {
        cfg.public_url = public_url.map(str::to_owned);
        cfg.behind_proxy = behind_proxy;
    })
    .await;
    app.client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    app
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    on_db!(db, p => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await).expect("count")
}

// ---------------------------------------------------------------------------------------------
// Point 1: every redirect stays on the site

/// Targets that must never be redirected to: other sites, and what browsers turn into one.
const BAD_TARGETS: [&str; 13] = [
    "/%09/evil.example",
    "/%0A/evil.example",
    "/%0D/evil.example",
    "/%0B/x",
    "/%00",
    "/%7F",
    "//evil.example",
    "/%2F/evil.example",
    "/\\evil.example",
    "/%5Cevil.example",
    "https://evil.example",
    "javascript:alert(1)",
    "evil.example",
];

fn query_value(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

db_test!(redirects_never_leave_the_site, |t| {
    let app = spawn_app(t.db.clone()).await;

    // The audit's case: a tab that browsers drop, and the characters that made a 500.
    let r = app.get("/lang?to=en&back=/%09/evil.example").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), "/");
    for bad in BAD_TARGETS {
        let r = app.get(&format!("/lang?to=en&back={}", query_value(bad))).await;
        assert_eq!((r.status.as_u16(), r.header("location")), (303, "/"), "back={bad:?}");
        // Also as written in the URL, undecoded once more.
        let r = app.get(&format!("/lang?to=fr&back={bad}")).await;
        assert_eq!((r.status.as_u16(), r.header("location")), (303, "/"), "back={bad} (raw)");
    }
    // A local path is kept, query included; spaces and accents come out percent-encoded.
    let r = app.get(&format!("/lang?to=en&back={}", query_value("/stations?q=Lyon&fuel=E10"))).await;
    assert_eq!(r.header("location"), "/stations?q=Lyon&fuel=E10");
    let r = app.get(&format!("/lang?to=en&back={}", query_value("/stations?q=Saint Étienne"))).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), "/stations?q=Saint%20%C3%89tienne");

    // The login's `next`, for a logged-in visitor (GET) and at login (POST).
    app.register("redirige").await;
    for bad in BAD_TARGETS {
        let r = app.get(&format!("/login?next={}", query_value(bad))).await;
        assert_eq!((r.status.as_u16(), r.header("location")), (303, "/me"), "next={bad:?}");
    }
    let r = app.get(&format!("/login?next={}", query_value("/me/profile"))).await;
    assert_eq!(r.header("location"), "/me/profile");
    let other = app.browser();
    for bad in ["/%09/evil.example", "/%0B/x", "//evil.example"] {
        let r = other.post_form("/login", &[("login", "redirige"), ("password", PASSWORD), ("next", bad)]).await;
        assert_eq!((r.status.as_u16(), r.header("location")), (303, "/me"), "next={bad:?}");
        other.post_form("/logout", &[]).await;
    }

    // The station forms' `back`.
    for bad in ["/%09/evil.example", "/%7F", "//evil.example"] {
        let r = app.post_form("/me/stations/add", &[("station_id", "92330002"), ("back", bad)]).await;
        assert_eq!(r.status, 303, "back={bad:?}");
        let to = r.header("location");
        assert!(to.starts_with("/me?msg=") || to.starts_with("/me/stations?msg="), "back={bad:?}: {to}");
    }
});

// ---------------------------------------------------------------------------------------------
// Point 8: sessions end 12 h after login (30 days with "remember me"), however active

/// Moves every session `secs` into the past, as if that much time had gone by.
async fn age_sessions(db: &Db, secs: i64) {
    on_db!(db, p => sqlx::query(
        "UPDATE sessions SET created_at = created_at - $1, last_seen_at = last_seen_at - $1, \
         expires_at = expires_at - $1, absolute_expires_at = absolute_expires_at - $1",
    )
    .bind(secs)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
    .expect("age the sessions");
}

async fn ends(db: &Db) -> (i64, i64) {
    on_db!(db, p => sqlx::query_as::<_, (i64, i64)>("SELECT expires_at, absolute_expires_at FROM sessions")
        .fetch_one(p)
        .await)
    .expect("one session")
}

/// Whether the client is logged in: `/me` answers the page, not a redirect to the login.
async fn logged_in(app: &TestApp) -> bool {
    let r = app.get("/me").await;
    match r.status.as_u16() {
        200 => true,
        303 => {
            assert!(r.header("location").starts_with("/login"), "{}", r.header("location"));
            false
        }
        s => panic!("/me answered {s}"),
    }
}

db_test!(sessions_have_an_absolute_lifetime, |t| {
    let app = spawn_app(t.db.clone()).await;
    // Registering logs in for the browser session.
    app.register("assidue").await;
    let login = carburoam::db::now();
    let (idle, absolute) = ends(&t.db).await;
    assert!((login + 12 * HOUR - absolute).abs() <= 5, "12 h from login: {absolute} vs {login}");
    assert_eq!(idle, absolute);

    // Active all day long: a request every few minutes slides the idle expiry, up to 11 h 50.
    for _ in 0..4 {
        age_sessions(&t.db, 2 * HOUR + 55 * 60).await;
        assert!(logged_in(&app).await);
    }
    let (idle, absolute) = ends(&t.db).await;
    let now = carburoam::db::now();
    assert!(absolute - now <= 20 * 60, "the absolute end has not moved: {}", absolute - now);
    assert!(idle <= absolute, "activity never slides the expiry past the absolute end");

    // 12 h after the login: logged out, though active a minute ago, and the row is gone.
    age_sessions(&t.db, 25 * 60).await;
    let r = app.get("/me").await;
    assert_eq!(r.status, 303);
    assert!(r.header("location").starts_with("/login"));
    assert!(
        r.headers.get_all("set-cookie").iter().any(|c| c.to_str().unwrap_or("").starts_with("carburoam_session=;")),
        "the session cookie is cleared"
    );
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM sessions").await, 0, "the expired row is deleted");

    // "Remember me": 30 days from login, then over.
    let r = app.post_form("/login", &[("login", "assidue"), ("password", PASSWORD), ("remember", "1")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let (_, absolute) = ends(&t.db).await;
    assert!((carburoam::db::now() + 30 * DAY - absolute).abs() <= 5);
    age_sessions(&t.db, 29 * DAY + 23 * HOUR).await;
    assert!(logged_in(&app).await);
    age_sessions(&t.db, 2 * HOUR).await;
    assert!(!logged_in(&app).await);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM sessions").await, 0);

    // Idle past its expiry (the absolute end still ahead): logged out, row deleted too.
    app.post_form("/login", &[("login", "assidue"), ("password", PASSWORD)]).await;
    on_db!(&t.db, p => sqlx::query("UPDATE sessions SET expires_at = $1").bind(carburoam::db::now() - 1).execute(p).await.map(|r| r.rows_affected()))
        .expect("idle");
    assert!(!logged_in(&app).await);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM sessions").await, 0);
});

// ---------------------------------------------------------------------------------------------
// Point 9: the backup download is a CSRF-checked POST

db_test!(backup_download_is_a_csrf_checked_post, |t| {
    let app = spawn_app(t.db.clone()).await;
    app.register("gardien").await;
    let id = carburoam::db::users::by_login(&t.db, "gardien").await.expect("query").expect("user").id;
    carburoam::db::admin::set_admin(&t.db, id, true).await.expect("grant");
    let backups = || count(&t.db, "SELECT COUNT(*) FROM audit_log WHERE action = 'backup'");

    // A link (or an <img>) from another site sends a GET with the admin's cookie: nothing runs.
    let r = app.get("/admin/backups/download").await;
    assert_eq!(r.status, 404);
    assert!(r.header("content-type").starts_with("text/html"));
    assert!(r.header("content-disposition").is_empty());
    assert_eq!(backups().await, 0, "no backup made, no audit row");

    // A POST without the form's token, or from another origin, is refused.
    let r = app.send(app.client.post(app.url("/admin/backups/download")).form(&[("x", "1")])).await;
    assert_eq!(r.status, 403);
    let token = app.csrf().await;
    let r = app
        .send(
            app.client
                .post(app.url("/admin/backups/download"))
                .header("origin", "https://evil.example")
                .form(&[("csrf", token.as_str())]),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(backups().await, 0);

    // The console's form: a POST with the token.
    let page = app.get("/admin/backups").await;
    match &t.db {
        Db::Sqlite(_) => {
            assert!(page.text.contains("<form method=\"post\" action=\"/admin/backups/download\">"), "{}", page.text);
            let r = app.post_form("/admin/backups/download", &[]).await;
            assert_eq!(r.status, 200);
            assert!(r.header("content-disposition").starts_with("attachment"));
            assert_eq!(backups().await, 1);
        }
        Db::Postgres(_) => {
            let r = app.post_form("/admin/backups/download", &[]).await;
            assert_eq!(r.status, 400);
        }
    }

    // Nobody else learns that the URL exists.
    let user = app.browser();
    user.register("curieux").await;
    assert_eq!(user.get("/admin/backups/download").await.status, 404);
    assert_eq!(user.post_form("/admin/backups/download", &[]).await.status, 404);
});

// ---------------------------------------------------------------------------------------------
// Point 11: security headers on every response

db_test!(security_headers_on_every_response, |t| {
    let app = spawn_app(t.db.clone()).await;
    let home = app.get("/").await;
    let site_csp = home.header("content-security-policy").to_owned();
    assert!(site_csp.contains("default-src 'self'") && site_csp.contains("frame-ancestors 'none'"), "{site_csp}");

    let asset = {
        let at = home.text.find("/static/").expect("an asset on the home page");
        let end = home.text[at..].find('"').expect("end of the URL") + at;
        home.text[at..end].to_owned()
    };
    for (path, html) in [
        ("/", true),
        ("/api", true),
        ("/no-such-page", true),
        ("/api/openapi.json", false),
        ("/api/v1/status", false),
        ("/api/v1/stations?lat=100&lon=0", false),
        ("/api/v1/no-such-endpoint", false),
        ("/api/v1/stations/12", false),
        ("/healthz", false),
        ("/readyz", false),
        (asset.as_str(), false),
        ("/static/0/no-such-file.css", false),
        ("/lang?to=en&back=/", false),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.header("x-content-type-options"), "nosniff", "{path} ({})", r.status);
        assert_eq!(r.header("referrer-policy"), "strict-origin-when-cross-origin", "{path}");
        if html {
            assert!(r.header("content-type").starts_with("text/html"), "{path}");
            assert_eq!(r.header("content-security-policy"), site_csp, "{path}: the site's CSP");
        }
        assert!(r.header("strict-transport-security").is_empty(), "{path}: no HSTS over plain HTTP");
    }

    // The one inline style is `/`'s stylesheet (css/site.css), allowed by its SHA-256.
    let css =
        home.text.split("<style>").nth(1).and_then(|s| s.split("</style>").next()).expect("/ holds its stylesheet");
    assert_eq!(css, carburoam::web::assets::INLINE_CSS);
    let hash = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(css.as_bytes()))
    };
    assert!(site_csp.contains(&format!("style-src 'self' 'sha256-{hash}';")), "{site_csp}");

    // The API page keeps working under the CSP: its style is a file of this site.
    let api = app.get("/api").await;
    assert!(!api.text.contains("<style"), "an inline style would be blocked by the CSP");
    let css =
        api.text.split("rel=\"stylesheet\" href=\"").nth(1).and_then(|s| s.split('"').next()).expect("a stylesheet");
    let r = app.get(css).await;
    assert_eq!(r.status, 200, "{css}");
    assert!(r.header("content-type").starts_with("text/css"));

    // With an https:// public URL the application sends HSTS itself, on everything.
    let https = spawn_with(&t.db, Some(PUBLIC_HTTPS), false).await;
    for path in ["/", "/api", "/api/v1/status", "/healthz", "/no-such-page", "/api/v1/nope", asset.as_str()] {
        let r = https.get(path).await;
        assert_eq!(r.header("strict-transport-security"), "max-age=31536000; includeSubDomains", "{path}");
        assert_eq!(r.header("x-content-type-options"), "nosniff", "{path}");
    }
});

// ---------------------------------------------------------------------------------------------
// Point 15: the client address behind a proxy

/// An empty registration form (refused at once, nothing created) with this `X-Forwarded-For`:
/// its status, 422, or 429 once the address has used its registration attempts.
async fn register_from(app: &TestApp, forwarded: &str) -> u16 {
    let token = app.csrf().await;
    let req = app.client.post(app.url("/register")).header("origin", &app.address).header("x-forwarded-for", forwarded);
    app.send(req.form(&[("csrf", token.as_str()), ("username", "")])).await.status.as_u16()
}

/// Attempts with the headers `forwarded(i)` until the address is refused: how many passed.
async fn attempts_until_refused(app: &TestApp, forwarded: impl Fn(usize) -> String) -> usize {
    for i in 0..40 {
        match register_from(app, &forwarded(i)).await {
            429 => return i,
            422 => {}
            s => panic!("registration answered {s}"),
        }
    }
    panic!("never rate-limited: the requests were not counted for one address");
}

db_test!(client_address_behind_a_proxy, |t| {
    let app = spawn_with(&t.db, None, true).await;
    // A cookie-keeping browser, for the CSRF token.
    let app = app.browser();

    // The proxy appended the client with its port; the entries before are the client's own
    // inventions, a new one each time: all of them count for 203.0.113.8.
    let budget = attempts_until_refused(&app, |i| format!("198.51.100.{i}, 203.0.113.8:51234")).await;
    assert!(budget >= 2, "a few attempts are allowed: {budget}");
    assert_eq!(register_from(&app, "203.0.113.8").await, 429, "the same client without a port");
    assert_eq!(register_from(&app, "10.0.0.1, 203.0.113.8:443").await, 429);

    // IPv6, bracketed with a port, bare, bracketed without a port: one client.
    let v6 = ["[2001:db8::1]:443", "2001:db8::1", "[2001:db8::1]"];
    let n = attempts_until_refused(&app, |i| format!("198.51.100.{i},{}", v6[i % 3])).await;
    assert_eq!(n, budget, "every form of the address is the same client");
    for v in v6 {
        assert_eq!(register_from(&app, &format!("192.0.2.1, {v}")).await, 429, "{v}");
    }

    // Another client is not affected.
    assert_eq!(register_from(&app, "192.0.2.77:40000").await, 422);

    // An unparsable last entry: the proxy's own address (here the socket's), never the entry
    // before it, which the client wrote.
    let n = attempts_until_refused(&app, |i| format!("192.0.2.{i}, unknown")).await;
    assert_eq!(n, budget);
    assert_eq!(register_from(&app, "192.0.2.200, 203.0.113.8:51234:9").await, 429, "not 192.0.2.200");
    assert_eq!(register_from(&app, "192.0.2.201, [2001:db8::1").await, 429, "not 192.0.2.201");
    assert_eq!(register_from(&app, "").await, 429, "an empty header: the proxy's address");
});

// ---------------------------------------------------------------------------------------------
// CSRF cookie: `__Host-` and `Secure` under HTTPS, a new value at login

/// A browser that keeps cookies by hand (reqwest's store would not send `Secure` cookies to the
/// test's plain-HTTP listener, as a real browser would not either).
struct Jar {
    cookies: BTreeMap<String, String>,
    set: Vec<String>,
}

impl Jar {
    async fn send(&mut self, app: &TestApp, req: reqwest::RequestBuilder) -> Reply {
        let cookie: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let r = app.send(req.header("cookie", cookie.join("; "))).await;
        self.set.clear();
        for c in r.headers.get_all("set-cookie") {
            let c = c.to_str().expect("ASCII cookie").to_owned();
            let (name, value) = c.split(';').next().and_then(|kv| kv.split_once('=')).expect("name=value");
            if c.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
            self.set.push(c);
        }
        r
    }

    fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set.iter().find(|c| c.starts_with(&format!("{name}="))).map(String::as_str)
    }

    async fn post(&mut self, app: &TestApp, path: &str, token: &str, fields: &[(&str, &str)]) -> Reply {
        let mut all = vec![("csrf", token)];
        all.extend_from_slice(fields);
        let req = app.client.post(app.url(path)).header("origin", PUBLIC_HTTPS).form(&all);
        self.send(app, req).await
    }
}

db_test!(csrf_cookie_is_host_prefixed_and_renewed_at_login, |t| {
    let app = spawn_with(&t.db, Some(PUBLIC_HTTPS), false).await;
    let mut jar = Jar { cookies: BTreeMap::new(), set: Vec::new() };

    let r = jar.send(&app, app.client.get(app.url("/register"))).await;
    assert_eq!(r.status, 200);
    let c = jar.set_cookie("__Host-carburoam_csrf").expect("a __Host- CSRF cookie").to_owned();
    assert!(c.contains("; Path=/") && c.contains("; Secure") && !c.to_ascii_lowercase().contains("domain="), "{c}");
    assert!(jar.set_cookie("carburoam_csrf").is_none(), "no unprefixed cookie");
    let before = jar.cookies["__Host-carburoam_csrf"].clone();

    // Registering logs in: a new token comes with the session.
    let fields = [
        ("username", "prefixe"),
        ("display_name", "Préfixe"),
        ("email", "prefixe@example.org"),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
    ];
    let r = jar.post(&app, "/register", &before, &fields).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(jar.set_cookie("__Host-carburoam_session").is_some());
    let after = jar.cookies["__Host-carburoam_csrf"].clone();
    assert_ne!(after, before, "a new CSRF token at login");
    assert!(jar.set_cookie("__Host-carburoam_csrf").is_some_and(|c| c.contains("; Secure")));

    // The token known before the login no longer passes; the new one does.
    let r = jar.post(&app, "/logout", &before, &[]).await;
    assert_eq!(r.status, 403);
    let r = jar.post(&app, "/logout", &after, &[]).await;
    assert_eq!(r.status, 303);

    // Logging in again renews it again.
    let r = jar.post(&app, "/login", &after, &[("login", "prefixe"), ("password", PASSWORD)]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let third = jar.cookies["__Host-carburoam_csrf"].clone();
    assert_ne!(third, after);
    assert_eq!(jar.post(&app, "/me/stations/add", &after, &[("station_id", "92330002")]).await.status, 403);

    // Over plain HTTP (a local set-up) the names stay unprefixed, and login still renews.
    let plain = spawn_app(t.db.clone()).await;
    let mut jar = Jar { cookies: BTreeMap::new(), set: Vec::new() };
    jar.send(&plain, plain.client.get(plain.url("/login"))).await;
    let c = jar.set_cookie("carburoam_csrf").expect("an unprefixed CSRF cookie");
    assert!(!c.contains("Secure"), "{c}");
    let before = jar.cookies["carburoam_csrf"].clone();
    let req = plain.client.post(plain.url("/login")).header("origin", &plain.address).form(&[
        ("csrf", before.as_str()),
        ("login", "prefixe"),
        ("password", PASSWORD),
    ]);
    let r = jar.send(&plain, req).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_ne!(jar.cookies["carburoam_csrf"], before);
});

// ---------------------------------------------------------------------------------------------
// The language cookie: `Secure` under HTTPS like the session and CSRF cookies

db_test!(lang_cookie_is_secure_behind_https, |t| {
    let lang_set_cookie = |r: &Reply| {
        r.headers
            .get_all("set-cookie")
            .iter()
            .map(|c| c.to_str().expect("ASCII cookie").to_owned())
            .find(|c| c.starts_with("lang="))
            .expect("a lang cookie")
    };
    let app = spawn_with(&t.db, Some(PUBLIC_HTTPS), false).await;
    let r = app.send(app.client.get(app.url("/lang?to=en&back=/about"))).await;
    assert_eq!(r.status, 303);
    let c = lang_set_cookie(&r);
    assert!(c.starts_with("lang=en;") && c.contains("; Secure") && c.contains("; Path=/"), "{c}");
    assert!(c.contains("Max-Age=31536000") && c.contains("SameSite=Lax"), "{c}");

    // Over plain HTTP a browser would drop a `Secure` cookie: none there.
    let plain = spawn_with(&t.db, None, false).await;
    let r = plain.send(plain.client.get(plain.url("/lang?to=en&back=/about"))).await;
    assert_eq!(r.status, 303);
    let c = lang_set_cookie(&r);
    assert!(c.starts_with("lang=en;") && !c.contains("Secure"), "{c}");
});
