//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz), one per input a peer or the disk
//! controls. Each takes raw bytes, runs them through the same code a connection or a loader
//! runs, and asserts what must hold for every input: no panic, bounded memory, and that what
//! was accepted survives its own encoding unchanged. Reached as `rats_core::__fuzz`; not public
//! API (no stability promise), but compiled and tested with the crate so it cannot rot.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::address::Address;
use crate::budget::{MemoryBudget, MemoryLimits};
use crate::encryption::{ProtocolId, split_identity_payload};
use crate::event::MessageBody;
use crate::frame::{FrameCodec, Reassembler};
use crate::identity::{Identity, PeerId};
use crate::messaging::codec;
use crate::node::control::Control;
use crate::node::hello::Hello;

/// Largest message the frame target reassembles (small, so the fuzzer reaches the limit).
const FUZZ_MAX_MESSAGE: usize = 256 * 1024;

/// A received record stream: the first byte sets how the rest is cut into reads, the rest
/// goes through the frame decoder and the reassembler with a memory budget, as on a
/// connection. Checks: every decoded frame re-encodes to a frame that decodes equal, no
/// message over the limit, reassembly holds no more than arrived, the budget is never
/// exceeded and is given back in full when the connection ends.
pub fn frames(data: &[u8]) {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let limits = MemoryLimits {
        total: 1024 * 1024,
        per_connection: 512 * 1024,
        per_ip: 768 * 1024,
    };
    let budget = MemoryBudget::new(limits);
    let memory = budget.connection(Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    let mut reassembler = Reassembler::with_budget(FUZZ_MAX_MESSAGE, memory);
    let mut codec = FrameCodec;
    let mut buf = BytesMut::new();
    let mut delivered = 0usize;
    'stream: for piece in stream.chunks(usize::from(cut).max(1)) {
        buf.extend_from_slice(piece);
        loop {
            let frame = match codec.decode(&mut buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(_) => break 'stream,
            };
            let mut again = BytesMut::new();
            assert!(codec.encode(frame.clone(), &mut again).is_ok());
            assert_eq!(
                codec.decode(&mut again).ok().flatten().as_ref(),
                Some(&frame)
            );
            match reassembler.push(frame) {
                Ok(Some(message)) => {
                    assert!(message.len() <= FUZZ_MAX_MESSAGE);
                    delivered += message.len();
                }
                Ok(None) => {}
                // The connection would be closed here.
                Err(_) => break 'stream,
            }
            assert!(reassembler.buffered() <= stream.len());
            assert!(budget.used() <= limits.total);
        }
    }
    assert!(delivered <= stream.len());
    drop(reassembler);
    assert_eq!(budget.used(), 0, "reassembly buffers not given back");
}

/// Structure-aware variant of [`frames`]: the input is a list of 5-byte operations
/// (`channel`, `kind`, `len: u16`, `extra`) turned into well-formed frames (whole, START with
/// a declared total of `len + extra * 4096`, CONT, CONT|END) with `len` bytes of payload
/// each, so that a few input bytes reach reassembly's limits (sizes, budget, fragment order).
/// The first byte cuts the resulting stream into reads, as in [`frames`].
pub fn reassembly(data: &[u8]) {
    use crate::frame::{FLAG_CONT, FLAG_END, FLAG_START, put_header};
    let Some((&cut, ops)) = data.split_first() else {
        return;
    };
    let mut stream = BytesMut::new();
    stream.extend_from_slice(&[cut]);
    for op in ops.chunks_exact(5) {
        let channel = u16::from(op[0] % 4);
        let len = usize::from(u16::from_be_bytes([op[2], op[3]]));
        let (flags, head) = match op[1] % 4 {
            0 => (0, Vec::new()),
            1 => (
                FLAG_START,
                ((len + usize::from(op[4]) * 4096) as u32)
                    .to_be_bytes()
                    .to_vec(),
            ),
            2 => (FLAG_CONT, Vec::new()),
            _ => (FLAG_CONT | FLAG_END, Vec::new()),
        };
        let len = len.min(crate::frame::MAX_FRAME_PAYLOAD);
        put_header(&mut stream, channel, flags, head.len() + len);
        stream.extend_from_slice(&head);
        stream.resize(stream.len() + len, op[4]);
        if stream.len() > 4 * 1024 * 1024 {
            break;
        }
    }
    frames(&stream);
}

