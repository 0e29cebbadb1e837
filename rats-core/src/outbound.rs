//! The per-connection send queue: bounded in bytes, three priority classes, no allocation per
//! small message (small frames are encoded straight into a shared buffer), large payloads kept
//! by reference and cut into fragments only when the writer takes them.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::frame::{
    FLAG_CONT, FLAG_END, FLAG_START, FRAME_HEADER_LEN, MAX_FRAME_PAYLOAD, put_header, put_whole,
};

/// Scheduling class of a channel's frames. The writer always drains `Control` first, then
/// `Normal`, then `Bulk`, so chat and control never wait behind file data for longer than one
/// write batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Node and protocol control messages.
    Control = 0,
    /// Application messages.
    Normal = 1,
    /// Bulk data (file chunks).
    Bulk = 2,
}

/// Messages up to this size are copied into the shared encode buffer; larger ones are kept
/// by reference.
const COPY_THRESHOLD: usize = 16 * 1024;
/// Most bytes of control frames queued at once: a peer that floods pings while reading slowly
/// gets its pongs dropped instead of growing our memory.
const CONTROL_LIMIT: usize = 256 * 1024;
/// An encode buffer is closed for appends once it reaches this size.
const SEGMENT_BYTES: usize = 64 * 1024;

/// The payload of an outgoing message: `head` then `body`, sent as one message.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// A short header (service-specific), copied.
    pub head: &'a [u8],
    /// The body.
    pub body: Body<'a>,
}

/// A message body: borrowed (copied when queued) or shared (kept by reference when large).
#[derive(Debug, Clone)]
pub enum Body<'a> {
    /// Borrowed bytes.
    Slice(&'a [u8]),
    /// Shared bytes.
    Shared(Bytes),
}

impl Body<'_> {
    fn as_slice(&self) -> &[u8] {
        match self {
            Body::Slice(s) => s,
            Body::Shared(b) => b,
        }
    }
}

impl<'a> Outgoing<'a> {
    /// A message made of one borrowed slice.
    pub fn slice(bytes: &'a [u8]) -> Self {
        Outgoing {
            head: &[],
            body: Body::Slice(bytes),
        }
    }

    /// A message made of shared bytes.
    pub fn shared(bytes: Bytes) -> Self {
        Outgoing {
            head: &[],
            body: Body::Shared(bytes),
        }
    }

    /// Total length.
    pub fn len(&self) -> usize {
        self.head.len() + self.body.as_slice().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a message could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The queue is full; retry later (the async send waits for room).
    #[error("send queue full")]
    Full,
    /// The connection is closing.
    #[error("connection closed")]
    Closed,
    /// Larger than the maximum message size.
    #[error("message larger than the maximum message size")]
    TooLarge,
}

enum Segment {
    Encoded(BytesMut),
    /// A large message: `head` then `body`, neither copied; `sent` bytes of it already taken.
    Large {
        channel: u16,
        head: Bytes,
        body: Bytes,
        sent: usize,
    },
}

/// How the queue is being closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseMode {
    /// Send what is queued, then close.
    Graceful,
    /// Drop what is queued.
    Abort,
}

struct State {
    classes: [VecDeque<Segment>; 3],
    queued: usize,
    /// Bytes of class 0 (control), also counted in `queued`.
    control_queued: usize,
    closed: Option<CloseMode>,
    writer_parked: bool,
    space_waiters: bool,
}

/// What the writer takes in one go.
pub enum Take {
    /// Bytes to send.
    Data(Vec<Bytes>),
    /// Closed gracefully and fully flushed.
    Flushed,
    /// Aborted.
    Aborted,
}

/// The send queue of one connection.
pub struct OutboundQueue {
    state: Mutex<State>,
    writer_wake: Notify,
    space: Notify,
    limit: usize,
    max_message: usize,
}

impl OutboundQueue {
    /// A queue holding at most `limit` bytes (one larger message may pass an empty queue).
    pub fn new(limit: usize, max_message: usize) -> Self {
        OutboundQueue {
            state: Mutex::new(State {
                classes: [VecDeque::new(), VecDeque::new(), VecDeque::new()],
                queued: 0,
                control_queued: 0,
                closed: None,
                writer_parked: false,
                space_waiters: false,
            }),
            writer_wake: Notify::new(),
            space: Notify::new(),
            limit,
            max_message,
        }
    }

    /// Bytes waiting.
    pub fn queued_bytes(&self) -> usize {
        self.state.lock().queued
    }

    /// How full the queue is: queued bytes over the limit (may exceed 1 briefly).
    pub fn load(&self) -> f32 {
        self.queued_bytes() as f32 / self.limit.max(1) as f32
    }

