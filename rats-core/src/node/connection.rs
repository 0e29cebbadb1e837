//! One live connection: its send queue, activity stamps, and the reader and writer tasks.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;
use tracing::{debug, trace};

use crate::budget::PeerMemory;
use crate::encryption::{EncryptionError, SecureReader, SecureWriter};
use crate::event::DisconnectReason;
use crate::frame::{
    CONTROL_CHANNEL, FLAG_CONT, FLAG_END, FLAG_START, FRAME_HEADER_LEN, Frame, FrameCodec,
    FrameError, Reassembler, frame_len, put_whole,
};
use crate::identity::PeerId;
use crate::node::control::Control;
use crate::node::shared::NodeShared;
use crate::outbound::{CloseMode, OutboundQueue, Outgoing, Take};
use crate::service::Priority;

/// Bytes the writer takes from the queue per write call.
const WRITE_BUDGET: usize = 256 * 1024;
/// Forward requests one connection may carry per window, so a peer cannot make us a message
/// pump for NAT signalling.
const FORWARDS_PER_WINDOW: u32 = 32;
/// Signals one connection may deliver per window from one author (`from`): a peer forwarding
/// for many cannot let one of them use up the budget of the others.
const SIGNALS_PER_AUTHOR: u32 = 16;
/// Distinct authors counted per window; signals from more are dropped.
const SIGNAL_AUTHORS: usize = 16;
/// Signals one connection may deliver per window in all (authors are only claims).
const SIGNALS_PER_WINDOW: u32 = 48;
/// The signal budget's window, in coarse-clock milliseconds.
const SIGNAL_WINDOW_MS: u64 = 10_000;

/// The state of one connection shared by its tasks, the peer table and the sweeper.
pub(crate) struct Connection {
    pub(crate) id: u64,
    pub(crate) peer: PeerId,
    /// What this peer makes us hold (partial messages, messages queued for services).
    pub(crate) memory: Arc<PeerMemory>,
    pub(crate) queue: OutboundQueue,
    pub(crate) cancel: CancellationToken,
    pub(crate) last_recv: AtomicU64,
    pub(crate) last_send: AtomicU64,
    /// When the pending write started (0 = none).
    pub(crate) write_since: AtomicU64,
    /// When a write last completed (queued data moving out, not just pings queued).
    pub(crate) last_written: AtomicU64,
    /// When closing or retirement started (0 = live).
    pub(crate) closing_since: AtomicU64,
    /// Superseded by another connection to the same peer.
    pub(crate) retired: AtomicBool,
    pub(crate) rtt_us: AtomicU64,
    pub(crate) ping_nonce: AtomicU64,
    /// The peer already sent its exchange list (one per connection).
    pub(crate) exchange_seen: AtomicBool,
    /// Signal budgets of the current window.
    signals: Mutex<SignalBudget>,
    reason: Mutex<Option<DisconnectReason>>,
}

impl Connection {
    /// A connection to `peer` whose memory is charged to `ip` (`None` for relayed ones).
    pub(crate) fn new(id: u64, peer: PeerId, ip: Option<IpAddr>, shared: &NodeShared) -> Self {
        let now = shared.clock.now();
        Connection {
            id,
            peer,
            memory: shared.memory.connection(ip),
            queue: OutboundQueue::new(
                shared.config.send_queue_bytes,
                shared.config.max_message_size,
            ),
            cancel: shared.cancel.child_token(),
            last_recv: AtomicU64::new(now),
            last_send: AtomicU64::new(now),
            write_since: AtomicU64::new(0),
            last_written: AtomicU64::new(now),
            closing_since: AtomicU64::new(0),
            retired: AtomicBool::new(false),
            rtt_us: AtomicU64::new(0),
            ping_nonce: AtomicU64::new(0),
            exchange_seen: AtomicBool::new(false),
            signals: Mutex::new(SignalBudget {
                window_start: now,
                ..SignalBudget::default()
            }),
            reason: Mutex::new(None),
        }
    }

    /// Closes the connection; the first reason given is the one reported.
    pub(crate) fn close(&self, reason: DisconnectReason, mode: CloseMode, now: u64) {
        self.reason.lock().get_or_insert(reason);
        let _ = self
            .closing_since
            .compare_exchange(0, now, Ordering::AcqRel, Ordering::Relaxed);
        self.queue.close(mode);
        if mode == CloseMode::Abort {
            self.cancel.cancel();
        }
    }

    /// Queues a control message; false if the queue refused it (full or closed).
    pub(crate) fn try_send_control(&self, msg: &Control) -> bool {
        let bytes = msg.encode();
        self.queue
            .try_push(CONTROL_CHANNEL, Priority::Control, &Outgoing::slice(&bytes))
            .is_ok()
    }

