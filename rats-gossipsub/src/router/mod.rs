//! The routing state: our topics, what each peer subscribes to, the per-topic mesh, the seen
//! cache; and what happens on each event. Sans-IO: every entry point takes the time, reads
//! the node through a [`Host`], and queues [`Action`]s that the service carries out (sends
//! are non-blocking; their outcome comes back through [`Router::on_send_result`]).

mod action;
mod gossip;
mod heartbeat;
mod mesh;
mod messages;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rats_core::PeerId;

pub(crate) use action::{Action, Host, Purpose, SendOutcome};

use crate::config::GossipsubConfig;
use crate::event::{GossipEvent, GossipStats};
use crate::mcache::MessageCache;
use crate::message::{MessageId, SignedMessage};
use crate::score::PeerScore;
use crate::seen::SeenCache;
use crate::wire::Rpc;

pub(crate) struct Router {
    pub config: GossipsubConfig,
    pub local: PeerId,
    pub subscribed: HashSet<String>,
    /// Connected peers and their topics.
    pub peer_topics: HashMap<PeerId, HashSet<String>>,
    pub mesh: HashMap<String, HashSet<PeerId>>,
    /// Topics we publish to without subscribing: their peers and our last publish.
    pub fanout: HashMap<String, (HashSet<PeerId>, Instant)>,
    /// (topic, peer) pairs that may not graft until the instant.
    pub backoff: HashMap<(String, PeerId), Instant>,
    pub seen: SeenCache,
    pub mcache: MessageCache,
    /// IHAVE messages taken from each peer since the last heartbeat.
    pub ihave_taken: HashMap<PeerId, usize>,
    /// Message ids asked from each peer since the last heartbeat.
    pub iwant_asked: HashMap<PeerId, usize>,
    /// Copies sent on IWANT since the last heartbeat, per (peer, message).
    pub retransmitted: HashMap<(PeerId, MessageId), u8>,
    pub seqno: u64,
    pub stats: GossipStats,
    pub score: PeerScore,
    /// Peers whose queue refused a message copy since the last heartbeat.
    pub refused: HashSet<PeerId>,
    /// Consecutive heartbeats in which each peer's queue refused copies.
    pub slow_strikes: HashMap<PeerId, u32>,
    /// How message ids are made (default: origin and sequence number).
    pub id_fn: Option<MessageIdFn>,
    /// Heartbeats since start (for opportunistic grafting).
    pub beats: u64,
    /// Peers from peer exchange dialed since the last heartbeat.
    pub px_dials: usize,
    /// What was decided and not yet taken by [`Router::take_actions`].
    actions: Vec<Action>,
    /// Every random choice (mesh grafts and prunes, gossip and fanout targets): from entropy,
    /// or from a seed in the simulator, where a run must be reproducible.
    rng: rand::rngs::StdRng,
}

/// A custom message id function; every node of a network must use the same one.
pub type MessageIdFn = std::sync::Arc<dyn Fn(&SignedMessage) -> MessageId + Send + Sync>;

impl Router {
    /// A router for `local`; our sequence numbers continue from `seqno` (the caller starts
    /// them at the clock, so a restarted node does not reuse ids).
    pub(crate) fn new(config: GossipsubConfig, local: PeerId, seqno: u64) -> Self {
        let mcache = MessageCache::new(config.history_length, config.history_gossip);
        let score = PeerScore::new(config.score.clone(), config.max_peer_topics);
        let seen = SeenCache::new(Duration::from_secs(config.seen_ttl_secs), config.seen_max);
        Router {
            local,
            config,
            subscribed: HashSet::new(),
            peer_topics: HashMap::new(),
            mesh: HashMap::new(),
            fanout: HashMap::new(),
            backoff: HashMap::new(),
            mcache,
            ihave_taken: HashMap::new(),
            iwant_asked: HashMap::new(),
            retransmitted: HashMap::new(),
            seen,
            seqno,
            stats: GossipStats::default(),
            score,
            refused: HashSet::new(),
            slow_strikes: HashMap::new(),
            id_fn: None,
            beats: 0,
            px_dials: 0,
            actions: Vec::new(),
            rng: rand::SeedableRng::from_entropy(),
        }
    }

