//! The routing state: our topics, what each peer subscribes to, the per-topic mesh, the seen
//! cache; and what happens on each event. Kept under one lock (operations are short and never
//! wait: sends are non-blocking and drop when a peer's queue is full).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::seq::IteratorRandom;
use rats_core::{Event, PeerId};
use rats_core::{Outgoing, ServiceContext};
use tracing::debug;

use crate::config::GossipsubConfig;
use crate::event::{GossipEvent, GossipStats};
use crate::mcache::MessageCache;
use crate::message::{MessageId, SignedMessage, signing_bytes};
use crate::score::PeerScore;
use crate::seen::SeenCache;
use crate::wire::{MAX_PX_ADDRS, MAX_PX_PEERS, PxPeer, Rpc};

pub(crate) struct Router {
    pub config: GossipsubConfig,
    pub ctx: ServiceContext,
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
}

/// A custom message id function; every node of a network must use the same one.
pub type MessageIdFn = std::sync::Arc<dyn Fn(&SignedMessage) -> MessageId + Send + Sync>;

/// Heartbeats between two rounds of opportunistic grafting (v1.1).
const OPPORTUNISTIC_GRAFT_EVERY: u64 = 60;
/// Peers grafted at most per round.
const OPPORTUNISTIC_GRAFT_PEERS: usize = 2;

/// Send-queue load above which gossip (IHAVE and IWANT answers) to a peer is dropped first.
const GOSSIP_MAX_LOAD: f32 = 0.5;
/// Consecutive heartbeats of refused copies after which a peer is disconnected.
const SLOW_STRIKES: u32 = 3;

impl Router {
    pub(crate) fn new(config: GossipsubConfig, ctx: ServiceContext) -> Self {
        let mcache = MessageCache::new(config.history_length, config.history_gossip);
        let score = PeerScore::new(config.score.clone(), config.max_peer_topics);
        let seen = SeenCache::new(Duration::from_secs(config.seen_ttl_secs), config.seen_max);
        // Sequence numbers start at the clock so a restarted node does not reuse ids.
        let seqno = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Router {
            local: ctx.local_peer_id(),
            config,
            ctx,
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
        }
    }

    fn send(&mut self, peer: &PeerId, rpc: &Rpc) -> bool {
        let publish = matches!(rpc, Rpc::Publish(_));
        self.send_encoded(peer, rpc.encode(), publish)
    }

    /// Sends an already encoded message (encoded once for all the peers it goes to).
    fn send_encoded(&mut self, peer: &PeerId, bytes: Bytes, publish: bool) -> bool {
        if let Err(e) = self.ctx.try_send(peer, Outgoing::shared(bytes)) {
            self.stats.dropped += 1;
            if matches!(e, rats_core::SendError::QueueFull(_)) {
                self.refused.insert(*peer);
            }
            return false;
        }
        if publish {
            self.stats.copies_sent += 1;
        }
        true
    }

    /// Gossip is optional: it is the first thing a falling-behind peer does not get.
    fn gossip_room(&self, peer: &PeerId) -> bool {
        self.ctx
            .queue_load(peer)
            .is_some_and(|load| load < GOSSIP_MAX_LOAD)
    }

    fn emit(&self, event: GossipEvent) {
        self.ctx.emit(Event::Service {
            service: crate::SERVICE_NAME,
            event: std::sync::Arc::new(event),
        });
    }

    /// First look at a received message, in one pass under the lock: its id if it is worth
    /// checking (a topic we subscribe to, not our own, not seen yet; a seen one counts as a
    /// duplicate). Nothing is remembered here: an unwanted message cannot fill the seen cache.
    pub(crate) fn screen(&mut self, msg: &SignedMessage) -> Option<MessageId> {
        if !self.subscribed.contains(&msg.topic) || msg.from == self.local {
            return None;
        }
        let id = self.message_id(msg);
        if self.seen.contains(&id) {
            self.stats.duplicates += 1;
            return None;
        }
        Some(id)
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
        self.peer_topics
            .iter()
            .filter(|(_, t)| t.contains(topic))
            .map(|(p, _)| *p)
            .collect()
    }

