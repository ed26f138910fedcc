//! Slow or idle connections held forever. Raw sockets against the real server
//! (`src/web/serve.rs`): the header timeout, the idle timeout of kept-alive connections, the
//! bounds on open connections in all and per client address, and a shutdown that a slow client
//! cannot hold up. Timeouts are set to a second here; connections come from several loopback
//! addresses (127.0.0.1, .2, .3) to play different clients. Networking does not depend on the
//! backend: SQLite only.

use std::net::SocketAddr;
use std::time::Duration;

use carburoam::web::serve::ConnectionLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::app::{PASSWORD, TestApp, spawn_app_with};
use crate::helpers::TestDb;

async fn spawn(limits: ConnectionLimits) -> (TestApp, SocketAddr, TestDb) {
    let t = TestDb::sqlite().await;
    let app = spawn_app_with(t.db.clone(), |cfg| cfg.connections = limits).await;
    let addr = app.address.trim_start_matches("http://").parse().expect("the server's address");
    (app, addr, t)
}

fn limits(header: u64, idle: u64) -> ConnectionLimits {
    ConnectionLimits {
        header_timeout: Duration::from_secs(header),
        idle_timeout: Duration::from_secs(idle),
        ..ConnectionLimits::default()
    }
}

/// A connection to `to` from the loopback address `from` (a client of its own).
async fn connect_from(to: SocketAddr, from: &str) -> TcpStream {
    let s = TcpSocket::new_v4().expect("socket");
    s.bind(format!("{from}:0").parse().expect("local address")).expect("bind");
    s.connect(to).await.expect("connect")
}

