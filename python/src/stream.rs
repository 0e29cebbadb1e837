//! Streams: what rats delivers (messages, topic messages, events, transfer offers, log
//! records) waits in a bounded queue until Python takes it, many items per call.
//!
//! A producer (a rats handler on a runtime thread) never takes the GIL: it queues the item
//! and, if the consumer is parked in `wait()`, hands the wake-up to the completer thread.
//! The consumer (the Python package's async iterators) takes up to `max` items at once with
//! `take(max)`, and awaits `wait()` only when the queue is empty: one loop wake-up per batch,
//! not per message.
//!
//! Lossless streams (messages) hold the producer when full (backpressure to the peer:
//! nothing is dropped); lossy ones (events, logs) drop the newest item and count it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use rats::PeerId;

use crate::runtime::{self, Completion};

/// One delivered thing.
pub(crate) enum Item {
    /// A binary message.
    Bytes(PeerId, Bytes),
    /// A text message.
    Text(PeerId, String),
    /// A typed JSON message: its type and JSON text.
    Json(PeerId, String, String),
    /// A GossipSub message: origin, topic, data.
    Topic(PeerId, String, Bytes),
    /// Anything else, as JSON text (events, transfer offers, validation requests).
    Record(String),
    /// A log record: level (Python's numbers), logger name, message.
    Log(u8, String, String),
}

impl Item {
    fn bytes(&self) -> usize {
        match self {
            Item::Bytes(_, b) => b.len(),
            Item::Text(_, t) => t.len(),
            Item::Json(_, k, j) => k.len() + j.len(),
            Item::Topic(_, t, b) => t.len() + b.len(),
            Item::Record(r) => r.len(),
            Item::Log(_, t, m) => t.len() + m.len(),
        }
    }
}

struct State {
    items: VecDeque<Item>,
    bytes: usize,
    closed: bool,
    /// Items dropped by a lossy stream since the consumer last looked.
    dropped: u64,
    /// The consumer awaits this future (on that loop).
    waiter: Option<(PyObject, PyObject)>,
}

/// The queue shared by a stream's producers and its Python object.
pub(crate) struct Queue {
    state: Mutex<State>,
    space: Condvar,
    capacity: usize,
    max_bytes: usize,
    lossless: bool,
}

/// Why an item was not queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The stream is closed.
    Closed,
    /// A lossy stream is full: dropped (and counted).
    Dropped,
}

impl Queue {
    /// A queue of at most `capacity` items and about `max_bytes` bytes (one item passes an
    /// empty queue whatever its size).
    pub fn new(capacity: usize, max_bytes: usize, lossless: bool) -> Arc<Self> {
        Arc::new(Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                bytes: 0,
                closed: false,
                dropped: 0,
                waiter: None,
            }),
            space: Condvar::new(),
            capacity: capacity.max(1),
            max_bytes,
            lossless,
        })
    }

    fn full(&self, s: &State, size: usize) -> bool {
        s.items.len() >= self.capacity || (s.bytes > 0 && s.bytes + size > self.max_bytes)
    }

    /// Queues `item`. A lossless stream waits while full (on a runtime thread, without
    /// holding up the runtime's other tasks), until there is room or the stream is closed.
    pub fn push(&self, item: Item) -> Result<(), Refused> {
        let size = item.bytes();
        let mut s = self.state.lock();
        if s.closed {
            return Err(Refused::Closed);
        }
        if self.full(&s, size) {
            if !self.lossless {
                s.dropped += 1;
                return Err(Refused::Dropped);
            }
            drop(s);
            s = self.wait_for_room(size);
            if s.closed {
                return Err(Refused::Closed);
            }
        }
        s.bytes += size;
        s.items.push_back(item);
        let waiter = s.waiter.take();
        drop(s);
        if let Some((loop_, fut)) = waiter {
            runtime::complete(Completion {
                loop_,
                fut,
                outcome: Box::new(|py| Ok(py.None())),
            });
        }
        Ok(())
    }

    fn wait_for_room(&self, size: usize) -> parking_lot::MutexGuard<'_, State> {
        let wait = || {
            let mut s = self.state.lock();
            while !s.closed && self.full(&s, size) {
                // Bounded: the loop re-checks `closed` even if no one signals.
                self.space.wait_for(&mut s, Duration::from_millis(50));
            }
            s
        };
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi {
            tokio::task::block_in_place(wait)
        } else {
            wait()
        }
    }

    /// Closes the stream: producers stop waiting, later items are refused; what is queued
    /// can still be taken.
    pub fn close(&self) {
        let waiter = {
            let mut s = self.state.lock();
            s.closed = true;
            self.space.notify_all();
            s.waiter.take()
        };
        if let Some((loop_, fut)) = waiter {
            runtime::complete(Completion {
                loop_,
                fut,
                outcome: Box::new(|py| Ok(py.None())),
            });
        }
    }

    /// Whether the stream is closed.
    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }
}

