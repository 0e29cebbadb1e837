//! Published messages: signed by their origin, identified by origin + sequence number.

use std::fmt;

use bytes::Bytes;
use rats_core::PeerId;

/// Identifies a message: its origin's PeerId and the origin's sequence number.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageId(pub [u8; 40]);

impl MessageId {
    /// The default id of a message from `from` with sequence number `seqno`.
    pub fn new(from: &PeerId, seqno: u64) -> Self {
        let mut id = [0u8; 40];
        id[..32].copy_from_slice(from.as_bytes());
        id[32..].copy_from_slice(&seqno.to_be_bytes());
        MessageId(id)
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "#{}", u64::from_be_bytes(self.tail()))
    }
}

impl MessageId {
    fn tail(&self) -> [u8; 8] {
        let mut t = [0u8; 8];
        t.copy_from_slice(&self.0[32..]);
        t
    }
}

/// A message as it travels: the origin signs topic, sequence number and data, so no hop can
/// change them or claim another origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedMessage {
    /// Who published it.
    pub from: PeerId,
    /// The origin's sequence number.
    pub seqno: u64,
    /// The topic.
    pub topic: String,
    /// The payload.
    pub data: Bytes,
    /// Ed25519 signature of [`signing_bytes`] by `from`.
    pub signature: [u8; 64],
}

impl SignedMessage {
    /// Its id.
    pub fn id(&self) -> MessageId {
        MessageId::new(&self.from, self.seqno)
    }

    /// Whether the signature is the origin's.
    pub fn verify(&self) -> bool {
        self.from
            .public_key()
            .is_some_and(|key| self.verify_with(&key))
    }

    /// Whether the signature is the origin's, with its already decoded key.
    pub fn verify_with(&self, key: &rats_core::PeerPublicKey) -> bool {
        key.verify(
            &signing_bytes(&self.topic, &self.from, self.seqno, &self.data),
            &self.signature,
        )
    }
}

/// What the origin signs: a domain tag, the topic, the origin, the sequence number, the data.
pub fn signing_bytes(topic: &str, from: &PeerId, seqno: u64, data: &[u8]) -> Vec<u8> {
    const TAG: &[u8] = b"rats-gossipsub-v1:";
    let mut b = Vec::with_capacity(TAG.len() + 2 + topic.len() + 32 + 8 + data.len());
    b.extend_from_slice(TAG);
    b.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    b.extend_from_slice(topic.as_bytes());
    b.extend_from_slice(from.as_bytes());
    b.extend_from_slice(&seqno.to_be_bytes());
    b.extend_from_slice(data);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use rats_core::Identity;

    fn signed(id: &Identity, topic: &str, seqno: u64, data: &'static [u8]) -> SignedMessage {
        let from = id.peer_id();
        SignedMessage {
            from,
            seqno,
            topic: topic.into(),
            data: Bytes::from_static(data),
            signature: id.sign(&signing_bytes(topic, &from, seqno, data)),
        }
    }

    #[test]
    fn a_signature_covers_topic_origin_seqno_and_data() {
        let (a, b) = (Identity::generate(), Identity::generate());
        let m = signed(&a, "t", 7, b"data");
        assert!(m.verify());
        // Each field changed alone breaks the signature.
        let changed = [
            SignedMessage {
                topic: "u".into(),
                ..m.clone()
            },
            SignedMessage {
                from: b.peer_id(),
                ..m.clone()
            },
            SignedMessage {
                seqno: 8,
                ..m.clone()
            },
            SignedMessage {
                data: Bytes::from_static(b"datA"),
                ..m.clone()
            },
        ];
        for c in changed {
            assert!(!c.verify(), "{c:?}");
        }
        // The signed bytes are the documented layout.
        let mut want = b"rats-gossipsub-v1:".to_vec();
        want.extend_from_slice(&[0, 1, b't']);
        want.extend_from_slice(a.peer_id().as_bytes());
        want.extend_from_slice(&7u64.to_be_bytes());
        want.extend_from_slice(b"data");
        assert_eq!(signing_bytes("t", &a.peer_id(), 7, b"data"), want);
    }

    #[test]
    fn ids_are_origin_and_seqno() {
        let id = Identity::generate();
        let m = MessageId::new(&id.peer_id(), 0x0102);
        assert_eq!(&m.0[..32], id.peer_id().as_bytes());
        assert_eq!(m.tail(), 0x0102u64.to_be_bytes());
        let shown = format!("{m:?}");
        assert_eq!(shown, format!("{}#258", &id.peer_id().to_hex()[..8]));
    }
}
