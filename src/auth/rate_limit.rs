//! Per-client rate limits on the account forms (log in, register, the "forgot" flows), as token
//! buckets kept in memory.
//!
//! In memory, so each server instance counts on its own: with N instances behind a balancer a
//! client gets up to N times the budget. That is fine for what these limits are for (slowing
//! scripted guessing from one address); the rules that must hold across instances, the growing
//! delay after failed password checks and the reset-mail allowance, are kept in the database
//! (`login_failures`, `reset_codes`).
//!
//! An IPv6 client is counted by its /64 (one subscriber usually holds a whole /64), an
//! IPv4-mapped address as its IPv4 address: see [`client_network`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::UserId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Login,
    Register,
    /// Forgot password (sends a mail).
    Forgot,
    /// Forgot username (sends a mail; its own budget, so it cannot spend the resets').
    ForgotUsername,
    /// Asking for an email change (mails the new and the old address).
    EmailChange,
    /// Typing a reset code.
    Reset,
}

impl Action {
    /// (burst, one more token every …).
    fn budget(self) -> (u32, Duration) {
        match self {
            Action::Login => (10, Duration::from_secs(6)),
            Action::Register => (5, Duration::from_secs(12 * 60)),
            Action::Forgot | Action::ForgotUsername | Action::EmailChange => (5, Duration::from_secs(3 * 60)),
            Action::Reset => (10, Duration::from_secs(30)),
        }
    }
}

/// Who is counted: a client address, or an account (limits that follow an account whatever
/// address the requests come from).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKey {
    Ip(IpAddr),
    User(UserId),
}

/// The network a client is counted by: an IPv6 address's /64, an IPv4 address (also when
/// written IPv4-mapped) itself.
pub fn client_network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(v6.to_bits() & !((1u128 << 64) - 1))),
        },
    }
}

/// The text a client is stored under in the database (`203.0.113.8`, `2001:db8:1:2::/64`).
pub fn client_key(ip: IpAddr) -> String {
    match client_network(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("{v6}/64"),
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<(Action, RateKey), Bucket>>,
}

/// Buckets kept before idle ones are swept (a full bucket is the same as no bucket).
const SWEEP_ABOVE: usize = 10_000;

impl RateLimiter {
    /// Takes one token for `action` from `key`. `Err(wait)`: refused, retry after `wait`.
    pub fn check(&self, action: Action, key: RateKey) -> Result<(), Duration> {
        self.check_at(action, key, Instant::now())
    }

    fn check_at(&self, action: Action, key: RateKey, now: Instant) -> Result<(), Duration> {
        let key = match key {
            RateKey::Ip(ip) => RateKey::Ip(client_network(ip)),
            user => user,
        };
        let (burst, every) = action.budget();
        let refill = |b: &Bucket| {
            (b.tokens + now.duration_since(b.at).as_secs_f64() / every.as_secs_f64()).min(f64::from(burst))
        };
        // A poisoned lock only means another request panicked mid-update of a counter: the map
        // is still usable.
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > SWEEP_ABOVE {
            map.retain(|(a, _), b| refill(b) < f64::from(a.budget().0));
        }
        let b = map.entry((action, key)).or_insert(Bucket { tokens: f64::from(burst), at: now });
        let tokens = refill(b);
        if tokens >= 1.0 {
            *b = Bucket { tokens: tokens - 1.0, at: now };
            Ok(())
        } else {
            *b = Bucket { tokens, at: now };
            Err(Duration::from_secs_f64(((1.0 - tokens) * every.as_secs_f64()).ceil()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let rl = RateLimiter::default();
        let ip = RateKey::Ip([192, 0, 2, 1].into());
        let other = RateKey::Ip([192, 0, 2, 2].into());
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(rl.check_at(Action::Login, ip, t0).is_ok());
        }
        let wait = rl.check_at(Action::Login, ip, t0).expect_err("11th refused");
        assert_eq!(wait, Duration::from_secs(6));
        // Other clients and other actions have their own budget.
        assert!(rl.check_at(Action::Login, other, t0).is_ok());
        assert!(rl.check_at(Action::Forgot, ip, t0).is_ok());
        assert!(rl.check_at(Action::Login, RateKey::User(UserId::new(1)), t0).is_ok());
        assert!(rl.check_at(Action::Login, ip, t0 + Duration::from_secs(6)).is_ok());
        assert!(rl.check_at(Action::Login, ip, t0 + Duration::from_secs(7)).is_err());
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), "2001:db8:1:2::/64");
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(other));
        assert_eq!(client_key("::ffff:203.0.113.8".parse().unwrap()), "203.0.113.8");
        let rl = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(rl.check_at(Action::Login, RateKey::Ip(a), t0).is_ok());
        }
        assert!(rl.check_at(Action::Login, RateKey::Ip(b), t0).is_err(), "same /64, same budget");
        assert!(rl.check_at(Action::Login, RateKey::Ip(other), t0).is_ok());
    }
}
