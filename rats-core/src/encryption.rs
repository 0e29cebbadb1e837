//! The [`Encryption`] contract: turn a raw byte stream into an authenticated, encrypted record
//! stream and learn who is on the other end.
//!
//! Every implementation runs the same three-message shape (see `docs/PROTOCOL.md`):
//! 1. initiator → responder: the application [`ProtocolId`] (in clear; Noise also binds it in
//!    the prologue);
//! 2. responder → initiator: its identity and early data (our Hello), or a rejection;
//! 3. initiator → responder: its identity and early data.

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

use crate::address::Address;
use crate::identity::{Identity, PeerId};
use crate::record::{RecordReader, write_record};
use crate::transport::{BoxedWriter, RawConnection};

/// Largest early-data payload carried inside the handshake.
pub const MAX_EARLY_DATA: usize = 60_000;

/// The application protocol: two nodes connect only when name and version are equal.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProtocolId {
    /// Application name, e.g. `rats`.
    pub name: String,
    /// Application protocol version, e.g. `1.0`.
    pub version: String,
}

impl ProtocolId {
    /// A protocol id. Names and versions must not contain NUL.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        ProtocolId {
            name: name.into(),
            version: version.into(),
        }
    }

    /// Wire form: `name NUL version`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.name.len() + 1 + self.version.len());
        v.extend_from_slice(self.name.as_bytes());
        v.push(0);
        v.extend_from_slice(self.version.as_bytes());
        v
    }

    /// Parses the wire form.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let nul = b.iter().position(|&c| c == 0)?;
        let name = std::str::from_utf8(&b[..nul]).ok()?;
        let version = std::str::from_utf8(&b[nul + 1..]).ok()?;
        if version.contains('\0') {
            return None;
        }
        Some(ProtocolId::new(name, version))
    }

    /// The Noise prologue binding this protocol: `rats-prologue-v1 NUL name NUL version`.
    pub fn prologue(&self) -> Vec<u8> {
        let mut p = b"rats-prologue-v1\0".to_vec();
        p.extend_from_slice(&self.to_bytes());
        p
    }
}

impl std::fmt::Display for ProtocolId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.name, self.version)
    }
}

/// Which side of the handshake we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We dialed.
    Initiator,
    /// We accepted.
    Responder,
}

/// What a handshake needs from the node.
#[derive(Clone, Copy, Debug)]
pub struct HandshakeParams<'a> {
    /// Our key.
    pub identity: &'a Identity,
    /// The application protocol both sides must speak.
    pub protocol: &'a ProtocolId,
    /// Our side.
    pub role: Role,
    /// Early data sent inside the handshake (the node's Hello), at most [`MAX_EARLY_DATA`].
    pub early_data: &'a [u8],
}

