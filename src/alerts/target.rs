//! Where alerts may be sent: an ntfy topic or a push endpoint is a URL a user typed, so a request
//! to it is a server-side request forgery waiting to happen. Rules:
//!
//! - `https://` only; `http://` only to a host the administrator allows;
//! - never to a loopback, link-local, private, unique-local, unspecified, multicast or shared
//!   (CGNAT) address, nor an IPv4-mapped one — checked on the addresses the name RESOLVES to, and
//!   the connection is then pinned to those addresses (no second lookup an attacker's DNS could
//!   answer differently) — unless the administrator allows the host or a CIDR holding the address
//!   (`--alert-allow-hosts`, `CARBUROAM_ALERT_ALLOW_HOSTS`, `alert_allow_hosts`); an IPv6 address
//!   that embeds an IPv4 one (IPv4-compatible, mapped, SIIT, NAT64, 6to4, Teredo) is judged by it;
//! - at most [`MAX_URL_LEN`] bytes, checked when the user saves it ([`AllowList::parse_url`]);
//! - bounded time ([`TIMEOUT`]) and response size ([`MAX_RESPONSE`]); no redirects.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

/// A whole request (connect, send, read) takes at most this.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of a response body read at most (the rest is dropped).
pub const MAX_RESPONSE: usize = 16 * 1024;
/// Longest ntfy topic or push endpoint accepted, in bytes (real ones are 30 to 500).
pub const MAX_URL_LEN: usize = 2048;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("not a valid URL")]
    BadUrl,
    #[error("the address is longer than {MAX_URL_LEN} bytes")]
    TooLong,
    #[error("only https:// addresses are accepted")]
    NotHttps,
    #[error("the address has no host")]
    NoHost,
    #[error("this host is not allowed: {0} is a private, local or reserved address")]
    Forbidden(IpAddr),
    #[error("cannot resolve the host: {0}")]
    Resolve(String),
    #[error("invalid allowed host or network {0:?} (expected a host name, an address or a CIDR like 10.0.0.0/8)")]
    BadAllow(String),
}

/// One allowed entry: a host name (exact, case-insensitive) or a network.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Host(String),
    Net(IpAddr, u8),
}

/// The administrator's exceptions to the rules above.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    entries: Vec<Entry>,
}

impl FromStr for AllowList {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AllowList::parse(s)
    }
}

impl AllowList {
    /// Comma- or space-separated hosts, addresses and CIDRs; empty: no exception.
    pub fn parse(s: &str) -> Result<AllowList, TargetError> {
        let mut entries = Vec::new();
        for item in s.split([',', ' ', '\n', '\t']).map(str::trim).filter(|i| !i.is_empty()) {
            let bad = || TargetError::BadAllow(item.to_owned());
            if let Some((addr, bits)) = item.split_once('/') {
                let ip: IpAddr = addr.parse().map_err(|_| bad())?;
                let bits: u8 = bits.parse().map_err(|_| bad())?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                if bits > max {
                    return Err(bad());
                }
                entries.push(Entry::Net(ip, bits));
            } else if let Ok(ip) = item.trim_matches(['[', ']']).parse::<IpAddr>() {
                entries.push(Entry::Net(ip, if ip.is_ipv4() { 32 } else { 128 }));
            } else if item.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')) {
                entries.push(Entry::Host(item.to_ascii_lowercase()));
            } else {
                return Err(bad());
            }
        }
        Ok(AllowList { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.ip_allowed(ip);
        }
        self.entries.iter().any(|e| matches!(e, Entry::Host(h) if *h == host))
    }

    fn ip_allowed(&self, ip: IpAddr) -> bool {
        self.entries.iter().any(|e| match e {
            Entry::Net(net, bits) => in_network(ip, *net, *bits),
            Entry::Host(_) => false,
        })
    }

    /// A URL as a user typed it (surrounding spaces dropped), parsed and [checked](Self::check):
    /// what a form stores. At most [`MAX_URL_LEN`] bytes, as typed and as stored.
    pub fn parse_url(&self, typed: &str) -> Result<url::Url, TargetError> {
        let typed = typed.trim();
        if typed.len() > MAX_URL_LEN {
            return Err(TargetError::TooLong);
        }
        let url = url::Url::parse(typed).map_err(|_| TargetError::BadUrl)?;
        if url.as_str().len() > MAX_URL_LEN {
            return Err(TargetError::TooLong);
        }
        self.check(&url)?;
        Ok(url)
    }

