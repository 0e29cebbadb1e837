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
//! total against the node's maximum message size before it is reassembled. Reassembly buffers
//! grow with the bytes that arrived, never with the size a peer declares, and are charged to
//! the connection's memory account ([`crate::budget`]).

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::budget::{BudgetError, PeerMemory, Reservation};

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

/// The smallest step a reassembly buffer grows by.
const MIN_GROWTH: usize = 64 * 1024;
/// Messages from this size on are reassembled in their own anonymous memory mapping. Smaller
/// ones stay on the heap: a fresh mapping costs a page fault per page written, which made
/// 1 MiB messages ~40 % slower than a reused heap buffer.
const MAPPED_FROM: usize = 4 * 1024 * 1024;
/// The unit a mapping is charged in: at least a page on every system rats runs on (4, 16 or
/// 64 KiB pages), so what is charged is never less than what is resident.
const MAPPED_GRANULE: usize = 64 * 1024;

/// Where a partial message's bytes go.
#[derive(Debug)]
enum Storage {
    /// Small messages: a heap buffer that doubles as data arrives.
    Heap(BytesMut),
    /// Large messages: an anonymous mapping of the declared size. Only pages written become
    /// resident, so memory follows what arrived, with no copies on growth; and the pages go
    /// straight back to the system when the message is dropped, whatever the allocator keeps.
    Mapped(memmap2::MmapMut),
}

/// A fragmented message being reassembled.
#[derive(Debug)]
struct Partial {
    channel: u16,
    total: usize,
    /// Bytes of the message that arrived, kept or not.
    received: usize,
    /// Where they are kept; `None` once the message is being dropped (over the budget).
    storage: Option<Storage>,
    /// What the storage holds in memory, charged to the connection's memory account.
    held: Option<Reservation>,
}

/// An anonymous mapping of `len` bytes that reserves no swap up front (a declared size alone
/// commits nothing) and is never backed by huge pages (a first byte must not make 2 MiB
/// resident).
fn anonymous_mapping(len: usize) -> std::io::Result<memmap2::MmapMut> {
    let map = memmap2::MmapOptions::new()
        .len(len)
        .no_reserve_swap()
        .map_anon()?;
    #[cfg(target_os = "linux")]
    map.advise(memmap2::Advice::NoHugePage)?;
    Ok(map)
}

impl Partial {
    fn new(channel: u16, total: usize, held: Option<Reservation>) -> Self {
        let storage = if total >= MAPPED_FROM {
            // Address space, not memory; a system that refuses it gets a heap buffer.
            match anonymous_mapping(total) {
                Ok(map) => Storage::Mapped(map),
                Err(_) => Storage::Heap(BytesMut::new()),
            }
        } else {
            Storage::Heap(BytesMut::new())
        };
        Partial {
            channel,
            total,
            received: 0,
            storage: Some(storage),
            held,
        }
    }

    /// Bytes of memory the storage takes (heap capacity, or the mapping's written granules,
    /// at least one once it exists).
    fn allocated(&self) -> usize {
        match &self.storage {
            None => 0,
            Some(Storage::Heap(b)) => b.capacity(),
            Some(Storage::Mapped(_)) => granules(self.received),
        }
    }

    /// Charges what the storage takes beyond what is already charged.
    fn charge(&mut self, takes: usize) -> Result<(), BudgetError> {
        match &mut self.held {
            Some(held) => held.grow(takes.saturating_sub(held.bytes())),
            None => Ok(()),
        }
    }

    /// Takes `piece` in. Memory grows with what actually arrived (a heap buffer doubles, a
    /// mapping takes the granules written), each growth charged before it is taken. When the
    /// budget refuses, the message is dropped: what it held is given back and its remaining
    /// fragments are only counted. The connection stays, so a peer that filled the budget
    /// cannot get another peer cut off this way.
    fn append(&mut self, piece: &[u8]) {
        let at = self.received;
        self.received += piece.len();
        if let Err(refused) = self.store(at, piece) {
            tracing::debug!(channel = self.channel, error = %refused, "message dropped: memory budget");
            self.storage = None;
            if let Some(held) = &mut self.held {
                held.release();
                held.note_refusal();
            }
        }
    }

