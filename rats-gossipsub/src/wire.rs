//! The gossipsub wire format on channel 2 (see `docs/PROTOCOL.md`, "Publish/subscribe"): one
//! binary message per frame, a type byte then big-endian fields; strings are u16-length
//! prefixed UTF-8.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use rats_core::PeerId;

use crate::message::{MessageId, SignedMessage};

/// The service's channel.
pub const CHANNEL: u16 = 2;

const SUBSCRIPTIONS: u8 = 1;
const PUBLISH: u8 = 2;
const GRAFT: u8 = 3;
const PRUNE: u8 = 4;
const IHAVE: u8 = 5;
const IWANT: u8 = 6;

/// Most message ids in one IHAVE or IWANT.
pub const MAX_IDS: usize = 5000;
/// Most peers offered in one PRUNE.
pub const MAX_PX_PEERS: usize = 16;
/// Most addresses per offered peer.
pub const MAX_PX_ADDRS: usize = 4;

/// A peer offered with a PRUNE (peer exchange), so the pruned peer can connect elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PxPeer {
    /// The peer.
    pub peer: PeerId,
    /// Where it listens.
    pub addrs: Vec<String>,
}

/// Most subscription changes in one message.
pub const MAX_SUBSCRIPTIONS: usize = 1024;

/// A gossipsub message between two peers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rpc {
    /// Topics subscribed (`true`) or left (`false`).
    Subscriptions(Vec<(bool, String)>),
    /// A published message.
    Publish(SignedMessage),
    /// "Add me to your mesh for this topic."
    Graft(String),
    /// "You are out of my mesh for this topic; do not graft again for `backoff_secs`" — with
    /// other peers of the topic to try instead (peer exchange).
    Prune {
        /// The topic.
        topic: String,
        /// Seconds before grafting again.
        backoff_secs: u32,
        /// Other peers of the topic (may be empty).
        peers: Vec<PxPeer>,
    },
    /// "I have these recent messages of this topic."
    IHave {
        /// The topic.
        topic: String,
        /// Their ids.
        ids: Vec<MessageId>,
    },
    /// "Send me these messages."
    IWant(Vec<MessageId>),
}

/// Why a message could not be decoded: the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Shorter than its fields say.
    #[error("truncated gossipsub message")]
    Truncated,
    /// A type this version does not know (ignored, for forward compatibility).
    #[error("unknown gossipsub message type {0}")]
    UnknownType(u8),
    /// More subscription changes than [`MAX_SUBSCRIPTIONS`].
    #[error("bad gossipsub message: too many subscriptions ({0})")]
    TooManySubscriptions(usize),
    /// A subscription flag other than 0 (leave) or 1 (join).
    #[error("bad gossipsub message: subscribe flag {0} is not 0 or 1")]
    BadSubscribeFlag(u8),
    /// A publish's origin is not the canonical encoding of a valid key.
    #[error("bad gossipsub message: origin is not a valid peer id")]
    BadOrigin,
    /// More exchanged peers than [`MAX_PX_PEERS`].
    #[error("bad gossipsub message: too many exchanged peers ({0})")]
    TooManyPxPeers(usize),
    /// More addresses for one exchanged peer than [`MAX_PX_ADDRS`].
    #[error("bad gossipsub message: too many addresses ({0})")]
    TooManyPxAddrs(usize),
    /// More message ids than [`MAX_IDS`].
    #[error("bad gossipsub message: too many message ids ({0})")]
    TooManyIds(usize),
    /// A topic or address that is empty or longer than allowed.
    #[error("bad gossipsub message: string of {0} bytes is empty or too long")]
    BadStringLength(usize),
    /// A topic or address that is not UTF-8.
    #[error("bad gossipsub message: string is not UTF-8")]
    NotUtf8,
    /// Bytes after the last field (only a publish's data runs to the end).
    #[error("bad gossipsub message: trailing bytes")]
    TrailingBytes,
}