/// A control-channel message (ping, peer exchange, goodbye, forwarded signals). What decodes
/// re-encodes to the same message (a goodbye reason is clipped, so it gets one round to
/// settle).
pub fn control(data: &[u8]) {
    let Ok(first) = Control::decode(data) else {
        return;
    };
    let again = Control::decode(&first.encode());
    let Ok(again) = again else {
        panic!("{first:?} does not decode after encoding: {again:?}");
    };
    if !matches!(first, Control::Goodbye(_)) {
        assert_eq!(again, first);
    }
    assert_eq!(Control::decode(&again.encode()).ok(), Some(again));
}

/// A Hello (JSON inside the handshake). What decodes re-encodes to the same Hello.
pub fn hello(data: &[u8]) {
    let Ok(hello) = Hello::decode(data) else {
        return;
    };
    let bytes = serde_json::to_vec(&hello).unwrap_or_default();
    assert_eq!(Hello::decode(&bytes).ok(), Some(hello));
}

/// A message on the message service's channel (binary, text or typed JSON). What decodes
/// re-encodes to the same message.
pub fn message(data: &[u8]) {
    let Ok(body) = codec::decode(Bytes::copy_from_slice(data)) else {
        return;
    };
    let mut bytes = Vec::new();
    match &body {
        MessageBody::Binary(b) => {
            bytes.push(codec::TAG_BINARY);
            bytes.extend_from_slice(b);
        }
        MessageBody::Text(t) => {
            bytes.push(codec::TAG_TEXT);
            bytes.extend_from_slice(t.as_bytes());
        }
        MessageBody::Json { kind, data } => {
            assert!(codec::json_head(kind, &mut bytes).is_ok());
            assert!(serde_json::to_writer(&mut bytes, data).is_ok());
            assert_eq!(codec::json_kind(&bytes), Some(kind.as_str()));
        }
    }
    assert_eq!(codec::decode(Bytes::from(bytes)).ok(), Some(body));
}

/// An address as text (Hello and peer-exchange entries, config files, the command line):
/// what parses prints as text that parses to the same address.
pub fn address(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(a) = text.parse::<Address>() {
        assert_eq!(a.to_string().parse::<Address>().ok(), Some(a.clone()));
        if let Some(sa) = a.socket_addr() {
            assert_eq!(a.with_socket_addr(sa).socket_addr(), Some(sa));
        }
    }
    if let Ok(id) = text.parse::<PeerId>() {
        assert_eq!(id.to_string().parse::<PeerId>().ok(), Some(id));
    }
}

/// The Noise handshake payloads: the initiator's protocol record (`name NUL version`) and an
/// identity payload (`peer id || Hello`), as `rats-noise` reads them after decryption.
pub fn handshake_payload(data: &[u8]) {
    if let Some(p) = ProtocolId::from_bytes(data) {
        assert_eq!(ProtocolId::from_bytes(&p.to_bytes()), Some(p));
    }
    if let Ok((peer, early)) = split_identity_payload(data) {
        assert!(peer.is_canonical());
        let _ = Hello::decode(&early);
    }
}

/// An identity key file's text. A key that loads saves as text that loads the same key.
pub fn identity_key_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("identity.key");
    if let Ok(id) = Identity::decode_key_file(path, text) {
        let saved = Identity::key_file_text(&id.secret_bytes());
        let again = Identity::decode_key_file(path, &saved).map(|i| i.peer_id());
        assert_eq!(again.ok(), Some(id.peer_id()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The entry points run on a few inputs (the fuzz corpora are replayed by rats-tests).
    #[test]
    fn entry_points_accept_valid_and_garbage_input() {
        let ping = Control::Ping(7).encode();
        control(&ping);
        control(b"\x03[{\"id\":\"00\",\"addrs\":[]}]");
        hello(br#"{"agent":"x","listen":["tcp:127.0.0.1:1"],"services":[]}"#);
        message(b"\x02\x01k{\"a\":[1,2.5,null]}");
        address(b"quic:[::1]:9");
        handshake_payload(b"rats\x001");
        identity_key_file(Identity::key_file_text(&[7; 32]).as_bytes());
        let mut stream = vec![3u8];
        let mut frame = BytesMut::new();
        crate::frame::put_whole(&mut frame, 1, b"\x00", b"hello");
        stream.extend_from_slice(&frame);
        frames(&stream);
        reassembly(&[7, 1, 1, 0, 16, 2, 1, 3, 0, 16, 0, 1, 3, 0, 0, 0]);
        for garbage in [&b""[..], b"\xff", b"\x01\x00\x00\x00\xff\xff\xff\xff"] {
            frames(garbage);
            reassembly(garbage);
            control(garbage);
            hello(garbage);
            message(garbage);
            handshake_payload(garbage);
        }
    }
}