    /// Queues a message without waiting.
    pub fn try_push(
        &self,
        channel: u16,
        priority: Priority,
        msg: &Outgoing<'_>,
    ) -> Result<(), PushError> {
        let len = msg.len();
        if len > self.max_message {
            return Err(PushError::TooLarge);
        }
        let wake = {
            let mut st = self.state.lock();
            if st.closed.is_some() {
                return Err(PushError::Closed);
            }
            // Control frames are tiny and must get through even when data fills the queue, but
            // they have a bound of their own.
            if priority == Priority::Control {
                if st.control_queued + len > CONTROL_LIMIT {
                    return Err(PushError::Full);
                }
                st.control_queued += len + FRAME_HEADER_LEN;
            } else if st.queued > 0 && st.queued + len > self.limit {
                st.space_waiters = true;
                return Err(PushError::Full);
            }
            let class = &mut st.classes[priority as usize];
            if len <= COPY_THRESHOLD {
                let append =
                    matches!(class.back(), Some(Segment::Encoded(b)) if b.len() < SEGMENT_BYTES);
                if !append {
                    class.push_back(Segment::Encoded(BytesMut::with_capacity(
                        (len + 7).clamp(512, SEGMENT_BYTES),
                    )));
                }
                if let Some(Segment::Encoded(buf)) = class.back_mut() {
                    put_whole(buf, channel, msg.head, msg.body.as_slice());
                }
            } else {
                let body = match &msg.body {
                    Body::Shared(b) => b.clone(),
                    Body::Slice(s) => Bytes::copy_from_slice(s),
                };
                class.push_back(Segment::Large {
                    channel,
                    head: Bytes::copy_from_slice(msg.head),
                    body,
                    sent: 0,
                });
            }
            st.queued += if len <= COPY_THRESHOLD {
                len + FRAME_HEADER_LEN
            } else {
                len
            };
            std::mem::take(&mut st.writer_parked)
        };
        if wake {
            self.writer_wake.notify_one();
        }
        Ok(())
    }

    /// Queues a message, waiting for room while the queue is full.
    pub async fn push(
        &self,
        channel: u16,
        priority: Priority,
        msg: &Outgoing<'_>,
    ) -> Result<(), PushError> {
        // Fast path without registering as a waiter (that takes the Notify's lock).
        match self.try_push(channel, priority, msg) {
            Err(PushError::Full) => {}
            other => return other,
        }
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.try_push(channel, priority, msg) {
                Err(PushError::Full) => notified.await,
                other => return other,
            }
        }
    }

    /// Starts closing. Graceful lets the writer flush first.
    pub fn close(&self, mode: CloseMode) {
        {
            let mut st = self.state.lock();
            match (st.closed, mode) {
                (Some(CloseMode::Abort), _) | (Some(CloseMode::Graceful), CloseMode::Graceful) => {
                    return;
                }
                _ => st.closed = Some(mode),
            }
            if mode == CloseMode::Abort {
                st.classes.iter_mut().for_each(VecDeque::clear);
                st.queued = 0;
            }
        }
        self.writer_wake.notify_one();
        self.space.notify_waiters();
    }

    /// True once `close` was called.
    pub fn is_closed(&self) -> bool {
        self.state.lock().closed.is_some()
    }

    /// Takes up to about `budget` bytes, highest priority first, waiting while empty.
    pub async fn take(&self, budget: usize) -> Take {
        loop {
            {
                let mut st = self.state.lock();
                if st.closed == Some(CloseMode::Abort) {
                    return Take::Aborted;
                }
                let mut out = Vec::new();
                let mut taken = 0usize;
                for class in 0..3 {
                    while taken < budget {
                        let Some(front) = st.classes[class].front_mut() else {
                            break;
                        };
                        match front {
                            Segment::Encoded(_) => {
                                if let Some(Segment::Encoded(buf)) = st.classes[class].pop_front() {
                                    taken += buf.len();
                                    out.push(buf.freeze());
                                }
                            }
                            Segment::Large {
                                channel,
                                head,
                                body,
                                sent,
                            } => {
                                let before = *sent;
                                let done = next_fragment(*channel, head, body, sent, &mut out);
                                // Count the data only: that is what `try_push` added.
                                taken += *sent - before;
                                if done {
                                    st.classes[class].pop_front();
                                }
                            }
                        }
                    }
                }
                if !out.is_empty() {
                    if st.classes[0].is_empty() {
                        st.control_queued = 0;
                    }
                    st.queued = st.queued.saturating_sub(taken);
                    if st.classes.iter().all(VecDeque::is_empty) {
                        st.queued = 0;
                    }
                    let wake_senders = std::mem::take(&mut st.space_waiters);
                    drop(st);
                    if wake_senders {
                        self.space.notify_waiters();
                    }
                    return Take::Data(out);
                }
                if st.closed == Some(CloseMode::Graceful) {
                    return Take::Flushed;
                }
                st.writer_parked = true;
            }
            self.writer_wake.notified().await;
        }
    }
}

