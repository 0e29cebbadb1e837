//! The Noise XX handshake with rats' identity binding and early data.
//!
//! ```text
//! -> e                    payload: protocol id (name NUL version), in clear, also in the prologue
//! <- e, ee, s, es         payload: responder PeerId (32) | responder Hello
//! -> s, se                payload: initiator PeerId (32) | initiator Hello
//! ```
//! A PeerId is an Ed25519 key; its X25519 form must equal the Noise static key just proven,
//! so a peer cannot claim an id it has no key for.

use bytes::Bytes;
use rats_core::encryption::{
    EncryptionError, HandshakeParams, Role, check_protocol_record, identity_payload,
    read_answer_record, split_identity_payload,
};
use rats_core::identity::PeerId;
use rats_core::record::{MAX_RECORD_LEN, RecordReader, write_record};
use rats_core::transport::BoxedWriter;

use crate::dh::RatsResolver;

/// The Noise protocol name.
pub const NOISE_PARAMS: &str = "Noise_XX_25519_ChaChaPoly_SHA256";

/// What a finished handshake yields.
pub(crate) struct Handshaked {
    pub(crate) remote: PeerId,
    pub(crate) early: Bytes,
    /// The handshake hash.
    pub(crate) session_id: [u8; 32],
    /// Key for what we send.
    pub(crate) send_key: [u8; 32],
    /// Key for what we receive.
    pub(crate) recv_key: [u8; 32],
}

fn hs_err(e: snow::Error) -> EncryptionError {
    EncryptionError::Handshake(Box::new(e))
}

fn verify_remote(
    hs: &snow::HandshakeState,
    payload: &[u8],
) -> Result<(PeerId, Bytes), EncryptionError> {
    let (peer, early) = split_identity_payload(payload)?;
    let proven = hs
        .get_remote_static()
        .ok_or_else(|| EncryptionError::Handshake("no remote static key".into()))?;
    match peer.x25519_public() {
        Some(expected) if expected[..] == *proven => Ok((peer, early)),
        _ => Err(EncryptionError::IdentityMismatch),
    }
}

/// Room for one XX handshake message carrying `payload` bytes: an ephemeral key, an encrypted
/// static key and the encrypted payload (two AEAD tags), bounded by the record size.
fn written_len(payload: usize) -> usize {
    (payload + 32 + (32 + 16) + 16).min(MAX_RECORD_LEN)
}

pub(crate) async fn run(
    reader: &mut RecordReader,
    writer: &mut BoxedWriter,
    params: HandshakeParams<'_>,
) -> Result<Handshaked, EncryptionError> {
    let noise_params = NOISE_PARAMS
        .parse()
        .map_err(|e: snow::Error| EncryptionError::Handshake(Box::new(e)))?;
    let secret = params.identity.x25519_private();
    let prologue = params.protocol.prologue();
    let builder = snow::Builder::with_resolver(noise_params, Box::new(RatsResolver::new()))
        .local_private_key(&secret)
        .map_err(hs_err)?
        .prologue(&prologue)
        .map_err(hs_err)?;
    let ours = identity_payload(params.identity, params.early_data)?;
    // Buffers sized to each message, not to the largest record: a handshake is a few hundred
    // bytes, and two 64 KiB buffers per handshake cost zeroing time on the connect path and
    // left the allocator fragmented after many handshakes.
    let mut msg = vec![0u8; written_len(ours.len().max(params.protocol.to_bytes().len()))];
    let mut payload = Vec::new();
    let (remote, early, mut hs) = match params.role {
        Role::Initiator => {
            let mut hs = builder.build_initiator().map_err(hs_err)?;
            let n = hs
                .write_message(&params.protocol.to_bytes(), &mut msg)
                .map_err(hs_err)?;
            write_record(writer, &msg[..n]).await?;
            let answer = read_answer_record(reader).await?;
            payload.resize(answer.len(), 0);
            let n = hs.read_message(&answer, &mut payload).map_err(hs_err)?;
            let (remote, early) = verify_remote(&hs, &payload[..n])?;
            let n = hs.write_message(&ours, &mut msg).map_err(hs_err)?;
            write_record(writer, &msg[..n]).await?;
            (remote, early, hs)
        }
        Role::Responder => {
            let mut hs = builder.build_responder().map_err(hs_err)?;
            let first = reader.read_record().await?.ok_or(EncryptionError::Closed)?;
            payload.resize(first.len(), 0);
            let n = hs.read_message(&first, &mut payload).map_err(hs_err)?;
            check_protocol_record(&payload[..n], params.protocol, writer).await?;
            let n = hs.write_message(&ours, &mut msg).map_err(hs_err)?;
            write_record(writer, &msg[..n]).await?;
            let last = reader.read_record().await?.ok_or(EncryptionError::Closed)?;
            payload.resize(last.len(), 0);
            let n = hs.read_message(&last, &mut payload).map_err(hs_err)?;
            let (remote, early) = verify_remote(&hs, &payload[..n])?;
            (remote, early, hs)
        }
    };
    if !hs.is_handshake_finished() {
        return Err(EncryptionError::Handshake("handshake incomplete".into()));
    }
    let mut session_id = [0u8; 32];
    let h = hs.get_handshake_hash();
    session_id.copy_from_slice(&h[..32.min(h.len())]);
    // split() gives (initiator→responder, responder→initiator).
    let (i_to_r, r_to_i) = hs.dangerously_get_raw_split();
    let (send_key, recv_key) = match params.role {
        Role::Initiator => (i_to_r, r_to_i),
        Role::Responder => (r_to_i, i_to_r),
    };
    Ok(Handshaked {
        remote,
        early,
        session_id,
        send_key,
        recv_key,
    })
}
