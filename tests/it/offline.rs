//! Tests never reach a public service.
//!
//! The outbound addresses the application can use are the feed, the price archives, Overpass
//! (station names), the routing engine, the operator's webhook, SMTP, and the ntfy and Web Push
//! targets users give. Every test points each of them at a local server or turns it off:
//!
//! - The in-process server ([`crate::app`]) is built from [`local_config`], and every build
//!   goes through [`assert_local`], which fails the test when a setting it can reach is neither
//!   on loopback nor off.
//! - The real binary is started through [`carburoam`]: its inherited `CARBUROAM_*` settings
//!   are dropped, the outbound ones point at a [`Recorder`] on loopback, and `HTTP_PROXY`,
//!   `HTTPS_PROXY` and `ALL_PROXY` name the same recorder (with `NO_PROXY` for loopback). Every
//!   reqwest client of the application reads these variables when it is built (none calls
//!   `ClientBuilder::no_proxy`), so a request to any other host goes to the recorder, which
//!   refuses it; when the command's value is dropped, the test fails if the recorder saw one.
//!
//! The map tiles are fetched by browsers, not by the server: the tile URL is not checked here.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use carburoam::startup::ServeConfig;

/// A closed port on loopback (the discard service, not run on test machines): a setting that
/// must not be used points here, and a request fails at once with "connection refused".
pub const NOWHERE: &str = "http://127.0.0.1:9";

/// Loopback names for `NO_PROXY`: the test's own servers are reached directly.
const LOOPBACK: &str = "127.0.0.1,localhost,::1";

/// The settings of `carburoam serve` for an in-process test: its defaults with every outbound
/// address off or on loopback ([`NOWHERE`]), the feed a fixture.
pub fn local_config(data_dir: &std::path::Path) -> ServeConfig {
    let mut cfg = ServeConfig::new("(the test's database)", data_dir);
    cfg.mail.from = "Carburoam <noreply@carburoam.test>".into();
    // The console's "Run now" imports a fixture, never the network.
    cfg.feed_url = crate::helpers::fixture("snapshot_b.xml").display().to_string();
    cfg.archive_url = format!("{NOWHERE}/opendata");
    cfg.names_url = format!("{NOWHERE}/api/interpreter");
    // The engine stays the default one (the pages name it), at an address that refuses.
    cfg.router.url = Some(format!("{NOWHERE}/navigation/itineraire"));
    cfg
}

/// Whether `url` is a local file (a path or `file://`) or an `http(s)` address on loopback.
pub fn is_local(url: &str) -> bool {
    if !url.contains("://") {
        return true;
    }
    let Ok(u) = url::Url::parse(url) else { return false };
    if !matches!(u.scheme(), "http" | "https") {
        return u.scheme() == "file";
    }
    match u.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => is_loopback_host(d),
        None => false,
    }
}

/// Whether `host` (a name or an address) is this machine.
fn is_loopback_host(host: &str) -> bool {
    match host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>() {
        Ok(a) => a.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// Fails the test when a setting of `cfg` the server may use reaches beyond loopback: the feed,
/// the archives, Overpass, the routing engine (unless off), the webhook and SMTP (when set).
pub fn assert_local(cfg: &ServeConfig) {
    use secrecy::ExposeSecret;
    let mut urls =
        vec![("feed_url", cfg.feed_url.as_str()), ("archive_url", &cfg.archive_url), ("names_url", &cfg.names_url)];
    let mut outside = Vec::new();
    if cfg.router.kind != carburoam::route::RouterKind::Off {
        match &cfg.router.url {
            Some(url) => urls.push(("router.url", url)),
            None => outside.push("router.url = (the engine's public address)".to_owned()),
        }
    }
    if let Some(w) = &cfg.webhook_url {
        urls.push(("webhook_url", w.expose_secret()));
    }
    outside.extend(urls.into_iter().filter(|(_, url)| !is_local(url)).map(|(what, url)| format!("{what} = {url}")));
    if let Some(smtp) = cfg.mail.smtp.as_ref().filter(|s| !is_loopback_host(&s.host)) {
        outside.push(format!("mail.smtp.host = {}", smtp.host));
    }
    assert!(outside.is_empty(), "a test server would reach a public service: {}", outside.join(", "));
}

/// An HTTP server and proxy on loopback that refuses (403) every request and records its first
/// line: `CONNECT host:443 …` for an `https` address through the proxy, `GET http://host/… …`
/// for a plain one, `GET /… …` when a setting points at it directly. Dropping it fails the test
/// when it saw any connection (see [`Recorder::take`] for a test that expects some).
pub struct Recorder {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Recorder {
    pub fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("recorder: bind");
        let addr = listener.local_addr().expect("recorder: address");
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop: Arc<AtomicBool> = Arc::default();
        let (seen2, stop2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                // Counted at once: a connection the client drops before its request counts too.
                let at = {
                    let mut seen = seen2.lock().expect("recorder");
                    seen.push("(a connection without a request)".to_owned());
                    seen.len() - 1
                };
                let seen = seen2.clone();
                std::thread::spawn(move || refuse(conn, &seen, at));
            }
        });
        Recorder { addr, seen, stop }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The first lines of the requests seen so far, which no longer fail the test.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.seen.lock().expect("recorder"))
    }
}

