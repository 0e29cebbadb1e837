//! Messages on the node's control channel (0): ping, pong, peer exchange, goodbye.
//!
//! ```text
//! ping      = 0x01 nonce:u64
//! pong      = 0x02 nonce:u64
//! exchange  = 0x03 JSON [{"id": hex, "addrs": [address...]}...]
//! goodbye   = 0x04 UTF-8 reason
//! ```

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::identity::PeerId;
use crate::node::hello::MAX_HELLO_ADDRS;

const PING: u8 = 1;
const PONG: u8 = 2;
const EXCHANGE: u8 = 3;
const GOODBYE: u8 = 4;

/// Most peers one exchange message may list (a wire rule, not a setting, so that nodes
/// configured differently still agree).
pub const MAX_EXCHANGE_PEERS: usize = 64;
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
        }
    }

    /// Decodes a message from a peer.
    pub fn decode(b: &[u8]) -> Result<Self, String> {
        let (&tag, rest) = b.split_first().ok_or("empty control message")?;
        match tag {
            PING | PONG => {
                let n = u64::from_be_bytes(rest.try_into().map_err(|_| "bad ping length")?);
                Ok(if tag == PING {
                    Control::Ping(n)
                } else {
                    Control::Pong(n)
                })
            }
            EXCHANGE => {
                let peers: Vec<ExchangedPeer> =
                    serde_json::from_slice(rest).map_err(|e| format!("bad peer exchange: {e}"))?;
                if peers.len() > MAX_EXCHANGE_PEERS
                    || peers.iter().any(|p| p.addrs.len() > MAX_HELLO_ADDRS)
                {
                    return Err("peer exchange too long".into());
                }
                Ok(Control::Exchange(peers))
            }
            GOODBYE => {
                let r = String::from_utf8_lossy(&rest[..rest.len().min(MAX_REASON)]);
                Ok(Control::Goodbye(r.into_owned()))
            }
            t => Err(format!("unknown control message type {t}")),
        }
    }
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
        };
        for m in [
            Control::Ping(7),
            Control::Pong(u64::MAX),
            Control::Exchange(vec![p.clone()]),
            Control::Goodbye("bye".into()),
        ] {
            assert_eq!(Control::decode(&m.encode()).expect("decode"), m);
        }
        assert!(
            Control::decode(&Control::Exchange(vec![p; MAX_EXCHANGE_PEERS + 1]).encode()).is_err()
        );
        assert!(Control::decode(&[]).is_err());
        assert!(Control::decode(&[1, 2]).is_err());
        assert!(Control::decode(&[9]).is_err());
    }
}
