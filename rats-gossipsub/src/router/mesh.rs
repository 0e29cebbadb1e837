//! The mesh: GRAFT and PRUNE (with backoff and peer exchange), filling a mesh up to D, and
//! the heartbeat's upkeep (D_low / D_high, negative scores, opportunistic grafting).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rats_core::PeerId;
use tracing::debug;

use super::{Host, Purpose, Router};
use crate::wire::{MAX_PX_ADDRS, MAX_PX_PEERS, PxPeer, Rpc};

/// Peers grafted at most per round of opportunistic grafting.
const OPPORTUNISTIC_GRAFT_PEERS: usize = 2;

/// The longest backoff a PRUNE can ask of us.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

impl Router {
    /// Puts `peer` in `topic`'s mesh and sends it GRAFT (undone if the send fails).
    pub(super) fn graft(&mut self, now: Instant, peer: PeerId, topic: &str) {
        self.mesh.entry(topic.to_string()).or_default().insert(peer);
        self.score.graft(peer, topic, now);
        let bytes = Rpc::Graft(topic.to_string()).encode();
        self.send_encoded(peer, bytes, Purpose::Graft(topic.to_string()));
    }

    pub(crate) fn on_graft(&mut self, now: Instant, host: &dyn Host, peer: PeerId, topic: String) {
        let subscribed_peer = self
            .peer_topics
            .get(&peer)
            .is_some_and(|t| t.contains(&topic));
        let full = self
            .mesh
            .get(&topic)
            .is_some_and(|m| m.len() >= self.config.mesh_n_high);
        let in_backoff = self.in_backoff(&topic, &peer, now);
        if in_backoff {
            // Grafting while told to back off is misbehaviour (v1.1 P7).
            self.score.behaviour_penalty(peer, 1.0);
        }
        if !self.subscribed.contains(&topic)
            || !subscribed_peer
            || in_backoff
            || full
            || self.score.score(&peer, now) < 0.0
        {
            // A full mesh points the peer to others of the topic (once per backoff: a peer
            // that grafts again meanwhile is already penalised above).
            let peers = if full && !in_backoff {
                self.exchange_peers(now, host, &topic, &peer)
            } else {
                Vec::new()
            };
            if !in_backoff {
                self.send_prune(now, peer, &topic, peers);
            }
            return;
        }
        self.score.graft(peer, &topic, now);
        self.mesh.entry(topic).or_default().insert(peer);
    }

    pub(crate) fn on_prune(
        &mut self,
        now: Instant,
        peer: PeerId,
        topic: String,
        backoff_secs: u32,
        exchanged: Vec<PxPeer>,
    ) {
        // Only a mesh peer of one of our topics can prune us; anything else is ignored (no
        // state is kept for it, and its peer list is not used).
        let was_in_mesh = self.mesh.get_mut(&topic).is_some_and(|m| m.remove(&peer));
        if !was_in_mesh {
            return;
        }
        self.score.prune(peer, &topic);
        let backoff = Duration::from_secs(u64::from(backoff_secs)).min(MAX_BACKOFF);
        self.backoff.insert((topic, peer), now + backoff);
        self.use_exchanged_peers(now, &peer, exchanged);
    }

    /// Sends PRUNE (with `exchanged` peers) and records the backoff we announce, so a GRAFT
    /// from that peer before it ends counts as misbehaviour and we do not graft it either.
    pub(super) fn send_prune(
        &mut self,
        now: Instant,
        peer: PeerId,
        topic: &str,
        exchanged: Vec<PxPeer>,
    ) {
        let backoff_secs = self.config.prune_backoff_secs as u32;
        self.backoff.insert(
            (topic.to_string(), peer),
            now + Duration::from_secs(u64::from(backoff_secs)),
        );
        self.send(
            peer,
            &Rpc::Prune {
                topic: topic.to_string(),
                backoff_secs,
                peers: exchanged,
            },
        );
    }

    pub(super) fn in_backoff(&self, topic: &str, peer: &PeerId, now: Instant) -> bool {
        self.backoff
            .get(&(topic.to_string(), *peer))
            .is_some_and(|until| now < *until)
    }

    /// Grafts random topic peers until the mesh has D peers (or no candidate is left).
    pub(super) fn fill_mesh(&mut self, now: Instant, topic: &str) {
        let have = self.mesh.get(topic).map_or(0, HashSet::len);
        if have >= self.config.mesh_n {
            return;
        }
        let candidates: Vec<PeerId> = self
            .topic_peers(topic)
            .into_iter()
            .filter(|p| {
                !self.mesh.get(topic).is_some_and(|m| m.contains(p))
                    && !self.in_backoff(topic, p, now)
                    && self.score.score(p, now) >= 0.0
            })
            .collect();
        let candidates = self.sample(candidates, self.config.mesh_n - have);
        for p in candidates {
            self.graft(now, p, topic);
        }
    }