impl Rpc {
    /// Encodes.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::new();
        match self {
            Rpc::Subscriptions(subs) => {
                b.put_u8(SUBSCRIPTIONS);
                b.put_u16(subs.len().min(MAX_SUBSCRIPTIONS) as u16);
                for (on, topic) in subs.iter().take(MAX_SUBSCRIPTIONS) {
                    b.put_u8(u8::from(*on));
                    put_str(&mut b, topic);
                }
            }
            Rpc::Publish(m) => {
                b.reserve(1 + 2 + m.topic.len() + 32 + 8 + 64 + m.data.len());
                b.put_u8(PUBLISH);
                put_str(&mut b, &m.topic);
                b.put_slice(m.from.as_bytes());
                b.put_u64(m.seqno);
                b.put_slice(&m.signature);
                b.put_slice(&m.data);
            }
            Rpc::Graft(topic) => {
                b.put_u8(GRAFT);
                put_str(&mut b, topic);
            }
            Rpc::Prune {
                topic,
                backoff_secs,
                peers,
            } => {
                b.put_u8(PRUNE);
                put_str(&mut b, topic);
                b.put_u32(*backoff_secs);
                if !peers.is_empty() {
                    let n = peers.len().min(MAX_PX_PEERS);
                    b.put_u8(n as u8);
                    for p in &peers[..n] {
                        b.put_slice(p.peer.as_bytes());
                        let m = p.addrs.len().min(MAX_PX_ADDRS);
                        b.put_u8(m as u8);
                        for a in &p.addrs[..m] {
                            put_str(&mut b, a);
                        }
                    }
                }
            }
            Rpc::IHave { topic, ids } => {
                b.put_u8(IHAVE);
                put_str(&mut b, topic);
                put_ids(&mut b, ids);
            }
            Rpc::IWant(ids) => {
                b.put_u8(IWANT);
                put_ids(&mut b, ids);
            }
        }
        b.freeze()
    }

    /// Decodes one message (the data of a publish is a zero-copy slice of `msg`).
    pub fn decode(mut msg: Bytes, max_topic_len: usize) -> Result<Rpc, DecodeError> {
        if msg.is_empty() {
            return Err(DecodeError::Truncated);
        }
        let kind = msg.get_u8();
        match kind {
            SUBSCRIPTIONS => {
                let n = get_u16(&mut msg)? as usize;
                if n > MAX_SUBSCRIPTIONS {
                    return Err(DecodeError::TooManySubscriptions(n));
                }
                let mut subs = Vec::with_capacity(n);
                for _ in 0..n {
                    if msg.is_empty() {
                        return Err(DecodeError::Truncated);
                    }
                    let on = match msg.get_u8() {
                        0 => false,
                        1 => true,
                        flag => return Err(DecodeError::BadSubscribeFlag(flag)),
                    };
                    subs.push((on, get_str(&mut msg, max_topic_len)?));
                }
                end(&msg)?;
                Ok(Rpc::Subscriptions(subs))
            }
            PUBLISH => {
                let topic = get_str(&mut msg, max_topic_len)?;
                if msg.len() < 32 + 8 + 64 {
                    return Err(DecodeError::Truncated);
                }
                let from =
                    PeerId::from_slice(&msg.split_to(32)).map_err(|_| DecodeError::BadOrigin)?;
                let seqno = msg.get_u64();
                let mut signature = [0u8; 64];
                signature.copy_from_slice(&msg.split_to(64));
                Ok(Rpc::Publish(SignedMessage {
                    from,
                    seqno,
                    topic,
                    data: msg,
                    signature,
                }))
            }
            GRAFT => {
                let topic = get_str(&mut msg, max_topic_len)?;
                end(&msg)?;
                Ok(Rpc::Graft(topic))
            }
            PRUNE => {
                let topic = get_str(&mut msg, max_topic_len)?;
                if msg.len() < 4 {
                    return Err(DecodeError::Truncated);
                }
                let backoff_secs = msg.get_u32();
                // The peer list is optional (absent in the first version of PRUNE).
                let mut peers = Vec::new();
                if !msg.is_empty() {
                    let n = msg.get_u8() as usize;
                    if n > MAX_PX_PEERS {
                        return Err(DecodeError::TooManyPxPeers(n));
                    }
                    for _ in 0..n {
                        if msg.len() < 33 {
                            return Err(DecodeError::Truncated);
                        }
                        // An entry whose id is not a valid, canonical key is read and
                        // dropped: never dialed.
                        let peer = PeerId::from_slice(&msg.split_to(32)).ok();
                        let m = msg.get_u8() as usize;
                        if m > MAX_PX_ADDRS {
                            return Err(DecodeError::TooManyPxAddrs(m));
                        }
                        let mut addrs = Vec::with_capacity(m);
                        for _ in 0..m {
                            addrs.push(get_str(&mut msg, 256)?);
                        }
                        if let Some(peer) = peer {
                            peers.push(PxPeer { peer, addrs });
                        }
                    }
                    end(&msg)?;
                }
                Ok(Rpc::Prune {
                    topic,
                    backoff_secs,
                    peers,
                })
            }
            IHAVE => {
                let topic = get_str(&mut msg, max_topic_len)?;
                let ids = get_ids(&mut msg)?;
                end(&msg)?;
                Ok(Rpc::IHave { topic, ids })
            }
            IWANT => {
                let ids = get_ids(&mut msg)?;
                end(&msg)?;
                Ok(Rpc::IWant(ids))
            }
            other => Err(DecodeError::UnknownType(other)),
        }
    }
}