    fn store(&mut self, at: usize, piece: &[u8]) -> Result<(), BudgetError> {
        let need = at + piece.len();
        let cap = match &self.storage {
            None => return Ok(()),
            Some(Storage::Heap(buf)) => buf.capacity(),
            Some(Storage::Mapped(_)) => {
                self.charge(granules(need))?;
                usize::MAX
            }
        };
        let new_cap = need
            .max(cap.saturating_mul(2))
            .max(MIN_GROWTH)
            .min(self.total);
        if need > cap {
            self.charge(new_cap)?;
        }
        match &mut self.storage {
            Some(Storage::Heap(buf)) => {
                if need > buf.capacity() {
                    buf.reserve(new_cap - buf.len());
                }
                buf.extend_from_slice(piece);
            }
            Some(Storage::Mapped(map)) => {
                // Always in bounds: callers never pass the declared total, the mapping's size.
                if let Some(dst) = map.get_mut(at..need) {
                    dst.copy_from_slice(piece);
                }
            }
            None => {}
        }
        // The allocator may round a heap buffer up: what we hold is what we charge.
        let takes = self.allocated();
        self.charge(takes)
    }

    /// The finished message (no copy), or `None` when it was dropped.
    fn into_bytes(self) -> Option<Bytes> {
        match self.storage? {
            Storage::Heap(b) => Some(b.freeze()),
            Storage::Mapped(map) => Some(Bytes::from_owner(map).slice(..self.received)),
        }
    }
}

/// What `bytes` written into a mapping take: whole granules, at least one.
fn granules(bytes: usize) -> usize {
    bytes.div_ceil(MAPPED_GRANULE).max(1) * MAPPED_GRANULE
}

/// Reassembles fragmented messages, one in progress per channel.
#[derive(Debug)]
pub struct Reassembler {
    max_message: usize,
    memory: Option<Arc<PeerMemory>>,
    partial: Vec<Partial>,
}

impl Reassembler {
    /// A reassembler refusing messages larger than `max_message` bytes, with no memory
    /// budget beyond that (tools and tests; a node uses [`with_budget`](Self::with_budget)).
    pub fn new(max_message: usize) -> Self {
        Reassembler {
            max_message,
            memory: None,
            partial: Vec::new(),
        }
    }

    /// A reassembler whose buffers are charged to a connection's memory account: a message
    /// that would take the connection, its address or the node over its budget is dropped
    /// (its fragments are still checked, the connection stays, the refusal is counted).
    pub fn with_budget(max_message: usize, memory: Arc<PeerMemory>) -> Self {
        Reassembler {
            max_message,
            memory: Some(memory),
            partial: Vec::new(),
        }
    }

