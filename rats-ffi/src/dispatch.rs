//! Callback delivery: rats' handlers (on connection tasks) copy what arrived into a bounded
//! queue; the client's own callback thread takes it out and calls the C function. User code
//! never runs on a runtime thread and never under one of our locks, so it may call back into
//! the API (send, stop, destroy) freely.
//!
//! The [`Gate`] makes `rats_stop` final: it closes the gate (later events are dropped) and
//! waits for a callback that is running on the callback thread, unless `rats_stop` is called
//! from that callback itself.

use std::collections::{HashMap, VecDeque};
use std::ffi::{CStr, CString, c_void};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::ThreadId;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use rats_engine::PeerId;

use crate::api::{
    rats_binary_cb, rats_connection_cb, rats_disconnect_cb, rats_json_cb, rats_message_cb,
    rats_string_cb, rats_topic_json_message_cb, rats_topic_message_cb, rats_topic_peer_joined_cb,
    rats_topic_peer_left_cb,
};
use crate::api::{
    rats_directory_progress_cb, rats_directory_request_cb, rats_file_progress_cb,
    rats_file_request_cb, rats_peer_discovered_cb,
};
use crate::engine::transfer::{Decision, TransferEv};

mod queue;

pub(crate) use queue::ARENA_MESSAGE;
pub(crate) use queue::EventQueue;
use queue::{CAPACITY, PushError, peer_key};

/// What the callback thread delivers. `epoch` is the run (start..stop) it belongs to.
pub(crate) enum Ev {
    /// A peer connected.
    Connected { epoch: u64, peer: String },
    /// A peer disconnected.
    Disconnected { epoch: u64, peer: String },
    /// A text message.
    Text {
        epoch: u64,
        peer: PeerId,
        text: String,
    },
    /// A binary message (one up to [`ARENA_MESSAGE`] bytes becomes part of a `BinaryRun`
    /// when queued).
    Binary {
        epoch: u64,
        peer: PeerId,
        data: Bytes,
    },
    /// `count` small binary messages in a row, recorded in the batch's arena from `start`
    /// (made by the queue, see `queue`).
    BinaryRun {
        epoch: u64,
        start: usize,
        count: usize,
    },
    /// A typed JSON message (`kind` is the JSON callback's own type for `rats_send_json`).
    Typed {
        epoch: u64,
        peer: String,
        kind: String,
        json: String,
    },
    /// A GossipSub topic message (`peer`: its origin).
    TopicMessage {
        epoch: u64,
        peer: String,
        topic: String,
        data: Vec<u8>,
    },
    /// A peer joined (`joined`) or left a GossipSub topic.
    TopicPeer {
        epoch: u64,
        peer: String,
        topic: String,
        joined: bool,
    },
    /// A peer offers a file or directory; the C side answers with accept/reject.
    TransferRequest {
        epoch: u64,
        peer: String,
        id: String,
        name: String,
        directory: bool,
    },
    /// Transfer progress (file progress callback; directory progress too for directories).
    TransferProgress { epoch: u64, ev: TransferEv },
    /// A discovery mechanism found a peer.
    Discovered {
        epoch: u64,
        host: String,
        port: u16,
        source: String,
    },
    /// The client is destroyed: the thread ends.
    Quit,
}

/// A C callback and its `user_data` (kept as an address: it is only handed back to C).
#[derive(Clone, Copy)]
pub(crate) struct Slot<F> {
    pub f: F,
    pub ud: usize,
}

/// The `user_data` pointer back from its address.
fn ud_ptr(ud: usize) -> *mut c_void {
    std::ptr::with_exposed_provenance_mut(ud)
}