/// Every message but PUBLISH (whose data runs to the end) must end where its fields do.
fn end(rest: &Bytes) -> Result<(), DecodeError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::TrailingBytes)
    }
}

fn put_str(b: &mut BytesMut, s: &str) {
    let s = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    b.put_u16(s.len() as u16);
    b.put_slice(s);
}

fn put_ids(b: &mut BytesMut, ids: &[MessageId]) {
    let n = ids.len().min(MAX_IDS);
    b.put_u16(n as u16);
    for id in &ids[..n] {
        b.put_slice(&id.0);
    }
}

fn get_ids(b: &mut Bytes) -> Result<Vec<MessageId>, DecodeError> {
    let n = get_u16(b)? as usize;
    if n > MAX_IDS {
        return Err(DecodeError::TooManyIds(n));
    }
    if b.len() < n * 40 {
        return Err(DecodeError::Truncated);
    }
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let mut id = [0u8; 40];
        id.copy_from_slice(&b.split_to(40));
        ids.push(MessageId(id));
    }
    Ok(ids)
}

fn get_u16(b: &mut Bytes) -> Result<u16, DecodeError> {
    if b.len() < 2 {
        return Err(DecodeError::Truncated);
    }
    Ok(b.get_u16())
}

fn get_str(b: &mut Bytes, max: usize) -> Result<String, DecodeError> {
    let n = get_u16(b)? as usize;
    if n > max || n == 0 {
        return Err(DecodeError::BadStringLength(n));
    }
    if b.len() < n {
        return Err(DecodeError::Truncated);
    }
    String::from_utf8(b.split_to(n).to_vec()).map_err(|_| DecodeError::NotUtf8)
}