    /// Makes every random choice from now on follow `seed` (the simulator's runs are
    /// reproducible from a seed).
    pub(crate) fn seed_rng(&mut self, seed: u64) {
        self.rng = rand::SeedableRng::seed_from_u64(seed);
    }

    /// `n` of `candidates` chosen at random. Sorted first, so that the choice depends on the
    /// random stream only, not on a hash map's iteration order.
    pub(crate) fn sample(&mut self, mut candidates: Vec<PeerId>, n: usize) -> Vec<PeerId> {
        use rand::seq::SliceRandom;
        candidates.sort_unstable();
        candidates
            .choose_multiple(&mut self.rng, n)
            .copied()
            .collect()
    }

    /// The actions decided since the last call, oldest first.
    pub(crate) fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    /// What became of a send: copies are counted once queued; a refused copy counts as a
    /// drop (and, for a full queue, towards disconnecting a slow peer); a GRAFT that could
    /// not be sent takes its peer out of the mesh again.
    pub(crate) fn on_send_result(&mut self, peer: PeerId, purpose: Purpose, outcome: SendOutcome) {
        if outcome == SendOutcome::Sent {
            if let Purpose::Copy { forwarded } = purpose {
                self.stats.copies_sent += 1;
                self.stats.forwarded += u64::from(forwarded);
            }
            return;
        }
        self.stats.dropped += 1;
        if outcome == SendOutcome::QueueFull {
            self.refused.insert(peer);
        }
        if let Purpose::Graft(topic) = purpose
            && self.mesh.get_mut(&topic).is_some_and(|m| m.remove(&peer))
        {
            self.score.prune(peer, &topic);
        }
    }

    fn send(&mut self, peer: PeerId, rpc: &Rpc) {
        let purpose = if matches!(rpc, Rpc::Publish(_)) {
            Purpose::Copy { forwarded: false }
        } else {
            Purpose::Control
        };
        self.send_encoded(peer, rpc.encode(), purpose);
    }

    /// Sends an already encoded message (encoded once for all the peers it goes to).
    fn send_encoded(&mut self, peer: PeerId, bytes: Bytes, purpose: Purpose) {
        self.actions.push(Action::Send {
            peer,
            bytes,
            purpose,
        });
    }

    fn emit(&mut self, event: GossipEvent) {
        self.actions.push(Action::Emit(event));
    }

    /// A message's id.
    pub(crate) fn message_id(&self, msg: &SignedMessage) -> MessageId {
        match &self.id_fn {
            Some(f) => f(msg),
            None => msg.id(),
        }
    }

    /// Peers subscribed to `topic`.
    pub(crate) fn topic_peers(&self, topic: &str) -> Vec<PeerId> {
        let mut peers: Vec<PeerId> = self
            .peer_topics
            .iter()
            .filter(|(_, t)| t.contains(topic))
            .map(|(p, _)| *p)
            .collect();
        // Sorted: what is taken from the list must not depend on a hash map's order.
        peers.sort_unstable();
        peers
    }

    /// Whether everything `peer` sends is to be ignored (its score is below the graylist
    /// threshold); counted.
    pub(crate) fn graylisted(&mut self, now: Instant, peer: &PeerId) -> bool {
        let low = self.score.score(peer, now) < self.score.config().graylist_threshold;
        if low {
            self.stats.graylisted += 1;
        }
        low
    }

    pub(crate) fn peer_connected(&mut self, peer: PeerId) {
        self.peer_topics.entry(peer).or_default();
        self.score.connected(peer);
        if !self.subscribed.is_empty() {
            let subs = self.subscribed.iter().map(|t| (true, t.clone())).collect();
            self.send(peer, &Rpc::Subscriptions(subs));
        }
    }

    pub(crate) fn peer_disconnected(&mut self, now: Instant, peer: &PeerId) {
        self.score.disconnected(peer, now);
        for (peers, _) in self.fanout.values_mut() {
            peers.remove(peer);
        }
        if let Some(topics) = self.peer_topics.remove(peer) {
            for topic in topics {
                self.emit(GossipEvent::PeerLeft { peer: *peer, topic });
            }
        }
        for mesh in self.mesh.values_mut() {
            mesh.remove(peer);
        }
    }