/// The callbacks a client has; set at any time, read by the callback thread.
#[derive(Default)]
pub(crate) struct Callbacks {
    pub connection: Option<Slot<rats_connection_cb>>,
    pub string: Option<Slot<rats_string_cb>>,
    pub binary: Option<Slot<rats_binary_cb>>,
    pub json: Option<Slot<rats_json_cb>>,
    pub disconnect: Option<Slot<rats_disconnect_cb>>,
    /// `rats_on_message` handlers by message type.
    pub messages: HashMap<String, Slot<rats_message_cb>>,
    /// GossipSub callbacks by topic.
    pub topic_message: HashMap<String, Slot<rats_topic_message_cb>>,
    pub topic_json: HashMap<String, Slot<rats_topic_json_message_cb>>,
    pub topic_joined: HashMap<String, Slot<rats_topic_peer_joined_cb>>,
    pub topic_left: HashMap<String, Slot<rats_topic_peer_left_cb>>,
    /// File transfer callbacks.
    pub file_request: Option<Slot<rats_file_request_cb>>,
    pub directory_request: Option<Slot<rats_directory_request_cb>>,
    pub file_progress: Option<Slot<rats_file_progress_cb>>,
    pub directory_progress: Option<Slot<rats_directory_progress_cb>>,
    /// Discovered peers.
    pub peer_discovered: Option<Slot<rats_peer_discovered_cb>>,
}

/// Offers waiting for `rats_accept_*` / `rats_reject_*`: transfer id to (directory?, the
/// answer's sender).
pub(crate) type Pending = HashMap<String, (bool, tokio::sync::oneshot::Sender<Decision>)>;

/// Lets callbacks of the current run through; see the module docs.
#[derive(Default)]
pub(crate) struct Gate {
    /// The run whose events are delivered; 0 while stopped. Read before every callback.
    open: AtomicU64,
    /// The last run's epoch.
    last: AtomicU64,
    /// Whether the callback thread is delivering a batch.
    busy: Mutex<bool>,
    idle: Condvar,
    /// The callback thread, to know when `close` is called from a callback.
    thread: parking_lot::Mutex<Option<ThreadId>>,
}

impl Gate {
    /// Opens the gate for a new run; returns its epoch.
    pub fn open(&self) -> u64 {
        let epoch = self.last.fetch_add(1, Ordering::SeqCst) + 1;
        self.open.store(epoch, Ordering::SeqCst);
        epoch
    }

    /// Whether events of `epoch` are still wanted.
    pub fn is_open(&self, epoch: u64) -> bool {
        self.open.load(Ordering::SeqCst) == epoch
    }

    /// Closes the gate; then waits until no callback runs (unless called from a callback).
    pub fn close(&self) {
        self.open.store(0, Ordering::SeqCst);
        if *self.thread.lock() == Some(std::thread::current().id()) {
            return;
        }
        // A batch that began before the store above may be inside a callback; one that
        // begins after it sees the gate closed before its first callback.
        let mut busy = self.busy.lock();
        while *busy {
            self.idle.wait(&mut busy);
        }
    }

    /// The callback thread starts delivering a batch (each event is checked with `is_open`).
    fn begin(&self) {
        *self.busy.lock() = true;
    }

    fn end(&self) {
        *self.busy.lock() = false;
        self.idle.notify_all();
    }
}

/// What handlers and the callback thread share.
#[derive(Default)]
pub(crate) struct Shared {
    pub callbacks: Mutex<Callbacks>,
    /// Offers waiting for the application's answer.
    pub pending: Mutex<Pending>,
    pub gate: Gate,
}

/// The sending end, cloned into rats' handlers.
#[derive(Clone)]
pub(crate) struct Sink {
    queue: Arc<EventQueue>,
    shared: Arc<Shared>,
    epoch: u64,
}

impl Sink {
    /// A sink for the run `epoch`.
    pub fn new(queue: Arc<EventQueue>, shared: Arc<Shared>, epoch: u64) -> Self {
        Sink {
            queue,
            shared,
            epoch,
        }
    }

    /// The run this sink belongs to.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Queues `ev`. When the queue is full, waits (outside the runtime's scheduling, so the
    /// runtime keeps running) until there is room or the run is stopped.
    pub fn push(&self, ev: Ev) {
        let (mut ev, mut takes) = match self.queue.try_push(ev) {
            Ok(()) | Err(PushError::Closed) => return,
            Err(PushError::Full(ev, takes)) => (ev, takes),
        };
        let wait = move || {
            loop {
                if !self.shared.gate.is_open(self.epoch) {
                    return;
                }
                // Bounded, so a stop (gate closed) is seen soon even if nothing is taken.
                self.queue.wait_for_space(takes, Duration::from_millis(10));
                (ev, takes) = match self.queue.try_push(ev) {
                    Ok(()) | Err(PushError::Closed) => return,
                    Err(PushError::Full(ev, takes)) => (ev, takes),
                };
            }
        };
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi {
            tokio::task::block_in_place(wait);
        } else {
            wait();
        }
    }
}

