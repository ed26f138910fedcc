//! Web Push: the instance's VAPID keys, the devices' subscriptions, and delivery.
//!
//! - **Keys.** A P-256 key pair made at first start ([`vapid_keys`]) and kept in the database,
//!   shared by every instance. Browsers get the public key as `applicationServerKey`; the private
//!   one signs each request's VAPID token (RFC 8292: ES256 JWT, `aud` the push service's origin,
//!   `sub` the instance's https URL or a `mailto:`).
//! - **Payload.** JSON `{title, body, url, tag}` encrypted to the device's `p256dh` key and
//!   `auth` secret per RFC 8291 (`aes128gcm`, RFC 8188) by `web-push-native` (RustCrypto).
//! - **Delivery** ([`deliver`]) fans a message out to every device of a user. Each endpoint is
//!   checked against the SSRF rules ([`AllowList::check_resolved`]) before the request, which is
//!   bounded in time ([`REQUEST_TIMEOUT`]) and whose answer body is never read. 404 and 410 mean
//!   the device unsubscribed: its row is deleted.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer as _;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::Digest as _;

use crate::alerts::target::{AllowList, TargetError};
use crate::db::{self, Db, push as q};
use crate::domain::UserId;

/// Longest a push service may take to answer one request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the push service keeps a message for a device that is offline.
pub const TTL_SECS: u32 = 24 * 3600;
/// How long a VAPID token is valid (RFC 8292 allows at most 24 hours).
const TOKEN_SECS: i64 = 12 * 3600;
/// Longest endpoint URL accepted, in bytes (real ones are about 200–500 characters).
pub const MAX_ENDPOINT_LEN: usize = super::target::MAX_URL_LEN;
/// Devices per user.
pub const MAX_DEVICES: i64 = 20;
/// Largest JSON payload before encryption: every push service takes 4 kB once encrypted.
pub const MAX_PAYLOAD: usize = 3000;

/// What a notification says; `url` is the page a click opens (a path of this site, or a full
/// URL of it), `tag` groups notifications (a newer one replaces an older one with the same tag).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PushMessage {
    pub title: String,
    pub body: String,
    pub url: String,
    pub tag: String,
}

/// The result of [`deliver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// Accepted by the push service of this many devices.
    Delivered { endpoints: usize },
    /// The user has no device (or every one had unsubscribed and was deleted).
    NoSubscription,
}

/// How delivery is configured: the VAPID subject and the hosts the administrator allows.
#[derive(Debug, Clone, Default)]
pub struct PushSettings {
    /// `https://…` (the public URL) or `mailto:…`.
    pub subject: String,
    pub allow: AllowList,
}

impl PushSettings {
    /// The public URL as the subject when it is https (push services ask for an https URL or a
    /// `mailto:`), else a `mailto:` to the mail sender's address.
    pub fn new(public_url: &str, mail_from: &str, allow: AllowList) -> PushSettings {
        let subject = if public_url.starts_with("https://") {
            public_url.trim_end_matches('/').to_owned()
        } else {
            let addr = match (mail_from.find('<'), mail_from.rfind('>')) {
                (Some(a), Some(b)) if a < b => &mail_from[a + 1..b],
                _ => mail_from,
            };
            format!("mailto:{}", addr.trim())
        };
        PushSettings { subject, allow }
    }
}

/// Why a delivery failed. The text never shows the endpoint (a capability URL) nor a key.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the instance's VAPID key is unusable: {0}")]
    Vapid(String),
    #[error("the subscription's keys are unusable: {0}")]
    Keys(String),
    #[error("endpoint refused: {0}")]
    Target(#[from] TargetError),
    #[error("the push service could not be reached: {0}")]
    Unreachable(String),
    #[error("the push service answered HTTP {0}")]
    Status(u16),
    #[error("the device unsubscribed (HTTP {0})")]
    Gone(u16),
}

impl PushError {
    /// What is stored as the device's last error: a code the pages put in the viewer's language
    /// (`status:503`, `unreachable`, `refused`, `keys`, `server`), never the endpoint nor a key.
    pub fn code(&self) -> String {
        match self {
            PushError::Status(s) | PushError::Gone(s) => format!("status:{s}"),
            PushError::Unreachable(_) => "unreachable".into(),
            PushError::Target(_) => "refused".into(),
            PushError::Keys(_) => "keys".into(),
            PushError::Database(_) | PushError::Vapid(_) => "server".into(),
        }
    }

