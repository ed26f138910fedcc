//! The server loop: accepts TCP connections and serves each with hyper (HTTP/1.1, and HTTP/2 with
//! prior knowledge), like `axum::serve`, but bounding what one client can hold:
//!
//! - **Header timeout.** A request's head (request line and headers) must arrive whole within
//!   [`ConnectionLimits::header_timeout`] of its first byte, and the first request within that
//!   time of the connection's opening: a socket that sends half a head and waits, or drips a
//!   header line now and then, is closed.
//! - **Idle timeout.** A kept-alive connection with no request in progress and no byte moving
//!   for [`ConnectionLimits::idle_timeout`] is closed (a response stuck behind a client that does
//!   not read counts as idle too).
//! - **Connection bounds.** At most [`ConnectionLimits::max_connections`] open in all, and
//!   [`ConnectionLimits::max_per_address`] from one client address (an IPv6 /64 counts as one
//!   address). A connection past either bound gets `503 Service Unavailable` with
//!   `Retry-After` and is closed; when too many are being refused at once, the extra ones are
//!   closed without an answer.
//!
//! hyper's own `header_read_timeout` is not used: its clock starts as soon as a connection waits
//! for a request, so it would also close kept-alive connections after the header timeout, and
//! the protocol detection of hyper-util's `auto` builder (HTTP/1 or HTTP/2) runs before it
//! without any timeout. Here one watchdog per connection follows the bytes and the requests
//! ([`Activity`]).
//!
//! Graceful shutdown: when the token is cancelled the listener closes, idle connections close,
//! requests in progress finish (each is bounded by [`crate::web::REQUEST_TIMEOUT`]), then
//! [`serve`] returns. Every request carries the peer's [`ConnectInfo<SocketAddr>`] (the rate
//! limits' client address).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::web::cache_control::CachePolicy;
use crate::web::i18n::Lang;

/// Default of [`ConnectionLimits::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: &str = "10s";
/// Default of [`ConnectionLimits::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: &str = "60s";
/// Default of [`ConnectionLimits::max_connections`]: well below the usual limit of 65,536 open
/// files, so the database, the log and the backups always get theirs.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10_000;
/// Default of [`ConnectionLimits::max_per_address`]: far above what browsers open (six per site
/// over HTTP/1.1), a small share of the total.
pub const DEFAULT_MAX_PER_ADDRESS: u32 = 256;
/// Connections being answered 503 at once; past it, refused connections are closed unanswered
/// (each refusal also holds a file until it is answered or its header timeout ends).
const MAX_REFUSING: usize = 1024;
/// The `Retry-After` of a refusal, in seconds.
const RETRY_AFTER_SECS: u64 = 5;
/// At most one log line per this many seconds about refused connections (a flood must not
/// flood the log).
const REFUSAL_LOG_EVERY_SECS: u64 = 10;

/// What one client may hold, and for how long (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// `None`: no bound per address (behind a reverse proxy every connection is the proxy's).
    pub max_per_address: Option<usize>,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: DEFAULT_MAX_CONNECTIONS as usize,
            max_per_address: Some(DEFAULT_MAX_PER_ADDRESS as usize),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then closes the listener and
/// returns once every connection has ended.
pub async fn serve(listener: TcpListener, app: Router, limits: ConnectionLimits, shutdown: CancellationToken) {
    let gate = Arc::new(Gate::new(limits));
    let refusal = Router::new().fallback(refuse);
    let tracker = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let token = shutdown.clone();
        match gate.admit(peer.ip()) {
            Ok(slot) => {
                let app = app.clone();
                tracker.spawn(async move {
                    drive(stream, peer, app, limits, true, token).await;
                    drop(slot);
                });
            }
            Err(why) => {
                if gate.log_refusal() {
                    tracing::warn!(%peer, why, "connection refused with 503 (more such refusals are not logged for 10 s)");
                }
                // A connection being refused holds a file too: a bounded number of them.
                if let Some(slot) = gate.refusing() {
                    let refusal = refusal.clone();
                    tracker.spawn(async move {
                        drive(stream, peer, refusal, limits, false, token).await;
                        drop(slot);
                    });
                }
            }
        }
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
}