    /// Takes one forward request (`from` = None) or one signal by `from` from the
    /// connection's budgets; false when spent.
    fn take_signal(&self, now: u64, from: Option<PeerId>) -> bool {
        let mut s = self.signals.lock();
        if now.saturating_sub(s.window_start) >= SIGNAL_WINDOW_MS {
            *s = SignalBudget {
                window_start: now,
                ..SignalBudget::default()
            };
        }
        match from {
            None => {
                s.forwards = s.forwards.saturating_add(1);
                s.forwards <= FORWARDS_PER_WINDOW
            }
            Some(author) => {
                if !s.per_author.contains_key(&author) && s.per_author.len() >= SIGNAL_AUTHORS {
                    return false;
                }
                s.signals = s.signals.saturating_add(1);
                if s.signals > SIGNALS_PER_WINDOW {
                    return false;
                }
                let n = s.per_author.entry(author).or_insert(0);
                *n = n.saturating_add(1);
                *n <= SIGNALS_PER_AUTHOR
            }
        }
    }

    /// Marks the connection as superseded; the sweeper closes it after a grace period so
    /// that frames the remote already sent on it are still read.
    pub(crate) fn retire(&self, now: u64) {
        self.retired.store(true, Ordering::Release);
        let _ = self
            .closing_since
            .compare_exchange(0, now, Ordering::AcqRel, Ordering::Relaxed);
    }

    fn reason(&self) -> Option<DisconnectReason> {
        self.reason.lock().clone()
    }

    /// Queues a control message (never blocked by data).
    pub(crate) fn send_control(&self, msg: &Control) {
        let bytes = msg.encode();
        let _ = self
            .queue
            .try_push(CONTROL_CHANNEL, Priority::Control, &Outgoing::slice(&bytes));
    }

    /// Last measured round-trip time.
    pub(crate) fn rtt(&self) -> Option<std::time::Duration> {
        match self.rtt_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(std::time::Duration::from_micros(us)),
        }
    }
}

/// Per-window counts of forward requests and of signals per author.
#[derive(Default)]
struct SignalBudget {
    window_start: u64,
    forwards: u32,
    signals: u32,
    per_author: std::collections::HashMap<PeerId, u32>,
}

/// Runs the writer: takes batches from the queue, encrypts and writes them.
pub(crate) async fn write_loop(
    shared: Arc<NodeShared>,
    conn: Arc<Connection>,
    mut writer: Box<dyn SecureWriter>,
) {
    loop {
        let take = tokio::select! {
            biased;
            _ = conn.cancel.cancelled() => return,
            t = conn.queue.take(WRITE_BUDGET) => t,
        };
        let parts = match take {
            Take::Data(parts) => parts,
            Take::Flushed => {
                let reason = conn.reason().unwrap_or(DisconnectReason::LocalRequest);
                let mut bye = BytesMut::new();
                put_whole(
                    &mut bye,
                    CONTROL_CHANNEL,
                    &Control::Goodbye(reason.to_string()).encode(),
                    &[],
                );
                let _ = tokio::select! {
                    _ = conn.cancel.cancelled() => return,
                    r = async { writer.write(&[&bye]).await?; writer.close().await } => r,
                };
                return;
            }
            Take::Aborted => return,
        };
        conn.write_since
            .store(shared.clock.now(), Ordering::Relaxed);
        let slices: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
        // A peer that stops reading must not pin this task: cancellation wins over the write.
        let result = tokio::select! {
            biased;
            _ = conn.cancel.cancelled() => return,
            r = writer.write(&slices) => r,
        };
        conn.write_since.store(0, Ordering::Relaxed);
        conn.last_send.store(shared.clock.now(), Ordering::Relaxed);
        conn.last_written
            .store(shared.clock.now(), Ordering::Relaxed);
        if let Err(e) = result {
            conn.close(io_reason(e), CloseMode::Abort, shared.clock.now());
            return;
        }
        if conn.queue.queued_bytes() == 0 {
            writer.release_buffers();
        }
    }
}

fn io_reason(e: EncryptionError) -> DisconnectReason {
    match e {
        EncryptionError::Decrypt(e) => DisconnectReason::ProtocolViolation(e.to_string()),
        other => DisconnectReason::Io(other.to_string()),
    }
}

