//! Per-client rate limits on the account forms (log in, register, the "forgot" flows), as token
//! buckets kept in memory.
//!
//! In memory, so each server instance counts on its own: with N instances behind a balancer a
//! client gets up to N times the budget. That is fine for what these limits are for (slowing
//! scripted guessing from one address); the rule that must hold across instances, the growing
//! delay after failed logins on one account, is kept in the database (`users.failed_logins`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Login,
    Register,
    /// Forgot password and forgot username (they send mail: one budget for both).
    Forgot,
    /// Typing a reset code.
    Reset,
}

impl Action {
    /// (burst, one more token every …).
    fn budget(self) -> (u32, Duration) {
        match self {
            Action::Login => (10, Duration::from_secs(6)),
            Action::Register => (5, Duration::from_secs(12 * 60)),
            Action::Forgot => (5, Duration::from_secs(3 * 60)),
            Action::Reset => (10, Duration::from_secs(30)),
        }
    }
}

/// Who is counted: a client address, or an account (limits that follow an account whatever
/// address the requests come from).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKey {
    Ip(IpAddr),
    User(i64),
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
        assert!(rl.check_at(Action::Login, RateKey::User(1), t0).is_ok());
        assert!(rl.check_at(Action::Login, ip, t0 + Duration::from_secs(6)).is_ok());
        assert!(rl.check_at(Action::Login, ip, t0 + Duration::from_secs(7)).is_err());
    }
}
