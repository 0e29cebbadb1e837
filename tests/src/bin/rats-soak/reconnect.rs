//! Reconnect times: from a node's restart (spawn) to its first peer, and to being connected to
//! as many peers as it had before the kill (capped at the number of other nodes up then; the
//! group's other members may be down themselves).

use std::time::{Duration, Instant};

/// Restarts not back to their target within this are counted as timeouts.
pub const RECONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Samples kept (one per restart); later ones are dropped from the percentiles.
const SAMPLES_KEPT: usize = 100_000;

#[derive(Debug)]
struct Waiting {
    since: Instant,
    before: usize,
    first_seen: bool,
}

/// Reconnect measurements.
#[derive(Debug)]
pub struct Reconnects {
    waiting: Vec<Option<Waiting>>,
    /// Seconds to the first peer.
    pub first: Vec<f64>,
    /// Seconds to the target.
    pub full: Vec<f64>,
    /// Not back to the target within [`RECONNECT_TIMEOUT`].
    pub timeouts: u64,
    /// Killed again before reaching the target.
    pub cut_short: u64,
}

impl Reconnects {
    /// For `nodes` nodes.
    pub fn new(nodes: usize) -> Self {
        Reconnects {
            waiting: (0..nodes).map(|_| None).collect(),
            first: Vec::new(),
            full: Vec::new(),
            timeouts: 0,
            cut_short: 0,
        }
    }

    /// Node `n` was started again at `at`, after having `before` peers.
    pub fn restarted(&mut self, n: usize, at: Instant, before: usize) {
        self.waiting[n] = Some(Waiting {
            since: at,
            before,
            first_seen: false,
        });
    }

    /// Node `n` was killed.
    pub fn killed(&mut self, n: usize) {
        if self.waiting[n].take().is_some() {
            self.cut_short += 1;
        }
    }

    /// Node `n` now has `peers` peers while `others_up` other nodes are up.
    pub fn peers(&mut self, n: usize, peers: usize, others_up: usize, now: Instant) {
        let Some(w) = &mut self.waiting[n] else {
            return;
        };
        let secs = (now - w.since).as_secs_f64();
        if peers > 0 && !w.first_seen {
            w.first_seen = true;
            if self.first.len() < SAMPLES_KEPT {
                self.first.push(secs);
            }
        }
        if peers >= w.before.min(others_up).max(1) {
            if self.full.len() < SAMPLES_KEPT {
                self.full.push(secs);
            }
            self.waiting[n] = None;
        }
    }

    /// Counts the restarts waiting longer than [`RECONNECT_TIMEOUT`] as timeouts.
    pub fn expire(&mut self, now: Instant) {
        for w in &mut self.waiting {
            if w.as_ref()
                .is_some_and(|w| now - w.since > RECONNECT_TIMEOUT)
            {
                *w = None;
                self.timeouts += 1;
            }
        }
    }
}

/// The `q` quantile (0..=1) of `v`, or None when empty.
pub fn quantile(v: &[f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let i = ((s.len() - 1) as f64 * q).round() as usize;
    s.get(i).copied()
}
