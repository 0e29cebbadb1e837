//! Callback delivery: rats' handlers (on connection tasks) copy what arrived into a bounded
//! queue; the client's own callback thread takes it out and calls the C function. User code
//! never runs on a runtime thread and never under one of our locks, so it may call back into
//! the API (send, stop, destroy) freely.
//!
//! The [`Gate`] makes `rats_stop` final: it closes the gate (later events are dropped) and
//! waits for a callback that is running on the callback thread, unless `rats_stop` is called
//! from that callback itself.

use std::collections::HashMap;
use std::ffi::{CString, c_void};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::thread::ThreadId;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::api::{
    rats_binary_cb, rats_connection_cb, rats_disconnect_cb, rats_json_cb, rats_message_cb,
    rats_string_cb,
};

/// Events waiting for the callback thread at most (then the connection that delivers more
/// waits: backpressure to that peer).
const QUEUE: usize = 1024;

/// What the callback thread delivers. `epoch` is the run (start..stop) it belongs to.
pub(crate) enum Ev {
    /// A peer connected.
    Connected { epoch: u64, peer: String },
    /// A peer disconnected.
    Disconnected { epoch: u64, peer: String },
    /// A text message.
    Text {
        epoch: u64,
        peer: String,
        text: String,
    },
    /// A binary message.
    Binary {
        epoch: u64,
        peer: String,
        data: Vec<u8>,
    },
    /// A typed JSON message (`kind` is the JSON callback's own type for `rats_send_json`).
    Typed {
        epoch: u64,
        peer: String,
        kind: String,
        json: String,
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
}

#[derive(Default)]
struct GateState {
    epoch: u64,
    active: bool,
    busy: bool,
}

/// Lets callbacks of the current run through; see the module docs.
#[derive(Default)]
pub(crate) struct Gate {
    state: Mutex<GateState>,
    idle: Condvar,
    /// The callback thread, to know when `close` is called from a callback.
    thread: parking_lot::Mutex<Option<ThreadId>>,
}

impl Gate {
    /// Opens the gate for a new run; returns its epoch.
    pub fn open(&self) -> u64 {
        let mut s = self.state.lock();
        s.epoch += 1;
        s.active = true;
        s.epoch
    }

    /// Whether events of `epoch` are still wanted.
    pub fn is_open(&self, epoch: u64) -> bool {
        let s = self.state.lock();
        s.active && s.epoch == epoch
    }

    /// Closes the gate; then waits until no callback runs (unless called from a callback).
    pub fn close(&self) {
        let mut s = self.state.lock();
        s.active = false;
        if *self.thread.lock() == Some(std::thread::current().id()) {
            return;
        }
        while s.busy {
            self.idle.wait(&mut s);
        }
    }

    fn begin(&self, epoch: u64) -> bool {
        let mut s = self.state.lock();
        if s.active && s.epoch == epoch {
            s.busy = true;
            true
        } else {
            false
        }
    }

    fn end(&self) {
        self.state.lock().busy = false;
        self.idle.notify_all();
    }
}

/// What handlers and the callback thread share.
#[derive(Default)]
pub(crate) struct Shared {
    pub callbacks: Mutex<Callbacks>,
    pub gate: Gate,
}

/// The sending end, cloned into rats' handlers.
#[derive(Clone)]
pub(crate) struct Sink {
    tx: SyncSender<Ev>,
    shared: Arc<Shared>,
    epoch: u64,
}

impl Sink {
    /// A sink for the run `epoch`.
    pub fn new(tx: SyncSender<Ev>, shared: Arc<Shared>, epoch: u64) -> Self {
        Sink { tx, shared, epoch }
    }

    /// The run this sink belongs to.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Queues `ev`. When the queue is full, waits (outside the runtime's scheduling, so the
    /// runtime keeps running) until there is room or the run is stopped.
    pub fn push(&self, ev: Ev) {
        let mut ev = match self.tx.try_send(ev) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => return,
            Err(TrySendError::Full(ev)) => ev,
        };
        let wait = move || {
            loop {
                if !self.shared.gate.is_open(self.epoch) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
                ev = match self.tx.try_send(ev) {
                    Ok(()) | Err(TrySendError::Disconnected(_)) => return,
                    Err(TrySendError::Full(ev)) => ev,
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

/// The queue between handlers and the callback thread.
pub(crate) fn queue() -> (SyncSender<Ev>, Receiver<Ev>) {
    std::sync::mpsc::sync_channel(QUEUE)
}

/// Starts a client's callback thread.
pub(crate) fn spawn_thread(
    shared: Arc<Shared>,
    rx: Receiver<Ev>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let s2 = shared.clone();
    let handle = std::thread::Builder::new()
        .name("rats-cb".into())
        .spawn(move || run(&s2, rx))?;
    *shared.gate.thread.lock() = Some(handle.thread().id());
    Ok(handle)
}

fn run(shared: &Shared, rx: Receiver<Ev>) {
    while let Ok(ev) = rx.recv() {
        if matches!(ev, Ev::Quit) {
            return;
        }
        let epoch = match &ev {
            Ev::Connected { epoch, .. }
            | Ev::Disconnected { epoch, .. }
            | Ev::Text { epoch, .. }
            | Ev::Binary { epoch, .. }
            | Ev::Typed { epoch, .. } => *epoch,
            Ev::Quit => return,
        };
        if !shared.gate.begin(epoch) {
            continue;
        }
        // A panic here is ours (building C strings); it must not end the thread.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| deliver(shared, ev)));
        shared.gate.end();
    }
}

/// A C string for a callback argument (cut at an inner NUL, as C reads it).
fn cstr(s: &str) -> CString {
    let bytes = s.as_bytes();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).unwrap_or_default()
}

fn deliver(shared: &Shared, ev: Ev) {
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
                let (p, t) = (cstr(&peer), cstr(&text));
                // SAFETY: as above, two strings.
                unsafe { f(ud_ptr(ud), p.as_ptr(), t.as_ptr()) };
            }
        }
        Ev::Binary { peer, data, .. } => {
            let slot = shared.callbacks.lock().binary;
            if let Some(Slot { f: Some(f), ud }) = slot {
                let p = cstr(&peer);
                // SAFETY: as above; `data` is valid for data.len() bytes during the call.
                unsafe { f(ud_ptr(ud), p.as_ptr(), data.as_ptr().cast(), data.len()) };
            }
        }
        Ev::Typed {
            peer, kind, json, ..
        } => deliver_typed(shared, &peer, &kind, &json),
        Ev::Quit => {}
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
