//! Rate limits: a token bucket for the queries we send, and per-IP plus global budgets for the
//! queries we answer (so we cannot be used as an amplifier or flooded into busy work).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// A token bucket refilled continuously at `rate` per second, holding at most `rate`.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: u32, now: Instant) -> Self {
        TokenBucket {
            rate: f64::from(rate.max(1)),
            tokens: f64::from(rate.max(1)),
            last: now,
        }
    }

    /// Takes `n` tokens if there are that many.
    pub fn take_n(&mut self, n: u32, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.rate);
        if self.tokens >= f64::from(n) {
            self.tokens -= f64::from(n);
            true
        } else {
            false
        }
    }

    /// Gives back a token taken but not used.
    pub fn refund(&mut self) {
        self.tokens = (self.tokens + 1.0).min(self.rate);
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        self.take_n(1, now)
    }
}

/// Most distinct IPs tracked per second window; beyond it new IPs share the global budget only.
const MAX_TRACKED_IPS: usize = 4096;

/// Budgets for inbound queries, counted in one-second windows.
#[derive(Debug)]
pub struct InboundLimiter {
    per_ip: u32,
    global: u32,
    window: Instant,
    total: u32,
    counts: HashMap<u128, u32>,
}

impl InboundLimiter {
    /// Limits per IP and in all, per second.
    pub fn new(per_ip: u32, global: u32, now: Instant) -> Self {
        InboundLimiter {
            per_ip,
            global,
            window: now,
            total: 0,
            counts: HashMap::new(),
        }
    }

    /// Whether a query from `ip` may be answered now.
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if now.saturating_duration_since(self.window).as_secs() >= 1 {
            self.window = now;
            self.total = 0;
            self.counts.clear();
        }
        if self.total >= self.global {
            return false;
        }
        // IPv6 hosts usually hold a whole /64: it counts as one source.
        let key = match ip {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => (u128::from(v6) >> 64) | (1 << 100),
        };
        if self.counts.len() >= MAX_TRACKED_IPS && !self.counts.contains_key(&key) {
            self.total += 1;
            return true;
        }
        let c = self.counts.entry(key).or_insert(0);
        if *c >= self.per_ip {
            return false;
        }
        *c += 1;
        self.total += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn budgets() {
        let now = Instant::now();
        let mut b = TokenBucket::new(2, now);
        assert!(b.take(now) && b.take(now) && !b.take(now));
        assert!(b.take(now + Duration::from_millis(600)));
        let mut l = InboundLimiter::new(2, 3, now);
        let (a, c): (IpAddr, IpAddr) = (
            "10.0.0.1".parse().expect("ip"),
            "10.0.0.2".parse().expect("ip"),
        );
        assert!(l.allow(a, now) && l.allow(a, now) && !l.allow(a, now));
        assert!(l.allow(c, now) && !l.allow(c, now));
        assert!(l.allow(a, now + Duration::from_secs(1)));
    }
}
