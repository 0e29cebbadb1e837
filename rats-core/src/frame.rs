//! Frames: the unit inside the decrypted record stream.
//!
//! ```text
//! frame = channel:u16 | flags:u8 | len:u32 | payload[len]        (big-endian)
//! flags = 0                 a whole message
//!       = START             first fragment; payload = total:u32 | bytes
//!       = CONT              a middle fragment
//!       = CONT|END          the last fragment
//! ```
//! Frames may straddle record boundaries; a frame's `len` is checked against
//! [`MAX_FRAME_PAYLOAD`] before anything is buffered for it, and a fragmented message's declared
//! total against the node's maximum message size before it is reassembled.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// Bytes of a frame header.
pub const FRAME_HEADER_LEN: usize = 7;
/// Largest payload of one frame; larger messages are fragmented.
pub const MAX_FRAME_PAYLOAD: usize = 64 * 1024;
/// Flag: first fragment (payload starts with the `u32` total length).
pub const FLAG_START: u8 = 1;
/// Flag: continuation fragment.
pub const FLAG_CONT: u8 = 2;
/// Flag: with `CONT`, the last fragment.
pub const FLAG_END: u8 = 4;

/// Channel 0 belongs to the node itself (ping, peer exchange, goodbye; the Hello travels in
/// the handshake).
pub const CONTROL_CHANNEL: u16 = 0;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The service channel.
    pub channel: u16,
    /// Fragment flags.
    pub flags: u8,
    /// The frame payload.
    pub payload: Bytes,
}

/// A peer broke the framing rules.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// A frame claims more than [`MAX_FRAME_PAYLOAD`] bytes.
    #[error("frame length {0} exceeds the limit of {MAX_FRAME_PAYLOAD} (+4 for a START)")]
    FrameTooLarge(u64),
    /// A fragmented message declares more than the maximum message size.
    #[error("message of {size} bytes exceeds the maximum message size {max}")]
    MessageTooLarge {
        /// Declared size.
        size: u64,
        /// Our limit.
        max: usize,
    },
    /// Unknown flag bits or fragments out of order.
    #[error("bad fragment sequence: {0}")]
    BadFragment(&'static str),
}

impl From<std::io::Error> for FrameError {
    fn from(_: std::io::Error) -> Self {
        FrameError::BadFragment("i/o error inside codec")
    }
}

/// `tokio_util` codec for [`Frame`]s.
#[derive(Debug, Default, Clone, Copy)]
pub struct FrameCodec;

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if src.len() < FRAME_HEADER_LEN {
            return Ok(None);
        }
        let len = frame_len(src)? - FRAME_HEADER_LEN;
        if src.len() < FRAME_HEADER_LEN + len {
            src.reserve(FRAME_HEADER_LEN + len - src.len());
            return Ok(None);
        }
        let channel = u16::from_be_bytes([src[0], src[1]]);
        let flags = src[2];
        src.advance(FRAME_HEADER_LEN);
        let payload = src.split_to(len).freeze();
        Ok(Some(Frame {
            channel,
            flags,
            payload,
        }))
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        if item.payload.len() > max_len(item.flags) {
            return Err(FrameError::FrameTooLarge(item.payload.len() as u64));
        }
        put_header(dst, item.channel, item.flags, item.payload.len());
        dst.extend_from_slice(&item.payload);
        Ok(())
    }
}

/// Largest payload for a frame with these flags (a START also carries the 4-byte total).
fn max_len(flags: u8) -> usize {
    if flags == FLAG_START {
        MAX_FRAME_PAYLOAD + 4
    } else {
        MAX_FRAME_PAYLOAD
    }
}

/// The whole length (header included) of the frame whose header starts `header` (at least
/// [`FRAME_HEADER_LEN`] bytes), checked against the limits before anything is buffered.
pub fn frame_len(header: &[u8]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes([header[3], header[4], header[5], header[6]]) as usize;
    if len > max_len(header[2]) {
        return Err(FrameError::FrameTooLarge(len as u64));
    }
    Ok(FRAME_HEADER_LEN + len)
}

/// Writes a frame header.
pub fn put_header(dst: &mut BytesMut, channel: u16, flags: u8, len: usize) {
    dst.reserve(FRAME_HEADER_LEN + len);
    dst.put_u16(channel);
    dst.put_u8(flags);
    dst.put_u32(len as u32);
}

/// Writes a whole (unfragmented) message made of `head` then `body`.
pub fn put_whole(dst: &mut BytesMut, channel: u16, head: &[u8], body: &[u8]) {
    put_header(dst, channel, 0, head.len() + body.len());
    dst.extend_from_slice(head);
    dst.extend_from_slice(body);
}

/// Bytes a fragmented message must have delivered before its declared size is allocated.
const PROVEN_BYTES: usize = 256 * 1024;

/// Reassembles fragmented messages, one in progress per channel.
#[derive(Debug)]
pub struct Reassembler {
    max_message: usize,
    partial: Vec<(u16, usize, BytesMut)>,
}

