//! Client handles: a table from opaque handle values to clients, and a client's life
//! (settings before start, the running rats client, its callback thread).

use std::collections::{HashMap, HashSet};
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use parking_lot::{Mutex, RwLock};
use rats_engine::core::messaging::BinarySender;
use rats_engine::{Identity, PeerId, RatsClient};

use crate::dispatch::{self, Ev, EventQueue, Shared, Sink};
use crate::engine::gossip::GossipEv;
use crate::engine::{self, NodeEv, Settings};

/// The message type of `rats_send_json` / `rats_broadcast_json` on the wire; the JSON
/// callback receives messages of this type (rats' messages are typed; librats' plain JSON
/// messages are not).
pub(crate) const JSON_KIND: &str = "json";

/// Handle values: never reused, never dereferenced.
static NEXT: AtomicUsize = AtomicUsize::new(0x1000);
static CLIENTS: LazyLock<RwLock<HashMap<usize, Arc<Client>>>> = LazyLock::new(Default::default);

/// A started client.
struct Running {
    rc: Arc<RatsClient>,
    events: tokio::task::JoinHandle<()>,
    sink: Sink,
    /// Message types with a rats handler in this run.
    typed: HashSet<String>,
    /// Senders bound to peers' connections (`rats_send_binary`'s fast path), at most
    /// [`SENDERS`]; a stale one is dropped when a send through it fails.
    senders: HashMap<PeerId, BinarySender>,
}

/// Cached senders at most; the cache starts over past this (peers come and go).
const SENDERS: usize = 1024;

/// One `rats_client_t`.
pub(crate) struct Client {
    /// The identity and its peer id (replaced only while stopped: keys, data directory).
    identity: Mutex<(Identity, String)>,
    /// Addresses `rats_add_ignored_address` / `rats_discover_and_ignore_public_ip` added:
    /// `rats_connect` refuses them.
    pub ignored: Mutex<Vec<String>>,
    /// Our public IP as the last `rats_discover_and_ignore_public_ip` found it.
    pub public_ip: Mutex<Option<String>>,
    /// ICE sessions by peer id: offered (waiting for the other side's offer), then in use by
    /// the connection; ended at stop.
    pub ice: Mutex<HashMap<String, engine::ice::Session>>,
    pub settings: Mutex<Settings>,
    running: Mutex<Option<Running>>,
    pub shared: Arc<Shared>,
    /// Events for the callback thread.
    queue: Arc<EventQueue>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Why a call on a client failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fail {
    /// Not started (or stopped).
    NotRunning,
    /// The runtime could not be created or the operation failed.
    Failed,
}

impl Client {
    /// Creates a client listening on `port` once started, and registers it; returns the
    /// handle value.
    pub fn create(port: u16) -> Option<*mut c_void> {
        let shared = Arc::new(Shared::default());
        let queue = Arc::new(EventQueue::default());
        let thread = dispatch::spawn_thread(shared.clone(), queue.clone()).ok()?;
        let identity = engine::new_identity();
        let client = Arc::new(Client {
            identity: Mutex::new((identity.clone(), engine::identity_peer_id(&identity))),
            ignored: Mutex::new(Vec::new()),
            public_ip: Mutex::new(None),
            ice: Mutex::new(HashMap::new()),
            settings: Mutex::new(Settings::new(port)),
            running: Mutex::new(None),
            shared,
            queue,
            thread: Mutex::new(Some(thread)),
        });
        let key = NEXT.fetch_add(0x10, Ordering::Relaxed);
        CLIENTS.write().insert(key, client);
        Some(std::ptr::without_provenance_mut(key))
    }

    /// The client behind a handle (`None`: NULL, destroyed or never created).
    pub fn get(handle: *mut c_void) -> Option<Arc<Client>> {
        if handle.is_null() {
            return None;
        }
        CLIENTS.read().get(&handle.addr()).cloned()
    }