/// Whether the server closes `s` within `within` (whatever it sends first is read and ignored).
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// One request on `s` and its response: the head in lower case, and the body (by
/// `Content-Length`).
async fn exchange(s: &mut TcpStream, path: &str) -> (String, String) {
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes()).await.expect("write");
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + len {
                return (head, String::from_utf8_lossy(&data[end + 4..end + 4 + len]).into_owned());
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("an answer within 5 s")
            .expect("read");
        assert!(n > 0, "closed before answering: {:?}", String::from_utf8_lossy(&data));
        data.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_a_request_head_is_closed_after_the_header_timeout() {
    let (_app, addr, _t) = spawn(limits(1, 30)).await;
    let mut s = connect_from(addr, "127.0.0.1").await;
    let start = Instant::now();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.expect("write");
    assert!(closed_within(&mut s, Duration::from_secs(5)).await, "still open after 5 s");
    assert!(start.elapsed() >= Duration::from_millis(900), "closed after {:?}", start.elapsed());
    // A socket that sends nothing at all likewise.
    let mut quiet = connect_from(addr, "127.0.0.1").await;
    assert!(closed_within(&mut quiet, Duration::from_secs(5)).await, "a silent socket still open after 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_dripped_line_by_line_is_closed_after_the_header_timeout() {
    let (_app, addr, _t) = spawn(limits(1, 30)).await;
    let s = connect_from(addr, "127.0.0.1").await;
    let (mut read, mut write) = s.into_split();
    let start = Instant::now();
    let drip = tokio::spawn(async move {
        write.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await?;
        for i in 0..20 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            write.write_all(format!("X-Drip-{i}: y\r\n").as_bytes()).await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(5), read.read(&mut buf)).await;
    assert!(matches!(closed, Ok(Ok(0) | Err(_))), "still open after 5 s of dripping: {closed:?}");
    // The whole head counts, not the time between two lines.
    assert!(start.elapsed() < Duration::from_millis(2500), "closed after {:?}", start.elapsed());
    drip.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    // The header timeout longer than the idle one: what closes the connection is its idleness.
    let (_app, addr, _t) = spawn(limits(5, 1)).await;
    let mut s = connect_from(addr, "127.0.0.1").await;
    let (head, body) = exchange(&mut s, "/healthz").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, "ok");
    // Kept alive: a second request on the same connection within the idle time.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (head, _) = exchange(&mut s, "/healthz").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let idle = Instant::now();
    assert!(closed_within(&mut s, Duration::from_secs(4)).await, "an idle connection still open after 4 s");
    let after = idle.elapsed();
    assert!(after >= Duration::from_millis(900) && after < Duration::from_millis(3000), "closed after {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_per_address_bound_the_next_connection_gets_503() {
    let bounds = ConnectionLimits { max_per_address: Some(2), max_connections: 100, ..limits(10, 30) };
    let (app, addr, _t) = spawn(bounds).await;
    let mut held = vec![connect_from(addr, "127.0.0.1").await, connect_from(addr, "127.0.0.1").await];
    // Both are counted once the server has them: the first answers.
    let (head, _) = exchange(&mut held[0], "/healthz").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");

    let mut third = connect_from(addr, "127.0.0.1").await;
    let (head, body) = exchange(&mut third, "/healthz").await;
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(head.contains("\r\nretry-after: "), "{head}");
    assert!(head.contains("\r\nconnection: close"), "{head}");
    assert!(body.contains("Trop de connexions"), "{body}");
    assert!(closed_within(&mut third, Duration::from_secs(2)).await, "the refused connection is closed");

    // Another address is another client.
    let mut other = connect_from(addr, "127.0.0.2").await;
    let (head, _) = exchange(&mut other, "/healthz").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");

    // A connection closed frees its place.
    held.truncate(1);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut again = connect_from(addr, "127.0.0.1").await;
        let (head, _) = exchange(&mut again, "/healthz").await;
        if head.starts_with("http/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the place of a closed connection was not freed: {head}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The rate limits still see each client's own address (ConnectInfo through the new loop):
    // five registrations from 127.0.0.3 spend its allowance, not 127.0.0.1's.
    let from3 = TestApp {
        address: app.address.clone(),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .local_address(Some([127, 0, 0, 3].into()))
            .build()
            .expect("client"),
        db: app.db.clone(),
    };
    for i in 0..5 {
        from3.register(&format!("trois{i}")).await;
    }
    let fields = [
        ("username", "trois5"),
        ("display_name", "trois5"),
        ("email", "trois5@example.org"),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
    ];
    assert_eq!(from3.post_form("/register", &fields).await.status, 429, "the sixth from 127.0.0.3");
    drop(held);
    app.browser().register("premier").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_total_bound_the_next_connection_gets_503() {
    let bounds = ConnectionLimits { max_per_address: None, max_connections: 2, ..limits(10, 30) };
    let (_app, addr, _t) = spawn(bounds).await;
    let mut a = connect_from(addr, "127.0.0.2").await;
    let mut b = connect_from(addr, "127.0.0.3").await;
    for s in [&mut a, &mut b] {
        let (head, _) = exchange(s, "/healthz").await;
        assert!(head.starts_with("http/1.1 200"), "{head}");
    }
    let mut c = connect_from(addr, "127.0.0.1").await;
    let (head, body) = exchange(&mut c, "/healthz").await;
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(head.contains("\r\nretry-after: "), "{head}");
    assert!(!body.is_empty());
    assert!(closed_within(&mut c, Duration::from_secs(2)).await, "the refused connection is closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_does_not_hold_up_the_shutdown() {
    let t = TestDb::sqlite().await;
    let dir = tempfile::tempdir().expect("dir");
    let mut cfg = crate::app::local_config(dir.path());
    cfg.connections = limits(1, 30);
    let server = crate::app::build(cfg, t.db.clone()).await;
    let addr = server.local_addr().expect("address");
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(server.run_until(shutdown.clone()));
    let mut slow = connect_from(addr, "127.0.0.1").await;
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.expect("write");
    tokio::time::sleep(Duration::from_millis(200)).await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("stopped within 5 s despite the slow client")
        .expect("task")
        .expect("run");
}

// Every page names the session it was made for (`X-Session-Tag`, an opaque
// digest, empty without a session), so that the service worker drops the pages it kept for
// another session (e2e/tests/pwa.test.mjs runs it in a browser).
crate::db_test!(every_page_names_its_session_without_revealing_it, |t| {
    let app = crate::app::spawn_app(t.db.clone()).await;
    assert_eq!(app.get("/").await.headers.get("x-session-tag").map(|v| v.as_bytes()), Some(&b""[..]));
    let r = app.register("celine").await;
    let cookie = r.header("set-cookie").to_owned();
    let at_login = r.header("x-session-tag").to_owned();
    assert_eq!(at_login.len(), 32, "the new session's tag at once: {at_login:?}");
    assert!(!cookie.contains(&at_login), "not the session's secret");
    for path in ["/me", "/", "/about"] {
        assert_eq!(app.get(path).await.header("x-session-tag"), at_login, "{path}");
    }
    // Another browser has another session, and another tag.
    let other = app.browser();
    other.register("denis").await;
    let theirs = other.get("/me").await.header("x-session-tag").to_owned();
    assert!(theirs.len() == 32 && theirs != at_login);
    // The session ends elsewhere (deleted in the database): the next page says so.
    carburoam::on_db!(&t.db, p => sqlx::query("DELETE FROM sessions").execute(p).await.map(|_| ()))
        .expect("delete the sessions");
    assert_eq!(app.get("/").await.headers.get("x-session-tag").map(|v| v.as_bytes()), Some(&b""[..]));
});