/// Runs the reader until the connection ends; returns why it ended.
///
/// Each decrypted record is parsed where it lies (frames are handed on as slices of it); only
/// a frame that straddles two records is copied, and only that frame.
pub(crate) async fn read_loop(
    shared: &Arc<NodeShared>,
    conn: &Arc<Connection>,
    mut reader: Box<dyn SecureReader>,
) -> DisconnectReason {
    let mut carry = BytesMut::new();
    let mut streaming: Option<Streaming> = None;
    let mut reassembler =
        Reassembler::with_budget(shared.config.max_message_size, conn.memory.clone());
    let mut goodbye: Option<String> = None;
    loop {
        let mut record = BytesMut::new();
        let read = tokio::select! {
            biased;
            _ = conn.cancel.cancelled() => {
                return conn.reason().unwrap_or(DisconnectReason::LocalShutdown);
            }
            r = reader.read_into(&mut record) => r,
        };
        match read {
            Ok(true) => {}
            Ok(false) => {
                return conn
                    .reason()
                    .filter(|_| conn.queue.is_closed())
                    .unwrap_or(DisconnectReason::RemoteClosed(goodbye));
            }
            Err(e) => return conn.reason().unwrap_or_else(|| io_reason(e)),
        }
        conn.last_recv.store(shared.clock.now(), Ordering::Relaxed);
        loop {
            let mut state = ReadState {
                carry: &mut carry,
                streaming: &mut streaming,
                reassembler: &mut reassembler,
                goodbye: &mut goodbye,
            };
            if let Err(reason) = process_record(shared, conn, record, &mut state) {
                conn.close(reason.clone(), CloseMode::Abort, shared.clock.now());
                return reason;
            }
            // Records already buffered are handled without going back to the event loop.
            if !reader.has_buffered() {
                break;
            }
            record = BytesMut::new();
            match reader.read_into(&mut record).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return conn.reason().unwrap_or_else(|| io_reason(e)),
            }
        }
        if carry.is_empty() {
            // Idle point: keep no buffer for a quiet peer.
            carry = BytesMut::new();
        }
    }
}

/// A fragment frame whose payload is being fed to the reassembler as records arrive.
struct Streaming {
    channel: u16,
    /// Payload bytes of the frame still to come.
    remaining: usize,
    /// The frame carries the END flag.
    end: bool,
}

struct ReadState<'a> {
    /// The start of a frame that continues in the next record.
    carry: &'a mut BytesMut,
    /// Or: a fragment being streamed into the reassembler (no copy through `carry`).
    streaming: &'a mut Option<Streaming>,
    reassembler: &'a mut Reassembler,
    goodbye: &'a mut Option<String>,
}

fn process_record(
    shared: &Arc<NodeShared>,
    conn: &Arc<Connection>,
    mut record: BytesMut,
    st: &mut ReadState<'_>,
) -> Result<(), DisconnectReason> {
    let violation = |e: FrameError| DisconnectReason::ProtocolViolation(e.to_string());
    if let Some(mut sf) = st.streaming.take() {
        let take = sf.remaining.min(record.len());
        let piece = record.split_to(take).freeze();
        sf.remaining -= take;
        let flags = if sf.remaining == 0 && sf.end {
            FLAG_CONT | FLAG_END
        } else {
            FLAG_CONT
        };
        let frame = Frame {
            channel: sf.channel,
            flags,
            payload: piece,
        };
        if let Some(message) = st.reassembler.push(frame).map_err(violation)? {
            deliver(shared, conn, sf.channel, message)?;
        }
        if sf.remaining > 0 {
            *st.streaming = Some(sf);
            return Ok(());
        }
    }
    if !st.carry.is_empty() {
        if st.carry.len() < FRAME_HEADER_LEN {
            let take = (FRAME_HEADER_LEN - st.carry.len()).min(record.len());
            st.carry.extend_from_slice(&record.split_to(take));
            if st.carry.len() < FRAME_HEADER_LEN {
                return Ok(());
            }
        }
        let total = frame_len(st.carry).map_err(violation)?;
        let take = (total - st.carry.len()).min(record.len());
        st.carry.reserve(total - st.carry.len());
        st.carry.extend_from_slice(&record.split_to(take));
        if st.carry.len() < total {
            return Ok(());
        }
        dispatch(shared, conn, st.carry, st.reassembler, st.goodbye)?;
    }
    dispatch(shared, conn, &mut record, st.reassembler, st.goodbye)?;
    if record.is_empty() {
        return Ok(());
    }
    // A frame continues in the next record. A fragment of a service's message goes straight
    // into the reassembler piece by piece; anything else keeps its start (no copy yet).
    if record.len() >= FRAME_HEADER_LEN + 4 {
        let total = frame_len(&record).map_err(violation)?;
        let channel = u16::from_be_bytes([record[0], record[1]]);
        let flags = record[2];
        let fragment = matches!(flags, FLAG_START | FLAG_CONT) || flags == FLAG_CONT | FLAG_END;
        if fragment && channel != CONTROL_CHANNEL && shared.service(channel).is_some() {
            record.advance(FRAME_HEADER_LEN);
            let have = record.len();
            let frame = Frame {
                channel,
                flags: if flags == FLAG_START {
                    FLAG_START
                } else {
                    FLAG_CONT
                },
                payload: record.split().freeze(),
            };
            if let Some(message) = st.reassembler.push(frame).map_err(violation)? {
                deliver(shared, conn, channel, message)?;
            }
            *st.streaming = Some(Streaming {
                channel,
                remaining: total - FRAME_HEADER_LEN - have,
                end: flags & FLAG_END != 0,
            });
            return Ok(());
        }
    }
    *st.carry = record;
    Ok(())
}

