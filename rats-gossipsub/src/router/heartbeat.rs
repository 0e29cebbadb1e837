//! The heartbeat: per-heartbeat limits reset, old state expired, every mesh kept within its
//! bounds, gossip emitted, scores decayed, and peers that cannot keep up shed.

use std::time::Instant;

use tracing::debug;

use super::{Action, Host, Router};

/// Heartbeats between two rounds of opportunistic grafting (v1.1).
const OPPORTUNISTIC_GRAFT_EVERY: u64 = 60;
/// Consecutive heartbeats of refused copies after which a peer is disconnected.
const SLOW_STRIKES: u32 = 3;

impl Router {
    /// Keeps every mesh between D_low and D_high, gossips, and expires old state.
    pub(crate) fn heartbeat(&mut self, now: Instant, host: &dyn Host) {
        self.seen.expire(now);
        self.ihave_taken.clear();
        self.iwant_asked.clear();
        self.px_dials = 0;
        self.retransmitted.clear();
        self.backoff.retain(|_, until| *until > now);
        let topics: Vec<String> = self.subscribed.iter().cloned().collect();
        for topic in topics {
            self.maintain_mesh(now, host, &topic);
        }
        self.expire_fanout(now);
        self.beats += 1;
        if self.beats.is_multiple_of(OPPORTUNISTIC_GRAFT_EVERY) {
            self.opportunistic_graft(now);
        }
        self.emit_gossip(now, host);
        self.mcache.shift();
        self.score.decay(now);
        self.shed_slow_peers();
    }

    /// Peers whose queue kept refusing message copies for several heartbeats cannot keep up:
    /// disconnected, rather than our memory or everyone's latency paying for them.
    fn shed_slow_peers(&mut self) {
        let refused = std::mem::take(&mut self.refused);
        self.slow_strikes.retain(|p, _| refused.contains(p));
        for p in refused {
            let strikes = self.slow_strikes.entry(p).or_insert(0);
            *strikes += 1;
            if *strikes >= SLOW_STRIKES {
                self.slow_strikes.remove(&p);
                debug!(peer = %p.short(), "gossipsub peer cannot keep up; disconnecting");
                self.actions.push(Action::DisconnectSlow(p));
            }
        }
    }
}
