//! Peer scoring after GossipSub v1.1 (P1 time in mesh, P2 first message deliveries, P4
//! invalid messages, P7 behaviour penalty; one parameter set for all topics), and the
//! thresholds that act on it: below `gossip_threshold` no gossip to or from the peer, below
//! `publish_threshold` none of our own messages, below `graylist_threshold` everything it
//! sends is ignored. Scores of disconnected peers are kept for a while, so reconnecting does
//! not wash them clean.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rats_core::PeerId;
use serde::{Deserialize, Serialize};

/// Scoring parameters and thresholds (config `gossipsub.score`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ScoreConfig {
    /// P1: weight per second in a topic's mesh (positive).
    pub time_in_mesh_weight: f64,
    /// P1: seconds counted at most.
    pub time_in_mesh_cap_secs: f64,
    /// P2: weight per first delivery of a message (positive).
    pub first_delivery_weight: f64,
    /// P2: counter cap.
    pub first_delivery_cap: f64,
    /// P2: counter decay per heartbeat.
    pub first_delivery_decay: f64,
    /// P4: weight of the squared count of invalid messages (negative).
    pub invalid_weight: f64,
    /// P4: counter decay per heartbeat.
    pub invalid_decay: f64,
    /// P7: weight of the squared behaviour penalty (negative).
    pub behaviour_weight: f64,
    /// P7: counter decay per heartbeat.
    pub behaviour_decay: f64,
    /// Below this, no gossip (IHAVE/IWANT) is exchanged with the peer.
    pub gossip_threshold: f64,
    /// Below this, our own messages are not sent to the peer.
    pub publish_threshold: f64,
    /// Below this, everything the peer sends is ignored.
    pub graylist_threshold: f64,
    /// A mesh whose median score is below this gets better-scored peers grafted (every 60
    /// heartbeats).
    pub opportunistic_graft_threshold: f64,
    /// How long a disconnected peer's score is kept, in seconds.
    pub retain_secs: u64,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        ScoreConfig {
            time_in_mesh_weight: 0.01,
            time_in_mesh_cap_secs: 3600.0,
            first_delivery_weight: 1.0,
            first_delivery_cap: 100.0,
            first_delivery_decay: 0.9,
            invalid_weight: -10.0,
            invalid_decay: 0.99,
            behaviour_weight: -10.0,
            behaviour_decay: 0.99,
            gossip_threshold: -10.0,
            publish_threshold: -50.0,
            graylist_threshold: -80.0,
            opportunistic_graft_threshold: 1.0,
            retain_secs: 60,
        }
    }
}

#[derive(Default)]
struct TopicStats {
    in_mesh_since: Option<Instant>,
    first_deliveries: f64,
    invalid: f64,
}

#[derive(Default)]
struct PeerStats {
    topics: HashMap<String, TopicStats>,
    behaviour: f64,
    /// Set when the peer disconnected.
    gone_since: Option<Instant>,
}

/// The scores of the peers we know.
pub(crate) struct PeerScore {
    config: ScoreConfig,
    peers: HashMap<PeerId, PeerStats>,
    /// Most topics tracked per peer (a peer cannot make us track without end).
    max_topics: usize,
}

impl PeerScore {
    pub(crate) fn new(config: ScoreConfig, max_topics: usize) -> Self {
        PeerScore {
            config,
            peers: HashMap::new(),
            max_topics,
        }
    }

    pub(crate) fn config(&self) -> &ScoreConfig {
        &self.config
    }

    /// The stats of a known peer's topic (peers are added on connect only: a late event about
    /// a forgotten peer does not bring it back).
    fn topic(&mut self, peer: PeerId, topic: &str) -> Option<&mut TopicStats> {
        let stats = self.peers.get_mut(&peer)?;
        if !stats.topics.contains_key(topic) && stats.topics.len() >= self.max_topics {
            return None;
        }
        Some(stats.topics.entry(topic.to_string()).or_default())
    }

    pub(crate) fn connected(&mut self, peer: PeerId) {
        self.peers.entry(peer).or_default().gone_since = None;
    }

    pub(crate) fn disconnected(&mut self, peer: &PeerId, now: Instant) {
        if let Some(s) = self.peers.get_mut(peer) {
            s.gone_since = Some(now);
            for t in s.topics.values_mut() {
                t.in_mesh_since = None;
            }
        }
    }

