//! Sending email: password reset codes, username reminders, address confirmations and security
//! notices, in the user's language.
//!
//! A [`Mailer`] has one of two transports, chosen by the configuration:
//!
//! - **SMTP** (`CARBUROAM_SMTP_*`): a pooled lettre transport, over implicit TLS, STARTTLS or, for a
//!   relay on the same machine or in tests, plain text. Every network step is bounded by a 10 s
//!   timeout, so a dead relay makes a request fail instead of hang.
//! - **Files** (no SMTP configured): each message is written as a `.eml` file into the outbox
//!   directory and its subject is logged. A self-hosted instance works out of the box, and its
//!   administrator can still read (and forward) a reset code.
//!
//! Bodies hold one-time codes and links that grant access to an account: they are never logged,
//! outbox files are created readable by their owner only, and `Debug` never prints them.
//!
//! The texts themselves live in `messages.rs`.

mod messages;

pub use messages::{Email, EmailKind, SecurityEvent};

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

/// Bounds the connection and every SMTP command: long enough for a slow relay, short enough for
/// the person waiting on the "forgot password" page.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text: only for a relay on the same host (or the tests' listener).
    None,
    /// Plain connection upgraded with STARTTLS, which is then required (usually port 587).
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

impl FromStr for SmtpTls {
    type Err = String;

    fn from_str(s: &str) -> Result<SmtpTls, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(SmtpTls::None),
            "starttls" => Ok(SmtpTls::StartTls),
            "tls" => Ok(SmtpTls::Tls),
            _ => Err(format!("invalid SMTP TLS mode {s:?}: expected none, starttls or tls")),
        }
    }
}

impl fmt::Display for SmtpTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SmtpTls::None => "none",
            SmtpTls::StartTls => "starttls",
            SmtpTls::Tls => "tls",
        })
    }
}

/// Where and how to reach the SMTP relay. Settings are logged at startup: the password is a
/// [`SecretString`], which `Debug` does not show.
#[derive(Clone, Debug)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<SecretString>,
}

#[derive(Clone, Debug)]
pub struct MailSettings {
    /// `None`: write `.eml` files into `outbox_dir` and log their subject.
    pub smtp: Option<SmtpSettings>,
    /// The sender, `"Carburoam <noreply@example.org>"` style; checked by [`Mailer::new`].
    pub from: String,
    pub outbox_dir: PathBuf,
}

/// Who receives an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub address: String,
    pub name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// The sender or a recipient is not a usable address. The message says which and why.
    #[error("{0}")]
    BadAddress(String),
    /// The SMTP settings cannot work (no host, port 0).
    #[error("{0}")]
    Config(String),
    #[error("cannot build the email: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("sending through SMTP failed: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("cannot write the email to the outbox: {0}")]
    Io(#[from] std::io::Error),
}

/// Sends [`Email`]s. Cheap to clone: all clones share one SMTP connection pool.
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

struct Inner {
    from: Mailbox,
    transport: Transport,
    /// The outbox of the file transport (also swept with SMTP: files written before it was set).
    outbox: PathBuf,
}

enum Transport {
    Smtp {
        host: String,
        port: u16,
        tls: SmtpTls,
        builder: Box<AsyncSmtpTransportBuilder>,
        /// Built on first use: lettre's pool spawns its cleanup task on the current Tokio runtime,
        /// and `Mailer::new` may run before there is one (while reading the configuration).
        transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
    },
    Files {
        dir: PathBuf,
    },
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("transport", &self.describe())
            .field("from", &self.inner.from.to_string())
            .finish()
    }
}