    /// Whether trying again cannot help: the device is gone, the endpoint or keys are refused,
    /// or the push service rejected the request itself (a 4xx other than 408 and 429).
    pub fn is_permanent(&self) -> bool {
        match self {
            PushError::Gone(_) | PushError::Keys(_) | PushError::Target(_) | PushError::Vapid(_) => true,
            PushError::Status(s) => (400..500).contains(s) && !matches!(s, 408 | 429),
            PushError::Database(_) | PushError::Unreachable(_) => false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Keys

/// The instance's VAPID key pair. The private key is a secret: `Debug` does not show it.
#[derive(Clone)]
pub struct VapidKeys {
    private: SecretString,
    /// The uncompressed public point, base64url (what `pushManager.subscribe` takes).
    pub public: String,
}

impl std::fmt::Debug for VapidKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKeys").field("public", &self.public).finish_non_exhaustive()
    }
}

impl VapidKeys {
    /// A fresh pair.
    pub fn generate() -> VapidKeys {
        let key = loop {
            // A random 256-bit number is a valid scalar but with probability ~2^-32.
            if let Ok(k) = p256::SecretKey::from_slice(&rand::random::<[u8; 32]>()) {
                break k;
            }
        };
        let public = B64.encode(key.public_key().to_encoded_point(false).as_bytes());
        VapidKeys { private: SecretString::from(B64.encode(key.to_bytes())), public }
    }

    fn signing_key(&self) -> Result<p256::ecdsa::SigningKey, PushError> {
        let bytes = B64.decode(self.private.expose_secret()).map_err(|_| PushError::Vapid("not base64url".into()))?;
        p256::ecdsa::SigningKey::from_slice(&bytes).map_err(|_| PushError::Vapid("not a P-256 scalar".into()))
    }