    pub(crate) fn peer_connected(&mut self, peer: PeerId) {
        self.peer_topics.entry(peer).or_default();
        self.score.connected(peer);
        if !self.subscribed.is_empty() {
            let subs = self.subscribed.iter().map(|t| (true, t.clone())).collect();
            self.send(&peer, &Rpc::Subscriptions(subs));
        }
    }

    pub(crate) fn peer_disconnected(&mut self, peer: &PeerId) {
        self.score.disconnected(peer);
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

    pub(crate) fn subscribe(&mut self, topic: &str) -> bool {
        if !self.subscribed.insert(topic.to_string()) {
            return false;
        }
        let peers: Vec<PeerId> = self.peer_topics.keys().copied().collect();
        let rpc = Rpc::Subscriptions(vec![(true, topic.to_string())]);
        for p in &peers {
            self.send(p, &rpc);
        }
        // Join: the fanout's peers first (we were publishing there), then up to D of the
        // topic's peers, grafted right away.
        let fanout = self
            .fanout
            .remove(topic)
            .map(|(p, _)| p)
            .unwrap_or_default();
        for p in fanout.into_iter().take(self.config.mesh_n) {
            let usable = self.score.score(&p) >= 0.0
                && !self.in_backoff(topic, &p)
                && self.peer_topics.get(&p).is_some_and(|t| t.contains(topic));
            if usable && self.send(&p, &Rpc::Graft(topic.to_string())) {
                self.mesh.entry(topic.to_string()).or_default().insert(p);
                self.score.graft(p, topic);
            }
        }
        self.mesh.entry(topic.to_string()).or_default();
        self.fill_mesh(topic);
        true
    }

    pub(crate) fn unsubscribe(&mut self, topic: &str) -> bool {
        if !self.subscribed.remove(topic) {
            return false;
        }
        let peers: Vec<PeerId> = self.peer_topics.keys().copied().collect();
        let rpc = Rpc::Subscriptions(vec![(false, topic.to_string())]);
        for p in &peers {
            self.send(p, &rpc);
        }
        for p in self.mesh.remove(topic).unwrap_or_default() {
            self.score.prune(p, topic);
            self.send_prune(p, topic, Vec::new());
        }
        true
    }

    /// Sends PRUNE (with `exchanged` peers) and records the backoff we announce, so a GRAFT
    /// from that peer before it ends counts as misbehaviour and we do not graft it either.
    fn send_prune(&mut self, peer: PeerId, topic: &str, exchanged: Vec<PxPeer>) {
        let backoff_secs = self.config.prune_backoff_secs as u32;
        self.backoff.insert(
            (topic.to_string(), peer),
            Instant::now() + Duration::from_secs(u64::from(backoff_secs)),
        );
        self.send(
            &peer,
            &Rpc::Prune {
                topic: topic.to_string(),
                backoff_secs,
                peers: exchanged,
            },
        );
    }

    fn in_backoff(&self, topic: &str, peer: &PeerId) -> bool {
        self.backoff
            .get(&(topic.to_string(), *peer))
            .is_some_and(|until| Instant::now() < *until)
    }

    /// Grafts random topic peers until the mesh has D peers (or no candidate is left).
    fn fill_mesh(&mut self, topic: &str) {
        let have = self.mesh.get(topic).map_or(0, HashSet::len);
        if have >= self.config.mesh_n {
            return;
        }
        let candidates: Vec<PeerId> = self
            .topic_peers(topic)
            .into_iter()
            .filter(|p| {
                !self.mesh.get(topic).is_some_and(|m| m.contains(p))
                    && !self.in_backoff(topic, p)
                    && self.score.score(p) >= 0.0
            })
            .choose_multiple(&mut rand::thread_rng(), self.config.mesh_n - have);
        for p in candidates {
            if self.send(&p, &Rpc::Graft(topic.to_string())) {
                self.mesh.entry(topic.to_string()).or_default().insert(p);
                self.score.graft(p, topic);
            }
        }
    }

    /// The fanout of a topic we do not subscribe to (chosen now if there is none), its last
    /// publish set to now.
    fn fanout_peers(&mut self, topic: &str) -> Vec<PeerId> {
        let now = Instant::now();
        let have = self.fanout.get(topic).map_or(0, |(p, _)| p.len());
        if have < self.config.mesh_n {
            let current: HashSet<PeerId> = self
                .fanout
                .get(topic)
                .map(|(p, _)| p.clone())
                .unwrap_or_default();
            let more: Vec<PeerId> = self
                .topic_peers(topic)
                .into_iter()
                .filter(|p| !current.contains(p))
                .choose_multiple(&mut rand::thread_rng(), self.config.mesh_n - have);
            let entry = self
                .fanout
                .entry(topic.to_string())
                .or_insert_with(|| (HashSet::new(), now));
            entry.0.extend(more);
        }
        match self.fanout.get_mut(topic) {
            Some(entry) => {
                entry.1 = now;
                entry.0.iter().copied().collect()
            }
            None => Vec::new(),
        }
    }

    /// Publishes our own message.
    pub(crate) fn publish(&mut self, topic: &str, data: Bytes) -> Result<MessageId, String> {
        if data.len() > self.config.max_message_size {
            return Err(format!(
                "message of {} bytes is larger than max_message_size ({})",
                data.len(),
                self.config.max_message_size
            ));
        }
        if topic.is_empty() || topic.len() > self.config.max_topic_len {
            return Err("topic empty or longer than max_topic_len".into());
        }
        self.seqno = self.seqno.wrapping_add(1);
        let seqno = self.seqno;
        let signature = self
            .ctx
            .sign(&signing_bytes(topic, &self.local, seqno, &data))
            .map_err(|e| e.to_string())?;
        let msg = SignedMessage {
            from: self.local,
            seqno,
            topic: topic.to_string(),
            data,
            signature,
        };
        let id = self.message_id(&msg);
        self.seen.insert(id);
        let publish_threshold = self.score.config().publish_threshold;
        let targets: Vec<PeerId> = if self.config.flood_publish {
            let peers = self.topic_peers(topic);
            peers
                .into_iter()
                .filter(|p| self.score.score(p) >= publish_threshold)
                .collect()
        } else if self.subscribed.contains(topic) {
            self.mesh
                .get(topic)
                .map(|m| m.iter().copied().collect())
                .unwrap_or_default()
        } else {
            self.fanout_peers(topic)
        };
        self.mcache.put(id, msg.clone());
        let bytes = Rpc::Publish(msg).encode();
        for p in &targets {
            self.send_encoded(p, bytes.clone(), true);
        }
        self.stats.published += 1;
        Ok(id)
    }

    /// An invalid message from `via` (forged, too large, or rejected by a validator).
    pub(crate) fn on_invalid(&mut self, via: PeerId, topic: &str, id: Option<MessageId>) {
        if let Some(id) = id {
            self.seen.insert(id);
        }
        self.stats.rejected += 1;
        self.score.invalid_message(via, topic);
    }

    /// A message a validator ignores: remembered (not validated again), not delivered, not
    /// forwarded, no penalty.
    pub(crate) fn on_ignored(&mut self, id: MessageId) {
        self.seen.insert(id);
        self.stats.ignored += 1;
    }

    /// A message from `via`, its signature already checked.
    pub(crate) fn on_message(&mut self, via: PeerId, msg: SignedMessage) {
        if !self.seen.insert(self.message_id(&msg)) {
            self.stats.duplicates += 1;
            return;
        }
        self.accept(via, msg);
    }

    /// Delivers (once, to subscribers) and forwards a message whose id is already recorded as
    /// seen: after an asynchronous validator accepted it.
    pub(crate) fn accept(&mut self, via: PeerId, msg: SignedMessage) {
        let id = self.message_id(&msg);
        if !self.subscribed.contains(&msg.topic) {
            return;
        }
        self.stats.delivered += 1;
        self.score.first_delivery(via, &msg.topic);
        self.mcache.put(id, msg.clone());
        let topic = msg.topic.clone();
        let origin = msg.from;
        let data = msg.data.clone();
        // Forward to the mesh, except to where it came from and its origin.
        let targets: Vec<PeerId> = self
            .mesh
            .get(&topic)
            .map(|m| {
                m.iter()
                    .filter(|p| **p != via && **p != origin)
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        if !targets.is_empty() {
            let bytes = Rpc::Publish(msg).encode();
            for p in &targets {
                if self.send_encoded(p, bytes.clone(), true) {
                    self.stats.forwarded += 1;
                }
            }
        }
        self.emit(GossipEvent::Message {
            topic,
            origin,
            via,
            id,
            data,
        });
    }

    pub(crate) fn on_subscriptions(&mut self, peer: PeerId, subs: Vec<(bool, String)>) {
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
                self.fill_mesh(&topic);
            }
        }
    }

    pub(crate) fn on_graft(&mut self, peer: PeerId, topic: String) {
        let subscribed_peer = self
            .peer_topics
            .get(&peer)
            .is_some_and(|t| t.contains(&topic));
        let full = self
            .mesh
            .get(&topic)
            .is_some_and(|m| m.len() >= self.config.mesh_n_high);
        let in_backoff = self.in_backoff(&topic, &peer);
        if in_backoff {
            // Grafting while told to back off is misbehaviour (v1.1 P7).
            self.score.behaviour_penalty(peer, 1.0);
        }
        if !self.subscribed.contains(&topic)
            || !subscribed_peer
            || in_backoff
            || full
            || self.score.score(&peer) < 0.0
        {
            // A full mesh points the peer to others of the topic (once per backoff: a peer
            // that grafts again meanwhile is already penalised above).
            let peers = if full && !in_backoff {
                self.exchange_peers(&topic, &peer)
            } else {
                Vec::new()
            };
            if !in_backoff {
                self.send_prune(peer, &topic, peers);
            }
            return;
        }
        self.score.graft(peer, &topic);
        self.mesh.entry(topic).or_default().insert(peer);
    }

    /// Up to `prune_peers` other peers of `topic` with their addresses, for a PRUNE to
    /// `pruned` (none for a peer with a negative score).
    fn exchange_peers(&self, topic: &str, pruned: &PeerId) -> Vec<PxPeer> {
        if self.score.score(pruned) < 0.0 {
            return Vec::new();
        }
        self.topic_peers(topic)
            .into_iter()
            .filter(|p| p != pruned)
            .filter_map(|p| {
                let info = self.ctx.peer_info(&p)?;
                let addrs: Vec<String> = info
                    .listen_addrs
                    .iter()
                    .take(MAX_PX_ADDRS)
                    .map(ToString::to_string)
                    .collect();
                (!addrs.is_empty()).then_some(PxPeer { peer: p, addrs })
            })
            .take(self.config.prune_peers.min(MAX_PX_PEERS))
            .collect()
    }

    /// Peers a PRUNE offered: dialed (up to `px_connect_max`) when the pruning peer's score
    /// is at least `accept_px_threshold`.
    fn use_exchanged_peers(&mut self, from: &PeerId, peers: Vec<PxPeer>) {
        if peers.is_empty()
            || self.score.score(from) < self.config.accept_px_threshold
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
                self.ctx.add_candidate(px.peer, addrs);
            }
        }
    }

    pub(crate) fn on_prune(
        &mut self,
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
        let backoff = Duration::from_secs(u64::from(backoff_secs).min(3600));
        self.backoff.insert((topic, peer), Instant::now() + backoff);
        self.use_exchanged_peers(&peer, exchanged);
    }

    /// A peer advertises messages: ask for the ones we have not seen (within the per-heartbeat
    /// limits, so a peer cannot make us ask without end).
    pub(crate) fn on_ihave(&mut self, peer: PeerId, topic: String, ids: Vec<MessageId>) {
        if !self.subscribed.contains(&topic)
            || self.score.score(&peer) < self.score.config().gossip_threshold
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
        self.send(&peer, &Rpc::IWant(want));
    }

    /// A peer asks for messages: send those still in the cache (each at most
    /// `gossip_retransmission` times per heartbeat).
    pub(crate) fn on_iwant(&mut self, peer: PeerId, ids: Vec<MessageId>) {
        if self.score.score(&peer) < self.score.config().gossip_threshold {
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
            if !self.gossip_room(&peer) {
                self.stats.dropped += 1;
                continue;
            }
            let Some(msg) = self.mcache.get(&id).cloned() else {
                continue;
            };
            self.send(&peer, &Rpc::Publish(msg));
        }
    }

    /// IHAVE to up to D_lazy topic peers outside the mesh, for each of our topics.
    fn emit_gossip(&mut self) {
        let topics: Vec<String> = self.subscribed.iter().cloned().collect();
        for topic in topics {
            let ids = self.mcache.gossip_ids(&topic);
            if ids.is_empty() {
                continue;
            }
            let mesh = self.mesh.get(&topic);
            let threshold = self.score.config().gossip_threshold;
            let targets: Vec<PeerId> = self
                .topic_peers(&topic)
                .into_iter()
                .filter(|p| {
                    !mesh.is_some_and(|m| m.contains(p)) && self.score.score(p) >= threshold
                })
                .choose_multiple(&mut rand::thread_rng(), self.config.gossip_lazy);
            let rpc = Rpc::IHave {
                topic: topic.clone(),
                ids,
            };
            for p in targets {
                if self.gossip_room(&p) {
                    self.send(&p, &rpc);
                } else {
                    self.stats.dropped += 1;
                }
            }
        }
    }

    /// v1.1 opportunistic grafting: when a mesh's median score is low, graft a couple of the
    /// topic's better-scored peers, so a mesh taken over by poor peers recovers.
    fn opportunistic_graft(&mut self) {
        let threshold = self.score.config().opportunistic_graft_threshold;
        let topics: Vec<String> = self.subscribed.iter().cloned().collect();
        for topic in topics {
            let mut scores: Vec<f64> = self
                .mesh
                .get(&topic)
                .map(|m| m.iter().map(|p| self.score.score(p)).collect())
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
                    let s = self.score.score(p);
                    !mesh.contains(p) && !self.in_backoff(&topic, p) && s > median && s >= 0.0
                })
                .take(OPPORTUNISTIC_GRAFT_PEERS.min(room))
                .collect();
            for p in better {
                if self.send(&p, &Rpc::Graft(topic.clone())) {
                    self.mesh.entry(topic.clone()).or_default().insert(p);
                    self.score.graft(p, &topic);
                }
            }
        }
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
                self.ctx.disconnect_slow_peer(&p);
            }
        }
    }

    /// Keeps every mesh between D_low and D_high, gossips, and expires old state.
    pub(crate) fn heartbeat(&mut self) {
        self.seen.expire();
        self.ihave_taken.clear();
        self.iwant_asked.clear();
        self.px_dials = 0;
        self.retransmitted.clear();
        let now = Instant::now();
        self.backoff.retain(|_, until| *until > now);
        let topics: Vec<String> = self.subscribed.iter().cloned().collect();
        for topic in topics {
            // Drop mesh members that left the topic.
            let members: Vec<PeerId> = self
                .mesh
                .get(&topic)
                .map(|m| m.iter().copied().collect())
                .unwrap_or_default();
            for p in members {
                let left = !self.peer_topics.get(&p).is_some_and(|t| t.contains(&topic));
                let negative = self.score.score(&p) < 0.0;
                if (left || negative)
                    && let Some(m) = self.mesh.get_mut(&topic)
                {
                    m.remove(&p);
                    self.score.prune(p, &topic);
                    if negative && !left {
                        self.send_prune(p, &topic, Vec::new());
                    }
                }
            }
            let n = self.mesh.get(&topic).map_or(0, HashSet::len);
            if n < self.config.mesh_n_low {
                self.fill_mesh(&topic);
            } else if n > self.config.mesh_n_high {
                let excess = n - self.config.mesh_n;
                let victims: Vec<PeerId> = self
                    .mesh
                    .get(&topic)
                    .map(|m| {
                        m.iter()
                            .copied()
                            .choose_multiple(&mut rand::thread_rng(), excess)
                    })
                    .unwrap_or_default();
                for p in victims {
                    if let Some(m) = self.mesh.get_mut(&topic) {
                        m.remove(&p);
                    }
                    self.score.prune(p, &topic);
                    let exchanged = self.exchange_peers(&topic, &p);
                    self.send_prune(p, &topic, exchanged);
                }
                debug!(topic, pruned = excess, "mesh above D_high");
            }
        }
        // Fanouts of topics we stopped publishing to expire.
        let ttl = Duration::from_secs(self.config.fanout_ttl_secs);
        self.fanout
            .retain(|_, (_, last)| now.duration_since(*last) < ttl);
        self.beats += 1;
        if self.beats.is_multiple_of(OPPORTUNISTIC_GRAFT_EVERY) {
            self.opportunistic_graft();
        }
        self.emit_gossip();
        self.mcache.shift();
        self.score.decay();
        self.shed_slow_peers();
    }

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