impl Mailer {
    /// Checks everything that can be checked without sending: the sender address, the SMTP
    /// settings, and that the outbox path is not a file. Connects to nothing; the outbox directory
    /// is created on first write.
    pub fn new(settings: MailSettings) -> Result<Mailer, EmailError> {
        // lettre (built with ring) uses the process-wide rustls provider `main` installs, or ring.
        let from: Mailbox = settings.from.trim().parse().map_err(|e| {
            EmailError::BadAddress(format!(
                "CARBUROAM_SMTP_FROM {:?} is not a valid sender (expected e.g. \"Carburoam <noreply@example.org>\"): {e}",
                settings.from
            ))
        })?;

        let outbox = settings.outbox_dir.clone();
        let transport = match settings.smtp {
            Some(smtp) => smtp_transport(smtp)?,
            None => {
                let dir = settings.outbox_dir;
                if dir.exists() && !dir.is_dir() {
                    return Err(EmailError::Io(std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        format!("the outbox {} exists and is not a directory", dir.display()),
                    )));
                }
                Transport::Files { dir }
            }
        };
        Ok(Mailer { inner: Arc::new(Inner { from, transport, outbox }) })
    }

    /// Sends one message. Logs its kind, subject and the transport, never its body (bodies hold
    /// codes) nor the recipient.
    pub async fn send(&self, to: &Recipient, email: &Email) -> Result<(), EmailError> {
        self.send_with_headers(to, email, &[]).await
    }

    /// [`Mailer::send`] with extra header fields (`List-Unsubscribe`…): ASCII values only.
    pub async fn send_with_headers(
        &self,
        to: &Recipient,
        email: &Email,
        headers: &[(&'static str, String)],
    ) -> Result<(), EmailError> {
        let subject = email.subject();
        let mut message = self.build(to, email, &subject)?;
        for (name, value) in headers {
            if !value.is_ascii() || value.contains(['\r', '\n']) {
                return Err(EmailError::BadAddress(format!("invalid value for the {name} header")));
            }
            message.headers_mut().insert_raw(HeaderValue::new(HeaderName::new_from_ascii_str(name), value.clone()));
        }
        match &self.inner.transport {
            Transport::Smtp { builder, transport, .. } => {
                let smtp = transport.get_or_init(|| (**builder).clone().build());
                smtp.send(message).await?;
                tracing::info!(kind = email.kind.name(), subject = %subject, transport = %self.describe(), "email sent");
            }
            Transport::Files { dir } => {
                let path = write_to_outbox(dir, email.kind.name(), message.formatted()).await?;
                tracing::info!(
                    path = %path.display(),
                    subject = %subject,
                    "email written to the outbox (no SMTP configured)"
                );
            }
        }
        Ok(())
    }

    /// Whether messages are written to the outbox rather than sent.
    pub fn writes_files(&self) -> bool {
        matches!(self.inner.transport, Transport::Files { .. })
    }

    /// Deletes the outbox messages addressed to any of `addresses` (case-insensitive): what a
    /// deleted account leaves behind. Returns how many files went.
    pub async fn forget_recipients(&self, addresses: &[String]) -> Result<usize, EmailError> {
        let dir = self.inner.outbox.clone();
        let wanted: Vec<String> = addresses.iter().map(|a| a.trim().to_lowercase()).collect();
        let n = tokio::task::spawn_blocking(move || -> std::io::Result<usize> {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(e),
            };
            let mut n = 0;
            for entry in entries {
                let path = entry?.path();
                if path.extension().and_then(|e| e.to_str()) != Some("eml") {
                    continue;
                }
                let Ok(bytes) = std::fs::read(&path) else { continue };
                if recipient_of(&bytes).is_some_and(|to| wanted.contains(&to)) {
                    std::fs::remove_file(&path)?;
                    n += 1;
                }
            }
            Ok(n)
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(n)
    }

    /// Where emails go, for the startup log: `SMTP smtp.example.org:587 (STARTTLS)` or
    /// `files in data/outbox`.
    pub fn describe(&self) -> String {
        match &self.inner.transport {
            Transport::Smtp { host, port, tls, .. } => {
                let tls = match tls {
                    SmtpTls::None => "no TLS",
                    SmtpTls::StartTls => "STARTTLS",
                    SmtpTls::Tls => "TLS",
                };
                format!("SMTP {host}:{port} ({tls})")
            }
            Transport::Files { dir } => format!("files in {}", dir.display()),
        }
    }

    fn build(&self, to: &Recipient, email: &Email, subject: &str) -> Result<Message, EmailError> {
        let from = &self.inner.from;
        // Our own id rather than lettre's `<uuid@hostname>`: the server's host name is nobody's
        // business, the sender's domain is already public.
        let message_id = format!("<{:032x}@{}>", rand::random::<u128>(), from.email.domain());
        let message = Message::builder()
            .from(from.clone())
            .to(recipient_mailbox(to)?)
            .subject(subject)
            .date_now()
            .message_id(Some(message_id))
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Content-Language"), email.lang.code().into()))
            // RFC 3834: tells vacation responders not to answer.
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-generated".into()))
            .multipart(MultiPart::alternative_plain_html(email.text(), email.html()))?;
        Ok(message)
    }
}

fn smtp_transport(smtp: SmtpSettings) -> Result<Transport, EmailError> {
    let host = smtp.host.trim().to_owned();
    if host.is_empty() {
        return Err(EmailError::Config("the SMTP host is empty (CARBUROAM_SMTP_HOST)".into()));
    }
    if smtp.port == 0 {
        return Err(EmailError::Config("the SMTP port cannot be 0 (CARBUROAM_SMTP_PORT)".into()));
    }
    let mut builder = match smtp.tls {
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&host)?,
        SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)?,
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host),
    }
    .port(smtp.port)
    .timeout(Some(SMTP_TIMEOUT));
    match (smtp.username, smtp.password) {
        (Some(user), password) if !user.is_empty() => {
            let password = password.map(|p| p.expose_secret().to_owned()).unwrap_or_default();
            builder = builder.credentials(Credentials::new(user, password));
        }
        (_, Some(_)) => {
            tracing::warn!("an SMTP password is set without a username: sending without authentication");
        }
        _ => {}
    }
    Ok(Transport::Smtp { host, port: smtp.port, tls: smtp.tls, builder: Box::new(builder), transport: OnceLock::new() })
}