    /// Removes the handle, stops the client and ends its callback thread (joined, unless
    /// called from a callback of this client).
    pub fn destroy(handle: *mut c_void) {
        if handle.is_null() {
            return;
        }
        let Some(client) = CLIENTS.write().remove(&handle.addr()) else {
            return;
        };
        client.stop();
        let thread = client.thread.lock().take();
        let own = thread
            .as_ref()
            .is_some_and(|t| t.thread().id() == std::thread::current().id());
        if own {
            // Inside a callback: the thread ends after it returns (on Quit, or when the
            // last sender is gone if the queue is full).
            client.queue.push_unbounded(Ev::Quit);
        } else {
            client.queue.push_unbounded(Ev::Quit);
            if let Some(t) = thread {
                let _ = t.join();
            }
        }
    }

    /// Our peer id (from creation on).
    pub fn peer_id(&self) -> String {
        self.identity.lock().1.clone()
    }

    /// The running rats client.
    pub fn rc(&self) -> Result<Arc<RatsClient>, Fail> {
        self.running
            .lock()
            .as_ref()
            .map(|r| r.rc.clone())
            .ok_or(Fail::NotRunning)
    }

    /// A sender bound to `peer`'s connection (cached for the run) and the run's epoch:
    /// `Ok(None)` when the peer is not connected. Cheap to clone; send through it with no
    /// lock held.
    pub fn binary_sender(&self, peer: &PeerId) -> Result<Option<(BinarySender, u64)>, Fail> {
        let mut running = self.running.lock();
        let run = running.as_mut().ok_or(Fail::NotRunning)?;
        let epoch = run.sink.epoch();
        if let Some(tx) = run.senders.get(peer) {
            return Ok(Some((tx.clone(), epoch)));
        }
        let Some(tx) = engine::binary_sender(&run.rc, peer) else {
            return Ok(None);
        };
        if run.senders.len() >= SENDERS {
            run.senders.clear();
        }
        run.senders.insert(*peer, tx.clone());
        Ok(Some((tx, epoch)))
    }

    /// Drops the cached sender of `peer` (its connection is gone or was replaced).
    pub fn forget_sender(&self, peer: &PeerId) {
        if let Some(run) = self.running.lock().as_mut() {
            run.senders.remove(peer);
        }
    }

    /// Whether the client is started.
    pub fn is_running(&self) -> bool {
        self.running.lock().is_some()
    }