/// A stream's Python side (`rats._rats.NativeStream`): the package wraps it in an async
/// iterator.
#[pyclass(module = "rats._rats", name = "NativeStream")]
pub(crate) struct NativeStream {
    pub(crate) queue: Arc<Queue>,
    /// Peer id strings already made (most items come from a few peers).
    names: Mutex<HashMap<PeerId, Py<PyString>>>,
    /// Run when the stream is closed (removes the rats handler feeding it).
    on_close: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl NativeStream {
    /// A stream over `queue`; `on_close` runs once, when it is closed or dropped.
    pub fn new(queue: Arc<Queue>, on_close: Option<Box<dyn FnOnce() + Send>>) -> Self {
        NativeStream {
            queue,
            names: Mutex::new(HashMap::new()),
            on_close: Mutex::new(on_close),
        }
    }

    fn name(&self, py: Python<'_>, peer: &PeerId) -> Py<PyString> {
        let mut names = self.names.lock();
        if names.len() > 4096 {
            names.clear();
        }
        names
            .entry(*peer)
            .or_insert_with(|| PyString::new(py, &peer.to_string()).unbind())
            .clone_ref(py)
    }

    fn to_py(&self, py: Python<'_>, item: Item) -> PyResult<PyObject> {
        Ok(match item {
            Item::Bytes(p, b) => PyTuple::new(
                py,
                [
                    self.name(py, &p).into_any(),
                    PyBytes::new(py, &b).into_any().unbind(),
                ],
            )?
            .into_any()
            .unbind(),
            Item::Text(p, t) => (self.name(py, &p), t)
                .into_pyobject(py)?
                .into_any()
                .unbind(),
            Item::Json(p, k, j) => (self.name(py, &p), k, j)
                .into_pyobject(py)?
                .into_any()
                .unbind(),
            Item::Topic(p, topic, b) => (self.name(py, &p), topic, PyBytes::new(py, &b))
                .into_pyobject(py)?
                .into_any()
                .unbind(),
            Item::Record(r) => PyString::new(py, &r).into_any().unbind(),
            Item::Log(level, target, msg) => {
                (level, target, msg).into_pyobject(py)?.into_any().unbind()
            }
        })
    }

    fn run_on_close(&self) {
        if let Some(f) = self.on_close.lock().take() {
            f();
        }
    }
}

impl Drop for NativeStream {
    fn drop(&mut self) {
        self.queue.close();
        self.run_on_close();
    }
}

#[pymethods]
impl NativeStream {
    /// Takes up to `max` queued items without waiting (an empty list when none). The item
    /// shapes depend on the stream: `(peer, bytes)`, `(peer, str)`, `(peer, type, json)`,
    /// `(peer, topic, bytes)`, a JSON `str`, or `(level, logger, message)`.
    fn take<'py>(&self, py: Python<'py>, max: usize) -> PyResult<Bound<'py, PyList>> {
        let batch: Vec<Item> = {
            let mut s = self.queue.state.lock();
            let n = max.min(s.items.len());
            let batch: Vec<Item> = s.items.drain(..n).collect();
            let taken: usize = batch.iter().map(Item::bytes).sum();
            s.bytes = s.bytes.saturating_sub(taken);
            if n > 0 {
                self.queue.space.notify_all();
            }
            batch
        };
        let list = PyList::empty(py);
        for item in batch {
            list.append(self.to_py(py, item)?)?;
        }
        Ok(list)
    }

    /// An awaitable that is done when there is something to take or the stream is closed
    /// (at once if so already). Only one consumer may wait at a time.
    fn wait<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (loop_, fut) = runtime::new_future(py)?;
        let mut s = self.queue.state.lock();
        if !s.items.is_empty() || s.closed {
            drop(s);
            fut.call_method1("set_result", (py.None(),))?;
        } else {
            s.waiter = Some((loop_.unbind(), fut.clone().unbind()));
        }
        Ok(fut)
    }

    /// Items a lossy stream dropped since the last call (0 for message streams).
    fn dropped(&self) -> u64 {
        std::mem::take(&mut self.queue.state.lock().dropped)
    }

    /// Whether the stream is closed (what is queued can still be taken).
    #[getter]
    fn closed(&self) -> bool {
        self.queue.is_closed()
    }

    /// Closes the stream: no more items arrive; a waiting `wait()` completes.
    fn close(&self) {
        self.queue.close();
        self.run_on_close();
    }
}
