//! The real router served on a random local port, as in *Zero To Production*: tests talk HTTP to
//! it with reqwest, exactly like a client would (middleware, compression, headers included).
#![allow(dead_code)]

use carburoam::db::Db;
use carburoam::state::AppState;

pub struct TestApp {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub address: String,
    pub client: reqwest::Client,
    pub db: Db,
}

/// Serves `carburoam::web::router` over `db` on 127.0.0.1:0 for the life of the test's runtime.
/// Mail goes to `.eml` files in a temporary folder.
pub async fn spawn_app(db: Db) -> TestApp {
    spawn_app_with_mail(db, None).await
}

/// [`spawn_app`] sending mail through `smtp` (a test SMTP listener) when given.
pub async fn spawn_app_with_mail(db: Db, smtp: Option<carburoam::email::SmtpSettings>) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    let outbox = tempfile::tempdir().expect("outbox dir");
    let mailer = carburoam::email::Mailer::new(carburoam::email::MailSettings {
        smtp,
        from: "Carburoam <noreply@carburoam.test>".into(),
        outbox_dir: outbox.path().join("outbox"),
    })
    .expect("mailer");
    let address = format!("http://127.0.0.1:{port}");
    let state = AppState::with_settings(
        db.clone(),
        carburoam::state::SiteConfig::from_env(),
        carburoam::accounts::AccountSettings::new(&address, false),
        mailer,
    );
    let app = carburoam::web::router(state);
    tokio::spawn(async move {
        let _outbox = outbox;
        axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.expect("server");
    });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("HTTP client");
    TestApp { address, client, db }
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