/// Whether an encoded RPC is a published message (by its type byte), without decoding it.
pub fn is_publish(frame: &[u8]) -> bool {
    frame.first() == Some(&PUBLISH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips() {
        let id = rats_core::Identity::generate();
        let msgs = [
            Rpc::Subscriptions(vec![(true, "a".into()), (false, "b/c".into())]),
            Rpc::Publish(SignedMessage {
                from: id.peer_id(),
                seqno: 7,
                topic: "news".into(),
                data: Bytes::from_static(b"hello"),
                signature: [3; 64],
            }),
            Rpc::Graft("t".into()),
            Rpc::Prune {
                topic: "t".into(),
                backoff_secs: 60,
                peers: vec![],
            },
            Rpc::Prune {
                topic: "t".into(),
                backoff_secs: 60,
                peers: vec![PxPeer {
                    peer: id.peer_id(),
                    addrs: vec!["tcp:127.0.0.1:7878".into()],
                }],
            },
            Rpc::IHave {
                topic: "t".into(),
                ids: vec![MessageId([1; 40]), MessageId([2; 40])],
            },
            Rpc::IWant(vec![MessageId([3; 40])]),
        ];
        for m in msgs {
            assert_eq!(Rpc::decode(m.encode(), 256).unwrap(), m);
        }
    }

    #[test]
    fn garbage_is_refused_by_the_rule_it_breaks() {
        use DecodeError::*;
        let cases: [(&[u8], DecodeError); 10] = [
            (b"", Truncated),
            (b"\x01\xff\xff", TooManySubscriptions(0xffff)),
            (b"\x01\x00\x01", Truncated),
            (b"\x02\x00\x01a", Truncated),
            (b"\x03\x00\x00", BadStringLength(0)),
            (b"\x03\x00\x02\xff\xfe", NotUtf8),
            (b"\x05\x00\x01t\x13\x89", TooManyIds(5001)),
            (b"\x06\x00\x02", Truncated),
            (b"\x04\x00\x01t\x00\x00\x00\x01\x11", TooManyPxPeers(17)),
            (b"\x09", UnknownType(9)),
        ];
        for (bad, want) in cases {
            assert_eq!(
                Rpc::decode(Bytes::copy_from_slice(bad), 256),
                Err(want),
                "{bad:?}"
            );
        }
        let long = Rpc::Graft("x".repeat(300)).encode();
        assert_eq!(Rpc::decode(long, 256), Err(BadStringLength(300)));
        // One exchanged peer with five addresses.
        let mut px = b"\x04\x00\x01t\x00\x00\x00\x01\x01".to_vec();
        px.extend_from_slice(rats_core::Identity::generate().peer_id().as_bytes());
        px.push(5);
        assert_eq!(decode(px), Err(TooManyPxAddrs(5)));
    }

    fn decode(b: Vec<u8>) -> Result<Rpc, DecodeError> {
        Rpc::decode(Bytes::from(b), 256)
    }

    /// A PUBLISH whose origin field is `origin`.
    fn publish_from(origin: [u8; 32]) -> Vec<u8> {
        let id = rats_core::Identity::generate();
        let mut b = Rpc::Publish(SignedMessage {
            from: id.peer_id(),
            seqno: 1,
            topic: "t".into(),
            data: Bytes::from_static(b"x"),
            signature: [0; 64],
        })
        .encode()
        .to_vec();
        // type, topic length (2), topic "t", then the origin.
        b[4..36].copy_from_slice(&origin);
        b
    }

    #[test]
    fn origins_that_are_not_one_key_s_canonical_encoding_are_refused() {
        let origin_bad = Err(DecodeError::BadOrigin);
        // The identity point (small order: anyone can "sign" for it).
        let mut identity_point = [0u8; 32];
        identity_point[0] = 1;
        assert_eq!(decode(publish_from(identity_point)), origin_bad);
        // A real key with the sign bit set: the same key under a second origin.
        let key = *rats_core::Identity::generate().peer_id().as_bytes();
        let mut flipped = key;
        flipped[31] |= 0x80;
        assert_eq!(decode(publish_from(flipped)), origin_bad);
        assert!(matches!(decode(publish_from(key)), Ok(Rpc::Publish(_))));
    }

    #[test]
    fn subscribe_flags_other_than_0_or_1_and_trailing_bytes_are_refused() {
        let subs = Rpc::Subscriptions(vec![(true, "a".into())])
            .encode()
            .to_vec();
        let mut two = subs.clone();
        two[3] = 2;
        assert_eq!(decode(two), Err(DecodeError::BadSubscribeFlag(2)));
        let trailing = Err(DecodeError::TrailingBytes);
        for m in [
            Rpc::Subscriptions(vec![(false, "a".into())]),
            Rpc::Graft("t".into()),
            Rpc::IHave {
                topic: "t".into(),
                ids: vec![MessageId([1; 40])],
            },
            Rpc::IWant(vec![MessageId([3; 40])]),
            Rpc::Prune {
                topic: "t".into(),
                backoff_secs: 1,
                peers: vec![],
            },
        ] {
            let mut b = m.encode().to_vec();
            b.push(0);
            // A PRUNE without peers ends at its backoff: the extra byte is a count of 0.
            if matches!(m, Rpc::Prune { .. }) {
                assert_eq!(decode(b.clone()), Ok(m.clone()));
                b.push(0);
            }
            assert_eq!(decode(b), trailing, "{m:?}");
        }
    }

    #[test]
    fn prune_peers_with_invalid_ids_are_dropped_and_a_missing_count_is_none() {
        let good = rats_core::Identity::generate().peer_id();
        let mut flipped = *good.as_bytes();
        flipped[31] |= 0x80;
        // topic "t", backoff 60, no count at all: the first version's PRUNE.
        let bare = vec![PRUNE, 0, 1, b't', 0, 0, 0, 60];
        assert_eq!(
            decode(bare.clone()),
            Ok(Rpc::Prune {
                topic: "t".into(),
                backoff_secs: 60,
                peers: vec![]
            })
        );
        let mut with_peers = bare;
        with_peers.push(2);
        for id in [flipped, *good.as_bytes()] {
            with_peers.extend_from_slice(&id);
            with_peers.extend_from_slice(&[1, 0, 1, b'a']);
        }
        assert_eq!(
            decode(with_peers),
            Ok(Rpc::Prune {
                topic: "t".into(),
                backoff_secs: 60,
                peers: vec![PxPeer {
                    peer: good,
                    addrs: vec!["a".into()]
                }]
            })
        );
    }
}
