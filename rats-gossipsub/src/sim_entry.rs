//! The sans-IO router as the simulator (`rats-sim` in the tests crate) drives it: the real
//! router, mesh, gossip and scoring code, fed frames and heartbeats on a simulated clock, its
//! random choices from a seed. Reached as `rats_gossipsub::__sim`; not public API (no
//! stability promise).
//!
//! Stood in: the Ed25519 signature of published messages. `SimRouter::publish` signs with
//! zeros and `SimRouter::on_frame` takes the simulator's word on validity (`valid`), so that
//! thousands of nodes fit in two cores. A real node cannot reach this: its service signs with
//! its identity and checks every signature (`GossipsubService`), and nothing here is wired
//! into it.

use std::time::Instant;

use bytes::Bytes;
use rats_core::{PeerId, SendError};

use crate::config::GossipsubConfig;
use crate::event::{GossipEvent, GossipStats};
use crate::message::{MessageId, SignedMessage};
use crate::router::{Action, Host, Router, SendOutcome};
use crate::wire::{DecodeError, Rpc};

/// What a [`SimRouter`] wants done after a step.
#[derive(Debug)]
pub enum SimOutput {
    /// Send `bytes` (one encoded RPC frame) to `peer`.
    Send {
        /// The receiver.
        peer: PeerId,
        /// The frame.
        bytes: Bytes,
    },
    /// A message was delivered to this node's application (the first copy).
    Delivered {
        /// Its id.
        id: MessageId,
        /// Who published it.
        origin: PeerId,
        /// The neighbour it came from.
        via: PeerId,
    },
    /// The router asked to dial a peer offered by peer exchange.
    Dial(PeerId),
    /// The router asked to drop a peer whose queue kept refusing copies.
    Disconnect(PeerId),
}

/// The node as a simulated router sees it: a queue load the simulator reports, no listen
/// addresses (peer exchange offers ids only), a stand-in signature.
struct SimHost {
    load: f32,
}

impl Host for SimHost {
    fn queue_load(&self, _: &PeerId) -> Option<f32> {
        Some(self.load)
    }

    fn listen_addrs(&self, _: &PeerId) -> Vec<String> {
        Vec::new()
    }

    fn sign(&self, _: &[u8]) -> Result<[u8; 64], SendError> {
        Ok([0; 64])
    }
}

/// One simulated node's GossipSub router.
pub struct SimRouter {
    router: Router,
    host: SimHost,
}

impl SimRouter {
    /// A router for `local` with `config`; its random choices follow `seed`; its message
    /// sequence numbers continue from `seqno` (a restarted node must not reuse its ids: the
    /// real service starts them at the clock).
    pub fn new(config: GossipsubConfig, local: PeerId, seed: u64, seqno: u64) -> Self {
        let mut router = Router::new(config, local, seqno);
        router.seed_rng(seed);
        SimRouter {
            router,
            host: SimHost { load: 0.0 },
        }
    }

    /// Sets the load (0 to 1) every peer's send queue reports, for the router's backpressure.
    pub fn set_queue_load(&mut self, load: f32) {
        self.host.load = load;
    }

    /// A connection to `peer` is up.
    pub fn peer_connected(&mut self, peer: PeerId) {
        self.router.peer_connected(peer);
    }

    /// The connection to `peer` is gone.
    pub fn peer_disconnected(&mut self, now: Instant, peer: &PeerId) {
        self.router.peer_disconnected(now, peer);
    }

    /// Subscribes to `topic`.
    pub fn subscribe(&mut self, now: Instant, topic: &str) -> bool {
        self.router.subscribe(now, topic)
    }

    /// Publishes `data` on `topic` (signed with the stand-in); its id, or why not.
    pub fn publish(&mut self, now: Instant, topic: &str, data: Bytes) -> Result<MessageId, String> {
        self.router
            .publish(now, &self.host, topic, data)
            .map_err(|e| e.to_string())
    }