fn recipient_mailbox(to: &Recipient) -> Result<Mailbox, EmailError> {
    let raw = to.address.trim();
    // lettre accepts quoted local parts, which may hold spaces and control characters; nothing we
    // send to needs them, and refusing them here keeps them out of the SMTP dialogue.
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(EmailError::BadAddress(format!("invalid recipient address {:?}: it contains spaces", to.address)));
    }
    let address: Address =
        raw.parse().map_err(|e| EmailError::BadAddress(format!("invalid recipient address {:?}: {e}", to.address)))?;
    let name = to.name.as_deref().map(|n| n.replace(|c: char| c.is_control(), " ")).filter(|n| !n.trim().is_empty());
    Ok(Mailbox::new(name.map(|n| n.trim().to_owned()), address))
}

/// The address of the `To` header of a message written by [`Mailer::build`], lower-cased.
fn recipient_of(message: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next()?;
    // Unfold continuation lines, then find the header.
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let value = unfolded.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("to").then(|| value.trim().to_owned())
    })?;
    let address = match (value.rfind('<'), value.rfind('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.as_str(),
    };
    Some(address.trim().to_lowercase())
}

/// Writes under a hidden temporary name, then renames: whoever watches the outbox for `*.eml`
/// never reads half a message. The file is created readable by its owner only (it may hold a
/// reset code).
async fn write_to_outbox(dir: &Path, kind: &str, bytes: Vec<u8>) -> Result<PathBuf, EmailError> {
    let dir = dir.to_path_buf();
    let name = format!("{}-{kind}-{:016x}.eml", chrono::Utc::now().format("%Y%m%dT%H%M%S"), rand::random::<u64>());
    let written = tokio::task::spawn_blocking(move || -> std::io::Result<PathBuf> {
        let with_path =
            |e: std::io::Error, path: &Path| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        std::fs::create_dir_all(&dir).map_err(|e| with_path(e, &dir))?;
        let mut file = tempfile::Builder::new()
            .prefix(".")
            .suffix(".eml.tmp")
            .tempfile_in(&dir)
            .map_err(|e| with_path(e, &dir))?;
        file.write_all(&bytes).and_then(|()| file.as_file().sync_all()).map_err(|e| with_path(e, file.path()))?;
        let path = dir.join(name);
        file.persist_noclobber(&path).map_err(|e| with_path(e.error, &path))?;
        Ok(path)
    })
    .await
    .map_err(std::io::Error::other)??;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Lang;

    fn settings(smtp: Option<SmtpSettings>) -> MailSettings {
        MailSettings { smtp, from: "Carburoam <noreply@localhost>".into(), outbox_dir: PathBuf::from("data/outbox") }
    }

    fn smtp(tls: SmtpTls) -> SmtpSettings {
        SmtpSettings {
            host: "smtp.example.org".into(),
            port: 587,
            tls,
            username: Some("user".into()),
            password: Some("hunter2-secret".into()),
        }
    }

    #[test]
    fn tls_modes_parse() {
        assert_eq!("none".parse::<SmtpTls>(), Ok(SmtpTls::None));
        assert_eq!("STARTTLS".parse::<SmtpTls>(), Ok(SmtpTls::StartTls));
        assert_eq!(" Tls ".parse::<SmtpTls>(), Ok(SmtpTls::Tls));
        let err = "ssl".parse::<SmtpTls>().unwrap_err();
        assert!(err.contains("\"ssl\"") && err.contains("none, starttls or tls"), "{err}");
        for tls in [SmtpTls::None, SmtpTls::StartTls, SmtpTls::Tls] {
            assert_eq!(tls.to_string().parse::<SmtpTls>(), Ok(tls));
        }
    }

    #[test]
    fn describe_names_the_transport() {
        let mailer = Mailer::new(settings(Some(smtp(SmtpTls::StartTls)))).unwrap();
        assert_eq!(mailer.describe(), "SMTP smtp.example.org:587 (STARTTLS)");
        let mailer = Mailer::new(settings(Some(SmtpSettings { port: 465, ..smtp(SmtpTls::Tls) }))).unwrap();
        assert_eq!(mailer.describe(), "SMTP smtp.example.org:465 (TLS)");
        let mailer = Mailer::new(settings(None)).unwrap();
        assert_eq!(mailer.describe(), "files in data/outbox");
    }

    #[test]
    fn debug_hides_the_password() {
        let settings = settings(Some(smtp(SmtpTls::Tls)));
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("REDACTED"), "{debug}");
        let mailer = Mailer::new(settings).unwrap();
        let debug = format!("{mailer:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("smtp.example.org:587"), "{debug}");
    }

    #[test]
    fn bad_settings_are_refused() {
        let mut bad_from = settings(None);
        bad_from.from = "Carburoam noreply".into();
        let err = Mailer::new(bad_from).unwrap_err();
        assert!(matches!(err, EmailError::BadAddress(_)), "{err:?}");
        assert!(err.to_string().contains("CARBUROAM_SMTP_FROM"), "{err}");
        let no_host = settings(Some(SmtpSettings { host: " ".into(), ..smtp(SmtpTls::None) }));
        assert!(matches!(Mailer::new(no_host), Err(EmailError::Config(_))));
    }

    #[test]
    fn recipients_are_checked() {
        let ok =
            recipient_mailbox(&Recipient { address: " zoe@example.org ".into(), name: Some("Zoé".into()) }).unwrap();
        assert_eq!(ok.email.to_string(), "zoe@example.org");
        assert_eq!(ok.name.as_deref(), Some("Zoé"));
        for bad in ["", "zoe", "zoe@", "@example.org", "\"a\r\nDATA\"@example.org", "a b@example.org"] {
            let err = recipient_mailbox(&Recipient { address: bad.into(), name: None }).unwrap_err();
            assert!(matches!(err, EmailError::BadAddress(_)), "{bad:?}: {err:?}");
        }
    }

    #[test]
    fn the_recipient_is_read_back() {
        let mailer = Mailer::new(settings(None)).unwrap();
        let email = Email {
            lang: Lang::Fr,
            kind: EmailKind::SecurityNotice { display_name: "Zoé".into(), what: SecurityEvent::PasswordChanged },
        };
        for name in [None, Some("Zoé Ünïcode, \"the\" long display name that will surely be folded somewhere")] {
            let to = Recipient { address: "Zoe@Example.org".into(), name: name.map(str::to_owned) };
            let raw = mailer.build(&to, &email, &email.subject()).unwrap().formatted();
            assert_eq!(recipient_of(&raw).as_deref(), Some("zoe@example.org"));
        }
    }

    #[test]
    fn messages_carry_the_expected_headers() {
        let mailer = Mailer::new(settings(None)).unwrap();
        let email = Email {
            lang: Lang::Fr,
            kind: EmailKind::SecurityNotice { display_name: "Zoé".into(), what: SecurityEvent::PasswordChanged },
        };
        let to = Recipient { address: "zoe@example.org".into(), name: Some("Zoé".into()) };
        let raw = mailer.build(&to, &email, &email.subject()).unwrap().formatted();
        let raw = String::from_utf8(raw).unwrap();
        assert!(raw.is_ascii(), "bodies are transfer-encoded");
        for header in ["From: Carburoam <noreply@localhost>", "Content-Language: fr", "Auto-Submitted: auto-generated"]
        {
            assert!(raw.contains(&format!("{header}\r\n")), "{header} in {raw}");
        }
        assert!(raw.contains("Message-ID: <") && raw.contains("@localhost>\r\n"), "{raw}");
        assert!(raw.contains("Date: "));
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain; charset=utf-8") && raw.contains("text/html; charset=utf-8"), "{raw}");
    }
}