/// Reads the request's head (5 s at most), records its first line, answers 403 and closes.
fn refuse(mut conn: TcpStream, seen: &Mutex<Vec<String>>, at: usize) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    if let Some(line) = String::from_utf8_lossy(&head).lines().next().filter(|l| !l.is_empty())
        && let Some(slot) = seen.lock().expect("recorder").get_mut(at)
    {
        *slot = line.to_owned();
    }
    let _ = conn.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which sees `stop` and ends (this connection is not recorded).
        let _ = TcpStream::connect(self.addr);
        let seen = self.take();
        if !seen.is_empty() && !std::thread::panicking() {
            panic!("the application under test tried to reach a service outside the test: {seen:?}");
        }
    }
}

/// The real binary with no outbound address beyond loopback (see the module's comment). It
/// derefs to its `Command`; the [`Recorder`] it holds fails the test when dropped if the binary
/// tried to reach out, so it must live as long as the process (a spawned server keeps it).
pub struct Carburoam {
    pub cmd: std::process::Command,
    pub recorder: Recorder,
}

/// `carburoam` as tests run it: [`Carburoam`].
pub fn carburoam() -> Carburoam {
    let recorder = Recorder::start();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_carburoam"));
    // Nothing from the developer's environment: settings, a database, proxies. `REQUEST_METHOD`
    // would make the HTTP clients ignore `HTTP_PROXY` (the CGI rule).
    let inherited = ["DATABASE_URL", "REQUEST_METHOD", "http_proxy", "https_proxy", "all_proxy", "no_proxy"];
    for (k, _) in std::env::vars_os() {
        if let Some(k) = k.to_str()
            && (k.starts_with("CARBUROAM_") || inherited.contains(&k))
        {
            cmd.env_remove(k);
        }
    }
    let local = recorder.url();
    // No history backfill at start, no names refresh on schedule; an address a test does not
    // give points at the recorder.
    cmd.env("CARBUROAM_BACKFILL_DAYS", "0")
        .env("CARBUROAM_NAMES_EVERY", "off")
        .env("CARBUROAM_FEED_URL", format!("{local}/feed"))
        .env("CARBUROAM_ARCHIVE_URL", format!("{local}/opendata"))
        .env("CARBUROAM_NAMES_URL", format!("{local}/api/interpreter"))
        .env("CARBUROAM_ROUTER_URL", format!("{local}/navigation/itineraire"));
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"] {
        cmd.env(var, &local);
    }
    cmd.env("NO_PROXY", LOOPBACK);
    Carburoam { cmd, recorder }
}

impl Deref for Carburoam {
    type Target = std::process::Command;

    fn deref(&self) -> &Self::Target {
        &self.cmd
    }
}

impl DerefMut for Carburoam {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.cmd
    }
}

#[test]
fn local_addresses() {
    for ok in ["/tmp/feed.zip", "file:///tmp/a.zip", "http://127.0.0.1:9/x", "https://[::1]:8443", "http://localhost/"]
    {
        assert!(is_local(ok), "{ok}");
    }
    for out in ["https://overpass-api.de/api/interpreter", "http://10.0.0.8/", "http://x", "ftp://127.0.0.2/"] {
        assert!(!is_local(out), "{out}");
    }
    assert!(is_loopback_host("127.0.0.1") && is_loopback_host("[::1]") && is_loopback_host("localhost"));
    assert!(!is_loopback_host("smtp.example.org") && !is_loopback_host("192.168.1.2"));
}

#[test]
fn the_test_settings_are_local() {
    let dir = tempfile::tempdir().expect("dir");
    assert_local(&local_config(dir.path()));
    // The defaults of `serve` are not.
    let defaults = ServeConfig::new("(test)", dir.path());
    let e = std::panic::catch_unwind(|| assert_local(&defaults)).expect_err("public defaults");
    let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
    for what in ["feed_url", "archive_url", "names_url", "router.url"] {
        assert!(msg.contains(what), "{msg}");
    }
}

/// The guard itself: the binary's HTTP clients go through the recorder for any host beyond
/// loopback, over `https` (a `CONNECT`) and plain `http` alike.
#[test]
fn the_binary_reaching_out_is_seen() {
    let mut c = carburoam();
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}", dir.path().join("c.db").display());
    for (url, seen) in [
        (carburoam::config::DEFAULT_FEED_URL, "CONNECT donnees.roulez-eco.fr:443 "),
        ("http://feed.invalid/instantane", "GET http://feed.invalid/instantane "),
    ] {
        let out = c.args(["etl", "run", "--database", &db, "--feed-url", url]).output().expect("run");
        assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        let lines = c.recorder.take();
        assert!(!lines.is_empty() && lines.iter().all(|l| l.starts_with(seen)), "{url}: {lines:?}");
        c = carburoam();
    }
}
