//! The GossipSub scenarios: N nodes running the real router (mesh, gossip, scoring) on one
//! topic, every node subscribed, messages published at a rate from random nodes, a share of
//! the nodes leaving and coming back; delivery, latency, duplicates and traffic measured in
//! simulated time. With an [`Attack`], a share of the nodes are Sybils (GossipSub v1.1's own
//! evaluation's attacks): they run the real router to get into meshes, then drop every
//! message, drop those of chosen publishers, or flood invalid messages; delivery is measured
//! to the honest nodes, with peer scoring on or off.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::Rng;
use rats_core::{Identity, PeerId};
use rats_gossipsub::__sim::{SimOutput, SimRouter};
use rats_gossipsub::GossipsubConfig;
use serde_json::json;

use crate::link::{LinkModel, Links};
use crate::rng;
use crate::sched::{Micros, Scheduler};

/// The topic every node subscribes to.
const TOPIC: &str = "sim";
/// Simulated time for meshes to form before the first publish.
const WARMUP_US: Micros = 5_000_000;
/// A message counts as delivered to the nodes online from its publish until this long after.
const SETTLE_US: Micros = 30_000_000;

/// What to simulate.
#[derive(Clone, Debug)]
pub struct Params {
    /// Nodes.
    pub nodes: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Messages published.
    pub messages: usize,
    /// Messages per second (all publishers together).
    pub rate: f64,
    /// Payload bytes per message.
    pub size: usize,
    /// Share of nodes that leave and come back (0 to 1).
    pub churn: f64,
    /// Mean time a churning node stays, then stays away.
    pub churn_on_s: f64,
    /// Mean time a churning node stays away.
    pub churn_off_s: f64,
    /// The links.
    pub link: LinkModel,
    /// The link preset's name (for the output).
    pub link_name: String,
    /// CPU time a node spends on a published message it receives (its signature check and
    /// handling; frames wait their turn behind it), µs.
    pub publish_cpu_us: Micros,
    /// CPU time for any other frame, µs.
    pub frame_cpu_us: Micros,
    /// Sybils, if any.
    pub attack: Option<Attack>,
}

/// What the Sybils do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Take part in meshes, forward nothing.
    Drop,
    /// Forward everything but the messages of a tenth of the honest publishers.
    Censor,
    /// Forward nothing and publish invalid messages (bad signatures) five times a second each.
    Spam,
}

/// A share of Sybil nodes and whether the honest ones score peers.
#[derive(Clone, Copy, Debug)]
pub struct Attack {
    /// Share of the nodes that are Sybils.
    pub share: f64,
    /// What they do.
    pub behaviour: Behaviour,
    /// Peer scoring on (the default parameters) or off (no weights, no thresholds).
    pub scoring: bool,
}

/// Time between two invalid messages of one spamming Sybil.
const SPAM_EVERY_US: Micros = 200_000;

/// Scoring that never acts: every weight zero, every threshold out of reach.
fn no_scoring() -> rats_gossipsub::ScoreConfig {
    rats_gossipsub::ScoreConfig {
        time_in_mesh_weight: 0.0,
        first_delivery_weight: 0.0,
        invalid_weight: 0.0,
        behaviour_weight: 0.0,
        gossip_threshold: f64::NEG_INFINITY,
        publish_threshold: f64::NEG_INFINITY,
        graylist_threshold: f64::NEG_INFINITY,
        opportunistic_graft_threshold: f64::NEG_INFINITY,
        ..rats_gossipsub::ScoreConfig::default()
    }
}

enum Event {
    /// A frame arrives and waits for the node's CPU.
    Arrive {
        to: u32,
        from: u32,
        epochs: (u32, u32),
        bytes: Bytes,
    },
    /// The node has spent the frame's CPU time: it is handled; dropped if either end left
    /// since it was sent (`epochs`).
    Frame {
        to: u32,
        from: u32,
        epochs: (u32, u32),
        bytes: Bytes,
    },
    Heartbeat {
        node: u32,
        epoch: u32,
    },
    Publish(u32),
    Leave(u32),
    Join(u32),
    /// A spamming Sybil publishes an invalid message.
    Spam(u32),
}