/// Starts a client's callback thread, which takes events from `queue`.
pub(crate) fn spawn_thread(
    shared: Arc<Shared>,
    queue: Arc<EventQueue>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let s2 = shared.clone();
    let handle = std::thread::Builder::new()
        .name("rats-cb".into())
        .spawn(move || {
            run(&s2, &queue);
            queue.close();
        })?;
    *shared.gate.thread.lock() = Some(handle.thread().id());
    Ok(handle)
}

fn run(shared: &Shared, queue: &EventQueue) {
    let mut names = PeerNames::default();
    let mut batch = VecDeque::with_capacity(CAPACITY);
    let mut arena = Vec::new();
    loop {
        // Deliver what is queued in one batch: one gate round trip, not one per event.
        arena.clear();
        queue.take_all(&mut batch, &mut arena);
        shared.gate.begin();
        while let Some(ev) = batch.pop_front() {
            let Some(epoch) = ev.epoch() else {
                shared.gate.end();
                return;
            };
            // A panic here is ours (building C strings); it must not end the thread.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if let Ev::BinaryRun { start, count, .. } = ev {
                    deliver_run(shared, &mut names, &arena, epoch, start, count);
                } else if shared.gate.is_open(epoch) {
                    deliver(shared, &mut names, ev);
                }
            }));
        }
        shared.gate.end();
    }
}

impl Ev {
    /// The bytes of message data the event carries (what the queue bounds).
    fn heap_bytes(&self) -> usize {
        match self {
            Ev::Text { text, .. } => text.len(),
            Ev::Binary { data, .. } => data.len(),
            Ev::Typed { kind, json, .. } => kind.len() + json.len(),
            Ev::TopicMessage { topic, data, .. } => topic.len() + data.len(),
            _ => 0,
        }
    }

    /// The run the event belongs to (`None`: `Quit`).
    fn epoch(&self) -> Option<u64> {
        match self {
            Ev::Connected { epoch, .. }
            | Ev::Disconnected { epoch, .. }
            | Ev::Text { epoch, .. }
            | Ev::Binary { epoch, .. }
            | Ev::BinaryRun { epoch, .. }
            | Ev::Typed { epoch, .. }
            | Ev::TopicMessage { epoch, .. }
            | Ev::TopicPeer { epoch, .. }
            | Ev::TransferRequest { epoch, .. }
            | Ev::TransferProgress { epoch, .. }
            | Ev::Discovered { epoch, .. } => Some(*epoch),
            Ev::Quit => None,
        }
    }
}

/// Peer ids as the C strings callbacks receive, kept so that a busy peer's id is not
/// hex-encoded and allocated for every message.
#[derive(Default)]
struct PeerNames {
    names: HashMap<[u8; 32], Rc<CStr>>,
    /// The last peer asked for (most messages come from the peer of the one before).
    last: Option<([u8; 32], Rc<CStr>)>,
}

impl PeerNames {
    /// Peers remembered at most; the cache starts over past this.
    const MAX: usize = 1024;

    /// The C string of a peer id given as its 32 raw bytes (lower-case hex, as rats prints
    /// peer ids).
    fn get(&mut self, peer: &[u8; 32]) -> Rc<CStr> {
        if let Some((p, name)) = &self.last
            && p == peer
        {
            return name.clone();
        }
        if self.names.len() >= Self::MAX && !self.names.contains_key(peer) {
            self.names.clear();
        }
        let name = self
            .names
            .entry(*peer)
            .or_insert_with(|| cstr(&hex(peer)).into())
            .clone();
        self.last = Some((*peer, name.clone()));
        name
    }
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A C string for a callback argument (cut at an inner NUL, as C reads it).
fn cstr(s: &str) -> CString {
    let bytes = s.as_bytes();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).unwrap_or_default()
}

