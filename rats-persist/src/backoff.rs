//! Reconnect timing: exponential backoff with full jitter and a cap on attempts, so a node
//! whose peers are all gone neither hammers them nor stampedes when many nodes restart.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Reconnect settings (the `persist` section's `reconnect` part).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Backoff {
    /// Delay before the second attempt, in milliseconds (doubles each time).
    pub base_ms: u64,
    /// Longest delay between attempts, in milliseconds.
    pub max_ms: u64,
    /// Attempts per peer before giving up.
    pub max_attempts: u32,
    /// Random delay before the first attempt, in milliseconds (spreads a restart's dials).
    pub initial_jitter_ms: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base_ms: 1_000,
            max_ms: 60_000,
            max_attempts: 8,
            initial_jitter_ms: 250,
        }
    }
}

impl Backoff {
    /// The wait before attempt number `attempt` (0 = the first).
    pub fn delay(&self, attempt: u32) -> Duration {
        if attempt == 0 {
            return Duration::from_millis(rand::thread_rng().gen_range(0..=self.initial_jitter_ms));
        }
        let exp = self
            .base_ms
            .saturating_mul(1u64 << (attempt - 1).min(32))
            .min(self.max_ms);
        // "Full jitter": anywhere between half and all of the exponential delay.
        Duration::from_millis(rand::thread_rng().gen_range(exp / 2..=exp.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_capped() {
        let b = Backoff {
            base_ms: 100,
            max_ms: 1_000,
            max_attempts: 5,
            initial_jitter_ms: 10,
        };
        assert!(b.delay(0) <= Duration::from_millis(10));
        for _ in 0..100 {
            let d1 = b.delay(1).as_millis();
            assert!((50..=100).contains(&d1), "{d1}");
            let d3 = b.delay(3).as_millis();
            assert!((200..=400).contains(&d3), "{d3}");
            assert!(b.delay(30).as_millis() <= 1_000);
        }
    }
}