struct Node {
    id: PeerId,
    sybil: bool,
    /// An honest publisher whose messages censoring Sybils drop.
    censored: bool,
    router: Option<SimRouter>,
    /// Bumped at every leave: frames and timers of an earlier life are dropped.
    epoch: u32,
    peers: BTreeSet<u32>,
    /// When the node's CPU is free for the next frame.
    busy_until: Micros,
    /// Online periods (start, end; end = u64::MAX while online).
    sessions: Vec<(Micros, Micros)>,
}

struct Published {
    at: Micros,
    origin: u32,
}

/// Everything one run holds.
struct Sim {
    p: Params,
    config: GossipsubConfig,
    base: Instant,
    sched: Scheduler<Event>,
    links: Links,
    nodes: Vec<Node>,
    index: HashMap<PeerId, u32>,
    published: Vec<Published>,
    ids: HashMap<rats_gossipsub::MessageId, u32>,
    /// (message, node) first deliveries and their latency.
    delivered: HashMap<(u32, u32), Micros>,
    /// Publishers whose messages fail the (stood-in) signature check: spamming Sybils.
    invalid_origins: std::collections::HashSet<PeerId>,
    /// When the run ends.
    end: Micros,
    /// Counters of routers that left (a restarted node starts a new router).
    retired_duplicates: u64,
    retired_copies: u64,
    events: u64,
    churn_rng: rand::rngs::StdRng,
    work_rng: rand::rngs::StdRng,
    out: Vec<SimOutput>,
}

/// `n` distinct identities with canonical peer ids, from `seed`.
fn identities(n: usize, seed: u64) -> Vec<PeerId> {
    let mut ids = Vec::with_capacity(n);
    let mut i = 0u64;
    while ids.len() < n {
        let mut secret = [0u8; 32];
        for (k, chunk) in secret.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&rng::derive(seed, "identity", i * 4 + k as u64).to_le_bytes());
        }
        i += 1;
        let id = Identity::from_secret(secret).peer_id();
        if id.is_canonical() {
            ids.push(id);
        }
    }
    ids
}

/// A ring plus 5-7 random dials per node (the graph `rats-bench gossip` builds).
fn topology(n: usize, seed: u64) -> Vec<(u32, u32)> {
    let mut r = rng::stream(seed, "topology", 0);
    let mut edges = BTreeSet::new();
    for i in 0..n {
        if n > 1 {
            let j = (i + 1) % n;
            edges.insert((i.min(j) as u32, i.max(j) as u32));
        }
        for _ in 0..r.gen_range(5..8) {
            let j = r.gen_range(0..n);
            if j != i {
                edges.insert((i.min(j) as u32, i.max(j) as u32));
            }
        }
    }
    edges.into_iter().collect()
}

fn exp_us(r: &mut impl Rng, mean_s: f64) -> Micros {
    let u: f64 = r.gen_range(f64::EPSILON..1.0);
    (-u.ln() * mean_s * 1e6) as Micros
}

