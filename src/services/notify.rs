//! Messages to the operator through an incoming webhook (Discord, Slack, or anything reading
//! one of their JSON fields): a new user registered, the feed job keeps failing.
//!
//! A notification is a courtesy, never a reason to slow down or fail what triggered it: it is
//! sent from a task of its own ([`Notifier::notify`]), with a short timeout and a couple of
//! retries, and a failure only ends up in the log.
//!
//! A webhook URL is a secret (whoever knows it can post to the channel; Discord's carries a
//! token in its path), so only its host is ever logged or shown.

use std::sync::Arc;
use std::time::Duration;

/// Longest one attempt may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Waits before the retries (so 3 attempts in all): long enough for a restarting endpoint or a
/// rate limit window to pass, short enough that the message is still timely.
const BACKOFF: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(4)];

/// Longest `Retry-After` of a 429 that is honoured; beyond it the default backoff applies.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Discord rejects messages over 2000 characters; Slack accepts more. Longer texts are cut.
const MAX_CHARS: usize = 1900;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("invalid webhook URL: {0}")]
    InvalidUrl(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// Holds the error without the URL (reqwest's own messages quote it whole).
    #[error("webhook at {host}: {reason}")]
    Failed { host: String, reason: String },
}

/// Sends notifications to the configured webhook, or does nothing when there is none. Cheap to
/// clone.
#[derive(Clone, Default)]
pub struct Notifier {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    url: reqwest::Url,
    /// What the logs show instead of the URL.
    host: String,
    client: reqwest::Client,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Some(i) => write!(f, "Notifier(webhook at {})", i.host),
            None => f.write_str("Notifier(disabled)"),
        }
    }
}

impl Notifier {
    /// A notifier that sends nothing.
    pub fn disabled() -> Notifier {
        Notifier { inner: None }
    }

    /// A notifier posting to `url`, or a disabled one when `url` is `None` or blank. Fails on a
    /// URL that is not http(s), so a typo shows at start-up rather than at the first event.
    pub fn new(url: Option<&str>) -> Result<Notifier, NotifyError> {
        let Some(raw) = url.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(Notifier::disabled());
        };
        // The error must not quote the URL: it would end up on stderr or in a log.
        let url = reqwest::Url::parse(raw).map_err(|e| NotifyError::InvalidUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(NotifyError::InvalidUrl(format!("scheme {:?} (use http or https)", url.scheme())));
        }
        let host = url.host_str().ok_or_else(|| NotifyError::InvalidUrl("no host".into()))?.to_owned();
        // reqwest is built with `rustls-no-provider`: a client needs the process-wide provider
        // (installed by `main`, see `crate::tls`).
        crate::tls::require_provider().map_err(NotifyError::Client)?;
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("carburoam/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| NotifyError::Client(e.without_url().to_string()))?;
        Ok(Notifier { inner: Some(Arc::new(Inner { url, host, client })) })
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Sends `text` in the background and returns at once; a failure is logged (see
    /// [`Notifier::send`]). Does nothing when disabled or outside a Tokio runtime.
    pub fn notify(&self, text: String) {
        if self.inner.is_none() {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("notification dropped: no async runtime");
            return;
        };
        let this = self.clone();
        rt.spawn(async move {
            if let Err(e) = this.send(&text).await {
                tracing::warn!(error = %e, "could not send a notification");
            }
        });
    }

    /// Posts `text` and waits for the outcome: up to 3 attempts, retrying on network errors,
    /// timeouts, 5xx and 429 (other answers will not get better by asking again).
    pub async fn send(&self, text: &str) -> Result<(), NotifyError> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        let text = truncate(text, MAX_CHARS);
        // Discord reads `content`, Slack reads `text`; each ignores the other field.
        let body = serde_json::json!({ "content": text, "text": text }).to_string();
        let mut attempt = 0;
        loop {
            let request = inner
                .client
                .post(inner.url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
            let failure = match request.send().await {
                Ok(resp) if resp.status().is_success() => {
                    tracing::debug!(host = %inner.host, attempt = attempt + 1, "notification sent");
                    return Ok(());
                }
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs)
                        .filter(|d| *d <= MAX_RETRY_AFTER);
                    let retryable = status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
                    Failure { reason: format!("HTTP status {status}"), retryable, wait: retry_after }
                }
                Err(e) => Failure { reason: e.without_url().to_string(), retryable: true, wait: None },
            };
            let Some(backoff) = BACKOFF.get(attempt).filter(|_| failure.retryable) else {
                return Err(NotifyError::Failed { host: inner.host.clone(), reason: failure.reason });
            };
            tracing::debug!(host = %inner.host, attempt = attempt + 1, reason = %failure.reason, "notification failed; retrying");
            tokio::time::sleep(failure.wait.unwrap_or(*backoff)).await;
            attempt += 1;
        }
    }
}

/// Why one attempt failed.
struct Failure {
    reason: String,
    retryable: bool,
    /// The server's `Retry-After`, when reasonable.
    wait: Option<Duration>,
}

/// `text` cut to at most `max` characters (on a character boundary), marked with an ellipsis.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_never_shown() {
        crate::tls::install_provider();
        assert!(!Notifier::new(None).expect("none").is_enabled());
        assert!(!Notifier::new(Some("  ")).expect("blank").is_enabled());
        assert!(Notifier::new(Some("ftp://example.org/x")).is_err());
        let err = Notifier::new(Some("not a url/secret")).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(!err.contains("secret"), "{err}");
        let n = Notifier::new(Some("https://discord.example/api/webhooks/1/s3cret")).expect("valid");
        assert!(n.is_enabled());
        assert_eq!(format!("{n:?}"), "Notifier(webhook at discord.example)");
    }

    #[test]
    fn long_texts_are_cut_on_a_character() {
        assert_eq!(truncate("héllo", 10), "héllo");
        assert_eq!(truncate("héllo", 2), "hé…");
    }
}
