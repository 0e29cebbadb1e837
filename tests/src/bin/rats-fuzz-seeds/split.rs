//! Taking a recorded plaintext rats connection apart: the records of the handshake, the
//! frame stream after it, and the whole messages in that stream by channel.

use bytes::BytesMut;
use rats_core::frame::{FRAME_HEADER_LEN, FrameCodec, Reassembler, frame_len};
use tokio_util::codec::Decoder;

/// One direction of a connection, cut at the end of the handshake.
pub struct Direction {
    /// The initiator's protocol record (`name NUL version`); `None` for the responder.
    pub protocol: Option<Vec<u8>>,
    /// The identity payload (`peer id || Hello`).
    pub identity: Vec<u8>,
    /// The record bodies after the handshake, concatenated: the frame stream.
    pub frames: Vec<u8>,
}

/// Splits one direction of a plaintext connection (`u16` length, body) into its handshake
/// records and the frame stream; `None` when the handshake is not all there. A record cut
/// off at the end of the recording is left out.
pub fn direction(bytes: &[u8], initiator: bool) -> Option<Direction> {
    let mut records = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        if rest.len() < 2 + len {
            break;
        }
        records.push(&rest[2..2 + len]);
        rest = &rest[2 + len..];
    }
    let mut it = records.into_iter();
    let protocol = if initiator {
        Some(it.next()?.to_vec())
    } else {
        None
    };
    let identity = it.next()?.to_vec();
    let frames = it.flatten().copied().collect();
    Some(Direction {
        protocol,
        identity,
        frames,
    })
}

/// Whole messages of a frame stream, with their channel, in arrival order; stops at the
/// first framing error (returned too) or at a frame cut off at the end.
pub fn messages(stream: &[u8]) -> (Vec<(u16, Vec<u8>)>, Option<String>) {
    let mut buf = BytesMut::from(stream);
    let mut codec = FrameCodec;
    let mut reassembler = Reassembler::new(64 * 1024 * 1024);
    let mut out = Vec::new();
    loop {
        let frame = match codec.decode(&mut buf) {
            Ok(Some(f)) => f,
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e.to_string())),
        };
        let channel = frame.channel;
        match reassembler.push(frame) {
            Ok(Some(m)) => out.push((channel, m.to_vec())),
            Ok(None) => {}
            Err(e) => return (out, Some(e.to_string())),
        }
    }
}

/// The longest prefix of a frame stream that ends at a frame boundary and is at most
/// `limit` bytes.
pub fn prefix_at_frame(stream: &[u8], limit: usize) -> &[u8] {
    let mut at = 0;
    while stream.len() - at >= FRAME_HEADER_LEN {
        let Ok(len) = frame_len(&stream[at..]) else {
            break;
        };
        if at + len > stream.len() || at + len > limit {
            break;
        }
        at += len;
    }
    &stream[..at]
}

/// The shape of each frame of a stream: channel, flags, payload length, and for a START the
/// message's declared total.
pub fn frame_shapes(stream: &[u8]) -> Vec<(u16, u8, usize, Option<u32>)> {
    let mut buf = BytesMut::from(stream);
    let mut codec = FrameCodec;
    let mut out = Vec::new();
    while let Ok(Some(f)) = codec.decode(&mut buf) {
        let total = (f.flags == rats_core::frame::FLAG_START)
            .then(|| {
                f.payload
                    .get(..4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            })
            .flatten();
        out.push((f.channel, f.flags, f.payload.len(), total));
    }
    out
}