impl Sim {
    fn new(p: Params) -> Sim {
        let mut config = GossipsubConfig::default();
        if p.attack.is_some_and(|a| !a.scoring) {
            config.score = no_scoring();
        }
        let ids = identities(p.nodes, p.seed);
        let index = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i as u32))
            .collect();
        let share = p.attack.map_or(0.0, |a| a.share);
        let nodes = ids
            .into_iter()
            .enumerate()
            .map(|(i, id)| Node {
                id,
                sybil: rng::unit(rng::derive(p.seed, "sybil", i as u64)) < share,
                censored: rng::unit(rng::derive(p.seed, "censored", i as u64)) < 0.1,
                router: None,
                epoch: 0,
                peers: BTreeSet::new(),
                busy_until: 0,
                sessions: Vec::new(),
            })
            .collect();
        Sim {
            links: Links::new(p.link.clone(), p.seed, p.nodes),
            churn_rng: rng::stream(p.seed, "churn", 0),
            work_rng: rng::stream(p.seed, "workload", 0),
            p,
            config,
            base: Instant::now(),
            sched: Scheduler::new(),
            nodes,
            index,
            published: Vec::new(),
            ids: HashMap::new(),
            delivered: HashMap::new(),
            invalid_origins: Default::default(),
            end: 0,
            retired_duplicates: 0,
            retired_copies: 0,
            events: 0,
            out: Vec::new(),
        }
    }

    fn instant(&self) -> Instant {
        self.base + Duration::from_micros(self.sched.now())
    }

    fn heartbeat_us(&self) -> Micros {
        self.config.heartbeat_ms.max(1) * 1000
    }

    /// Node `i` comes online with a fresh router (a restarted node keeps nothing).
    fn start_node(&mut self, i: u32) {
        let now = self.instant();
        let every = self.heartbeat_us();
        let node = &mut self.nodes[i as usize];
        let seed = rng::derive(
            self.p.seed,
            "router",
            (u64::from(i) << 32) | u64::from(node.epoch),
        );
        // Sequence numbers start at the (simulated) clock, as the real service's do.
        let seqno = self.sched.now().saturating_mul(1000);
        let mut router = SimRouter::new(self.config.clone(), node.id, seed, seqno);
        router.subscribe(now, TOPIC);
        node.router = Some(router);
        node.sessions.push((self.sched.now(), Micros::MAX));
        let phase = rng::derive(self.p.seed, "phase", u64::from(i)) % every;
        let epoch = node.epoch;
        self.sched.at(
            self.sched.now() + phase,
            Event::Heartbeat { node: i, epoch },
        );
    }

    fn online(&self, i: u32) -> bool {
        self.nodes[i as usize].router.is_some()
    }

    fn connect(&mut self, a: u32, b: u32) {
        if a == b || !self.online(a) || !self.online(b) || self.nodes[a as usize].peers.contains(&b)
        {
            return;
        }
        for (x, y) in [(a, b), (b, a)] {
            let peer = self.nodes[y as usize].id;
            let node = &mut self.nodes[x as usize];
            node.peers.insert(y);
            if let Some(r) = node.router.as_mut() {
                r.peer_connected(peer);
            }
        }
        self.flush(a);
        self.flush(b);
    }

    fn disconnect(&mut self, a: u32, b: u32) {
        let now = self.instant();
        for (x, y) in [(a, b), (b, a)] {
            let peer = self.nodes[y as usize].id;
            let node = &mut self.nodes[x as usize];
            if node.peers.remove(&y)
                && let Some(r) = node.router.as_mut()
            {
                r.peer_disconnected(now, &peer);
            }
        }
        self.flush(a);
        self.flush(b);
    }

    /// Carries out what node `i`'s router decided: frames onto the links (in order of
    /// destination, so the upload queue does not depend on a hash map's order), deliveries
    /// into the record.
    fn flush(&mut self, i: u32) {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        if let Some(r) = self.nodes[i as usize].router.as_mut() {
            r.drain(&mut out);
        }
        let mut sends: Vec<(u32, Bytes)> = Vec::new();
        let mut slow: Vec<u32> = Vec::new();
        for o in out.drain(..) {
            match o {
                SimOutput::Send { peer, bytes } => {
                    if let Some(&j) = self.index.get(&peer)
                        && self.nodes[i as usize].peers.contains(&j)
                        && !self.withheld(i, &bytes)
                    {
                        sends.push((j, bytes));
                    }
                }
                SimOutput::Delivered { id, .. } => {
                    if let Some(&m) = self.ids.get(&id) {
                        let since = self.sched.now() - self.published[m as usize].at;
                        self.delivered.entry((m, i)).or_insert(since);
                    }
                }
                SimOutput::Disconnect(peer) => slow.extend(self.index.get(&peer)),
                // Peer exchange offers ids without addresses here; the graph stays as built.
                SimOutput::Dial(_) => {}
            }
        }
        self.out = out;
        for j in slow {
            self.disconnect(i, j);
        }
        // By destination, then content: neither the upload queue nor the order of two frames
        // to one peer depends on a hash map's order.
        sends.sort_unstable_by(|a, b| (a.0, &a.1[..]).cmp(&(b.0, &b.1[..])));
        let now = self.sched.now();
        for (j, bytes) in sends {
            let arrival = self.links.transmit(i, j, bytes.len(), now);
            let epochs = (self.nodes[j as usize].epoch, self.nodes[i as usize].epoch);
            self.sched.at(
                arrival,
                Event::Arrive {
                    to: j,
                    from: i,
                    epochs,
                    bytes,
                },
            );
        }
    }

    /// Whether Sybil `i` keeps this frame to itself: any message (drop, spam), or one of a
    /// censored publisher (censor). Its own spam goes out.
    fn withheld(&self, i: u32, frame: &Bytes) -> bool {
        let (Some(attack), true) = (self.p.attack, self.nodes[i as usize].sybil) else {
            return false;
        };
        if !rats_gossipsub::wire::is_publish(frame) {
            return false;
        }
        let origin = match rats_gossipsub::wire::Rpc::decode(frame.clone(), usize::MAX) {
            Ok(rats_gossipsub::wire::Rpc::Publish(m)) => self.index.get(&m.from).copied(),
            _ => None,
        };
        match attack.behaviour {
            Behaviour::Drop => true,
            Behaviour::Spam => origin != Some(i),
            Behaviour::Censor => origin.is_some_and(|o| self.nodes[o as usize].censored),
        }
    }

    fn handle(&mut self, event: Event) {
        self.events += 1;
        let now = self.instant();
        match event {
            Event::Arrive {
                to,
                from,
                epochs,
                bytes,
            } => {
                let cost = if rats_gossipsub::wire::is_publish(&bytes) {
                    self.p.publish_cpu_us
                } else {
                    self.p.frame_cpu_us
                };
                let node = &mut self.nodes[to as usize];
                let done = node.busy_until.max(self.sched.now()) + cost;
                node.busy_until = done;
                self.sched.at(
                    done,
                    Event::Frame {
                        to,
                        from,
                        epochs,
                        bytes,
                    },
                );
            }
            Event::Frame {
                to,
                from,
                epochs,
                bytes,
            } => {
                if epochs
                    != (
                        self.nodes[to as usize].epoch,
                        self.nodes[from as usize].epoch,
                    )
                    || !self.nodes[to as usize].peers.contains(&from)
                {
                    return;
                }
                let peer = self.nodes[from as usize].id;
                let invalid = &self.invalid_origins;
                let genuine = |m: &rats_gossipsub::SignedMessage| !invalid.contains(&m.from);
                let bad = match self.nodes[to as usize].router.as_mut() {
                    // The signature check is stood in: `genuine` says what it would find.
                    Some(r) => r.on_frame(now, peer, bytes, genuine).is_err(),
                    None => return,
                };
                if bad {
                    self.disconnect(to, from);
                } else {
                    self.flush(to);
                }
            }
            Event::Heartbeat { node, epoch } => {
                if self.nodes[node as usize].epoch != epoch {
                    return;
                }
                if let Some(r) = self.nodes[node as usize].router.as_mut() {
                    r.heartbeat(now);
                }
                self.flush(node);
                let next = self.sched.now() + self.heartbeat_us();
                self.sched.at(next, Event::Heartbeat { node, epoch });
            }
            Event::Publish(m) => {
                // From a random honest node online now.
                let n = self.nodes.len() as u32;
                let mut origin = self.work_rng.gen_range(0..n);
                let mut tries = 0;
                while (!self.online(origin) || self.nodes[origin as usize].sybil) && tries < n {
                    origin = (origin + 1) % n;
                    tries += 1;
                }
                self.published[m as usize].origin = origin;
                let data = Bytes::from(vec![m as u8; self.p.size]);
                if let Some(r) = self.nodes[origin as usize].router.as_mut()
                    && let Ok(id) = r.publish(now, TOPIC, data)
                {
                    self.ids.insert(id, m);
                }
                self.flush(origin);
            }
            Event::Spam(i) => {
                let data = Bytes::from(vec![0xEE; self.p.size]);
                if let Some(r) = self.nodes[i as usize].router.as_mut() {
                    let _ = r.publish(now, TOPIC, data);
                }
                self.flush(i);
                let next = self.sched.now() + SPAM_EVERY_US;
                if next < self.end.saturating_sub(SETTLE_US) {
                    self.sched.at(next, Event::Spam(i));
                }
            }
            Event::Leave(i) => self.leave(i),
            Event::Join(i) => self.join(i),
        }
    }

    fn leave(&mut self, i: u32) {
        let peers: Vec<u32> = self.nodes[i as usize].peers.iter().copied().collect();
        for j in peers {
            self.disconnect(i, j);
        }
        let now = self.sched.now();
        let node = &mut self.nodes[i as usize];
        if let Some(r) = node.router.take() {
            let s = r.stats();
            self.retired_duplicates += s.duplicates;
            self.retired_copies += s.copies_sent;
        }
        node.epoch += 1;
        if let Some(s) = node.sessions.last_mut() {
            s.1 = now;
        }
        let back = now + exp_us(&mut self.churn_rng, self.p.churn_off_s);
        self.sched.at(back, Event::Join(i));
    }

    fn join(&mut self, i: u32) {
        self.start_node(i);
        // A restarted node dials a few peers it knows of that are online.
        let n = self.nodes.len() as u32;
        let mut tries = 0;
        while self.nodes[i as usize].peers.len() < 6 && tries < 50 {
            tries += 1;
            let j = self.churn_rng.gen_range(0..n);
            self.connect(i, j);
        }
        let away = self.sched.now() + exp_us(&mut self.churn_rng, self.p.churn_on_s);
        self.sched.at(away, Event::Leave(i));
    }

    fn run(mut self) -> serde_json::Value {
        let wall = Instant::now();
        let n = self.p.nodes as u32;
        for i in 0..n {
            self.start_node(i);
        }
        for (a, b) in topology(self.p.nodes, self.p.seed) {
            self.connect(a, b);
        }
        // Sybils stay; honest nodes churn.
        let churners: Vec<u32> = (0..n)
            .filter(|&i| {
                !self.nodes[i as usize].sybil
                    && rng::unit(rng::derive(self.p.seed, "churner", u64::from(i))) < self.p.churn
            })
            .collect();
        if self
            .p
            .attack
            .is_some_and(|a| a.behaviour == Behaviour::Spam)
        {
            for i in 0..n {
                if self.nodes[i as usize].sybil {
                    self.invalid_origins.insert(self.nodes[i as usize].id);
                    let phase = rng::derive(self.p.seed, "spam", u64::from(i)) % SPAM_EVERY_US;
                    self.sched.at(WARMUP_US + phase, Event::Spam(i));
                }
            }
        }
        for &i in &churners {
            let at = WARMUP_US / 2 + exp_us(&mut self.churn_rng, self.p.churn_on_s);
            self.sched.at(at, Event::Leave(i));
        }
        let gap = (1e6 / self.p.rate.max(1e-3)) as Micros;
        for m in 0..self.p.messages {
            let at = WARMUP_US + m as Micros * gap;
            self.published.push(Published { at, origin: 0 });
            self.sched.at(at, Event::Publish(m as u32));
        }
        let end = WARMUP_US + self.p.messages as Micros * gap + SETTLE_US;
        self.end = end;
        while let Some(e) = self.sched.next_until(end) {
            self.handle(e);
        }
        self.report(end, wall.elapsed(), churners.len())
    }

    /// Whether node `i` was online for the whole of [from, to].
    fn online_throughout(&self, i: u32, from: Micros, to: Micros) -> bool {
        self.nodes[i as usize]
            .sessions
            .iter()
            .any(|&(s, e)| s <= from && e >= to)
    }

    fn report(&self, end: Micros, wall: Duration, churners: usize) -> serde_json::Value {
        let n = self.p.nodes as u32;
        let mut expected = 0u64;
        let mut got = 0u64;
        let mut latencies: Vec<Micros> = Vec::new();
        for (m, p) in self.published.iter().enumerate() {
            // A message whose publisher was away when it was due was never published.
            if !self.ids.values().any(|&v| v as usize == m) {
                continue;
            }
            for i in 0..n {
                if i == p.origin
                    || self.nodes[i as usize].sybil
                    || !self.online_throughout(i, p.at, p.at + SETTLE_US)
                {
                    continue;
                }
                expected += 1;
                if let Some(&l) = self.delivered.get(&(m as u32, i)) {
                    got += 1;
                    latencies.push(l);
                }
            }
        }
        latencies.sort_unstable();
        let pct = |q: f64| -> f64 {
            if latencies.is_empty() {
                return 0.0;
            }
            let k = ((latencies.len() - 1) as f64 * q).round() as usize;
            latencies[k] as f64 / 1000.0
        };
        let mut meshes: Vec<usize> = self
            .nodes
            .iter()
            .filter_map(|nd| nd.router.as_ref())
            .map(|r| r.mesh(TOPIC).len())
            .collect();
        meshes.sort_unstable();
        let mesh_at = |q: f64| {
            meshes
                .get(((meshes.len().max(1) - 1) as f64 * q) as usize)
                .copied()
        };
        // Honest routers' counters (a Sybil's router counts copies it then withholds).
        let live: Vec<_> = self
            .nodes
            .iter()
            .filter(|nd| !nd.sybil)
            .filter_map(|nd| nd.router.as_ref())
            .map(SimRouter::stats)
            .collect();
        let duplicates = self.retired_duplicates + live.iter().map(|s| s.duplicates).sum::<u64>();
        let copies = self.retired_copies + live.iter().map(|s| s.copies_sent).sum::<u64>();
        // A copy on the wire as rats-bench counts it: type, topic, origin, seqno, signature,
        // payload, frame header, the record's tag.
        let copy_wire = (1 + 2 + TOPIC.len() + 32 + 8 + 64 + self.p.size + 7 + 16) as f64;
        let deliveries = self.delivered.len() as u64;
        let sent: u64 = self.links.sent_bytes.iter().sum();
        let sim_secs = end as f64 / 1e6;
        let published = self.ids.len();
        let r1 = |x: f64| (x * 10.0).round() / 10.0;
        let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
        let mut line = json!({
            "scenario": if self.p.attack.is_some() { "attack" } else { "gossip" },
            "nodes": self.p.nodes,
            "seed": self.p.seed,
            "link": self.p.link_name,
            "messages": published,
            "rate_per_s": self.p.rate,
            "size": self.p.size,
            "churning_nodes": churners,
            "delivery": r3(if expected == 0 { 0.0 } else { got as f64 / expected as f64 }),
            "p50_ms": r1(pct(0.5)),
            "p90_ms": r1(pct(0.9)),
            "p99_ms": r1(pct(0.99)),
            "max_ms": r1(pct(1.0)),
            "dup_per_delivery": r3(duplicates as f64 / deliveries.max(1) as f64),
            "bytes_per_delivered_byte": r3(sent as f64 / (deliveries.max(1) * self.p.size as u64) as f64),
            "copy_bytes_per_delivered_byte": r3(copies as f64 * copy_wire / (deliveries.max(1) * self.p.size as u64) as f64),
            "bytes_per_node_per_s": (sent as f64 / f64::from(n.max(1)) / sim_secs).round(),
            "mesh_min": mesh_at(0.0),
            "mesh_p50": mesh_at(0.5),
            "mesh_max": mesh_at(1.0),
            "sim_secs": r1(sim_secs),
            "events": self.events,
            "wall_secs": r1(wall.as_secs_f64()),
            "peak_rss_mib": peak_rss_mib(),
        });
        if let Some(a) = self.p.attack {
            // Of the honest nodes' mesh slots, the share Sybils hold at the end.
            let (mut slots, mut sybil_slots) = (0u64, 0u64);
            for nd in self.nodes.iter().filter(|nd| !nd.sybil) {
                if let Some(r) = nd.router.as_ref() {
                    for p in r.mesh(TOPIC) {
                        slots += 1;
                        if self
                            .index
                            .get(&p)
                            .is_some_and(|&j| self.nodes[j as usize].sybil)
                        {
                            sybil_slots += 1;
                        }
                    }
                }
            }
            line["behaviour"] = format!("{:?}", a.behaviour).to_lowercase().into();
            line["scoring"] = a.scoring.into();
            line["sybils"] = self.nodes.iter().filter(|nd| nd.sybil).count().into();
            line["sybil_mesh_share"] = r3(sybil_slots as f64 / slots.max(1) as f64).into();
        }
        line
    }
}

