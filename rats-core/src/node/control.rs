//! Messages on the node's control channel (0): ping, pong, peer exchange, goodbye.
//!
//! ```text
//! ping      = 0x01 nonce:u64
//! pong      = 0x02 nonce:u64
//! exchange  = 0x03 JSON [{"id": hex, "addrs": [address...]}...]
//! goodbye   = 0x04 UTF-8 reason
//! forward   = 0x05 to:32 name_len:u8 name payload     (please pass `payload` to peer `to`)
//! signal    = 0x06 from:32 name_len:u8 name payload   (`from` sent you `payload`)
//! ```
//!
//! `forward`/`signal` let two peers that are not (directly) connected coordinate through a
//! peer both are connected to: NAT strategies use them to agree on a hole punch. `name` is the
//! NAT strategy the payload is for.

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::config::MAX_EXCHANGE_PEERS;
use crate::identity::PeerId;
use crate::nat::{MAX_SIGNAL_NAME, MAX_SIGNAL_PAYLOAD};
use crate::node::hello::MAX_HELLO_ADDRS;
use crate::reachability::NatType;

const PING: u8 = 1;
const PONG: u8 = 2;
const EXCHANGE: u8 = 3;
const GOODBYE: u8 = 4;
const FORWARD: u8 = 5;
const SIGNAL: u8 = 6;

/// Largest encoded exchange message we send (control messages travel as one frame).
pub const MAX_EXCHANGE_BYTES: usize = 60 * 1024;

/// Longest goodbye reason kept.
const MAX_REASON: usize = 256;

/// One peer in a peer-exchange message.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExchangedPeer {
    /// The peer.
    pub id: PeerId,
    /// Where it listens.
    pub addrs: Vec<Address>,
    /// The NAT kind it told us in its Hello, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat: Option<NatType>,
}

/// An exchange entry as it arrives, before its id is checked.
#[derive(Deserialize)]
struct WireExchangedPeer {
    id: String,
    addrs: Vec<Address>,
    #[serde(default)]
    nat: Option<NatType>,
}

/// A control message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// Keepalive and RTT probe.
    Ping(u64),
    /// Answer to a ping.
    Pong(u64),
    /// Other peers the sender knows.
    Exchange(Vec<ExchangedPeer>),
    /// The sender is closing, and why.
    Goodbye(String),
    /// Asks the receiver to pass `payload` on to its peer `to` (as a [`Control::Signal`]).
    Forward {
        /// The final recipient.
        to: PeerId,
        /// The NAT strategy the payload is for.
        name: String,
        /// Opaque to the forwarder.
        payload: Vec<u8>,
    },
    /// A payload for one of the receiver's NAT strategies, from `from` (directly, or passed on
    /// by the sender).
    Signal {
        /// Who wrote the payload.
        from: PeerId,
        /// The NAT strategy it is for.
        name: String,
        /// The payload.
        payload: Vec<u8>,
    },
}

impl Control {
    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Control::Ping(n) => tagged_u64(PING, *n),
            Control::Pong(n) => tagged_u64(PONG, *n),
            Control::Exchange(peers) => {
                let mut v = vec![EXCHANGE];
                // Serializing plain data structures cannot fail.
                let _ = serde_json::to_writer(&mut v, peers);
                v
            }
            Control::Goodbye(r) => {
                let mut v = vec![GOODBYE];
                v.extend_from_slice(&r.as_bytes()[..r.floor_char_boundary(MAX_REASON)]);
                v
            }
            Control::Forward { to, name, payload } => signal_bytes(FORWARD, to, name, payload),
            Control::Signal {
                from,
                name,
                payload,
            } => signal_bytes(SIGNAL, from, name, payload),
        }
    }

    /// Decodes a message from a peer.
    pub fn decode(b: &[u8]) -> Result<Self, ControlError> {
        let (&tag, rest) = b.split_first().ok_or(ControlError::Empty)?;
        match tag {
            PING | PONG => {
                let n = u64::from_be_bytes(rest.try_into().map_err(|_| ControlError::PingLength)?);
                Ok(if tag == PING {
                    Control::Ping(n)
                } else {
                    Control::Pong(n)
                })
            }
            EXCHANGE => {
                let entries: Vec<WireExchangedPeer> =
                    serde_json::from_slice(rest).map_err(ControlError::Exchange)?;
                if entries.len() > MAX_EXCHANGE_PEERS
                    || entries.iter().any(|p| p.addrs.len() > MAX_HELLO_ADDRS)
                {
                    return Err(ControlError::ExchangeTooLong);
                }
                // An entry whose id is not a valid, canonical key (PeerId::from_bytes) is
                // dropped here: never dialed, never passed on.
                let peers = entries
                    .into_iter()
                    .filter_map(|p| {
                        let id = p.id.parse().ok()?;
                        Some(ExchangedPeer {
                            id,
                            addrs: p.addrs,
                            nat: p.nat,
                        })
                    })
                    .collect();
                Ok(Control::Exchange(peers))
            }
            GOODBYE => {
                let r = String::from_utf8_lossy(&rest[..rest.len().min(MAX_REASON)]);
                Ok(Control::Goodbye(r.into_owned()))
            }
            FORWARD | SIGNAL => {
                let (peer, name, payload) = decode_signal(rest)?;
                Ok(if tag == FORWARD {
                    Control::Forward {
                        to: peer,
                        name,
                        payload,
                    }
                } else {
                    Control::Signal {
                        from: peer,
                        name,
                        payload,
                    }
                })
            }
            t => Err(ControlError::UnknownType(t)),
        }
    }
}

