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
pub async fn spawn_app(db: Db) -> TestApp {
    // reqwest is built with `rustls-no-provider`: a client cannot be built until a provider is
    // installed (once per process; later calls fail harmlessly).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    let app = carburoam::web::router(AppState::new(db.clone()));
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("server");
    });
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("HTTP client");
    TestApp { address: format!("http://127.0.0.1:{port}"), client, db }
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

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("response body");
        Reply { status, headers, text }
    }
}