fn deliver(shared: &Shared, names: &mut PeerNames, ev: Ev) {
    // Copy the callback out, then call it with no lock held.
    match ev {
        Ev::Connected { peer, .. } => {
            let slot = shared.callbacks.lock().connection;
            if let Some(Slot { f: Some(f), ud }) = slot {
                let p = cstr(&peer);
                // SAFETY: a C function of the registered type, called with its own
                // user_data and a NUL-terminated string that outlives the call.
                unsafe { f(ud_ptr(ud), p.as_ptr()) };
            }
        }
        Ev::Disconnected { peer, .. } => {
            let slot = shared.callbacks.lock().disconnect;
            if let Some(Slot { f: Some(f), ud }) = slot {
                let p = cstr(&peer);
                // SAFETY: as above.
                unsafe { f(ud_ptr(ud), p.as_ptr()) };
            }
        }
        Ev::Text { peer, text, .. } => {
            let slot = shared.callbacks.lock().string;
            if let Some(Slot { f: Some(f), ud }) = slot {
                let (p, t) = (names.get(peer_key(&peer)), cstr(&text));
                // SAFETY: as above, two strings.
                unsafe { f(ud_ptr(ud), p.as_ptr(), t.as_ptr()) };
            }
        }
        Ev::Binary { peer, data, .. } => {
            let slot = shared.callbacks.lock().binary;
            if let Some(Slot { f: Some(f), ud }) = slot {
                let p = names.get(peer_key(&peer));
                // SAFETY: as above; `data` is valid for data.len() bytes during the call.
                unsafe { f(ud_ptr(ud), p.as_ptr(), data.as_ptr().cast(), data.len()) };
            }
        }
        Ev::Typed {
            peer, kind, json, ..
        } => deliver_typed(shared, &peer, &kind, &json),
        Ev::TopicMessage {
            peer, topic, data, ..
        } => deliver_topic_message(shared, &peer, &topic, &data),
        Ev::TopicPeer {
            peer,
            topic,
            joined,
            ..
        } => {
            let slot = {
                let cbs = shared.callbacks.lock();
                if joined {
                    cbs.topic_joined.get(&topic).map(|s| (s.f, s.ud))
                } else {
                    cbs.topic_left.get(&topic).map(|s| (s.f, s.ud))
                }
            };
            if let Some((Some(f), ud)) = slot {
                let (p, t) = (cstr(&peer), cstr(&topic));
                // SAFETY: a C function of the registered type (joined and left callbacks
                // have the same signature), with its user_data and two NUL-terminated
                // strings that outlive the call.
                unsafe { f(ud_ptr(ud), p.as_ptr(), t.as_ptr()) };
            }
        }
        Ev::TransferRequest {
            peer,
            id,
            name,
            directory,
            ..
        } => {
            let (p, i, n) = (cstr(&peer), cstr(&id), cstr(&name));
            let slot = {
                let cbs = shared.callbacks.lock();
                if directory {
                    cbs.directory_request.map(|s| (s.f, s.ud))
                } else {
                    cbs.file_request.map(|s| (s.f, s.ud))
                }
            };
            if let Some((Some(f), ud)) = slot {
                // SAFETY: a C function of the registered type (file and directory request
                // callbacks have the same signature), with its user_data and NUL-terminated
                // strings that outlive the call. remote_path and the name are both the
                // offered name.
                unsafe { f(ud_ptr(ud), p.as_ptr(), i.as_ptr(), n.as_ptr(), n.as_ptr()) };
            } else {
                // The callback was removed meanwhile: the offer is refused.
                if let Some((_, tx)) = shared.pending.lock().remove(&id) {
                    let _ = tx.send(Decision::Reject("no request callback".into()));
                }
            }
        }
        Ev::TransferProgress { ev, .. } => deliver_progress(shared, ev),
        Ev::Discovered {
            host, port, source, ..
        } => {
            let slot = shared.callbacks.lock().peer_discovered;
            if let Some(Slot { f: Some(f), ud }) = slot {
                let (h, s) = (cstr(&host), cstr(&source));
                // SAFETY: a C function of the registered type, with its user_data and
                // NUL-terminated strings that outlive the call.
                unsafe {
                    f(
                        ud_ptr(ud),
                        h.as_ptr(),
                        std::ffi::c_int::from(port),
                        s.as_ptr(),
                    )
                };
            }
        }
        Ev::BinaryRun { .. } | Ev::Quit => {}
    }
}