    /// Up to `prune_peers` other peers of `topic` with their addresses, for a PRUNE to
    /// `pruned` (none for a peer with a negative score).
    pub(super) fn exchange_peers(
        &mut self,
        now: Instant,
        host: &dyn Host,
        topic: &str,
        pruned: &PeerId,
    ) -> Vec<PxPeer> {
        if self.score.score(pruned, now) < 0.0 {
            return Vec::new();
        }
        let mut offered: Vec<PxPeer> = self
            .topic_peers(topic)
            .into_iter()
            .filter(|p| p != pruned)
            .filter_map(|p| {
                let mut addrs = host.listen_addrs(&p);
                addrs.truncate(MAX_PX_ADDRS);
                (!addrs.is_empty()).then_some(PxPeer { peer: p, addrs })
            })
            .collect();
        // A random few, not always the same ones.
        let chosen = self.sample(
            offered.iter().map(|x| x.peer).collect(),
            self.config.prune_peers.min(MAX_PX_PEERS),
        );
        offered.retain(|x| chosen.contains(&x.peer));
        offered
    }

    /// Peers a PRUNE offered: dialed (up to `px_connect_max` per heartbeat) when the pruning
    /// peer's score is at least `accept_px_threshold`.
    fn use_exchanged_peers(&mut self, now: Instant, from: &PeerId, peers: Vec<PxPeer>) {
        if peers.is_empty()
            || self.score.score(from, now) < self.config.accept_px_threshold
            || self.px_dials >= self.config.px_connect_max
        {
            return;
        }
        let room = self.config.px_connect_max - self.px_dials;
        for px in peers.into_iter().take(room) {
            if px.peer == self.local || self.peer_topics.contains_key(&px.peer) {
                continue;
            }
            let addrs: Vec<rats_core::Address> =
                px.addrs.iter().filter_map(|a| a.parse().ok()).collect();
            if !addrs.is_empty() {
                self.px_dials += 1;
                self.actions.push(super::Action::Dial {
                    peer: px.peer,
                    addrs,
                });
            }
        }
    }

    /// Keeps `topic`'s mesh between D_low and D_high: members that left the topic or score
    /// below zero go (the latter told with PRUNE), then it is filled up to D or trimmed to D.
    pub(super) fn maintain_mesh(&mut self, now: Instant, host: &dyn Host, topic: &str) {
        let members: Vec<PeerId> = self
            .mesh
            .get(topic)
            .map(|m| m.iter().copied().collect())
            .unwrap_or_default();
        for p in members {
            let left = !self.peer_topics.get(&p).is_some_and(|t| t.contains(topic));
            let negative = self.score.score(&p, now) < 0.0;
            if (left || negative)
                && let Some(m) = self.mesh.get_mut(topic)
            {
                m.remove(&p);
                self.score.prune(p, topic);
                if negative && !left {
                    self.send_prune(now, p, topic, Vec::new());
                }
            }
        }
        let n = self.mesh.get(topic).map_or(0, HashSet::len);
        if n < self.config.mesh_n_low {
            self.fill_mesh(now, topic);
        } else if n > self.config.mesh_n_high {
            let excess = n - self.config.mesh_n;
            let members: Vec<PeerId> = self
                .mesh
                .get(topic)
                .map(|m| m.iter().copied().collect())
                .unwrap_or_default();
            let victims = self.sample(members, excess);
            for p in victims {
                if let Some(m) = self.mesh.get_mut(topic) {
                    m.remove(&p);
                }
                self.score.prune(p, topic);
                let exchanged = self.exchange_peers(now, host, topic, &p);
                self.send_prune(now, p, topic, exchanged);
            }
            debug!(topic, pruned = excess, "mesh above D_high");
        }
    }

    /// v1.1 opportunistic grafting: when a mesh's median score is low, graft a couple of the
    /// topic's better-scored peers, so a mesh taken over by poor peers recovers.
    pub(super) fn opportunistic_graft(&mut self, now: Instant) {
        let threshold = self.score.config().opportunistic_graft_threshold;
        let topics: Vec<String> = self.subscribed.iter().cloned().collect();
        for topic in topics {
            let mut scores: Vec<f64> = self
                .mesh
                .get(&topic)
                .map(|m| m.iter().map(|p| self.score.score(p, now)).collect())
                .unwrap_or_default();
            if scores.len() < 2 {
                continue;
            }
            scores.sort_by(f64::total_cmp);
            let median = scores[scores.len() / 2];
            if median >= threshold {
                continue;
            }
            let mesh = self.mesh.get(&topic).cloned().unwrap_or_default();
            let room = self.config.mesh_n_high.saturating_sub(mesh.len());
            let better: Vec<PeerId> = self
                .topic_peers(&topic)
                .into_iter()
                .filter(|p| {
                    let s = self.score.score(p, now);
                    !mesh.contains(p) && !self.in_backoff(&topic, p, now) && s > median && s >= 0.0
                })
                .collect();
            let better = self.sample(better, OPPORTUNISTIC_GRAFT_PEERS.min(room));
            for p in better {
                self.graft(now, p, &topic);
            }
        }
    }
}
