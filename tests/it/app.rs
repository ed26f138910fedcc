//! The real application, started through `startup::Application::build_with_db` as `carburoam
//! serve` starts it (as in *Zero To Production*'s `spawn_app`), on a random local port: tests
//! talk HTTP to it with reqwest, exactly like a client would (middleware, compression, headers,
//! background jobs included).
#![allow(dead_code)]

use carburoam::db::Db;
use carburoam::startup::{Application, ServeConfig};
use carburoam::web::state::AppState;
use tokio_util::sync::CancellationToken;

use crate::offline::assert_local;
pub use crate::offline::local_config;

/// The password of the accounts the tests register.
pub const PASSWORD: &str = "plume cerise fenêtre 42";

/// The id of a registered user.
pub async fn user_id(db: &Db, username: &str) -> carburoam::domain::UserId {
    carburoam::db::users::by_login(db, username).await.expect("query").expect("user").id
}

pub struct TestApp {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub address: String,
    pub client: reqwest::Client,
    pub db: Db,
}

/// Serves the application over `db` on 127.0.0.1:0 for the life of the test's runtime, with
/// the defaults of `carburoam serve` but the feed job and the backups off and every outbound
/// address local ([`local_config`]). Mail goes to `.eml` files in a temporary folder.
pub async fn spawn_app(db: Db) -> TestApp {
    spawn_app_with(db, |_| {}).await
}

/// [`spawn_app`] sending mail through `smtp` (a test SMTP listener) when given.
pub async fn spawn_app_with_mail(db: Db, smtp: Option<carburoam::email::SmtpSettings>) -> TestApp {
    spawn_app_with(db, |cfg| cfg.mail.smtp = smtp).await
}

/// [`spawn_app`] after `configure` has adjusted the settings (a metrics token, a webhook, the
/// tile URL…).
pub async fn spawn_app_with(db: Db, configure: impl FnOnce(&mut ServeConfig)) -> TestApp {
    spawn_app_and_state(db, configure).await.0
}

/// The application over `db`, as `carburoam serve` builds it, once [`assert_local`] has checked
/// that `cfg` reaches no public service: every in-process server of the tests is built here.
pub async fn build(cfg: ServeConfig, db: Db) -> Application {
    assert_local(&cfg);
    Application::build_with_db(cfg, db).await.expect("build the application")
}

/// [`spawn_app_with`], also returning the server's state (to reach the metrics registry, the
/// price index, the accounts service).
pub async fn spawn_app_and_state(db: Db, configure: impl FnOnce(&mut ServeConfig)) -> (TestApp, AppState) {
    crate::helpers::init();
    let data_dir = tempfile::tempdir().expect("data dir");
    let mut cfg = local_config(data_dir.path());
    configure(&mut cfg);
    let app = build(cfg, db.clone()).await;
    let address = format!("http://{}", app.local_addr().expect("local address"));
    let state = app.state().clone();
    tokio::spawn(async move {
        let _data_dir = data_dir;
        app.run_until(CancellationToken::new()).await.expect("server");
    });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("HTTP client");
    (TestApp { address, client, db }, state)
}

/// A response read to the end.
pub struct Reply {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

impl TestApp {
    /// Registers `username` (the same display name, `username@example.org`, [`PASSWORD`]) and
    /// checks the redirect that says it worked.
    pub async fn register(&self, username: &str) -> Reply {
        let email = format!("{username}@example.org");
        let fields = [
            ("username", username),
            ("display_name", username),
            ("email", email.as_str()),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ];
        let r = self.post_form("/register", &fields).await;
        assert_eq!(r.status, 303, "{}", r.text);
        r
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(self.url(path))).await
    }

    /// Another browser on the same server: its own cookies (session, CSRF token).
    pub fn browser(&self) -> TestApp {
        TestApp {
            address: self.address.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .build()
                .expect("HTTP client"),
            db: self.db.clone(),
        }
    }

    /// The CSRF token the site gave this client (from a page's hidden field).
    pub async fn csrf(&self) -> String {
        let page = self.get("/forgot-password").await;
        let marker = "name=\"csrf\" value=\"";
        let at = page.text.find(marker).expect("a csrf field on /forgot-password") + marker.len();
        page.text[at..at + 64].to_owned()
    }

    /// Posts a form the way the site's pages do: same origin, with the CSRF token.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.send(self.client.post(self.url(path)).header("origin", &self.address).form(&all)).await
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("response body");
        Reply { status, headers, text }
    }
}