/// Errors of the encryption layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncryptionError {
    /// The socket failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The other side speaks another application protocol or version.
    #[error("protocol mismatch: we speak {local}, the remote speaks {remote}")]
    ProtocolMismatch {
        /// Ours.
        local: String,
        /// Theirs.
        remote: String,
    },
    /// The remote refused the handshake and said why.
    #[error("rejected by remote: {0}")]
    Rejected(String),
    /// The handshake bytes were wrong (garbage, a bad key, a failed MAC...); the
    /// encryption's own error is the source.
    #[error("handshake failed: {0}")]
    Handshake(#[source] crate::BoxError),
    /// The remote proved a key that does not match the identity it claimed.
    #[error("remote identity does not match its handshake key")]
    IdentityMismatch,
    /// The stream ended.
    #[error("connection closed during handshake")]
    Closed,
    /// A record failed to decrypt after the handshake (the cipher's error is the source).
    #[error("decryption failed: {0}")]
    Decrypt(#[source] crate::BoxError),
    /// Early data too large.
    #[error("early data of {0} bytes exceeds {MAX_EARLY_DATA}")]
    EarlyDataTooLarge(usize),
}

/// An upgraded connection: authenticated remote, encrypted record halves.
pub struct SecureConnection {
    /// The remote peer as proven by the handshake.
    pub remote_peer: PeerId,
    /// The remote's early data (its Hello).
    pub remote_early_data: Bytes,
    /// Plaintext records from the remote.
    pub reader: Box<dyn SecureReader>,
    /// Plaintext records to the remote.
    pub writer: Box<dyn SecureWriter>,
    /// The same 32 bytes on both ends of this connection and different for every connection
    /// (the Noise handshake hash): breaks ties between duplicate connections deterministically.
    pub session_id: [u8; 32],
    /// Whether records are really encrypted (false only for `Plaintext`).
    pub encrypted: bool,
    /// Our end.
    pub local_addr: Address,
    /// Their end.
    pub remote_addr: Address,
}

/// Reads decrypted records.
#[async_trait]
pub trait SecureReader: Send {
    /// Appends the plaintext of the next record to `out`. Returns `false` on clean end of stream.
    async fn read_into(&mut self, out: &mut BytesMut) -> Result<bool, EncryptionError>;
    /// True if a complete record is already buffered (read it before parsing, to batch).
    fn has_buffered(&self) -> bool;
}

/// Encrypts and writes records.
#[async_trait]
pub trait SecureWriter: Send {
    /// Writes the concatenation of `parts` as plaintext, split into as many records as needed,
    /// with as few copies and syscalls as possible.
    async fn write(&mut self, parts: &[&[u8]]) -> Result<(), EncryptionError>;
    /// Called when there is nothing more to send for now: give back buffers kept for speed.
    fn release_buffers(&mut self) {}
    /// Flushes and closes the write direction.
    async fn close(&mut self) -> Result<(), EncryptionError>;
}

/// Authenticated encryption of a raw connection. Registered as a plugin, used as
/// `Arc<dyn Encryption>`.
#[async_trait]
pub trait Encryption: Send + Sync + 'static {
    /// Short name (`noise`, `plaintext`).
    fn name(&self) -> &'static str;
    /// False only for debugging implementations that do not encrypt.
    fn is_encrypted(&self) -> bool;
    /// Runs the handshake over `raw`.
    async fn upgrade(
        &self,
        raw: RawConnection,
        params: HandshakeParams<'_>,
    ) -> Result<SecureConnection, EncryptionError>;
}

/// Responder side, first message: reads the initiator's protocol id and compares it with ours.
/// On mismatch, sends a rejection record pair and returns the error.
pub async fn check_protocol_record(
    first_payload: &[u8],
    ours: &ProtocolId,
    writer: &mut BoxedWriter,
) -> Result<(), EncryptionError> {
    let theirs = ProtocolId::from_bytes(first_payload);
    if theirs.as_ref() == Some(ours) {
        return Ok(());
    }
    let remote = theirs
        .map(|p| p.to_string())
        .unwrap_or_else(|| "<malformed protocol id>".to_string());
    let reason = format!("protocol mismatch: responder speaks {ours}, initiator speaks {remote}");
    // An empty record never is a valid handshake message: it announces a rejection.
    let _ = write_record(writer, b"").await;
    let _ = write_record(writer, reason.as_bytes()).await;
    Err(EncryptionError::ProtocolMismatch {
        local: ours.to_string(),
        remote,
    })
}

/// Initiator side: reads the responder's answer record, turning a rejection into an error.
pub async fn read_answer_record(reader: &mut RecordReader) -> Result<BytesMut, EncryptionError> {
    let rec = reader.read_record().await?.ok_or(EncryptionError::Closed)?;
    if !rec.is_empty() {
        return Ok(rec);
    }
    let reason = match reader.read_record().await {
        Ok(Some(r)) => String::from_utf8_lossy(&r).into_owned(),
        _ => "no reason given".to_string(),
    };
    Err(EncryptionError::Rejected(reason))
}

/// Splits an identity-carrying payload (`32-byte peer id || early data`).
pub fn split_identity_payload(payload: &[u8]) -> Result<(PeerId, Bytes), EncryptionError> {
    if payload.len() < 32 {
        return Err(EncryptionError::Handshake(
            "identity payload too short".into(),
        ));
    }
    let peer =
        PeerId::from_slice(&payload[..32]).map_err(|e| EncryptionError::Handshake(e.into()))?;
    if !peer.is_canonical() {
        return Err(EncryptionError::Handshake("non-canonical peer id".into()));
    }
    Ok((peer, Bytes::copy_from_slice(&payload[32..])))
}

