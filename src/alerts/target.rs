//! Where alerts may be sent (ntfy topics, push endpoints): a URL given by a user is an SSRF
//! vector, so it must be `https`, carry no credentials, and lead to a public address — unless the
//! administrator allows the host (`--alert-allow-hosts`: host names or CIDRs, comma-separated),
//! which also allows plain `http` to it.
//!
//! [`AllowList::check`] looks at the URL alone (at subscribe time, no network);
//! [`AllowList::check_resolved`] also resolves the host and checks every address (at send time).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a target URL is refused. The messages never quote the URL (it may be a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("not an https URL")]
    NotHttps,
    #[error("the URL has no host")]
    NoHost,
    #[error("the URL carries credentials")]
    Credentials,
    #[error("the host is a private, loopback or link-local address")]
    Private,
    #[error("the host does not resolve: {0}")]
    Resolve(String),
    #[error("invalid allowed host {0:?} (a host name, an address or a CIDR such as 10.0.0.0/8)")]
    BadEntry(String),
}

/// An allowed network: an address and its prefix length.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// The hosts and networks the administrator allows (empty by default: only public https).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    hosts: Vec<String>,
    nets: Vec<Cidr>,
}

impl AllowList {
    /// Parses `a.example, 10.0.0.0/8, ::1, 127.0.0.1` (commas or spaces). Empty: nothing allowed.
    pub fn parse(s: &str) -> Result<AllowList, TargetError> {
        let mut list = AllowList::default();
        for entry in s.split([',', ' ', '\n', '\t']).map(str::trim).filter(|e| !e.is_empty()) {
            if let Some((addr, prefix)) = entry.split_once('/') {
                let net: IpAddr = addr.parse().map_err(|_| TargetError::BadEntry(entry.to_owned()))?;
                let max = if net.is_ipv4() { 32 } else { 128 };
                let prefix: u8 =
                    prefix.parse().ok().filter(|p| *p <= max).ok_or_else(|| TargetError::BadEntry(entry.to_owned()))?;
                list.nets.push(Cidr { net: canonical(net), prefix });
            } else if let Ok(ip) = entry.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
                let ip = canonical(ip);
                list.nets.push(Cidr { net: ip, prefix: if ip.is_ipv4() { 32 } else { 128 } });
            } else if entry.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                && entry.contains(char::is_alphanumeric)
            {
                list.hosts.push(entry.trim_end_matches('.').to_ascii_lowercase());
            } else {
                return Err(TargetError::BadEntry(entry.to_owned()));
            }
        }
        Ok(list)
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.contains(&host)
    }

    fn ip_allowed(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(ip))
    }

    /// The URL alone: scheme, credentials, and a literal address or `localhost`.
    pub fn check(&self, url: &url::Url) -> Result<(), TargetError> {
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::Credentials);
        }
        let host = url.host().ok_or(TargetError::NoHost)?;
        let (allowed, private) = match host {
            url::Host::Domain(d) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                (self.host_allowed(&d), d == "localhost" || d.ends_with(".localhost"))
            }
            url::Host::Ipv4(ip) => (self.ip_allowed(IpAddr::V4(ip)), !is_public(IpAddr::V4(ip))),
            url::Host::Ipv6(ip) => (self.ip_allowed(IpAddr::V6(ip)), !is_public(IpAddr::V6(ip))),
        };
        match url.scheme() {
            "https" => {}
            "http" if allowed => {}
            _ => return Err(TargetError::NotHttps),
        }
        if private && !allowed {
            return Err(TargetError::Private);
        }
        Ok(())
    }

    /// [`AllowList::check`], then every address the host resolves to must be public or allowed.
    pub async fn check_resolved(&self, url: &url::Url) -> Result<(), TargetError> {
        self.check(url)?;
        let host = url.host_str().ok_or(TargetError::NoHost)?;
        if self.host_allowed(host) {
            return Ok(());
        }
        let port = url.port_or_known_default().unwrap_or(443);
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<IpAddr> = tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| TargetError::Resolve(e.kind().to_string()))?
            .map(|a| a.ip())
            .collect();
        if addrs.is_empty() {
            return Err(TargetError::Resolve("no address".into()));
        }
        if addrs.iter().all(|ip| is_public(*ip) || self.ip_allowed(*ip)) { Ok(()) } else { Err(TargetError::Private) }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Whether an address is on the public internet: not loopback, private, link-local, shared
/// (CGNAT), unspecified, broadcast, multicast or reserved for documentation.
pub fn is_public(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> url::Url {
        url::Url::parse(s).expect("url")
    }

    #[test]
    fn only_public_https_by_default() {
        let none = AllowList::default();
        assert_eq!(none.check(&u("https://push.example.org/x")), Ok(()));
        assert_eq!(none.check(&u("http://push.example.org/x")), Err(TargetError::NotHttps));
        assert_eq!(none.check(&u("https://user:pw@push.example.org/x")), Err(TargetError::Credentials));
        for private in [
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://192.168.1.1/x",
            "https://169.254.169.254/latest",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://100.64.0.1/x",
            "https://localhost/x",
            "https://0.0.0.0/x",
        ] {
            assert_eq!(none.check(&u(private)), Err(TargetError::Private), "{private}");
        }
    }

    #[test]
    fn the_admin_allows_hosts_and_networks() {
        let list = AllowList::parse("ntfy.lan, 10.0.0.0/8 ::1,127.0.0.1").expect("parse");
        assert_eq!(list.check(&u("http://ntfy.lan/topic")), Ok(()));
        assert_eq!(list.check(&u("http://10.9.8.7:8080/x")), Ok(()));
        assert_eq!(list.check(&u("https://[::1]/x")), Ok(()));
        assert_eq!(list.check(&u("http://127.0.0.1:9/x")), Ok(()));
        assert_eq!(list.check(&u("https://192.168.0.1/x")), Err(TargetError::Private));
        assert_eq!(list.check(&u("http://push.example.org/x")), Err(TargetError::NotHttps));
        assert!(AllowList::parse("10.0.0.0/33").is_err());
        assert!(AllowList::parse("a_b").is_err());
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused() {
        let none = AllowList::default();
        assert_eq!(none.check_resolved(&u("https://localhost./x")).await, Err(TargetError::Private));
        assert_eq!(none.check_resolved(&u("https://127.0.0.1/x")).await, Err(TargetError::Private));
        let allowed = AllowList::parse("127.0.0.0/8").expect("parse");
        assert_eq!(allowed.check_resolved(&u("http://127.0.0.1:9/x")).await, Ok(()));
    }
}