    /// The `Authorization` header for a request to `endpoint`: `vapid t=JWT, k=PUBLIC`.
    pub fn authorization(&self, endpoint: &url::Url, subject: &str, now: i64) -> Result<String, PushError> {
        let aud = endpoint.origin().ascii_serialization();
        let header = B64.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({ "aud": aud, "exp": now + TOKEN_SECS, "sub": subject });
        let claims = B64.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let sig: p256::ecdsa::Signature = self.signing_key()?.sign(signing_input.as_bytes());
        Ok(format!("vapid t={signing_input}.{}, k={}", B64.encode(sig.to_bytes()), self.public))
    }
}

/// The instance's key pair: the stored one, or a new one stored now (at first start; when two
/// instances race, both end with the pair stored first).
pub async fn vapid_keys(db: &Db) -> Result<VapidKeys, PushError> {
    let row = match q::vapid(db).await? {
        Some(r) => r,
        None => {
            let fresh = VapidKeys::generate();
            let row = q::VapidRow { private_key: fresh.private.expose_secret().to_owned(), public_key: fresh.public };
            let stored = q::vapid_insert_or_get(db, &row, db::now()).await?;
            tracing::info!(public_key = %stored.public_key, "Web Push VAPID key pair made");
            stored
        }
    };
    Ok(VapidKeys { private: SecretString::from(row.private_key), public: row.public_key })
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

/// Why a subscription sent by a browser is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    #[error("the endpoint is not a URL")]
    BadEndpoint,
    #[error("endpoint refused: {0}")]
    Target(#[from] TargetError),
    #[error("p256dh is not a P-256 public key")]
    BadKey,
    #[error("auth is not a 16-byte secret")]
    BadAuth,
}

/// A device's keys, decoded.
struct DeviceKeys {
    public: p256::PublicKey,
    auth: web_push_native::Auth,
}

fn device_keys(p256dh: &str, auth: &str) -> Result<DeviceKeys, SubscribeError> {
    // Browsers give base64url without padding; some libraries add it.
    let decode = |s: &str| B64.decode(s.trim().trim_end_matches('='));
    let point = decode(p256dh).map_err(|_| SubscribeError::BadKey)?;
    if point.len() != 65 {
        return Err(SubscribeError::BadKey);
    }
    let public = p256::PublicKey::from_sec1_bytes(&point).map_err(|_| SubscribeError::BadKey)?;
    let auth: [u8; 16] = decode(auth).ok().and_then(|a| a.try_into().ok()).ok_or(SubscribeError::BadAuth)?;
    Ok(DeviceKeys { public, auth: web_push_native::Auth::from(auth) })
}

/// Checks what a browser sent (`PushSubscription.toJSON()`): the endpoint against the SSRF rules
/// (without resolving it: the request is made later), the keys as P-256 point and 16 bytes.
pub fn validate(allow: &AllowList, endpoint: &str, p256dh: &str, auth: &str) -> Result<url::Url, SubscribeError> {
    if endpoint.trim().len() > MAX_ENDPOINT_LEN {
        return Err(SubscribeError::Target(TargetError::TooLong));
    }
    let url = url::Url::parse(endpoint.trim()).map_err(|_| SubscribeError::BadEndpoint)?;
    if url.as_str().len() > MAX_ENDPOINT_LEN {
        return Err(SubscribeError::Target(TargetError::TooLong));
    }
    allow.check(&url)?;
    device_keys(p256dh, auth)?;
    Ok(url)
}

// ---------------------------------------------------------------------------------------------
// Delivery

/// The client push requests should go through: no redirects (a redirect could lead to an
/// address the SSRF check did not see), bounded in time.
pub fn http_client() -> Result<reqwest::Client, String> {
    crate::tls::require_provider()?;
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("carburoam/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.without_url().to_string())
}

/// The JSON the service worker reads, at most [`MAX_PAYLOAD`] bytes (the body is shortened when
/// needed, on a character boundary).
pub fn payload(msg: &PushMessage) -> Vec<u8> {
    let mut m = msg.clone();
    loop {
        let bytes = serde_json::to_vec(&m).unwrap_or_default();
        if bytes.len() <= MAX_PAYLOAD || m.body.is_empty() {
            return bytes;
        }
        // Each byte cut from the text takes at least one from the JSON; the ellipsis costs 3.
        let mut cut = m.body.len().saturating_sub(bytes.len() - MAX_PAYLOAD + '…'.len_utf8());
        while !m.body.is_char_boundary(cut) {
            cut -= 1;
        }
        m.body.truncate(cut);
        if cut == 0 {
            continue;
        }
        m.body.push('…');
    }
}

/// Sends `msg` to every device of `user_id`: see the module's documentation. Devices that
/// unsubscribed (404, 410) are deleted; each device's last success or error is recorded.
/// `Err` only when no device took the message and one failed for a reason worth a retry (or
/// could not be tried): the outbox then tries again later.
pub async fn deliver(
    db: &Db,
    http: &reqwest::Client,
    settings: &PushSettings,
    user_id: UserId,
    msg: &PushMessage,
) -> Result<PushOutcome, PushError> {
    let subs = q::for_user(db, user_id).await?;
    if subs.is_empty() {
        return Ok(PushOutcome::NoSubscription);
    }
    let keys = vapid_keys(db).await?;
    let body = payload(msg);
    let topic = topic(&msg.tag);
    let mut delivered = 0;
    let mut failure: Option<PushError> = None;
    for s in &subs {
        let now = db::now();
        match send_one(http, settings, &keys, s, &body, topic.as_deref(), now).await {
            Ok(()) => {
                q::mark_success(db, s.id, now).await?;
                delivered += 1;
            }
            Err(PushError::Gone(status)) => {
                tracing::info!(
                    subscription = s.id.get(),
                    user_id = user_id.get(),
                    status,
                    "push subscription expired: deleted"
                );
                q::delete_expired(db, s.id).await?;
            }
            Err(e) => {
                tracing::warn!(subscription = s.id.get(), user_id = user_id.get(), error = %e, "push delivery failed");
                q::mark_error(db, s.id, now, &e.code()).await?;
                // A transient failure is the one to report: it decides whether the outbox retries.
                if failure.as_ref().is_none_or(|f| f.is_permanent()) {
                    failure = Some(e);
                }
            }
        }
    }
    match (delivered, failure) {
        (0, Some(e)) => Err(e),
        (0, None) => Ok(PushOutcome::NoSubscription),
        (n, _) => Ok(PushOutcome::Delivered { endpoints: n }),
    }
}

/// The `Topic` header (RFC 8030: at most 32 base64url characters) for a tag: a newer message
/// with the same topic replaces one still waiting at the push service.
fn topic(tag: &str) -> Option<String> {
    (!tag.is_empty()).then(|| hex::encode(&sha2::Sha256::digest(tag.as_bytes())[..16]))
}

async fn send_one(
    http: &reqwest::Client,
    settings: &PushSettings,
    keys: &VapidKeys,
    sub: &q::Subscription,
    body: &[u8],
    topic: Option<&str>,
    now: i64,
) -> Result<(), PushError> {
    let url = url::Url::parse(&sub.endpoint).map_err(|_| TargetError::NoHost)?;
    // Pinned to the addresses just checked (as ntfy's): a second lookup by the HTTP client could
    // answer another, private, address (DNS rebinding).
    let addrs = settings.allow.check_resolved(&url).await?;
    let pinned = super::target::client_for(&url, &addrs).map_err(|e| PushError::Unreachable(e.to_string()))?;
    let _ = http; // the shared client: redirects off, bounded time; the pinned one is built alike
    let dev = device_keys(&sub.p256dh, &sub.auth).map_err(|e| PushError::Keys(e.to_string()))?;
    let encrypted = web_push_native::encrypt(body.to_vec(), &dev.public, &dev.auth)
        .map_err(|e| PushError::Keys(format!("encryption: {e}")))?;
    let mut req = pinned
        .post(url.clone())
        .timeout(REQUEST_TIMEOUT)
        .header(reqwest::header::AUTHORIZATION, keys.authorization(&url, &settings.subject, now)?)
        .header(reqwest::header::CONTENT_ENCODING, "aes128gcm")
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .header("TTL", TTL_SECS.to_string())
        .header("Urgency", "normal")
        .body(encrypted);
    if let Some(t) = topic {
        req = req.header("Topic", t);
    }
    // The answer's body is never read: only its status matters.
    let resp = req.send().await.map_err(|e| PushError::Unreachable(e.without_url().to_string()))?;
    match resp.status().as_u16() {
        200..=299 => Ok(()),
        s @ (404 | 410) => Err(PushError::Gone(s)),
        s => Err(PushError::Status(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_stays_under_the_push_services_limit() {
        let msg =
            PushMessage { title: "t".into(), body: "é".repeat(4000), url: "/stations/1".into(), tag: "x".into() };
        let p = payload(&msg);
        assert!(p.len() <= MAX_PAYLOAD, "{}", p.len());
        let back: PushMessage = serde_json::from_slice(&p).expect("JSON");
        assert!(back.body.ends_with('…'));
        // Shortened, not emptied: the message keeps what fits.
        assert!(p.len() > MAX_PAYLOAD - 8 && back.body.chars().count() > 1000, "{} bytes", p.len());
        let ascii = PushMessage { body: "x".repeat(5000), ..msg.clone() };
        let p = payload(&ascii);
        assert!(p.len() <= MAX_PAYLOAD && p.len() > MAX_PAYLOAD - 8, "{}", p.len());
        let short = PushMessage { body: "Gazole 1,659 €".into(), ..msg };
        assert_eq!(serde_json::from_slice::<PushMessage>(&payload(&short)).expect("JSON"), short);
    }

    #[test]
    fn subject_is_https_or_mailto() {
        let s = PushSettings::new("https://carburoam.example/", "Carburoam <noreply@x.example>", AllowList::default());
        assert_eq!(s.subject, "https://carburoam.example");
        let s = PushSettings::new("http://127.0.0.1:8080", "Carburoam <noreply@x.example>", AllowList::default());
        assert_eq!(s.subject, "mailto:noreply@x.example");
    }

    #[test]
    fn errors_tell_whether_to_retry() {
        assert!(PushError::Gone(410).is_permanent());
        assert!(PushError::Status(403).is_permanent());
        assert!(!PushError::Status(429).is_permanent());
        assert!(!PushError::Status(503).is_permanent());
        assert!(!PushError::Unreachable("timeout".into()).is_permanent());
    }

    #[test]
    fn keys_are_checked() {
        let none = AllowList::default();
        let k = VapidKeys::generate();
        let auth = B64.encode([7u8; 16]);
        assert!(validate(&none, "https://push.example.org/a", &k.public, &auth).is_ok());
        assert_eq!(validate(&none, "https://push.example.org/a", "AAAA", &auth), Err(SubscribeError::BadKey));
        assert_eq!(validate(&none, "https://push.example.org/a", &k.public, "AAAA"), Err(SubscribeError::BadAuth));
        assert_eq!(validate(&none, "not a url", &k.public, &auth), Err(SubscribeError::BadEndpoint));
        assert!(matches!(validate(&none, "http://10.0.0.1/a", &k.public, &auth), Err(SubscribeError::Target(_))));
    }
}