    /// Feeds a frame; returns a complete message when one is finished.
    pub fn push(&mut self, frame: Frame) -> Result<Option<Bytes>, FrameError> {
        let pos = self.partial.iter().position(|p| p.channel == frame.channel);
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
                // The declared size takes no memory: the buffer grows as data arrives.
                let held = self.memory.as_ref().map(|m| m.empty());
                let mut partial = Partial::new(frame.channel, total, held);
                partial.append(&p);
                self.partial.push(partial);
                Ok(None)
            }
            f if f == FLAG_CONT || f == FLAG_CONT | FLAG_END => {
                let Some(i) = pos else {
                    return Err(FrameError::BadFragment("continuation without START"));
                };
                let partial = &mut self.partial[i];
                if partial.received + frame.payload.len() > partial.total {
                    return Err(FrameError::BadFragment("fragments exceed declared total"));
                }
                partial.append(&frame.payload);
                if f & FLAG_END == 0 {
                    if partial.received == partial.total {
                        return Err(FrameError::BadFragment("message complete without END"));
                    }
                    return Ok(None);
                }
                let done = self.partial.swap_remove(i);
                if done.received != done.total {
                    return Err(FrameError::BadFragment("END before declared total"));
                }
                // The message leaves our hands here (its reservation is given back): what the
                // service keeps of it, the service accounts for.
                Ok(done.into_bytes())
            }
            _ => Err(FrameError::BadFragment("unknown flags")),
        }
    }

    /// Bytes currently kept of unfinished messages.
    pub fn buffered(&self) -> usize {
        self.partial
            .iter()
            .filter(|p| p.storage.is_some())
            .map(|p| p.received)
            .sum()
    }

    /// Bytes of memory taken by unfinished messages (heap capacity, resident mapped pages).
    pub fn allocated(&self) -> usize {
        self.partial.iter().map(Partial::allocated).sum()
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

    #[test]
    fn frame_size_limits_are_inclusive() {
        let mut buf = BytesMut::new();
        let full = vec![0u8; MAX_FRAME_PAYLOAD];
        FrameCodec
            .encode(frame(1, 0, &full), &mut buf)
            .expect("exactly the largest payload");
        let with_total = vec![0u8; MAX_FRAME_PAYLOAD + 4];
        FrameCodec
            .encode(frame(1, FLAG_START, &with_total), &mut buf)
            .expect("a START carries 4 more bytes");
        for (flags, len) in [
            (0, MAX_FRAME_PAYLOAD + 1),
            (FLAG_START, MAX_FRAME_PAYLOAD + 5),
        ] {
            let too_big = vec![0u8; len];
            assert_eq!(
                FrameCodec.encode(frame(1, flags, &too_big), &mut BytesMut::new()),
                Err(FrameError::FrameTooLarge(len as u64))
            );
        }
        // Both decode back; a half-arrived frame reserves what it still needs, no more.
        let whole = buf.clone();
        let mut next_len = || {
            FrameCodec
                .decode(&mut buf)
                .expect("ok")
                .expect("a frame")
                .payload
                .len()
        };
        assert_eq!(next_len(), MAX_FRAME_PAYLOAD);
        assert_eq!(next_len(), MAX_FRAME_PAYLOAD + 4);
        let mut half = BytesMut::with_capacity(16);
        half.extend_from_slice(&whole[..10]);
        assert_eq!(FrameCodec.decode(&mut half).expect("ok"), None);
        let frame_len = FRAME_HEADER_LEN + MAX_FRAME_PAYLOAD;
        assert!(
            half.capacity() >= frame_len && half.capacity() < frame_len + 1024,
            "{}",
            half.capacity()
        );
        assert_eq!(frame_len_of(&whole), frame_len);
    }

    fn frame_len_of(b: &[u8]) -> usize {
        frame_len(b).expect("valid header")
    }

    #[test]
    fn fragment_rules_at_their_boundaries() {
        let mut r = Reassembler::new(10);
        // A declared total of exactly the maximum is fine; START with just its total too.
        r.push(frame(1, FLAG_START, &start_of(10, b"")))
            .expect("empty START");
        assert_eq!(r.buffered(), 0);
        r.push(frame(1, FLAG_CONT, b"abcd")).expect("cont");
        assert_eq!(r.buffered(), 4);
        assert_eq!(
            r.push(frame(1, FLAG_CONT | FLAG_END, b"efghij"))
                .expect("end")
                .as_deref(),
            Some(&b"abcdefghij"[..])
        );
        // A START whose data is the whole message, or with fewer than 4 bytes, is refused.
        assert!(r.push(frame(2, FLAG_START, &start_of(3, b"abc"))).is_err());
        assert!(r.push(frame(3, FLAG_START, &[0, 0, 1])).is_err());
        // Flags other than the four defined ones.
        for flags in [FLAG_END, FLAG_START | FLAG_CONT, FLAG_START | FLAG_END, 7] {
            assert_eq!(
                r.push(frame(4, flags, b"x")),
                Err(FrameError::BadFragment("unknown flags")),
                "{flags}"
            );
        }
        // A whole message of exactly the maximum passes, one byte more does not.
        assert!(r.push(frame(5, 0, &[0; 10])).is_ok());
        assert!(r.push(frame(5, 0, &[0; 11])).is_err());
    }

    fn start_of(total: u32, first: &[u8]) -> Vec<u8> {
        let mut v = total.to_be_bytes().to_vec();
        v.extend_from_slice(first);
        v
    }

    #[test]
    fn a_declared_size_allocates_nothing_beyond_what_arrived() {
        let mut r = Reassembler::new(1 << 30);
        r.push(frame(1, FLAG_START, &start_of(1 << 30, b"x")))
            .expect("start");
        assert!(r.allocated() <= MIN_GROWTH, "{}", r.allocated());
        // Growth doubles with the data: never more than twice what arrived (plus one step).
        let piece = vec![7u8; MAX_FRAME_PAYLOAD];
        for _ in 0..64 {
            r.push(frame(1, FLAG_CONT, &piece)).expect("cont");
            assert!(r.allocated() <= 2 * r.buffered() + MIN_GROWTH);
        }
    }

    #[test]
    fn large_messages_reassemble_exactly() {
        let total = 3 * MAPPED_FROM + 12_345;
        let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
        let mut r = Reassembler::new(total);
        r.push(frame(9, FLAG_START, &start_of(total as u32, &data[..1000])))
            .expect("start");
        let mut at = 1000;
        let mut done = None;
        while at < total {
            let n = (total - at).min(MAX_FRAME_PAYLOAD);
            let flags = if at + n == total {
                FLAG_CONT | FLAG_END
            } else {
                FLAG_CONT
            };
            done = r.push(frame(9, flags, &data[at..at + n])).expect("piece");
            at += n;
        }
        assert_eq!(done.as_deref(), Some(&data[..]));
        assert_eq!(r.allocated(), 0);
    }

    #[test]
    fn partial_messages_are_charged_and_refused_over_the_budget() {
        use crate::budget::{MemoryBudget, MemoryLimits};
        let budget = MemoryBudget::new(MemoryLimits {
            total: 1 << 20,
            per_connection: 512 * 1024,
            per_ip: 1 << 20,
        });
        let account = budget.connection("192.0.2.1".parse().ok());
        let mut r = Reassembler::with_budget(16 << 20, account.clone());
        let piece = vec![1u8; MAX_FRAME_PAYLOAD];
        r.push(frame(1, FLAG_START, &start_of(8 << 20, b"a")))
            .expect("start");
        let mut refused = None;
        for i in 0..20 {
            if let Err(e) = r.push(frame(1, FLAG_CONT, &piece)) {
                refused = Some((i, e));
                break;
            }
            assert!(account.used() <= 512 * 1024);
            assert_eq!(account.used(), r.allocated(), "every byte held is charged");
        }
        assert!(
            refused.is_none(),
            "a refusal drops the message, not the connection"
        );
        // The message was dropped when it passed the share: nothing is held any more, the
        // refusal is counted, and the rest of its fragments are still checked.
        assert_eq!(account.used(), 0);
        assert_eq!(budget.refusals(), 1);
        let rest = (8 << 20) - 1 - 20 * MAX_FRAME_PAYLOAD;
        assert_eq!(r.push(frame(1, FLAG_CONT, b"x")).expect("cont"), None);
        let last = vec![1u8; rest - 1];
        assert_eq!(
            r.push(frame(1, FLAG_CONT | FLAG_END, &last)).expect("end"),
            None,
            "a dropped message is not delivered"
        );
        // The next message on the channel is taken normally.
        r.push(frame(1, FLAG_START, &start_of(3, b"a")))
            .expect("start");
        let done = r.push(frame(1, FLAG_CONT | FLAG_END, b"bc")).expect("end");
        assert_eq!(done.as_deref(), Some(&b"abc"[..]));
        drop(r);
        assert_eq!(budget.used(), 0, "all given back with the reassembler");
    }

    #[test]
    fn a_finished_message_gives_its_bytes_back() {
        use crate::budget::{MemoryBudget, MemoryLimits};
        let budget = MemoryBudget::new(MemoryLimits {
            total: 1 << 20,
            per_connection: 1 << 20,
            per_ip: 1 << 20,
        });
        let mut r = Reassembler::with_budget(1 << 20, budget.connection(None));
        for channel in 1..=4 {
            r.push(frame(channel, FLAG_START, &start_of(6, b"abc")))
                .expect("start");
        }
        assert!(budget.used() > 0);
        for channel in 1..=4 {
            let done = r.push(frame(channel, FLAG_CONT | FLAG_END, b"def"));
            assert_eq!(done.expect("end").as_deref(), Some(&b"abcdef"[..]));
        }
        assert_eq!(budget.used(), 0);
    }
}