/// A failed `accept`: the peer gave up (nothing to do), or the process is out of files or
/// memory (wait a little rather than spin).
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::warn!(error = %e, "cannot accept connections; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The answer to a connection past the bounds, in the visitor's language.
async fn refuse(lang: Lang) -> Response<Body> {
    let mut resp =
        (StatusCode::SERVICE_UNAVAILABLE, CachePolicy::NoStore, lang.strings().too_many_connections).into_response();
    let h = resp.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    // Made before any router: finished here.
    crate::web::cache_control::finish(resp)
}

/// Serves one connection until it ends, times out, or is shut down gracefully.
async fn drive(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    keep_alive: bool,
    shutdown: CancellationToken,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched { io: stream, activity: activity.clone() });
    let service = TowerToHyperService::new(Tracked { app, activity: activity.clone(), peer });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().keep_alive(keep_alive);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = shutdown.cancelled(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            why = activity.expired(&limits) => {
                // Dropping the connection closes the socket.
                tracing::debug!(%peer, why, "connection closed");
                return;
            }
        }
    }
}

/// "No such time": [`Activity::head_since`] when no request head is being read.
const NONE: u64 = u64::MAX;

/// What a connection is doing, for its watchdog: times are milliseconds since it opened.
struct Activity {
    opened: Instant,
    /// Requests handed to the application whose response is not ready yet.
    in_flight: AtomicUsize,
    /// When the first byte of a request head not yet complete arrived ([`NONE`]: none). The
    /// opening counts as such a byte: the first request has the header timeout from the start.
    head_since: AtomicU64,
    /// The last byte read or written, or the last response ready.
    last_io: AtomicU64,
    /// Wakes the watchdog when its deadline may have moved earlier or appeared.
    changed: Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            head_since: AtomicU64::new(0),
            last_io: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    /// Bytes arrived: with no request in progress they begin the next request's head.
    fn read(&self, n: usize) {
        if n == 0 {
            return;
        }
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.head_since.compare_exchange(NONE, now, Ordering::AcqRel, Ordering::Relaxed).is_ok()
        {
            self.changed.notify_one();
        }
    }

    /// Notes a write that moved bytes, and passes its result on.
    fn wrote(&self, polled: Poll<std::io::Result<usize>>) -> Poll<std::io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = polled
            && n > 0
        {
            self.last_io.store(self.now(), Ordering::Relaxed);
        }
        polled
    }

    /// A whole request head was read: the application has it.
    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_since.store(NONE, Ordering::Release);
    }

    fn request_done(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.changed.notify_one();
        }
    }

    /// When the connection must be closed as things stand, and why; `None` while a request is
    /// in progress (the application's own timeout bounds it).
    fn deadline(&self, limits: &ConnectionLimits) -> Option<(Instant, &'static str)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let at = |ms: u64, d: Duration| self.opened + Duration::from_millis(ms) + d;
        match self.head_since.load(Ordering::Acquire) {
            NONE => Some((at(self.last_io.load(Ordering::Relaxed), limits.idle_timeout), "idle timeout")),
            since => Some((at(since, limits.header_timeout), "header timeout")),
        }
    }

    /// Resolves when the connection has outlived its deadline, with the reason.
    async fn expired(&self, limits: &ConnectionLimits) -> &'static str {
        loop {
            match self.deadline(limits) {
                None => self.changed.notified().await,
                Some((at, why)) if Instant::now() >= at => return why,
                Some((at, _)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = self.changed.notified() => {}
                    }
                }
            }
        }
    }
}