/// This process's peak resident memory (VmHWM), MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((kib / 1024.0 * 10.0).round() / 10.0)
}

/// Runs the scenario; its figures as one JSON object.
pub fn run(p: Params) -> serde_json::Value {
    Sim::new(p).run()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64, churn: f64) -> Params {
        Params {
            nodes: 40,
            seed,
            messages: 20,
            rate: 10.0,
            size: 64,
            churn,
            churn_on_s: 10.0,
            churn_off_s: 5.0,
            link: LinkModel::wan(),
            link_name: "wan".into(),
            publish_cpu_us: 60,
            frame_cpu_us: 5,
            attack: None,
        }
    }

    #[test]
    fn every_node_gets_every_message_and_a_seed_gives_the_same_run() {
        let a = run(small(7, 0.0));
        assert_eq!(a["delivery"], 1.0, "{a}");
        assert_eq!(a["messages"], 20, "{a}");
        let b = run(small(7, 0.0));
        for k in [
            "p50_ms",
            "p99_ms",
            "dup_per_delivery",
            "bytes_per_delivered_byte",
            "events",
        ] {
            assert_eq!(a[k], b[k], "{k}: {a} / {b}");
        }
        let c = run(small(8, 0.0));
        assert_ne!(a["events"], c["events"], "another seed, another run");
    }

    /// Spamming Sybils are scored out of the honest meshes (P4) when scoring is on, and stay
    /// when it is off; honest delivery survives either way.
    #[test]
    fn scoring_evicts_spammers_from_meshes() {
        let with = |scoring| {
            run(Params {
                churn: 0.0,
                attack: Some(Attack {
                    share: 0.2,
                    behaviour: Behaviour::Spam,
                    scoring,
                }),
                ..small(11, 0.0)
            })
        };
        let (on, off) = (with(true), with(false));
        let share = |r: &serde_json::Value| r["sybil_mesh_share"].as_f64().unwrap_or(1.0);
        assert!(share(&on) < 0.05, "{on}");
        assert!(share(&off) > 0.1, "{off}");
        assert_eq!(on["delivery"], 1.0, "{on}");
    }

    #[test]
    fn churn_keeps_delivery_to_nodes_that_stay() {
        let r = run(small(3, 0.2));
        assert!(r["churning_nodes"].as_u64().unwrap_or(0) > 0, "{r}");
        let delivery = r["delivery"].as_f64().unwrap_or(0.0);
        assert!(delivery > 0.95, "{r}");
    }
}
