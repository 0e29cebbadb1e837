//! Unit tests of the sans-IO router, after libp2p gossipsub's `behaviour/tests.rs`: a
//! [`Harness`] drives one router with fake peers and a clock it moves by hand, and the tests
//! assert the exact RPCs, events and state that come out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod backoff;
mod gossip;
mod limits;
mod mesh;
mod messages;
mod scoring;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rats_core::SendError;
use rats_core::{Identity, PeerId};

use super::{Action, Host, Router, SendOutcome};
use crate::config::GossipsubConfig;
use crate::event::GossipEvent;
use crate::message::{SignedMessage, signing_bytes};
use crate::wire::Rpc;

/// The topic most tests use.
const T: &str = "t";

/// The node as the router sees it: every peer connected with an empty queue unless a test
/// says otherwise.
struct FakeHost {
    identity: Identity,
    loads: HashMap<PeerId, f32>,
    addrs: HashMap<PeerId, Vec<String>>,
}

impl Host for FakeHost {
    fn queue_load(&self, peer: &PeerId) -> Option<f32> {
        Some(self.loads.get(peer).copied().unwrap_or(0.0))
    }

    fn listen_addrs(&self, peer: &PeerId) -> Vec<String> {
        self.addrs.get(peer).cloned().unwrap_or_default()
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; 64], SendError> {
        Ok(self.identity.sign(message))
    }
}

/// What one step of the router produced: sends decoded, events, dials, disconnects.
#[derive(Default)]
struct Out {
    sent: Vec<(PeerId, Rpc)>,
    events: Vec<GossipEvent>,
    dials: Vec<PeerId>,
    disconnects: Vec<PeerId>,
}

impl Out {
    /// The RPCs sent to `peer`.
    fn to(&self, peer: &PeerId) -> Vec<&Rpc> {
        self.sent
            .iter()
            .filter(|(p, _)| p == peer)
            .map(|(_, r)| r)
            .collect()
    }

    /// The peers sent GRAFT for `topic`.
    fn grafted(&self, topic: &str) -> HashSet<PeerId> {
        self.peers_sent(|r| matches!(r, Rpc::Graft(t) if t == topic))
    }

    /// The peers sent PRUNE for `topic`.
    fn pruned(&self, topic: &str) -> HashSet<PeerId> {
        self.peers_sent(|r| matches!(r, Rpc::Prune { topic: t, .. } if t == topic))
    }

    /// The peers sent a copy of a message.
    fn copies(&self) -> Vec<PeerId> {
        self.sent
            .iter()
            .filter(|(_, r)| matches!(r, Rpc::Publish(_)))
            .map(|(p, _)| *p)
            .collect()
    }

    fn peers_sent(&self, pick: impl Fn(&Rpc) -> bool) -> HashSet<PeerId> {
        self.sent
            .iter()
            .filter(|(_, r)| pick(r))
            .map(|(p, _)| *p)
            .collect()
    }

    /// The messages delivered to us.
    fn delivered(&self) -> Vec<&GossipEvent> {
        self.events
            .iter()
            .filter(|e| matches!(e, GossipEvent::Message { .. }))
            .collect()
    }
}

/// One router, its fake node, and a hand-moved clock.
struct Harness {
    router: Router,
    host: FakeHost,
    now: Instant,
    /// How the node answers sends: a peer listed here has a full queue.
    full: HashSet<PeerId>,
}

impl Harness {
    fn new(config: GossipsubConfig) -> Self {
        let identity = Identity::generate();
        Harness {
            router: Router::new(config, identity.peer_id(), 0),
            host: FakeHost {
                identity,
                loads: HashMap::new(),
                addrs: HashMap::new(),
            },
            now: Instant::now(),
            full: HashSet::new(),
        }
    }

    /// A small mesh (D = 3, D_low = 2, D_high = 4) so tests need few peers.
    fn small() -> Self {
        Harness::new(small_config())
    }

    /// Carries out what the router decided as the node would: every send is queued except
    /// to peers in `full`; the outcome goes back to the router.
    fn out(&mut self) -> Out {
        let mut out = Out::default();
        for action in self.router.take_actions() {
            match action {
                Action::Send {
                    peer,
                    bytes,
                    purpose,
                } => {
                    let outcome = if self.full.contains(&peer) {
                        SendOutcome::QueueFull
                    } else {
                        SendOutcome::Sent
                    };
                    let rpc = Rpc::decode(bytes, 65_535).expect("the router sends valid RPCs");
                    self.router.on_send_result(peer, purpose, outcome);
                    out.sent.push((peer, rpc));
                }
                Action::Emit(e) => out.events.push(e),
                Action::Dial { peer, .. } => out.dials.push(peer),
                Action::DisconnectSlow(peer) => out.disconnects.push(peer),
            }
        }
        out
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    fn heartbeat(&mut self) -> Out {
        self.router.heartbeat(self.now, &self.host);
        self.out()
    }

    /// A new peer connected and subscribed to `topics` (what that produced is dropped).
    fn connect(&mut self, topics: &[&str]) -> PeerId {
        let peer = Identity::generate().peer_id();
        self.router.peer_connected(peer);
        let subs = topics.iter().map(|t| (true, t.to_string())).collect();
        self.router.on_subscriptions(self.now, peer, subs);
        self.out();
        peer
    }

    /// `n` peers of `topics`.
    fn connect_many(&mut self, n: usize, topics: &[&str]) -> Vec<PeerId> {
        (0..n).map(|_| self.connect(topics)).collect()
    }

    fn subscribe(&mut self, topic: &str) -> Out {
        assert!(self.router.subscribe(self.now, topic));
        self.out()
    }

    /// `peer` grafts us for `topic`.
    fn graft_from(&mut self, peer: PeerId, topic: &str) -> Out {
        self.router
            .on_graft(self.now, &self.host, peer, topic.to_string());
        self.out()
    }

    fn mesh(&self, topic: &str) -> HashSet<PeerId> {
        self.router.mesh.get(topic).cloned().unwrap_or_default()
    }

    fn score(&self, peer: &PeerId) -> f64 {
        self.router.score.score(peer, self.now)
    }

    /// `peer` sends us `msg` (its signature taken as checked).
    fn receive(&mut self, peer: PeerId, msg: SignedMessage) -> Out {
        self.router.on_message(self.now, peer, msg);
        self.out()
    }
}

/// D = 3, D_low = 2, D_high = 4.
fn small_config() -> GossipsubConfig {
    GossipsubConfig {
        mesh_n: 3,
        mesh_n_low: 2,
        mesh_n_high: 4,
        ..GossipsubConfig::default()
    }
}

/// A message of `topic` signed by `origin`.
fn message(origin: &Identity, topic: &str, seqno: u64) -> SignedMessage {
    let from = origin.peer_id();
    let data = Bytes::from(format!("message {seqno}"));
    SignedMessage {
        from,
        seqno,
        topic: topic.to_string(),
        signature: origin.sign(&signing_bytes(topic, &from, seqno, &data)),
        data,
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