/// Delivers a run of small binary messages (each only while the gate is open for `epoch`).
fn deliver_run(
    shared: &Shared,
    names: &mut PeerNames,
    arena: &[u8],
    epoch: u64,
    start: usize,
    count: usize,
) {
    for (peer, data) in queue::records(arena, start, count) {
        if !shared.gate.is_open(epoch) {
            return;
        }
        // Looked up per message: a callback may replace or remove the callback.
        let slot = shared.callbacks.lock().binary;
        if let Some(Slot { f: Some(f), ud }) = slot {
            let p = names.get(peer);
            // SAFETY: a C function of the registered type, called with its own user_data, a
            // NUL-terminated string and `data` valid for data.len() bytes during the call.
            unsafe { f(ud_ptr(ud), p.as_ptr(), data.as_ptr().cast(), data.len()) };
        }
    }
}

fn deliver_progress(shared: &Shared, ev: TransferEv) {
    let (file_cb, dir_cb) = {
        let cbs = shared.callbacks.lock();
        (cbs.file_progress, cbs.directory_progress)
    };
    let (i, st) = (cstr(&ev.id), cstr(ev.status));
    if let Some(Slot { f: Some(f), ud }) = file_cb {
        // SAFETY: a C function of the registered type, with its user_data and NUL-terminated
        // strings that outlive the call.
        unsafe { f(ud_ptr(ud), i.as_ptr(), ev.percent, st.as_ptr()) };
    }
    if let (Some(Slot { f: Some(f), ud }), Some((done, total, current))) = (dir_cb, ev.directory) {
        let cur = cstr(&current);
        let n = |v: usize| std::ffi::c_int::try_from(v).unwrap_or(std::ffi::c_int::MAX);
        // SAFETY: as above.
        unsafe { f(ud_ptr(ud), i.as_ptr(), n(done), n(total), cur.as_ptr()) };
    }
}

fn deliver_typed(shared: &Shared, peer: &str, kind: &str, json: &str) {
    let (json_cb, msg_cb) = {
        let cbs = shared.callbacks.lock();
        let json_cb = if kind == crate::client::JSON_KIND {
            cbs.json
        } else {
            None
        };
        (json_cb, cbs.messages.get(kind).copied())
    };
    let (p, j) = (cstr(peer), cstr(json));
    if let Some(Slot { f: Some(f), ud }) = json_cb {
        // SAFETY: a C function of the registered type, with its user_data and two
        // NUL-terminated strings that outlive the call.
        unsafe { f(ud_ptr(ud), p.as_ptr(), j.as_ptr()) };
    }
    if let Some(Slot { f: Some(f), ud }) = msg_cb {
        // SAFETY: as above.
        unsafe { f(ud_ptr(ud), p.as_ptr(), j.as_ptr()) };
    }
}

fn deliver_topic_message(shared: &Shared, peer: &str, topic: &str, data: &[u8]) {
    let (msg_cb, json_cb) = {
        let cbs = shared.callbacks.lock();
        (
            cbs.topic_message.get(topic).copied(),
            cbs.topic_json.get(topic).copied(),
        )
    };
    let (p, t) = (cstr(peer), cstr(topic));
    if let Some(Slot { f: Some(f), ud }) = msg_cb {
        let m = cstr(&String::from_utf8_lossy(data));
        // SAFETY: a C function of the registered type, with its user_data and three
        // NUL-terminated strings that outlive the call.
        unsafe { f(ud_ptr(ud), p.as_ptr(), t.as_ptr(), m.as_ptr()) };
    }
    if let Some(Slot { f: Some(f), ud }) = json_cb
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(data)
    {
        let j = cstr(&v.to_string());
        // SAFETY: as above.
        unsafe { f(ud_ptr(ud), p.as_ptr(), t.as_ptr(), j.as_ptr()) };
    }
}