    /// Starts the client (no-op when running).
    pub fn start(&self) -> Result<(), Fail> {
        let rt = crate::util::runtime().ok_or(Fail::Failed)?;
        let mut running = self.running.lock();
        if running.is_some() {
            return Ok(());
        }
        let settings = self.settings.lock().clone();
        let identity = self.identity.lock().0.clone();
        let rc = crate::util::block_on(engine::start(settings, identity))
            .ok_or(Fail::Failed)?
            .map_err(|_| Fail::Failed)?;
        let rc = Arc::new(rc);
        let epoch = self.shared.gate.open();
        let sink = Sink::new(self.queue.clone(), self.shared.clone(), epoch);
        let s = sink.clone();
        engine::on_string(&rc, move |peer, text| {
            s.push(Ev::Text {
                epoch: s.epoch(),
                peer,
                text: text.to_string(),
            })
        });
        let s = sink.clone();
        engine::on_binary(&rc, dispatch::ARENA_MESSAGE, move |peer, data| {
            s.push(Ev::Binary {
                epoch: s.epoch(),
                peer,
                data,
            })
        });
        let mut typed = HashSet::new();
        let kinds: Vec<String> = self
            .shared
            .callbacks
            .lock()
            .messages
            .keys()
            .cloned()
            .collect();
        for kind in std::iter::once(JSON_KIND.to_string()).chain(kinds) {
            if typed.insert(kind.clone()) {
                register_typed(&rc, &sink, &kind);
            }
        }
        let s = sink.clone();
        let events = engine::spawn_events(rt, &rc, move |ev| {
            let epoch = s.epoch();
            s.push(match ev {
                NodeEv::Connected(peer) => Ev::Connected { epoch, peer },
                NodeEv::Disconnected(peer) => Ev::Disconnected { epoch, peer },
                NodeEv::Gossip(GossipEv::Message { peer, topic, data }) => Ev::TopicMessage {
                    epoch,
                    peer,
                    topic,
                    data,
                },
                NodeEv::Gossip(GossipEv::Peer {
                    peer,
                    topic,
                    joined,
                }) => Ev::TopicPeer {
                    epoch,
                    peer,
                    topic,
                    joined,
                },
                NodeEv::Transfer(ev) => Ev::TransferProgress { epoch, ev },
                NodeEv::Discovered { host, port, source } => Ev::Discovered {
                    epoch,
                    host,
                    port,
                    source,
                },
            })
        });
        let (s, shared) = (sink.clone(), self.shared.clone());
        engine::transfer::set_accept(&rc, move |offer| {
            let has_cb = {
                let cbs = shared.callbacks.lock();
                if offer.directory {
                    cbs.directory_request.is_some()
                } else {
                    cbs.file_request.is_some()
                }
            };
            if !has_cb {
                return None;
            }
            let (tx, rx) = tokio::sync::oneshot::channel();
            {
                let mut pending = shared.pending.lock();
                // Offers that timed out (the service stopped waiting) are forgotten.
                pending.retain(|_, (_, tx)| !tx.is_closed());
                pending.insert(offer.id.clone(), (offer.directory, tx));
            }
            s.push(Ev::TransferRequest {
                epoch: s.epoch(),
                peer: offer.peer,
                id: offer.id,
                name: offer.name,
                directory: offer.directory,
            });
            Some(rx)
        });
        *running = Some(Running {
            rc,
            events,
            sink,
            typed,
            senders: HashMap::new(),
        });
        Ok(())
    }

    /// Stops the client: no callback runs after this returns (see `dispatch`).
    pub fn stop(&self) {
        self.shared.gate.close();
        let Some(run) = self.running.lock().take() else {
            return;
        };
        run.events.abort();
        let sessions: Vec<_> = self.ice.lock().drain().map(|(_, s)| s).collect();
        // Offers still waiting are refused (their senders dropped).
        self.shared.pending.lock().clear();
        let rc = run.rc;
        let _ = crate::util::block_on(async move {
            engine::shutdown(&rc).await;
            for s in sessions {
                engine::ice::close(&s).await;
            }
            // Dropped on the runtime: the node's parts may expect a runtime context.
            drop(rc);
        });
    }

    /// The identity (its secret key is librats' "encryption key").
    pub fn identity(&self) -> Identity {
        self.identity.lock().0.clone()
    }

    /// Replaces the identity; fails while running (the node's identity is fixed at start).
    pub fn set_identity(&self, id: Identity) -> Result<(), Fail> {
        let running = self.running.lock();
        if running.is_some() {
            return Err(Fail::Failed);
        }
        let peer = engine::identity_peer_id(&id);
        *self.identity.lock() = (id, peer);
        drop(running);
        Ok(())
    }

    /// Makes sure typed messages of `kind` reach the callback thread in this run.
    pub fn ensure_typed(&self, kind: &str) {
        let mut running = self.running.lock();
        if let Some(run) = running.as_mut()
            && run.typed.insert(kind.to_string())
        {
            register_typed(&run.rc, &run.sink, kind);
        }
    }
}

fn register_typed(rc: &RatsClient, sink: &Sink, kind: &str) {
    let s = sink.clone();
    let k = kind.to_string();
    engine::on_typed(rc, kind, move |peer, json| {
        s.push(Ev::Typed {
            epoch: s.epoch(),
            peer,
            kind: k.clone(),
            json,
        })
    });
}