    pub(crate) fn subscribe(&mut self, now: Instant, topic: &str) -> bool {
        if !self.subscribed.insert(topic.to_string()) {
            return false;
        }
        let peers: Vec<PeerId> = self.peer_topics.keys().copied().collect();
        let rpc = Rpc::Subscriptions(vec![(true, topic.to_string())]);
        for p in peers {
            self.send(p, &rpc);
        }
        // Join: the fanout's peers first (we were publishing there), then up to D of the
        // topic's peers, grafted right away.
        let fanout = self
            .fanout
            .remove(topic)
            .map(|(p, _)| p)
            .unwrap_or_default();
        let mut fanout: Vec<PeerId> = fanout.into_iter().collect();
        fanout.sort_unstable();
        for p in fanout.into_iter().take(self.config.mesh_n) {
            let usable = self.score.score(&p, now) >= 0.0
                && !self.in_backoff(topic, &p, now)
                && self.peer_topics.get(&p).is_some_and(|t| t.contains(topic));
            if usable {
                self.graft(now, p, topic);
            }
        }
        self.mesh.entry(topic.to_string()).or_default();
        self.fill_mesh(now, topic);
        true
    }

    pub(crate) fn unsubscribe(&mut self, now: Instant, topic: &str) -> bool {
        if !self.subscribed.remove(topic) {
            return false;
        }
        let peers: Vec<PeerId> = self.peer_topics.keys().copied().collect();
        let rpc = Rpc::Subscriptions(vec![(false, topic.to_string())]);
        for p in peers {
            self.send(p, &rpc);
        }
        for p in self.mesh.remove(topic).unwrap_or_default() {
            self.score.prune(p, topic);
            self.send_prune(now, p, topic, Vec::new());
        }
        true
    }

    /// An RPC from `peer` other than a publish (a publish is screened, verified and validated
    /// by the service first: [`Router::screen`], then [`Router::on_message`] or
    /// [`Router::on_invalid`]).
    pub(crate) fn on_control(&mut self, now: Instant, host: &dyn Host, peer: PeerId, rpc: Rpc) {
        match rpc {
            Rpc::Subscriptions(subs) => self.on_subscriptions(now, peer, subs),
            Rpc::Graft(topic) => self.on_graft(now, host, peer, topic),
            Rpc::Prune {
                topic,
                backoff_secs,
                peers,
            } => self.on_prune(now, peer, topic, backoff_secs, peers),
            Rpc::IHave { topic, ids } => self.on_ihave(now, peer, topic, ids),
            Rpc::IWant(ids) => self.on_iwant(now, host, peer, ids),
            Rpc::Publish(_) => {}
        }
    }

    pub(crate) fn on_subscriptions(
        &mut self,
        now: Instant,
        peer: PeerId,
        subs: Vec<(bool, String)>,
    ) {
        let max = self.config.max_peer_topics;
        let Some(topics) = self.peer_topics.get_mut(&peer) else {
            return;
        };
        // Only the net change of a frame counts (a frame toggling a topic back and forth costs
        // nothing but its bytes).
        let mut last: HashMap<String, bool> = HashMap::new();
        for (on, topic) in subs {
            last.insert(topic, on);
        }
        let mut joined = Vec::new();
        let mut left = Vec::new();
        for (topic, on) in last {
            if on {
                if topics.len() < max && topics.insert(topic.clone()) {
                    joined.push(topic);
                }
            } else if topics.remove(&topic) {
                left.push(topic);
            }
        }
        for topic in left {
            if let Some(m) = self.mesh.get_mut(&topic) {
                m.remove(&peer);
            }
            if let Some((f, _)) = self.fanout.get_mut(&topic) {
                f.remove(&peer);
            }
            self.score.prune(peer, &topic);
            self.emit(GossipEvent::PeerLeft { peer, topic });
        }
        for topic in joined {
            self.emit(GossipEvent::PeerJoined {
                peer,
                topic: topic.clone(),
            });
            if self.subscribed.contains(&topic) {
                self.fill_mesh(now, &topic);
            }
        }
    }

    /// Counters since start, with the current mesh sizes.
    pub(crate) fn stats(&self) -> GossipStats {
        let mut s = self.stats.clone();
        s.cached_messages = self.mcache.len();
        s.mesh_sizes = self
            .subscribed
            .iter()
            .map(|t| (t.clone(), self.mesh.get(t).map_or(0, HashSet::len)))
            .collect();
        s
    }
}
