//! A small but real SMTP server for the tests: the mailer under test talks to it over TCP exactly
//! as it would to a relay, and every message it accepts is parsed back with mail-parser.
//!
//! It speaks enough of RFC 5321 for lettre: EHLO/HELO, MAIL, RCPT, DATA (with dot-unstuffing),
//! RSET, NOOP, QUIT, several messages per connection (lettre's pool keeps connections open) and
//! several connections at once. No TLS and no AUTH: it advertises neither.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use carburoam::email::{SmtpSettings, SmtpTls};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, mpsc};
use tokio::task::{JoinHandle, JoinSet};

/// Bigger messages are refused (552), so a runaway client cannot eat the test's memory.
const MAX_MESSAGE: usize = 10 * 1024 * 1024;
/// Longer command lines are refused (500); RFC 5321 allows 512 octets, extensions a little more.
const MAX_LINE: usize = 4096;

pub struct SmtpSink {
    pub port: u16,
    received: Mutex<mpsc::UnboundedReceiver<Received>>,
    connections: Arc<AtomicUsize>,
    server: JoinHandle<()>,
}

/// One accepted message: the envelope as the client gave it, and the parsed content.
#[derive(Debug, Clone)]
pub struct Received {
    /// `MAIL FROM` address (without the angle brackets).
    pub from: String,
    /// `RCPT TO` addresses, in order.
    pub to: Vec<String>,
    pub subject: String,
    /// The first text/plain part, decoded.
    pub text: String,
    /// The first text/html part, decoded.
    pub html: String,
    /// The message exactly as received after DATA, dot-unstuffed.
    pub raw: Vec<u8>,
}

impl Received {
    /// A header of the message, decoded (`"Content-Language"`, `"To"`…); `None` when absent.
    pub fn header(&self, name: &str) -> Option<String> {
        let message = mail_parser::MessageParser::default().parse(&self.raw)?;
        message.header_raw(name).map(|v| v.trim().to_owned())
    }

    /// The `To` header's address (not the envelope's).
    pub fn to_header(&self) -> Option<String> {
        let message = mail_parser::MessageParser::default().parse(&self.raw)?;
        message.to()?.first()?.address().map(str::to_owned)
    }