/// Hands a complete message to the service on its channel.
fn deliver(
    shared: &Arc<NodeShared>,
    conn: &Arc<Connection>,
    channel: u16,
    message: bytes::Bytes,
) -> Result<(), DisconnectReason> {
    match shared.service(channel) {
        Some((s, bulk)) => deliver_to(s, bulk, conn, message),
        None => Ok(()),
    }
}

fn deliver_to(
    service: &Arc<dyn crate::service::Service>,
    bulk: bool,
    conn: &Arc<Connection>,
    message: bytes::Bytes,
) -> Result<(), DisconnectReason> {
    // A panicking service or application handler costs this peer its connection, never the
    // node a stuck peer entry.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if bulk {
            service.on_bulk_frame(&conn.peer, message)
        } else {
            service.on_frame(&conn.peer, message)
        }
    }));
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(DisconnectReason::ProtocolViolation(format!(
            "service {}: {e}",
            service.descriptor().name
        ))),
        Err(_) => Err(DisconnectReason::ProtocolViolation(format!(
            "service {} panicked handling a message",
            service.descriptor().name
        ))),
    }
}

fn dispatch(
    shared: &Arc<NodeShared>,
    conn: &Arc<Connection>,
    plain: &mut BytesMut,
    reassembler: &mut Reassembler,
    goodbye: &mut Option<String>,
) -> Result<(), DisconnectReason> {
    let violation = |e: FrameError| DisconnectReason::ProtocolViolation(e.to_string());
    while let Some(frame) = FrameCodec.decode(plain).map_err(violation)? {
        let channel = frame.channel;
        let service = if channel == CONTROL_CHANNEL {
            if frame.flags != 0 {
                return Err(DisconnectReason::ProtocolViolation(
                    "fragmented control message".into(),
                ));
            }
            None
        } else {
            match shared.service(channel) {
                Some(s) => Some(s),
                None => {
                    trace!(peer = %conn.peer.short(), channel, "frame for unknown channel dropped");
                    continue;
                }
            }
        };
        let Some(message) = reassembler.push(frame).map_err(violation)? else {
            continue;
        };
        match service {
            Some((s, bulk)) => deliver_to(s, bulk, conn, message)?,
            None => {
                let control = Control::decode(&message)
                    .map_err(|e| DisconnectReason::ProtocolViolation(e.to_string()))?;
                handle_control(shared, conn, control, goodbye);
            }
        }
    }
    Ok(())
}

fn handle_control(
    shared: &Arc<NodeShared>,
    conn: &Arc<Connection>,
    control: Control,
    goodbye: &mut Option<String>,
) {
    match control {
        Control::Ping(n) => conn.send_control(&Control::Pong(n)),
        Control::Pong(n) => {
            if n != 0 && conn.ping_nonce.swap(0, Ordering::AcqRel) == n {
                let rtt = shared.clock.micros().saturating_sub(n).max(1);
                conn.rtt_us.store(rtt, Ordering::Relaxed);
            }
        }
        Control::Exchange(peers) => {
            if conn.exchange_seen.swap(true, Ordering::AcqRel) {
                debug!(peer = %conn.peer.short(), "ignoring a second exchange list");
            } else {
                shared.on_peer_exchange(conn.peer, peers);
            }
        }
        Control::Goodbye(reason) => {
            debug!(peer = %conn.peer.short(), %reason, "peer said goodbye");
            *goodbye = Some(reason);
        }
        Control::Forward { to, name, payload } => {
            if !conn.take_signal(shared.clock.now(), None) {
                debug!(peer = %conn.peer.short(), "signal budget spent; forward dropped");
                return;
            }
            match shared.peers.get(&to) {
                Some(e) if to != conn.peer => e.conn.send_control(&Control::Signal {
                    from: conn.peer,
                    name,
                    payload,
                }),
                _ => trace!(peer = %conn.peer.short(), "forward to a peer we do not have"),
            }
        }
        Control::Signal {
            from,
            name,
            payload,
        } => {
            if !conn.take_signal(shared.clock.now(), Some(from)) {
                debug!(peer = %conn.peer.short(), "signal budget spent; signal dropped");
                return;
            }
            match shared.nat.iter().find(|n| n.name() == name) {
                Some(n) => n.on_signal(crate::nat::Signal {
                    from,
                    via: conn.peer,
                    payload,
                }),
                None => trace!(%name, "signal for a NAT strategy we do not run"),
            }
        }
    }
}