impl Reassembler {
    /// A reassembler refusing messages larger than `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Reassembler {
            max_message,
            partial: Vec::new(),
        }
    }

    /// Feeds a frame; returns a complete message when one is finished.
    pub fn push(&mut self, frame: Frame) -> Result<Option<Bytes>, FrameError> {
        let pos = self
            .partial
            .iter()
            .position(|(c, _, _)| *c == frame.channel);
        match frame.flags {
            0 => {
                if pos.is_some() {
                    return Err(FrameError::BadFragment(
                        "whole message inside a fragmented one",
                    ));
                }
                if frame.payload.len() > self.max_message {
                    return Err(FrameError::MessageTooLarge {
                        size: frame.payload.len() as u64,
                        max: self.max_message,
                    });
                }
                Ok(Some(frame.payload))
            }
            FLAG_START => {
                if pos.is_some() {
                    return Err(FrameError::BadFragment("second START before END"));
                }
                let mut p = frame.payload;
                if p.len() < 4 {
                    return Err(FrameError::BadFragment("START without total length"));
                }
                let total = p.get_u32() as usize;
                if total > self.max_message {
                    return Err(FrameError::MessageTooLarge {
                        size: total as u64,
                        max: self.max_message,
                    });
                }
                if p.len() >= total {
                    return Err(FrameError::BadFragment("START holds the whole message"));
                }
                // A declared size alone must not make us allocate much: start small and take the
                // full size once the peer has really sent a first stretch of data.
                let mut buf = BytesMut::with_capacity(total.min(PROVEN_BYTES));
                buf.extend_from_slice(&p);
                self.partial.push((frame.channel, total, buf));
                Ok(None)
            }
            f if f == FLAG_CONT || f == FLAG_CONT | FLAG_END => {
                let Some(i) = pos else {
                    return Err(FrameError::BadFragment("continuation without START"));
                };
                let (_, total, buf) = &mut self.partial[i];
                if buf.len() + frame.payload.len() > *total {
                    return Err(FrameError::BadFragment("fragments exceed declared total"));
                }
                if buf.len() < PROVEN_BYTES && buf.len() + frame.payload.len() >= PROVEN_BYTES {
                    buf.reserve(*total - buf.len());
                }
                buf.extend_from_slice(&frame.payload);
                if f & FLAG_END == 0 {
                    if buf.len() == *total {
                        return Err(FrameError::BadFragment("message complete without END"));
                    }
                    return Ok(None);
                }
                let (_, total, buf) = self.partial.swap_remove(i);
                if buf.len() != total {
                    return Err(FrameError::BadFragment("END before declared total"));
                }
                Ok(Some(buf.freeze()))
            }
            _ => Err(FrameError::BadFragment("unknown flags")),
        }
    }

    /// Bytes currently held in unfinished messages.
    pub fn buffered(&self) -> usize {
        self.partial.iter().map(|(_, _, b)| b.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(channel: u16, flags: u8, payload: &[u8]) -> Frame {
        Frame {
            channel,
            flags,
            payload: Bytes::copy_from_slice(payload),
        }
    }

    #[test]
    fn codec_round_trip_and_partial_input() {
        let mut buf = BytesMut::new();
        FrameCodec
            .encode(frame(3, 0, b"hello"), &mut buf)
            .expect("encode");
        let mut half = buf.split_to(5);
        assert_eq!(FrameCodec.decode(&mut half).expect("ok"), None);
        half.unsplit(buf);
        let f = FrameCodec.decode(&mut half).expect("ok").expect("frame");
        assert_eq!(f, frame(3, 0, b"hello"));
    }

    #[test]
    fn huge_length_is_rejected_before_buffering() {
        let mut buf = BytesMut::from(&[0u8, 1, 0, 0xff, 0xff, 0xff, 0xff][..]);
        assert_eq!(
            FrameCodec.decode(&mut buf),
            Err(FrameError::FrameTooLarge(0xffff_ffff))
        );
        assert!(buf.capacity() < 1024);
    }

    #[test]
    fn reassembles_fragments_and_enforces_limits() {
        let mut r = Reassembler::new(10);
        let mut start = 8u32.to_be_bytes().to_vec();
        start.extend_from_slice(b"abc");
        assert_eq!(r.push(frame(1, FLAG_START, &start)).expect("start"), None);
        assert_eq!(r.push(frame(1, FLAG_CONT, b"de")).expect("cont"), None);
        let done = r.push(frame(1, FLAG_CONT | FLAG_END, b"fgh")).expect("end");
        assert_eq!(done.as_deref(), Some(&b"abcdefgh"[..]));
        let mut big = 11u32.to_be_bytes().to_vec();
        big.push(1);
        assert!(matches!(
            r.push(frame(1, FLAG_START, &big)),
            Err(FrameError::MessageTooLarge { .. })
        ));
        assert!(r.push(frame(2, FLAG_CONT, b"x")).is_err());
        assert!(r.push(frame(2, 0x40, b"x")).is_err());
        let mut start = 4u32.to_be_bytes().to_vec();
        start.push(1);
        r.push(frame(5, FLAG_START, &start)).expect("start");
        assert!(r.push(frame(5, FLAG_CONT | FLAG_END, b"1234")).is_err());
    }
}