    /// What can be checked without the network: scheme, host, a literal address.
    pub fn check(&self, url: &url::Url) -> Result<(), TargetError> {
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or(TargetError::NoHost)?;
        let allowed_host = self.host_allowed(host);
        match url.scheme() {
            "https" => {}
            "http" if allowed_host => {}
            _ => return Err(TargetError::NotHttps),
        }
        // Credentials in the URL would end up in logs and stored errors: never accepted.
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::BadUrl);
        }
        if let Some(ip) = literal_ip(url)
            && forbidden(ip)
            && !allowed_host
        {
            return Err(TargetError::Forbidden(ip));
        }
        // `localhost` and `*.localhost` are loopback by definition (RFC 6761), resolved or not.
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        if (name == "localhost" || name.ends_with(".localhost")) && !allowed_host {
            return Err(TargetError::Forbidden(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)));
        }
        Ok(())
    }

    /// [`AllowList::check`], then resolves the host and checks every address: the addresses to
    /// connect to (see [`client_for`]).
    pub async fn check_resolved(&self, url: &url::Url) -> Result<Vec<SocketAddr>, TargetError> {
        self.check(url)?;
        let host = url.host_str().ok_or(TargetError::NoHost)?;
        let port = url.port_or_known_default().ok_or(TargetError::BadUrl)?;
        let addrs: Vec<SocketAddr> = match literal_ip(url) {
            Some(ip) => vec![SocketAddr::new(ip, port)],
            None => tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((host, port)))
                .await
                .map_err(|_| TargetError::Resolve("timed out".into()))?
                .map_err(|e| TargetError::Resolve(e.to_string()))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(TargetError::Resolve("no address".into()));
        }
        let host_ok = self.host_allowed(host);
        for a in &addrs {
            if forbidden(a.ip()) && !host_ok && !self.ip_allowed(a.ip()) {
                return Err(TargetError::Forbidden(a.ip()));
            }
        }
        Ok(addrs)
    }
}

fn literal_ip(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
        url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
        url::Host::Domain(_) => None,
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits)) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Addresses no alert may reach unless allowed. An IPv6 address that embeds an IPv4 one
/// ([`embedded_ipv4`]) is judged by that IPv4 address.
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => forbidden_v4(a),
        IpAddr::V6(a) => match embedded_ipv4(a) {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(a),
        },
    }
}

/// The IPv4 address an IPv6 address stands for, when it has one: IPv4-compatible `::/96`
/// (`::127.0.0.1`), IPv4-mapped `::ffff:0:0/96`, SIIT `::ffff:0:0:0/96`, NAT64 `64:ff9b::/96`,
/// 6to4 `2002::/16` (bits 16 to 47) and Teredo `2001::/32` (the client: the last 32 bits
/// inverted). A packet to any of them may end at that IPv4 address.
pub fn embedded_ipv4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = a.segments();
    let last = Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    match s {
        [0, 0, 0, 0, 0, 0 | 0xffff, _, _] => Some(last),
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(last),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(last),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))),
        [0x2001, 0, ..] => Some(Ipv4Addr::from(!u32::from(last))),
        _ => None,
    }
}