    /// The `To` header's display name, decoded.
    pub fn to_name(&self) -> Option<String> {
        let message = mail_parser::MessageParser::default().parse(&self.raw)?;
        message.to()?.first()?.name().map(str::to_owned)
    }
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the test SMTP server");
        let port = listener.local_addr().expect("local addr").port();
        let (tx, rx) = mpsc::unbounded_channel();
        let connections = Arc::new(AtomicUsize::new(0));
        let accepted_count = Arc::clone(&connections);
        let server = tokio::spawn(async move {
            // Owned by this task: aborting it (when the sink drops) drops every connection too.
            let mut tasks = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        accepted_count.fetch_add(1, Ordering::SeqCst);
                        tasks.spawn(serve(stream, tx.clone()));
                    }
                    Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                }
            }
        });
        SmtpSink { port, received: Mutex::new(rx), connections, server }
    }

    pub fn settings(&self) -> SmtpSettings {
        SmtpSettings { host: "127.0.0.1".into(), port: self.port, tls: SmtpTls::None, username: None, password: None }
    }

    /// How many connections were accepted so far (to see a connection pool at work).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The next message accepted, in order of acceptance. Panics after 10 s without one.
    pub async fn next(&self) -> Received {
        let mut rx = self.received.lock().await;
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(message)) => message,
            Ok(None) => panic!("the test SMTP server on port {} stopped", self.port),
            Err(_) => panic!("no email reached the test SMTP server on port {} within 10 s", self.port),
        }
    }

    /// Asserts that no message arrives within `d`.
    pub async fn none_within(&self, d: Duration) {
        let mut rx = self.received.lock().await;
        if let Ok(Some(message)) = tokio::time::timeout(d, rx.recv()).await {
            panic!("expected no email, got one to {:?} with subject {:?}", message.to, message.subject);
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Where a connection is in the SMTP dialogue.
enum State {
    /// Before EHLO/HELO.
    Connected,
    /// Greeted, no transaction.
    Ready,
    /// After MAIL FROM (and perhaps some RCPT TO).
    Mail { from: String, to: Vec<String> },
}

async fn serve(stream: TcpStream, tx: mpsc::UnboundedSender<Received>) {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut state = State::Connected;
    if reply(&mut write, "220 127.0.0.1 Carburoam test SMTP ready").await.is_err() {
        return;
    }
    loop {
        let Some(line) = read_line(&mut read).await else { return };
        let Ok(line) = String::from_utf8(line) else {
            if reply(&mut write, "500 5.5.2 Command line is not UTF-8").await.is_err() {
                return;
            }
            continue;
        };
        let line = line.trim_end_matches(['\r', '\n']);
        if line.len() > MAX_LINE {
            if reply(&mut write, "500 5.5.2 Line too long").await.is_err() {
                return;
            }
            continue;
        }
        let (verb, arg) = match line.split_once(' ') {
            Some((verb, arg)) => (verb.to_ascii_uppercase(), arg.trim()),
            None => (line.to_ascii_uppercase(), ""),
        };
        let answer: String = match verb.as_str() {
            "EHLO" | "HELO" if arg.is_empty() => "501 5.5.4 A domain or address is required".into(),
            "EHLO" => {
                state = State::Ready;
                format!("250-127.0.0.1 greets {arg}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE {MAX_MESSAGE}")
            }
            "HELO" => {
                state = State::Ready;
                format!("250 127.0.0.1 greets {arg}")
            }
            "MAIL" => match (&state, path_arg(arg, "FROM:")) {
                (State::Connected, _) => "503 5.5.1 Say EHLO first".into(),
                (State::Mail { .. }, _) => "503 5.5.1 Nested MAIL command".into(),
                (State::Ready, Some(from)) => {
                    state = State::Mail { from, to: Vec::new() };
                    "250 2.1.0 OK".into()
                }
                (State::Ready, None) => "501 5.5.4 Syntax: MAIL FROM:<address>".into(),
            },
            "RCPT" => match (&mut state, path_arg(arg, "TO:")) {
                (State::Mail { to, .. }, Some(rcpt)) if !rcpt.is_empty() => {
                    to.push(rcpt);
                    "250 2.1.5 OK".into()
                }
                (State::Mail { .. }, _) => "501 5.5.4 Syntax: RCPT TO:<address>".into(),
                _ => "503 5.5.1 Need MAIL before RCPT".into(),
            },
            "DATA" => match &state {
                State::Mail { to, .. } if !to.is_empty() => {
                    if reply(&mut write, "354 End data with <CR><LF>.<CR><LF>").await.is_err() {
                        return;
                    }
                    let Some(data) = read_data(&mut read).await else { return };
                    let State::Mail { from, to } = std::mem::replace(&mut state, State::Ready) else {
                        unreachable!("checked above")
                    };
                    match data {
                        Some(raw) => {
                            let _ = tx.send(parse(from, to, raw));
                            "250 2.0.0 OK: queued".into()
                        }
                        None => "552 5.3.4 Message too big".into(),
                    }
                }
                State::Mail { .. } => "554 5.5.1 No valid recipients".into(),
                _ => "503 5.5.1 Need MAIL and RCPT before DATA".into(),
            },
            "RSET" => {
                if !matches!(state, State::Connected) {
                    state = State::Ready;
                }
                "250 2.0.0 OK".into()
            }
            "NOOP" => "250 2.0.0 OK".into(),
            "VRFY" => "252 2.5.2 Cannot VRFY user".into(),
            "QUIT" => {
                let _ = reply(&mut write, "221 2.0.0 Bye").await;
                return;
            }
            _ => format!("500 5.5.2 Command not recognized: {verb}"),
        };
        if reply(&mut write, &answer).await.is_err() {
            return;
        }
    }
}

/// `FROM:<a@b> BODY=8BITMIME` → `a@b` (the null path `<>` gives an empty string).
fn path_arg(arg: &str, keyword: &str) -> Option<String> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_owned())
}

async fn reply(write: &mut tokio::net::tcp::OwnedWriteHalf, answer: &str) -> std::io::Result<()> {
    // One write per reply: split writes meet Nagle and delayed ACKs, 40 ms per command.
    write.write_all(format!("{answer}\r\n").as_bytes()).await?;
    write.flush().await
}

/// One line with its ending; `None` at end of stream.
async fn read_line(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    match read.read_until(b'\n', &mut line).await {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line),
    }
}