/// Builds an identity-carrying payload.
pub fn identity_payload(id: &Identity, early: &[u8]) -> Result<Vec<u8>, EncryptionError> {
    if early.len() > MAX_EARLY_DATA {
        return Err(EncryptionError::EarlyDataTooLarge(early.len()));
    }
    let mut v = Vec::with_capacity(32 + early.len());
    v.extend_from_slice(id.peer_id().as_bytes());
    v.extend_from_slice(early);
    Ok(v)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::record::RecordReader;

    #[test]
    fn the_prologue_binds_name_and_version() {
        let a = ProtocolId::new("chat", "1.0");
        assert_eq!(a.prologue(), b"rats-prologue-v1\0chat\x001.0".to_vec());
        for other in [
            ProtocolId::new("chat", "1.1"),
            ProtocolId::new("chat2", "1.0"),
        ] {
            assert_ne!(a.prologue(), other.prologue(), "{other}");
        }
        assert_eq!(a.to_string(), "chat/1.0");
        assert_eq!(ProtocolId::from_bytes(&a.to_bytes()), Some(a));
        assert_eq!(ProtocolId::from_bytes(b"no nul"), None);
        assert_eq!(ProtocolId::from_bytes(b"a\0b\0c"), None);
    }

    /// A writer into memory, and a reader of what was written.
    fn pipe() -> (BoxedWriter, RecordReader) {
        let (a, b) = tokio::io::duplex(4096);
        let (_, w) = tokio::io::split(a);
        let (r, _) = tokio::io::split(b);
        (Box::new(w), RecordReader::new(Box::new(r)))
    }

    #[tokio::test]
    async fn a_protocol_mismatch_is_refused_with_a_reason_the_initiator_reads() {
        let ours = ProtocolId::new("chat", "1.0");
        let (mut w, _) = pipe();
        check_protocol_record(&ours.to_bytes(), &ours, &mut w)
            .await
            .expect("same protocol");
        for (theirs, named) in [
            (ProtocolId::new("chat", "2.0").to_bytes(), "chat/2.0"),
            (b"garbage".to_vec(), "<malformed protocol id>"),
        ] {
            let (mut w, mut r) = pipe();
            let err = check_protocol_record(&theirs, &ours, &mut w).await;
            assert!(
                matches!(&err, Err(EncryptionError::ProtocolMismatch { remote, .. }) if remote == named),
                "{err:?}"
            );
            match read_answer_record(&mut r).await {
                Err(EncryptionError::Rejected(reason)) => assert_eq!(
                    reason,
                    format!(
                        "protocol mismatch: responder speaks chat/1.0, initiator speaks {named}"
                    )
                ),
                other => panic!("{other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn an_answer_is_a_record_and_a_rejection_without_reason_says_so() {
        let (mut w, mut r) = pipe();
        write_record(&mut w, b"message 2").await.unwrap();
        assert_eq!(&read_answer_record(&mut r).await.unwrap()[..], b"message 2");
        let (mut w, mut r) = pipe();
        write_record(&mut w, b"").await.unwrap();
        drop(w);
        assert!(matches!(
            read_answer_record(&mut r).await,
            Err(EncryptionError::Rejected(reason)) if reason == "no reason given"
        ));
    }

    #[test]
    fn identity_payload_limits_are_inclusive() {
        let id = Identity::generate();
        // Exactly a peer id and nothing else; exactly the largest early data.
        let (peer, early) = split_identity_payload(id.peer_id().as_bytes()).unwrap();
        assert_eq!((peer, early.len()), (id.peer_id(), 0));
        assert!(identity_payload(&id, &vec![0; MAX_EARLY_DATA]).is_ok());
    }

    #[test]
    fn identity_payload_round_trips_and_rejects_the_negated_key() {
        let id = Identity::generate();
        let p = identity_payload(&id, b"early").expect("payload");
        let (peer, early) = split_identity_payload(&p).expect("split");
        assert_eq!((peer, &early[..]), (id.peer_id(), &b"early"[..]));
        // The negated key has the same X25519 form: only the canonical one is accepted.
        let mut negated = p.clone();
        negated[31] |= 0x80;
        assert!(split_identity_payload(&negated).is_err());
        assert!(split_identity_payload(&p[..10]).is_err());
        assert!(matches!(
            identity_payload(&id, &vec![0; MAX_EARLY_DATA + 1]),
            Err(EncryptionError::EarlyDataTooLarge(_))
        ));
    }
}
