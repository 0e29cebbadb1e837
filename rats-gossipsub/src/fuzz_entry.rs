//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz): one GossipSub RPC as a peer
//! sends it, and the sans-IO router driven by a sequence of peer RPCs, connections, local
//! publishes and heartbeats. Reached as `rats_gossipsub::__fuzz`; not public API (no
//! stability promise).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rats_core::{Identity, PeerId, SendError};

use crate::config::GossipsubConfig;
use crate::message::{SignedMessage, signing_bytes};
use crate::router::{Action, Host, Router, SendOutcome};
use crate::wire::Rpc;

/// One frame on the GossipSub channel, decoded with the default topic limit: what decodes
/// re-encodes to the same RPC, and a published message's signature check runs on it.
pub fn wire(data: &[u8]) {
    let max_topic_len = GossipsubConfig::default().max_topic_len;
    let Ok(rpc) = Rpc::decode(Bytes::copy_from_slice(data), max_topic_len) else {
        return;
    };
    assert_eq!(
        Rpc::decode(rpc.encode(), max_topic_len).ok().as_ref(),
        Some(&rpc)
    );
    if let Rpc::Publish(message) = &rpc {
        let _ = message.verify();
        let _ = message.id();
    }
}

/// Peers of the router target: fixed keys (generating keys per input would dominate).
const PEERS: usize = 8;

/// Keys with canonical peer ids only: a real peer's id always is (the handshake refuses
/// others), and the wire cannot carry any other as a message's origin.
fn identities() -> &'static [Identity] {
    static IDS: OnceLock<Vec<Identity>> = OnceLock::new();
    IDS.get_or_init(|| {
        (1..=u8::MAX)
            .map(|i| Identity::from_secret([i; 32]))
            .filter(|id| id.peer_id().is_canonical())
            .take(PEERS + 1)
            .collect()
    })
}

/// The node as the router sees it: queues never full.
struct QuietHost<'a>(&'a Identity);

impl Host for QuietHost<'_> {
    fn queue_load(&self, _: &PeerId) -> Option<f32> {
        Some(0.0)
    }

    fn listen_addrs(&self, _: &PeerId) -> Vec<String> {
        Vec::new()
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; 64], SendError> {
        Ok(self.0.sign(message))
    }
}

/// The router under a sequence of operations, each `op, peer, len: u16, len bytes`:
/// an RPC from a peer (publishes go through the service's screen and signature check), a
/// correctly signed publish from a peer, a heartbeat `len` ms later, a peer connecting or
/// leaving, a local subscribe or publish. After each step: everything the router sends is a
/// valid RPC to a connected peer, meshes stay within D_high after a heartbeat, and its
/// caches stay within their bounds.
pub fn router(data: &[u8]) {
    let ids = identities();
    let local = &ids[PEERS];
    let config = GossipsubConfig::default();
    let (d_high, max_topic_len, seen_max) =
        (config.mesh_n_high, config.max_topic_len, config.seen_max);
    let mut router = Router::new(config, local.peer_id(), 0);
    let host = QuietHost(local);
    let mut now = Instant::now();
    let mut connected = [false; PEERS];
    let mut seqno = 0u64;
    let mut rest = data;
    while rest.len() >= 4 {
        let (op, who) = (rest[0] % 7, usize::from(rest[1]) % PEERS);
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]])).min(rest.len() - 4);
        let body = &rest[4..4 + len];
        rest = &rest[4 + len..];
        let peer = ids[who].peer_id();
        let topic = String::from_utf8_lossy(&body[..body.len().min(8)]).into_owned();
        match op {
            0 if connected[who] => match Rpc::decode(Bytes::copy_from_slice(body), max_topic_len) {
                Ok(Rpc::Publish(msg)) => publish_from(&mut router, now, peer, msg),
                Ok(other) => router.on_control(now, &host, peer, other),
                Err(_) => {}
            },
            1 if connected[who] => {
                seqno += 1;
                let data = Bytes::copy_from_slice(body);
                let signature = ids[who].sign(&signing_bytes(&topic, &peer, seqno, &data));
                let msg = SignedMessage {
                    from: peer,
                    seqno,
                    topic,
                    data,
                    signature,
                };
                publish_from(&mut router, now, peer, msg);
            }
            2 => {
                now += Duration::from_millis(len as u64 * 10);
                router.heartbeat(now, &host);
                for mesh in router.mesh.values() {
                    assert!(mesh.len() <= d_high, "mesh of {} peers", mesh.len());
                }
            }
            3 if !connected[who] => {
                connected[who] = true;
                router.peer_connected(peer);
            }
            4 if connected[who] => {
                connected[who] = false;
                router.peer_disconnected(now, &peer);
            }
            5 if !topic.is_empty() => {
                router.subscribe(now, &topic);
            }
            6 if !topic.is_empty() => {
                let _ = router.publish(now, &host, &topic, Bytes::copy_from_slice(body));
            }
            _ => {}
        }
        for action in router.take_actions() {
            if let Action::Send {
                peer,
                bytes,
                purpose,
            } = action
            {
                assert!(
                    ids[..PEERS]
                        .iter()
                        .position(|i| i.peer_id() == peer)
                        .is_some_and(|i| connected[i]),
                    "sent to a peer that is not connected"
                );
                if let Err(e) = Rpc::decode(bytes.clone(), 65_535) {
                    panic!(
                        "the router sent an invalid RPC ({e}): {} bytes {:02x?}",
                        bytes.len(),
                        &bytes[..]
                    );
                }
                router.on_send_result(peer, purpose, SendOutcome::Sent);
            }
        }
        assert!(router.peer_topics.len() <= PEERS);
        assert!(router.seen.len() <= seen_max);
    }
}

/// A publish from a peer as the service handles it without a validator.
fn publish_from(router: &mut Router, now: Instant, peer: PeerId, msg: SignedMessage) {
    if router.screen(&msg).is_none() {
        return;
    }
    if msg.data.len() > router.config.max_message_size || !msg.verify() {
        router.on_invalid(now, peer, &msg.topic, None);
    } else {
        router.on_message(now, peer, msg);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn entry_points_accept_valid_and_garbage_input() {
        for garbage in [
            &b""[..],
            b"\x01",
            b"\x01\x00\x01\x01\x00\x01a",
            b"\x03\xff\xff",
        ] {
            super::wire(garbage);
            super::router(garbage);
        }
        // Two peers connect, we subscribe, both publish, heartbeats pass.
        super::router(&[
            3, 0, 0, 0, 3, 1, 0, 0, 5, 0, 0, 1, b't', 1, 0, 0, 1, b't', 2, 0, 0, 200, 1, 1, 0, 1,
            b't', 2, 0, 1, 0,
        ]);
    }
}
