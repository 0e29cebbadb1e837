//! Gossip: IHAVE to peers outside the mesh at each heartbeat, IWANT for what we missed, and
//! the answers from the message cache; all within the v1.1 per-heartbeat limits, and shed
//! first for a peer whose send queue is filling up.

use std::collections::HashSet;
use std::time::Instant;

use rats_core::PeerId;

use super::{Host, Router};
use crate::message::MessageId;
use crate::wire::Rpc;

/// Send-queue load above which gossip (IHAVE and IWANT answers) to a peer is dropped first.
const GOSSIP_MAX_LOAD: f32 = 0.5;

/// Gossip is optional: it is the first thing a falling-behind peer does not get.
fn gossip_room(host: &dyn Host, peer: &PeerId) -> bool {
    host.queue_load(peer)
        .is_some_and(|load| load < GOSSIP_MAX_LOAD)
}

impl Router {
    /// A peer advertises messages: ask for the ones we have not seen (within the per-heartbeat
    /// limits, so a peer cannot make us ask without end).
    pub(crate) fn on_ihave(
        &mut self,
        now: Instant,
        peer: PeerId,
        topic: String,
        ids: Vec<MessageId>,
    ) {
        if !self.subscribed.contains(&topic)
            || self.score.score(&peer, now) < self.score.config().gossip_threshold
        {
            return;
        }
        let taken = self.ihave_taken.entry(peer).or_insert(0);
        *taken += 1;
        if *taken > self.config.max_ihave_messages {
            return;
        }
        let asked = self.iwant_asked.entry(peer).or_insert(0);
        let room = self.config.max_iwant_ids.saturating_sub(*asked);
        let mut want: Vec<MessageId> = Vec::new();
        let mut asked_now = HashSet::new();
        for id in ids {
            if want.len() >= room {
                break;
            }
            if !self.seen.contains(&id) && asked_now.insert(id) {
                want.push(id);
            }
        }
        if want.is_empty() {
            return;
        }
        *asked += want.len();
        self.send(peer, &Rpc::IWant(want));
    }

    /// A peer asks for messages: send those still in the cache (each at most
    /// `gossip_retransmission` times per heartbeat).
    pub(crate) fn on_iwant(
        &mut self,
        now: Instant,
        host: &dyn Host,
        peer: PeerId,
        ids: Vec<MessageId>,
    ) {
        if self.score.score(&peer, now) < self.score.config().gossip_threshold {
            return;
        }
        let limit = self.config.gossip_retransmission;
        for id in ids {
            if self.mcache.get(&id).is_none() {
                continue;
            }
            let sent = self.retransmitted.entry((peer, id)).or_insert(0);
            if *sent >= limit {
                continue;
            }
            *sent += 1;
            if !gossip_room(host, &peer) {
                self.stats.dropped += 1;
                continue;
            }
            let Some(msg) = self.mcache.get(&id).cloned() else {
                continue;
            };
            self.send(peer, &Rpc::Publish(msg));
        }
    }

    /// IHAVE to up to D_lazy topic peers outside the mesh, for each of our topics.
    pub(super) fn emit_gossip(&mut self, now: Instant, host: &dyn Host) {
        let topics: Vec<String> = self.subscribed.iter().cloned().collect();
        for topic in topics {
            let ids = self.mcache.gossip_ids(&topic);
            if ids.is_empty() {
                continue;
            }
            let mesh = self.mesh.get(&topic);
            let threshold = self.score.config().gossip_threshold;
            let eligible: Vec<PeerId> = self
                .topic_peers(&topic)
                .into_iter()
                .filter(|p| {
                    !mesh.is_some_and(|m| m.contains(p)) && self.score.score(p, now) >= threshold
                })
                .collect();
            let targets = self.sample(eligible, self.config.gossip_lazy);
            let bytes = Rpc::IHave {
                topic: topic.clone(),
                ids,
            }
            .encode();
            for p in targets {
                if gossip_room(host, &p) {
                    self.send_encoded(p, bytes.clone(), super::Purpose::Control);
                } else {
                    self.stats.dropped += 1;
                }
            }
        }
    }
}
