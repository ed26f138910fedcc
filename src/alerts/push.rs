//! Web Push delivery: provided by the `push` branch (issue 13's other half). Until it is merged,
//! this placeholder keeps the agreed signature and refuses every delivery, so a `push` channel
//! row (which only the push branch's pages create) fails visibly instead of silently.

use super::target::AllowList;

pub struct PushMessage {
    pub title: String,
    pub body: String,
    pub url: String,
    pub tag: String,
}

pub enum PushOutcome {
    Delivered { endpoints: usize },
    NoSubscription,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("push not available")]
    Unavailable,
}

impl PushError {
    pub fn is_permanent(&self) -> bool {
        true
    }
}

pub struct PushSettings {
    /// `mailto:` or the public URL.
    pub subject: String,
    pub allow: AllowList,
}

pub async fn deliver(
    _db: &crate::db::Db,
    _http: &reqwest::Client,
    _settings: &PushSettings,
    _user_id: i64,
    _msg: &PushMessage,
) -> Result<PushOutcome, PushError> {
    Err(PushError::Unavailable)
}