    /// A frame from `peer`, as the service takes it: a graylisted peer is ignored, a
    /// published message is screened (subscribed topic, not ours, not seen), then `valid`
    /// stands in for the signature check (and any validator), then it is delivered and
    /// forwarded; control goes to the router. A frame that does not decode is an error, as
    /// it would cost the peer its connection.
    pub fn on_frame(
        &mut self,
        now: Instant,
        peer: PeerId,
        frame: Bytes,
        valid: impl FnOnce(&SignedMessage) -> bool,
    ) -> Result<(), DecodeError> {
        if self.router.graylisted(now, &peer) {
            return Ok(());
        }
        let max_topic_len = self.router.config.max_topic_len;
        match Rpc::decode(frame, max_topic_len) {
            Ok(Rpc::Publish(msg)) => {
                if self.router.screen(&msg).is_none() {
                    return Ok(());
                }
                if msg.data.len() > self.router.config.max_message_size || !valid(&msg) {
                    self.router.on_invalid(now, peer, &msg.topic, None);
                } else {
                    self.router.on_message(now, peer, msg);
                }
                Ok(())
            }
            Ok(other) => {
                self.router.on_control(now, &self.host, peer, other);
                Ok(())
            }
            Err(DecodeError::UnknownType(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// One heartbeat (mesh maintenance, gossip, score decay).
    pub fn heartbeat(&mut self, now: Instant) {
        self.router.heartbeat(now, &self.host);
    }

    /// Moves what the router decided into `out`, in the order decided. Every send counts as
    /// queued (the simulator models the link, not a send queue).
    pub fn drain(&mut self, out: &mut Vec<SimOutput>) {
        for action in self.router.take_actions() {
            match action {
                Action::Send {
                    peer,
                    bytes,
                    purpose,
                } => {
                    self.router.on_send_result(peer, purpose, SendOutcome::Sent);
                    out.push(SimOutput::Send { peer, bytes });
                }
                Action::Emit(GossipEvent::Message {
                    id, origin, via, ..
                }) => out.push(SimOutput::Delivered { id, origin, via }),
                Action::Emit(_) => {}
                Action::Dial { peer, .. } => out.push(SimOutput::Dial(peer)),
                Action::DisconnectSlow(peer) => out.push(SimOutput::Disconnect(peer)),
            }
        }
    }

    /// The router's counters.
    pub fn stats(&self) -> GossipStats {
        self.router.stats()
    }

    /// The peers in our mesh for `topic`.
    pub fn mesh(&self, topic: &str) -> Vec<PeerId> {
        let mut m: Vec<PeerId> = self
            .router
            .mesh
            .get(topic)
            .map(|m| m.iter().copied().collect())
            .unwrap_or_default();
        m.sort_unstable();
        m
    }

    /// The score we give `peer` now.
    pub fn score(&mut self, peer: &PeerId, now: Instant) -> f64 {
        self.router.score.score(peer, now)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use rats_core::Identity;

    fn ids(n: usize) -> Vec<PeerId> {
        (1..=u8::MAX)
            .map(|i| Identity::from_secret([i; 32]).peer_id())
            .filter(PeerId::is_canonical)
            .take(n)
            .collect()
    }

    /// Two routers wired back to back: a publish on one is delivered on the other, and the
    /// same seed makes the same choices.
    #[test]
    fn two_routers_exchange_a_message() {
        let p = ids(2);
        let now = Instant::now();
        let mut a = SimRouter::new(GossipsubConfig::default(), p[0], 1, 0);
        let mut b = SimRouter::new(GossipsubConfig::default(), p[1], 2, 0);
        a.subscribe(now, "t");
        b.subscribe(now, "t");
        a.peer_connected(p[1]);
        b.peer_connected(p[0]);
        let mut delivered = Vec::new();
        for round in 0..6 {
            let t = now + std::time::Duration::from_secs(round);
            if round == 3 {
                a.publish(t, "t", Bytes::from_static(b"hi")).unwrap();
            }
            a.heartbeat(t);
            b.heartbeat(t);
            for (from, to) in [(0, 1), (1, 0)] {
                let mut out = Vec::new();
                let (src, dst) = if from == 0 {
                    (&mut a, &mut b)
                } else {
                    (&mut b, &mut a)
                };
                src.drain(&mut out);
                for o in out {
                    if let SimOutput::Send { bytes, .. } = o {
                        dst.on_frame(t, p[from], bytes, |_| true).unwrap();
                    }
                }
                let mut got = Vec::new();
                dst.drain(&mut got);
                for o in got {
                    match o {
                        SimOutput::Delivered { origin, .. } => delivered.push((to, origin)),
                        SimOutput::Send { bytes, .. } => {
                            src.on_frame(t, p[to], bytes, |_| true).unwrap();
                        }
                        _ => {}
                    }
                }
            }
        }
        assert_eq!(delivered, vec![(1, p[0])]);
        assert_eq!(a.mesh("t"), vec![p[1]]);
    }
}
