//! The state every request handler shares.

use chrono::{DateTime, Utc};

use crate::db::Db;

/// Shared by all handlers and cloned per request by axum: keep every field cheap to clone (pools
/// and `Arc`s, not data).
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Db,
    /// When this process started serving (for uptime in logs and future status pages).
    pub started_at: DateTime<Utc>,
}

impl AppState {
    pub fn new(db: Db) -> AppState {
        AppState { db, started_at: Utc::now() }
    }
}