    pub(crate) fn graft(&mut self, peer: PeerId, topic: &str, now: Instant) {
        if let Some(t) = self.topic(peer, topic) {
            t.in_mesh_since.get_or_insert(now);
        }
    }

    pub(crate) fn prune(&mut self, peer: PeerId, topic: &str) {
        if let Some(t) = self.topic(peer, topic) {
            t.in_mesh_since = None;
        }
    }

    pub(crate) fn first_delivery(&mut self, peer: PeerId, topic: &str) {
        let cap = self.config.first_delivery_cap;
        if let Some(t) = self.topic(peer, topic) {
            t.first_deliveries = (t.first_deliveries + 1.0).min(cap);
        }
    }

    pub(crate) fn invalid_message(&mut self, peer: PeerId, topic: &str) {
        if let Some(t) = self.topic(peer, topic) {
            t.invalid += 1.0;
        }
    }

    pub(crate) fn behaviour_penalty(&mut self, peer: PeerId, amount: f64) {
        if let Some(s) = self.peers.get_mut(&peer) {
            s.behaviour += amount;
        }
    }

    /// The peer's score at `now` (0 for a peer we know nothing of).
    pub(crate) fn score(&self, peer: &PeerId, now: Instant) -> f64 {
        let Some(s) = self.peers.get(peer) else {
            return 0.0;
        };
        let c = &self.config;
        let mut score = 0.0;
        for t in s.topics.values() {
            if let Some(since) = t.in_mesh_since {
                let secs = now.duration_since(since).as_secs_f64();
                score += c.time_in_mesh_weight * secs.min(c.time_in_mesh_cap_secs);
            }
            score += c.first_delivery_weight * t.first_deliveries;
            score += c.invalid_weight * t.invalid * t.invalid;
        }
        score + c.behaviour_weight * s.behaviour * s.behaviour
    }

    /// Decays the counters (once per heartbeat) and forgets peers gone for long.
    pub(crate) fn decay(&mut self, now: Instant) {
        let c = &self.config;
        let retain = Duration::from_secs(c.retain_secs);
        self.peers
            .retain(|_, s| s.gone_since.is_none_or(|t| now.duration_since(t) < retain));
        for s in self.peers.values_mut() {
            s.behaviour *= c.behaviour_decay;
            if s.behaviour < 0.01 {
                s.behaviour = 0.0;
            }
            for t in s.topics.values_mut() {
                t.first_deliveries *= c.first_delivery_decay;
                t.invalid *= c.invalid_decay;
                if t.invalid < 0.01 {
                    t.invalid = 0.0;
                }
            }
            s.topics.retain(|_, t| {
                t.in_mesh_since.is_some() || t.first_deliveries > 0.01 || t.invalid > 0.0
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_messages_push_a_peer_below_the_thresholds() {
        let c = ScoreConfig::default();
        let mut s = PeerScore::new(c.clone(), 16);
        let p = rats_core::Identity::generate().peer_id();
        let now = Instant::now();
        assert_eq!(s.score(&p, now), 0.0);
        s.connected(p);
        s.first_delivery(p, "t");
        assert!(s.score(&p, now) > 0.0);
        for _ in 0..4 {
            s.invalid_message(p, "t");
        }
        assert!(
            s.score(&p, now) < c.graylist_threshold,
            "{}",
            s.score(&p, now)
        );
        // It decays back over time.
        for _ in 0..2000 {
            s.decay(now);
        }
        assert!(s.score(&p, now) > c.gossip_threshold);
    }

    #[test]
    fn a_gone_peer_is_remembered_for_a_while() {
        let mut s = PeerScore::new(
            ScoreConfig {
                retain_secs: 0,
                ..ScoreConfig::default()
            },
            16,
        );
        let p = rats_core::Identity::generate().peer_id();
        let now = Instant::now();
        s.connected(p);
        s.invalid_message(p, "t");
        assert!(s.score(&p, now) < 0.0);
        s.disconnected(&p, now);
        s.decay(now);
        assert_eq!(s.score(&p, now), 0.0, "forgotten after retain_secs");
    }
}