fn forbidden_v6(a: Ipv6Addr) -> bool {
    let seg = a.segments();
    a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (seg[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (seg[0] == 0x64 && seg[1] == 0xff9b) // NAT64 beyond the /96 (local use 64:ff9b:1::/48)
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
}

fn forbidden_v4(a: Ipv4Addr) -> bool {
    let o = a.octets();
    a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || a.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space 100.64.0.0/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18.0.0/15
        || o[0] >= 240 // reserved
}

/// An HTTP client that connects to `addrs` only (the checked addresses of `url`'s host), with
/// the bounds above and no redirects.
pub fn client_for(url: &url::Url, addrs: &[SocketAddr]) -> Result<reqwest::Client, reqwest::Error> {
    let mut b = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("carburoam/", env!("CARGO_PKG_VERSION"), " (price alerts)"));
    if let Some(url::Host::Domain(d)) = url.host() {
        b = b.resolve_to_addrs(d, addrs);
    }
    b.build()
}

/// Reads at most [`MAX_RESPONSE`] bytes of a response body (the rest is dropped unread).
pub async fn read_bounded(mut resp: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = MAX_RESPONSE.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX_RESPONSE {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    #[test]
    fn rules_without_exceptions() {
        let none = AllowList::default();
        assert_eq!(none.check(&u("https://ntfy.sh/topic")), Ok(()));
        assert_eq!(none.check(&u("http://ntfy.sh/topic")), Err(TargetError::NotHttps));
        assert_eq!(none.check(&u("ftp://ntfy.sh/topic")), Err(TargetError::NotHttps));
        for bad in [
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://192.168.1.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://[fe80::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://0.0.0.0/x",
            "https://100.64.1.1/x",
            "https://localhost/x",
            "https://LOCALHOST./x",
            "https://push.localhost/x",
        ] {
            assert!(matches!(none.check(&u(bad)), Err(TargetError::Forbidden(_))), "{bad}");
        }
        assert_eq!(none.check(&u("https://1.1.1.1/x")), Ok(()));
        // Credentials would be logged with the URL.
        assert_eq!(none.check(&u("https://user:secret@ntfy.sh/topic")), Err(TargetError::BadUrl));
    }

    #[test]
    fn exceptions() {
        let allow = AllowList::parse("ntfy.lan, 10.0.0.0/8 127.0.0.1").unwrap();
        assert_eq!(allow.check(&u("http://ntfy.lan/t")), Ok(()));
        assert_eq!(allow.check(&u("http://NTFY.lan/t")), Ok(()));
        assert_eq!(allow.check(&u("https://10.9.8.7/t")), Ok(()));
        assert_eq!(allow.check(&u("http://127.0.0.1:8080/t")), Ok(()));
        assert!(matches!(allow.check(&u("https://192.168.0.1/t")), Err(TargetError::Forbidden(_))));
        assert_eq!(allow.check(&u("http://other.example/t")), Err(TargetError::NotHttps));
        for bad in ["10.0.0.0/33", "a b/c", "h@st", "::1/200"] {
            assert!(AllowList::parse(bad).is_err(), "{bad}");
        }
        assert!(AllowList::parse("").unwrap().is_empty());
    }

    /// Each IPv6 form that embeds an IPv4 address is judged by that address: refused when it
    /// is private or local, accepted when it is public (`::ffff:10.0.0.1` is as private as
    /// `10.0.0.1`).
    #[test]
    fn ipv6_forms_embedding_ipv4_are_judged_by_it() {
        let none = AllowList::default();
        let refused = [
            ("https://[::127.0.0.1]/x", "IPv4-compatible ::/96"),
            ("https://[::10.0.0.1]/x", "IPv4-compatible ::/96"),
            ("https://[::ffff:127.0.0.1]/x", "IPv4-mapped ::ffff:0:0/96"),
            ("https://[::ffff:a9fe:a9fe]/x", "IPv4-mapped ::ffff:0:0/96"),
            ("https://[::ffff:0:7f00:1]/x", "SIIT ::ffff:0:0:0/96"),
            ("https://[::ffff:0:c0a8:101]/x", "SIIT ::ffff:0:0:0/96"),
            ("https://[64:ff9b::7f00:1]/x", "NAT64 64:ff9b::/96"),
            ("https://[64:ff9b::a9fe:a9fe]/x", "NAT64 64:ff9b::/96"),
            ("https://[2002:7f00:1::1]/x", "6to4 2002::/16"),
            ("https://[2002:c0a8:101::]/x", "6to4 2002::/16"),
            // Teredo: server 65.54.227.120, client 127.0.0.1 stored inverted (80ff:fffe).
            ("https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/x", "Teredo 2001::/32"),
            ("https://[2001:0:4136:e378::f5ff:fffe]/x", "Teredo 2001::/32 (10.0.0.1)"),
        ];
        for (bad, form) in refused {
            assert!(matches!(none.check(&u(bad)), Err(TargetError::Forbidden(_))), "{form}: {bad}");
        }
        let accepted = [
            "https://[::ffff:1.1.1.1]/x",
            "https://[::ffff:0:101:101]/x",
            "https://[64:ff9b::101:101]/x",
            "https://[2002:101:101::1]/x",
            "https://[2001:0:4136:e378:8000:63bf:fefe:fefe]/x",
            "https://[2606:4700:4700::1111]/x",
        ];
        for good in accepted {
            assert_eq!(none.check(&u(good)), Ok(()), "{good}");
        }
        assert_eq!(embedded_ipv4("2001:0:4136:e378:8000:63bf:80ff:fffe".parse().unwrap()), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(embedded_ipv4("::ffff:0:7f00:1".parse().unwrap()), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(embedded_ipv4("2606:4700::1".parse().unwrap()), None);
        // NAT64 beyond the well-known /96 (local use) stays refused.
        assert!(forbidden("64:ff9b:1::101:101".parse().unwrap()));
    }

    #[test]
    fn urls_are_bounded_when_saved() {
        let none = AllowList::default();
        let base = "https://ntfy.sh/";
        let longest = format!("{base}{}", "a".repeat(MAX_URL_LEN - base.len()));
        assert!(none.parse_url(&longest).is_ok());
        assert_eq!(none.parse_url(&format!("{longest}a")), Err(TargetError::TooLong));
        // Percent-encoding makes the stored form longer than the typed one.
        let spaces = format!("{base}{}", " x".repeat(700));
        assert_eq!(none.parse_url(&spaces), Err(TargetError::TooLong));
        assert_eq!(none.parse_url("  https://ntfy.sh/t  ").map(String::from), Ok("https://ntfy.sh/t".to_owned()));
    }

    #[tokio::test]
    async fn resolved_addresses_are_checked() {
        let none = AllowList::default();
        // `localhost` resolves to a loopback address: refused although the name looks harmless.
        let e = none.check_resolved(&u("https://localhost/x")).await.unwrap_err();
        assert!(matches!(e, TargetError::Forbidden(_) | TargetError::Resolve(_)), "{e:?}");
        let allow = AllowList::parse("localhost").unwrap();
        assert!(allow.check_resolved(&u("http://localhost:9/x")).await.is_ok());
    }
}