/// The message after DATA, up to the line holding a single dot. `None`: the connection ended;
/// `Some(None)`: the message was too big (read to its end all the same, to stay in step).
async fn read_data(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<Option<Vec<u8>>> {
    let mut raw = Vec::new();
    let mut too_big = false;
    loop {
        let line = read_line(read).await?;
        if line == b".\r\n" || line == b".\n" {
            return Some((!too_big).then_some(raw));
        }
        // Dot-unstuffing (RFC 5321 4.5.2): the client doubled every leading dot.
        let line = line.strip_prefix(b".").unwrap_or(&line);
        if raw.len() + line.len() > MAX_MESSAGE {
            too_big = true;
            raw.clear();
        } else if !too_big {
            raw.extend_from_slice(line);
        }
    }
}

fn parse(from: String, to: Vec<String>, raw: Vec<u8>) -> Received {
    let (subject, text, html) = match mail_parser::MessageParser::default().parse(&raw) {
        Some(message) => (
            message.subject().unwrap_or_default().to_owned(),
            message.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
            message.body_html(0).map(|h| h.into_owned()).unwrap_or_default(),
        ),
        None => Default::default(),
    };
    Received { from, to, subject, text, html, raw }
}

/// The first reset code in `text`: three groups of four upper-case letters or digits joined by
/// hyphens (`K7QF-M2XD-9PRT`), standing alone (not inside a longer word or hyphenated run).
pub fn find_code(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    const LEN: usize = 14;
    let is_code_char = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    (0..bytes.len().checked_sub(LEN - 1)?).find_map(|start| {
        let window = &bytes[start..start + LEN];
        let shaped =
            window.iter().enumerate().all(|(i, &b)| if i == 4 || i == 9 { b == b'-' } else { is_code_char(b) });
        let alone_before = start == 0 || !is_word(bytes[start - 1]);
        let alone_after = bytes.get(start + LEN).is_none_or(|&b| !is_word(b));
        (shaped && alone_before && alone_after).then(|| text[start..start + LEN].to_owned())
    })
}

/// The first URL in `text` that starts with `prefix`, up to the next space or quote (a trailing
/// sentence full stop or comma is not part of it).
pub fn find_link(text: &str, prefix: &str) -> Option<String> {
    let start = text.find(prefix)?;
    let rest = &text[start..];
    let end = rest.find(|c: char| c.is_whitespace() || matches!(c, '"' | '<' | '>' | '\'')).unwrap_or(rest.len());
    let link = rest[..end].trim_end_matches(['.', ',', ';']);
    Some(link.to_owned())
}

#[test]
fn find_code_wants_a_code_standing_alone() {
    assert_eq!(find_code("code:\n    K7QF-M2XD-9PRT\n").as_deref(), Some("K7QF-M2XD-9PRT"));
    assert_eq!(find_code("K7QF-M2XD-9PRT").as_deref(), Some("K7QF-M2XD-9PRT"));
    assert_eq!(find_code("?code=K7QF-M2XD-9PRT&x").as_deref(), Some("K7QF-M2XD-9PRT"));
    assert_eq!(find_code("AK7QF-M2XD-9PRT"), None);
    assert_eq!(find_code("K7QF-M2XD-9PRT-ABCD"), None);
    assert_eq!(find_code("k7qf-m2xd-9prt"), None);
    assert_eq!(find_code("Zoé K7Q"), None);
    assert_eq!(find_code(""), None);
    assert_eq!(find_code("é K7QF-M2XD-9PRT é").as_deref(), Some("K7QF-M2XD-9PRT"));
}

#[test]
fn find_link_stops_at_the_end_of_the_url() {
    let text = "Open:\nhttps://x.example/reset?code=A&b=1\nthen https://x.example/other.";
    assert_eq!(find_link(text, "https://x.example/reset").as_deref(), Some("https://x.example/reset?code=A&b=1"));
    assert_eq!(find_link(text, "https://x.example/other").as_deref(), Some("https://x.example/other"));
    assert_eq!(find_link(text, "https://elsewhere"), None);
}

#[tokio::test]
async fn the_sink_speaks_smtp() {
    use tokio::io::AsyncReadExt;

    let sink = SmtpSink::start().await;
    let mut stream = TcpStream::connect(("127.0.0.1", sink.port)).await.expect("connect");
    let script = "EHLO test\r\nRCPT TO:<early@x>\r\nMAIL FROM:<a@x> BODY=8BITMIME\r\nDATA\r\nRCPT TO:<b@x>\r\n\
                  RCPT TO:<c@x>\r\nNOOP\r\nDATA\r\nSubject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\n\
                  MAIL FROM:<>\r\nRSET\r\nBOGUS\r\nQUIT\r\n";
    stream.write_all(script.as_bytes()).await.expect("write");
    let mut replies = String::new();
    stream.read_to_string(&mut replies).await.expect("read");
    let codes: Vec<&str> = replies.lines().filter(|l| l.as_bytes().get(3) != Some(&b'-')).map(|l| &l[..3]).collect();
    assert_eq!(
        codes,
        ["220", "250", "503", "250", "554", "250", "250", "250", "354", "250", "250", "250", "500", "221"]
    );
    let message = sink.next().await;
    assert_eq!(message.from, "a@x");
    assert_eq!(message.to, ["b@x", "c@x"]);
    assert_eq!(message.subject, "hi");
    assert_eq!(message.raw, b"Subject: hi\r\n\r\n.leading dot\r\nbody\r\n");
    sink.none_within(Duration::from_millis(50)).await;
}