/// Cuts the next fragment of the large message `head ++ body` into `out` (frame header, then
/// slices of the message, no copies). Returns whether it was the last fragment.
fn next_fragment(
    channel: u16,
    head: &Bytes,
    body: &Bytes,
    sent: &mut usize,
    out: &mut Vec<Bytes>,
) -> bool {
    let total = head.len() + body.len();
    let mut header = BytesMut::with_capacity(11);
    let chunk = MAX_FRAME_PAYLOAD.min(total - *sent);
    let last = *sent + chunk == total;
    if *sent == 0 && last {
        put_header(&mut header, channel, 0, total);
    } else if *sent == 0 {
        put_header(&mut header, channel, FLAG_START, 4 + chunk);
        header.extend_from_slice(&(total as u32).to_be_bytes());
    } else {
        let flags = if last {
            FLAG_CONT | FLAG_END
        } else {
            FLAG_CONT
        };
        put_header(&mut header, channel, flags, chunk);
    }
    out.push(header.freeze());
    // The range [sent, sent + chunk) of head ++ body.
    let (start, end) = (*sent, *sent + chunk);
    if start < head.len() {
        out.push(head.slice(start..end.min(head.len())));
    }
    if end > head.len() {
        out.push(body.slice(start.max(head.len()) - head.len()..end - head.len()));
    }
    *sent = end;
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FrameCodec, Reassembler};
    use tokio_util::codec::Decoder;

    fn drain(q: &OutboundQueue) -> BytesMut {
        let mut all = BytesMut::new();
        q.close(CloseMode::Graceful);
        loop {
            match futures::executor::block_on(q.take(1 << 20)) {
                Take::Data(parts) => parts.iter().for_each(|p| all.extend_from_slice(p)),
                _ => return all,
            }
        }
    }

    #[test]
    fn small_and_large_messages_round_trip_in_priority_order() {
        let q = OutboundQueue::new(1 << 20, 1 << 22);
        let big: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        q.try_push(
            5,
            Priority::Bulk,
            &Outgoing::shared(Bytes::from(big.clone())),
        )
        .expect("big");
        q.try_push(
            1,
            Priority::Normal,
            &Outgoing {
                head: b"h",
                body: Body::Slice(b"ello"),
            },
        )
        .expect("small");
        q.try_push(0, Priority::Control, &Outgoing::slice(b"ctl"))
            .expect("ctl");
        let mut wire = drain(&q);
        let mut r = Reassembler::new(1 << 22);
        let mut got = Vec::new();
        while let Some(f) = FrameCodec.decode(&mut wire).expect("decode") {
            let ch = f.channel;
            if let Some(m) = r.push(f).expect("reassemble") {
                got.push((ch, m));
            }
        }
        assert_eq!(got.len(), 3);
        assert_eq!((got[0].0, &got[0].1[..]), (0, &b"ctl"[..]));
        assert_eq!((got[1].0, &got[1].1[..]), (1, &b"hello"[..]));
        assert_eq!(got[2].1.len(), big.len());
        assert_eq!(&got[2].1[..], &big[..]);
    }

    #[test]
    fn full_queue_pushes_back_and_control_still_passes() {
        let q = OutboundQueue::new(100_000, 1 << 20);
        let chunk = vec![0u8; 60_000];
        q.try_push(1, Priority::Normal, &Outgoing::slice(&chunk))
            .expect("first");
        assert_eq!(
            q.try_push(1, Priority::Normal, &Outgoing::slice(&chunk)),
            Err(PushError::Full)
        );
        q.try_push(0, Priority::Control, &Outgoing::slice(b"ping"))
            .expect("control");
        // The control class has a bound of its own.
        let pong = [0u8; 9];
        let pushed = (0..100_000)
            .take_while(|_| {
                q.try_push(0, Priority::Control, &Outgoing::slice(&pong))
                    .is_ok()
            })
            .count();
        assert!(pushed < 20_000, "control queue bounded, took {pushed}");
        assert_eq!(
            q.try_push(1, Priority::Normal, &Outgoing::slice(&vec![0u8; 2 << 20])),
            Err(PushError::TooLarge)
        );
        q.close(CloseMode::Abort);
        assert_eq!(
            q.try_push(1, Priority::Normal, &Outgoing::slice(b"x")),
            Err(PushError::Closed)
        );
    }
}