/// Why a control message from a peer was refused: the rule it broke.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No type byte.
    #[error("empty control message")]
    Empty,
    /// A type this version does not know.
    #[error("unknown control message type {0}")]
    UnknownType(u8),
    /// A ping or pong that is not 8 bytes.
    #[error("bad ping length")]
    PingLength,
    /// A peer exchange that is not the expected JSON.
    #[error("bad peer exchange: {0}")]
    Exchange(#[source] serde_json::Error),
    /// A peer exchange over the wire limits.
    #[error("peer exchange too long")]
    ExchangeTooLong,
    /// A signal shorter than its peer id and name length.
    #[error("truncated signal")]
    SignalTruncated,
    /// A signal whose peer id is not a valid key.
    #[error("bad peer id in signal")]
    SignalPeer,
    /// A signal name too long for the rest, too long, or not UTF-8.
    #[error("bad signal name")]
    SignalName,
    /// A signal payload over the limit.
    #[error("signal payload too long")]
    SignalPayload,
}

/// `tag peer:32 name_len:u8 name payload`; callers keep name and payload within the limits
/// (longer ones are cut, which the receiver then sees as a different, unknown name).
fn signal_bytes(tag: u8, peer: &PeerId, name: &str, payload: &[u8]) -> Vec<u8> {
    let name = &name.as_bytes()[..name.floor_char_boundary(MAX_SIGNAL_NAME)];
    let payload = &payload[..payload.len().min(MAX_SIGNAL_PAYLOAD)];
    let mut v = Vec::with_capacity(34 + name.len() + payload.len());
    v.push(tag);
    v.extend_from_slice(peer.as_bytes());
    v.push(name.len() as u8);
    v.extend_from_slice(name);
    v.extend_from_slice(payload);
    v
}

fn decode_signal(b: &[u8]) -> Result<(PeerId, String, Vec<u8>), ControlError> {
    const ID: usize = crate::identity::PEER_ID_LEN;
    if b.len() < ID + 1 {
        return Err(ControlError::SignalTruncated);
    }
    let peer = PeerId::from_slice(&b[..ID]).map_err(|_| ControlError::SignalPeer)?;
    let name_len = usize::from(b[ID]);
    let rest = &b[ID + 1..];
    if name_len > MAX_SIGNAL_NAME || rest.len() < name_len {
        return Err(ControlError::SignalName);
    }
    let name = std::str::from_utf8(&rest[..name_len])
        .map_err(|_| ControlError::SignalName)?
        .to_string();
    let payload = &rest[name_len..];
    if payload.len() > MAX_SIGNAL_PAYLOAD {
        return Err(ControlError::SignalPayload);
    }
    Ok((peer, name, payload.to_vec()))
}

fn tagged_u64(tag: u8, n: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(9);
    v.push(tag);
    v.extend_from_slice(&n.to_be_bytes());
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let p = ExchangedPeer {
            id: Identity::generate().peer_id(),
            addrs: vec!["127.0.0.1:5".parse().expect("addr")],
            nat: None,
        };
        let natted = ExchangedPeer {
            nat: Some(NatType::Symmetric),
            ..p.clone()
        };
        for m in [
            Control::Exchange(vec![natted, p.clone()]),
            Control::Ping(7),
            Control::Pong(u64::MAX),
            Control::Exchange(vec![p.clone()]),
            Control::Goodbye("bye".into()),
            Control::Forward {
                to: p.id,
                name: "holepunch".into(),
                payload: vec![1, 2, 3],
            },
            Control::Signal {
                from: p.id,
                name: String::new(),
                payload: Vec::new(),
            },
        ] {
            assert_eq!(Control::decode(&m.encode()).expect("decode"), m);
        }
        let refused = |b: &[u8]| Control::decode(b).expect_err("refused");
        assert!(matches!(
            refused(&Control::Exchange(vec![p.clone(); MAX_EXCHANGE_PEERS + 1]).encode()),
            ControlError::ExchangeTooLong
        ));
        assert!(matches!(
            refused(&[EXCHANGE, b'{']),
            ControlError::Exchange(_)
        ));
        assert!(matches!(refused(&[]), ControlError::Empty));
        assert!(matches!(refused(&[1, 2]), ControlError::PingLength));
        // Entries whose id is not one key's canonical encoding are dropped, the rest kept.
        let mut flipped = *p.id.as_bytes();
        flipped[31] |= 0x80;
        let mut identity_point = [0u8; 32];
        identity_point[0] = 1;
        let mut m = vec![EXCHANGE];
        m.extend_from_slice(
            serde_json::json!([
                {"id": hex::encode(flipped), "addrs": ["127.0.0.1:6"]},
                {"id": hex::encode(identity_point), "addrs": ["127.0.0.1:7"]},
                {"id": "not hex", "addrs": []},
                p,
            ])
            .to_string()
            .as_bytes(),
        );
        assert_eq!(
            Control::decode(&m).expect("decode"),
            Control::Exchange(vec![p.clone()])
        );
        assert!(matches!(refused(&[9]), ControlError::UnknownType(9)));
        // Truncated peer id, a name longer than the rest, an oversized payload.
        assert!(matches!(
            refused(&[FORWARD, 1, 2]),
            ControlError::SignalTruncated
        ));
        let mut m = vec![SIGNAL];
        m.extend_from_slice(&flipped);
        m.push(0);
        assert!(matches!(refused(&m), ControlError::SignalPeer));
        let mut m = vec![SIGNAL];
        m.extend_from_slice(p.id.as_bytes());
        m.push(10);
        m.extend_from_slice(b"abc");
        assert!(matches!(refused(&m), ControlError::SignalName));
        let mut m = vec![SIGNAL];
        m.extend_from_slice(p.id.as_bytes());
        m.push(0);
        m.extend(std::iter::repeat_n(0u8, MAX_SIGNAL_PAYLOAD + 1));
        assert!(matches!(refused(&m), ControlError::SignalPayload));
    }
}