/// The socket, telling its [`Activity`] about every byte.
struct Watched {
    io: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut me.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            me.activity.read(buf.filled().len() - before);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let me = self.get_mut();
        me.activity.wrote(Pin::new(&mut me.io).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let me = self.get_mut();
        me.activity.wrote(Pin::new(&mut me.io).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// The application as hyper calls it: each request gets the peer's address, and counts as in
/// progress until its response is ready.
#[derive(Clone)]
struct Tracked {
    app: Router,
    activity: Arc<Activity>,
    peer: SocketAddr,
}

/// A request in progress; dropped when its response is ready (or the connection is gone).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_done();
    }
}

impl tower::Service<Request<Incoming>> for Tracked {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        tower::Service::<Request<Body>>::poll_ready(&mut self.app, cx)
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        self.activity.request_started();
        let in_flight = InFlight(self.activity.clone());
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let answer = self.app.call(req);
        Box::pin(async move {
            let resp = answer.await;
            drop(in_flight);
            resp
        })
    }
}

/// The open connections, in all and per client address.
struct Gate {
    limits: ConnectionLimits,
    open: Mutex<Open>,
    refusing: AtomicUsize,
    /// When a refusal was last logged (seconds since `started`), plus one; 0: never.
    logged: AtomicU64,
    started: Instant,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// A connection counted by its [`Gate`], until dropped.
struct Slot {
    gate: Arc<Gate>,
    address: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(address) = self.address else {
            self.gate.refusing.fetch_sub(1, Ordering::AcqRel);
            return;
        };
        let mut open = self.gate.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_address.get_mut(&address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.per_address.remove(&address);
            }
        }
    }
}

/// The address a client is counted under: IPv4 addresses (also when mapped into IPv6) as they
/// are, IPv6 addresses by their /64, which one subscriber usually holds whole.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

impl Gate {
    fn new(limits: ConnectionLimits) -> Gate {
        Gate {
            limits,
            open: Mutex::new(Open::default()),
            refusing: AtomicUsize::new(0),
            logged: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// Counts a new connection from `ip`, or says which bound it is past.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, &'static str> {
        let address = client_key(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.limits.max_connections {
            return Err("too many open connections");
        }
        let mine = open.per_address.get(&address).copied().unwrap_or(0);
        if self.limits.max_per_address.is_some_and(|max| mine >= max) {
            return Err("too many open connections from this address");
        }
        open.total += 1;
        open.per_address.insert(address, mine + 1);
        Ok(Slot { gate: self.clone(), address: Some(address) })
    }

    /// A place to answer a refused connection with its 503, while fewer than [`MAX_REFUSING`]
    /// are.
    fn refusing(self: &Arc<Self>) -> Option<Slot> {
        let taken = self.refusing.fetch_add(1, Ordering::AcqRel);
        if taken >= MAX_REFUSING {
            self.refusing.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot { gate: self.clone(), address: None })
    }

    /// Whether to log this refusal: the first one, then one per [`REFUSAL_LOG_EVERY_SECS`].
    fn log_refusal(&self) -> bool {
        let now = self.started.elapsed().as_secs() + 1;
        let last = self.logged.load(Ordering::Relaxed);
        (last == 0 || now >= last + REFUSAL_LOG_EVERY_SECS)
            && self.logged.compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_counted_by_client() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("address");
        assert_eq!(client_key(ip("203.0.113.8")), ip("203.0.113.8"));
        assert_eq!(client_key(ip("::ffff:203.0.113.8")), ip("203.0.113.8"));
        assert_eq!(client_key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(client_key(ip("2001:db8:1:2:ffff::1")), client_key(ip("2001:db8:1:2::9")));
    }

    #[test]
    fn the_gate_bounds_total_and_per_address() {
        let limits = ConnectionLimits { max_connections: 3, max_per_address: Some(2), ..Default::default() };
        let gate = Arc::new(Gate::new(limits));
        let a = "192.0.2.1".parse().expect("ip");
        let b = "192.0.2.2".parse().expect("ip");
        let a1 = gate.admit(a).expect("first");
        let _a2 = gate.admit(a).expect("second");
        assert!(gate.admit(a).is_err(), "a third from the same address");
        let _b1 = gate.admit(b).expect("another address");
        assert!(gate.admit("192.0.2.3".parse().expect("ip")).is_err(), "past the total");
        drop(a1);
        let _a3 = gate.admit(a).expect("a slot was freed");
        assert_eq!(gate.open.lock().expect("lock").total, 3);
    }
}
