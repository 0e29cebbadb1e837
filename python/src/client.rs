//! `rats._rats.NativeClient`: one running `rats::RatsClient`. The Python package's `Client`
//! wraps it; this layer only converts arguments and results and routes what rats delivers
//! into streams.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use rats::core::messaging::HandlerId;
use rats::rats_gossipsub::{GossipEvent, Validation};
use rats::rats_nat::ice::{IceOffer, IceSession};
use rats::rats_transfer::{AcceptDecision, TransferId};
use rats::{Event, PeerId, RatsClient};
use tokio::sync::oneshot;

use crate::convert;
use crate::errors::{NotRunningError, to_py, transfer_error};
use crate::runtime::{runtime, spawn, spawn_into};
use crate::stream::{Item, NativeStream, Queue};

/// Bytes a message stream holds at most before its producers wait.
const STREAM_BYTES: usize = 64 * 1024 * 1024;

/// Binary messages from this size on are queued as slices of rats' receive buffer.
const SHARE_FROM: usize = 64 * 1024;

/// How long an offer or a message waits for the application's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// The settings the package passes (as JSON) to `NativeClient.start`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    port: Option<u16>,
    listen: Option<Vec<String>>,
    protocol: Option<String>,
    protocol_version: Option<String>,
    data_dir: Option<PathBuf>,
    max_peers: Option<usize>,
    dht: bool,
    mdns: bool,
    nat: bool,
    peer_exchange: bool,
    encryption: bool,
    config: serde_json::Map<String, serde_json::Value>,
}

/// Streams fed by the client's event task, by what they want.
#[derive(Default)]
struct Routes {
    events: Vec<Arc<Queue>>,
    topics: HashMap<String, Vec<Arc<Queue>>>,
}

/// Answers the application owes: offers waiting for accept/reject, topic messages waiting
/// for their validator's verdict.
#[derive(Default)]
struct Pending {
    offers: HashMap<String, oneshot::Sender<AcceptDecision>>,
    validations: HashMap<u64, oneshot::Sender<Validation>>,
}

struct Inner {
    rc: RatsClient,
    routes: Mutex<Routes>,
    pending: Mutex<Pending>,
    next_id: AtomicU64,
    ice: Mutex<HashMap<u64, IceSession>>,
    events_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// A running rats client (see the package's `rats.Client`).
#[pyclass(module = "rats._rats", name = "NativeClient")]
pub(crate) struct NativeClient {
    inner: Mutex<Option<Arc<Inner>>>,
    peer_id: String,
}

fn parse_peer(s: &str) -> PyResult<PeerId> {
    s.parse()
        .map_err(|_| PyValueError::new_err(format!("not a peer id (64 hex characters): {s:?}")))
}

fn parse_transfer(s: &str) -> PyResult<TransferId> {
    TransferId::from_hex(s)
        .ok_or_else(|| PyValueError::new_err(format!("not a transfer id: {s:?}")))
}

fn json_text(v: &serde_json::Value) -> String {
    v.to_string()
}

async fn build(settings: Settings) -> Result<RatsClient, rats::RatsError> {
    let mut b = RatsClient::builder();
    if let Some(port) = settings.port {
        b = b.port(port);
    }
    if let Some(listen) = &settings.listen {
        if listen.is_empty() {
            b = b.no_listen();
        }
        for a in listen {
            b = b.listen(a.as_str())?;
        }
    }
    if let (Some(name), version) = (&settings.protocol, &settings.protocol_version) {
        b = b.protocol(name, version.as_deref().unwrap_or("1.0"));
    }
    if let Some(dir) = settings.data_dir {
        b = b.data_dir(dir);
    }
    if let Some(n) = settings.max_peers {
        b = b.max_peers(n);
    }
    if !settings.dht {
        b = b.disable_plugin("dht");
    }
    if !settings.mdns {
        b = b.disable_plugin("mdns");
    }
    if !settings.nat {
        for p in ["stun", "portmap", "holepunch"] {
            b = b.disable_plugin(p);
        }
    }
    b = b.peer_exchange(settings.peer_exchange);
    if !settings.encryption {
        b = b.insecure_plaintext(true);
    }
    if !settings.config.is_empty() {
        b = b.config_keys(&settings.config)?;
    }
    b.start().await
}

impl Inner {
    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Routes the node's events to the event and topic streams.
    fn spawn_events(self: &Arc<Self>) -> PyResult<()> {
        let mut events = self.rc.node().event_bus().subscribe_without_messages();
        let me = Arc::downgrade(self);
        let task = runtime()?.spawn(async move {
            while let Some(ev) = events.next_event().await {
                let Some(me) = me.upgrade() else { return };
                me.route(&ev);
            }
        });
        *self.events_task.lock() = Some(task);
        Ok(())
    }

    fn route(&self, ev: &Event) {
        if let Event::Service { event, .. } = ev
            && let Some(GossipEvent::Message {
                topic,
                origin,
                data,
                ..
            }) = event.downcast_ref::<GossipEvent>()
        {
            let queues = self.routes.lock().topics.get(topic).cloned();
            for q in queues.into_iter().flatten() {
                let _ = q.push(Item::Topic(*origin, topic.clone(), data.clone()));
            }
            return;
        }
        let Some(json) = convert::event(ev) else {
            return;
        };
        let queues = self.routes.lock().events.clone();
        if queues.is_empty() {
            return;
        }
        let text = json_text(&json);
        for q in queues {
            let _ = q.push(Item::Record(text.clone()));
        }
    }

    fn gossip(&self) -> PyResult<Arc<rats::rats_gossipsub::GossipsubService>> {
        self.rc
            .gossip()
            .ok_or_else(|| NotRunningError::new_err("the gossipsub plugin is disabled"))
    }

    fn transfers(&self) -> PyResult<Arc<rats::rats_transfer::TransferService>> {
        self.rc
            .transfers()
            .ok_or_else(|| NotRunningError::new_err("the transfer plugin is disabled"))
    }
}

impl NativeClient {
    fn inner(&self) -> PyResult<Arc<Inner>> {
        self.inner
            .lock()
            .clone()
            .ok_or_else(|| NotRunningError::new_err("the client is closed"))
    }

    /// A stream fed by a rats message handler; closing the stream removes the handler.
    fn handler_stream(
        inner: &Arc<Inner>,
        capacity: usize,
        add: impl FnOnce(&RatsClient, Arc<Queue>) -> HandlerId,
    ) -> NativeStream {
        let q = Queue::new(capacity, STREAM_BYTES, true);
        let id = add(&inner.rc, q.clone());
        let weak = Arc::downgrade(inner);
        NativeStream::new(
            q,
            Some(Box::new(move || {
                if let Some(inner) = weak.upgrade() {
                    inner.rc.messages().off_handler(id);
                }
            })),
        )
    }
}

#[pymethods]
impl NativeClient {
    /// Starts a client from the settings (JSON text); an awaitable of the client.
    #[staticmethod]
    fn start<'py>(py: Python<'py>, settings: &str) -> PyResult<Bound<'py, PyAny>> {
        let settings: Settings = serde_json::from_str(settings)
            .map_err(|e| PyValueError::new_err(format!("bad settings: {e}")))?;
        spawn(
            py,
            async move { build(settings).await.map_err(to_py) },
            |py, rc| {
                let peer_id = rc.local_peer_id().to_string();
                let inner = Arc::new(Inner {
                    rc,
                    routes: Mutex::new(Routes::default()),
                    pending: Mutex::new(Pending::default()),
                    next_id: AtomicU64::new(1),
                    ice: Mutex::new(HashMap::new()),
                    events_task: Mutex::new(None),
                });
                inner.spawn_events()?;
                let client = NativeClient {
                    inner: Mutex::new(Some(inner)),
                    peer_id,
                };
                Ok(Py::new(py, client)?.into_any())
            },
        )
    }

    /// Our peer id (64 hex characters).
    #[getter]
    fn peer_id(&self) -> String {
        self.peer_id.clone()
    }

    /// Whether the client is running.
    #[getter]
    fn running(&self) -> bool {
        self.inner.lock().is_some()
    }

    /// Where we listen (`tcp:127.0.0.1:4001`, `quic:...`).
    fn listen_addrs(&self) -> PyResult<Vec<String>> {
        Ok(self
            .inner()?
            .rc
            .listen_addrs()
            .iter()
            .map(ToString::to_string)
            .collect())
    }

    /// Stops the client; an awaitable. Streams end; later calls raise NotRunningError.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.lock().take();
        spawn_into(py, async move {
            if let Some(inner) = inner {
                shutdown(&inner).await;
            }
            Ok(())
        })
    }

    /// Stops the client and waits (the GIL released), at most `timeout` seconds.
    fn close_blocking(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let Some(inner) = self.inner.lock().take() else {
            return Ok(());
        };
        let rt = runtime()?;
        py.allow_threads(|| {
            rt.block_on(async {
                let _ = tokio::time::timeout(
                    Duration::from_secs_f64(timeout.max(0.0)),
                    shutdown(&inner),
                )
                .await;
            })
        });
        Ok(())
    }

    /// Connects to `address` (`host:port`, `tcp:...`, `quic:...`); an awaitable of the
    /// peer id.
    fn connect<'py>(&self, py: Python<'py>, address: String) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner()?;
        spawn_into(py, async move {
            inner
                .rc
                .connect(address.as_str())
                .await
                .map(|p| p.to_string())
                .map_err(to_py)
        })
    }

    /// Disconnects a peer; whether it was connected.
    fn disconnect(&self, peer_id: &str) -> PyResult<bool> {
        Ok(self.inner()?.rc.disconnect(&parse_peer(peer_id)?))
    }

    /// Connected peers (JSON text: a list of peer objects).
    fn peers(&self) -> PyResult<String> {
        let peers: Vec<_> = self.inner()?.rc.peers().iter().map(convert::peer).collect();
        Ok(serde_json::Value::Array(peers).to_string())
    }

    /// One peer (JSON text), or None.
    fn peer_info(&self, peer_id: &str) -> PyResult<Option<String>> {
        let peer = parse_peer(peer_id)?;
        Ok(self
            .inner()?
            .rc
            .peer_info(&peer)
            .map(|p| convert::peer(&p).to_string()))
    }

    /// Number of connected peers.
    fn peer_count(&self) -> PyResult<usize> {
        Ok(self.inner()?.rc.peer_count())
    }

    // ------------------------------------------------------------------ messages

    /// Queues a binary message without waiting; False when the peer's queue is full.
    fn try_send_bytes(&self, peer_id: &str, data: PyBackedBytes) -> PyResult<bool> {
        let inner = self.inner()?;
        let peer = parse_peer(peer_id)?;
        sent(inner.rc.messages().try_send_binary(&peer, &data))
    }

    /// Sends a binary message, waiting while the peer's queue is full; an awaitable. The
    /// bytes are not copied (a `bytes` object is kept until it is written).
    fn send_bytes<'py>(
        &self,
        py: Python<'py>,
        peer_id: &str,
        data: PyBackedBytes,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner()?;
        let peer = parse_peer(peer_id)?;
        // No copy: the queue holds the Python bytes object itself until it is written.
        let data = Bytes::from_owner(data);
        spawn_into(py, async move {
            inner.rc.send_binary(&peer, data).await.map_err(to_py)
        })
    }

    /// Queues a text message without waiting; False when the peer's queue is full.
    fn try_send_text(&self, peer_id: &str, text: &str) -> PyResult<bool> {
        let inner = self.inner()?;
        let peer = parse_peer(peer_id)?;
        sent(inner.rc.messages().try_send_text(&peer, text))
    }

    /// Sends a text message, waiting while the queue is full; an awaitable.
    fn send_text<'py>(
        &self,
        py: Python<'py>,
        peer_id: &str,
        text: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner()?;
        let peer = parse_peer(peer_id)?;
        spawn_into(py, async move {
            inner.rc.send_string(&peer, &text).await.map_err(to_py)
        })
    }

    /// Queues a typed JSON message (`json`: JSON text) without waiting; False when full.
    fn try_send_json(&self, peer_id: &str, kind: &str, json: &str) -> PyResult<bool> {
        let inner = self.inner()?;
        let peer = parse_peer(peer_id)?;
        let value = raw_json(json)?;
        sent(inner.rc.messages().try_send_to(&peer, kind, &value))
    }

    /// Sends a typed JSON message, waiting while the queue is full; an awaitable.
    fn send_json<'py>(
        &self,
        py: Python<'py>,
        peer_id: &str,
        kind: String,
        json: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner()?;
        let peer = parse_peer(peer_id)?;
        let value = raw_json(json)?;
        spawn_into(py, async move {
            inner.rc.send_to(&peer, &kind, &value).await.map_err(to_py)
        })
    }

    /// Sends bytes to every peer; how many got it queued.
    fn broadcast_bytes(&self, data: PyBackedBytes) -> PyResult<usize> {
        self.inner()?.rc.broadcast_binary(&data).map_err(to_py)
    }

    /// Sends text to every peer; how many.
    fn broadcast_text(&self, text: &str) -> PyResult<usize> {
        self.inner()?.rc.broadcast_string(text).map_err(to_py)
    }

    /// Sends a typed JSON message to every peer; how many.
    fn broadcast_json(&self, kind: &str, json: &str) -> PyResult<usize> {
        let value = raw_json(json)?;
        self.inner()?.rc.broadcast(kind, &value).map_err(to_py)
    }

    /// A stream of binary messages: items `(peer_id, bytes)`.
    fn bytes_stream(&self, capacity: usize) -> PyResult<NativeStream> {
        let inner = self.inner()?;
        Ok(Self::handler_stream(&inner, capacity, |rc, q| {
            rc.on_binary(move |peer, data| {
                // A small message is copied out of the receive buffer (queued, it must not
                // pin the whole buffer); a large one is most of its buffer: shared.
                let data = if data.len() < SHARE_FROM {
                    Bytes::copy_from_slice(&data)
                } else {
                    data
                };
                let _ = q.push(Item::Bytes(peer, data));
            })
        }))
    }

    /// A stream of text messages: items `(peer_id, str)`.
    fn text_stream(&self, capacity: usize) -> PyResult<NativeStream> {
        let inner = self.inner()?;
        Ok(Self::handler_stream(&inner, capacity, |rc, q| {
            rc.on_string(move |peer, text| {
                let _ = q.push(Item::Text(peer, text.to_string()));
            })
        }))
    }

    /// A stream of typed JSON messages of type `kind`: items `(peer_id, kind, json_text)`.
    fn json_stream(&self, kind: String, capacity: usize) -> PyResult<NativeStream> {
        let inner = self.inner()?;
        Ok(Self::handler_stream(&inner, capacity, |rc, q| {
            let k = kind.clone();
            rc.on(&kind, move |peer, value| {
                let _ = q.push(Item::Json(peer, k.clone(), value.to_string()));
            })
        }))
    }

    /// A stream of node events (JSON text items); lossy: a slow reader loses the newest and
    /// `dropped()` counts them.
    fn event_stream(&self, capacity: usize) -> PyResult<NativeStream> {
        let inner = self.inner()?;
        let q = Queue::new(capacity, STREAM_BYTES, false);
        inner.routes.lock().events.push(q.clone());
        let weak = Arc::downgrade(&inner);
        let mine = q.clone();
        Ok(NativeStream::new(
            q,
            Some(Box::new(move || {
                if let Some(inner) = weak.upgrade() {
                    inner
                        .routes
                        .lock()
                        .events
                        .retain(|e| !Arc::ptr_eq(e, &mine));
                }
            })),
        ))
    }

    // ------------------------------------------------------------------ publish/subscribe

    /// Subscribes to `topic`: a stream of `(origin_peer_id, topic, bytes)`. Closing the
    /// last stream of a topic unsubscribes.
    fn subscribe(&self, topic: String, capacity: usize) -> PyResult<NativeStream> {
        let inner = self.inner()?;
        let gossip = inner.gossip()?;
        gossip
            .subscribe(&topic)
            .map_err(|e| PyValueError::new_err(crate::errors::message(&e)))?;
        let q = Queue::new(capacity, STREAM_BYTES, true);
        inner
            .routes
            .lock()
            .topics
            .entry(topic.clone())
            .or_default()
            .push(q.clone());
        let weak = Arc::downgrade(&inner);
        let mine = q.clone();
        Ok(NativeStream::new(
            q,
            Some(Box::new(move || {
                let Some(inner) = weak.upgrade() else { return };
                let last = {
                    let mut routes = inner.routes.lock();
                    let list = routes.topics.entry(topic.clone()).or_default();
                    list.retain(|e| !Arc::ptr_eq(e, &mine));
                    let last = list.is_empty();
                    if last {
                        routes.topics.remove(&topic);
                    }
                    last
                };
                if last && let Some(g) = inner.rc.gossip() {
                    let _ = g.unsubscribe(&topic);
                }
            })),
        ))
    }

    /// Publishes `data` on `topic`; the message id (hex).
    fn publish(&self, topic: &str, data: PyBackedBytes) -> PyResult<String> {
        let gossip = self.inner()?.gossip()?;
        gossip
            .publish(topic, Bytes::copy_from_slice(&data))
            .map(|id| id.0.iter().map(|b| format!("{b:02x}")).collect())
            .map_err(|e| PyValueError::new_err(crate::errors::message(&e)))
    }

    /// Topics we subscribe to.
    fn topics(&self) -> PyResult<Vec<String>> {
        Ok(self.inner()?.gossip()?.subscribed_topics())
    }

    /// Peers known to subscribe to `topic`.
    fn topic_peers(&self, topic: &str) -> PyResult<Vec<String>> {
        Ok(self
            .inner()?
            .gossip()?
            .topic_peers(topic)
            .iter()
            .map(ToString::to_string)
            .collect())
    }

    /// Routes `topic`'s incoming messages through the application's validator: a stream of
    /// `(origin_peer_id, "<request id>", bytes)` items answered with `answer_validation`. A
    /// message not answered within a minute is ignored. Closing the stream removes the
    /// validator.
    fn validation_stream(&self, topic: String, capacity: usize) -> PyResult<NativeStream> {
        let inner = self.inner()?;
        let gossip = inner.gossip()?;
        let q = Queue::new(capacity, STREAM_BYTES, false);
        let weak = Arc::downgrade(&inner);
        let feed = q.clone();
        gossip.set_async_validator(&topic, move |origin, _via, data| {
            let (tx, rx) = oneshot::channel();
            let queued = weak.upgrade().map(|inner| {
                let id = inner.id();
                inner.pending.lock().validations.insert(id, tx);
                (inner, id)
            });
            let feed = feed.clone();
            async move {
                let Some((inner, id)) = queued else {
                    return Validation::Ignore;
                };
                if feed
                    .push(Item::Topic(origin, id.to_string(), data))
                    .is_err()
                {
                    inner.pending.lock().validations.remove(&id);
                    return Validation::Ignore;
                }
                drop(inner);
                match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
                    Ok(Ok(v)) => v,
                    _ => Validation::Ignore,
                }
            }
        });
        let weak = Arc::downgrade(&inner);
        Ok(NativeStream::new(
            q,
            Some(Box::new(move || {
                if let Some(g) = weak.upgrade().and_then(|i| i.rc.gossip()) {
                    g.clear_validator(&topic);
                }
            })),
        ))
    }

    /// Answers a validation request: `"accept"`, `"reject"` or `"ignore"`.
    fn answer_validation(&self, request: &str, verdict: &str) -> PyResult<()> {
        let v = match verdict {
            "accept" => Validation::Accept,
            "reject" => Validation::Reject,
            "ignore" => Validation::Ignore,
            _ => return Err(PyValueError::new_err(format!("not a verdict: {verdict:?}"))),
        };
        let id: u64 = request
            .parse()
            .map_err(|_| PyValueError::new_err(format!("not a request id: {request:?}")))?;
        if let Some(tx) = self.inner()?.pending.lock().validations.remove(&id) {
            let _ = tx.send(v);
        }
        Ok(())
    }

    // ------------------------------------------------------------------ transfers

    /// Offers a file (`directory`: a directory tree) to a peer; an awaitable of the transfer
    /// id.
    #[pyo3(signature = (peer_id, path, name=None, directory=false, recursive=true))]
    fn send_file<'py>(
        &self,
        py: Python<'py>,
        peer_id: &str,
        path: PathBuf,
        name: Option<String>,
        directory: bool,
        recursive: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let svc = self.inner()?.transfers()?;
        let peer = parse_peer(peer_id)?;
        spawn_into(py, async move {
            let r = if directory {
                svc.send_directory(&peer, &path, name.as_deref(), recursive)
                    .await
            } else {
                svc.send_file(&peer, &path, name.as_deref()).await
            };
            r.map(|id| id.to_hex()).map_err(transfer_error)
        })
    }

    /// Asks a peer for its file (or directory) `remote_path`, saved at `local_path`; an
    /// awaitable of the transfer id.
    #[pyo3(signature = (peer_id, remote_path, local_path, directory=false))]
    fn request_file<'py>(
        &self,
        py: Python<'py>,
        peer_id: &str,
        remote_path: String,
        local_path: PathBuf,
        directory: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let svc = self.inner()?.transfers()?;
        let peer = parse_peer(peer_id)?;
        spawn_into(py, async move {
            let r = if directory {
                svc.request_directory(&peer, &remote_path, &local_path)
                    .await
            } else {
                svc.request_file(&peer, &remote_path, &local_path).await
            };
            r.map(|id| id.to_hex()).map_err(transfer_error)
        })
    }

    /// Pauses a transfer.
    fn pause_transfer(&self, id: &str) -> PyResult<()> {
        self.inner()?
            .transfers()?
            .pause(parse_transfer(id)?)
            .map_err(transfer_error)
    }

    /// Resumes a paused transfer.
    fn resume_transfer(&self, id: &str) -> PyResult<()> {
        self.inner()?
            .transfers()?
            .resume(parse_transfer(id)?)
            .map_err(transfer_error)
    }

    /// Cancels a transfer on both sides.
    fn cancel_transfer(&self, id: &str) -> PyResult<()> {
        self.inner()?
            .transfers()?
            .cancel(parse_transfer(id)?)
            .map_err(transfer_error)
    }

    /// A transfer's snapshot (JSON text), or None.
    fn transfer_info(&self, id: &str) -> PyResult<Option<String>> {
        Ok(self
            .inner()?
            .transfers()?
            .transfer(parse_transfer(id)?)
            .map(|i| convert::transfer(&i).to_string()))
    }

    /// All transfers (JSON text: a list).
    fn transfers(&self) -> PyResult<String> {
        let all: Vec<_> = self
            .inner()?
            .transfers()?
            .transfers()
            .iter()
            .map(convert::transfer)
            .collect();
        Ok(serde_json::Value::Array(all).to_string())
    }

    /// Waits until a transfer is finished, at most `timeout` seconds; an awaitable of its
    /// final snapshot (JSON text).
    fn wait_transfer<'py>(
        &self,
        py: Python<'py>,
        id: &str,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let svc = self.inner()?.transfers()?;
        let id = parse_transfer(id)?;
        spawn_into(py, async move {
            svc.wait(id, Duration::from_secs_f64(timeout.max(0.0)))
                .await
                .map(|i| convert::transfer(&i).to_string())
                .map_err(transfer_error)
        })
    }

    /// Routes incoming offers to the application: a stream of offers (JSON text) answered
    /// with `answer_offer`. Without it (or after closing it) offers are refused. An offer not
    /// answered within a minute is refused.
    fn offer_stream(&self, capacity: usize) -> PyResult<NativeStream> {
        let inner = self.inner()?;
        let svc = inner.transfers()?;
        let q = Queue::new(capacity, STREAM_BYTES, false);
        let weak = Arc::downgrade(&inner);
        let feed = q.clone();
        svc.set_accept_callback(move |offer| {
            let (tx, rx) = oneshot::channel();
            let id = offer.id.to_hex();
            let pushed = weak.upgrade().is_some_and(|inner| {
                inner.pending.lock().offers.insert(id.clone(), tx);
                feed.push(Item::Record(convert::offer(&offer).to_string()))
                    .is_ok()
            });
            let weak = weak.clone();
            async move {
                if !pushed {
                    if let Some(inner) = weak.upgrade() {
                        inner.pending.lock().offers.remove(&id);
                    }
                    return AcceptDecision::Reject("not accepting transfers".into());
                }
                match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
                    Ok(Ok(d)) => d,
                    _ => AcceptDecision::Reject("no answer".into()),
                }
            }
        });
        let weak = Arc::downgrade(&inner);
        Ok(NativeStream::new(
            q,
            Some(Box::new(move || {
                if let Some(svc) = weak.upgrade().and_then(|i| i.rc.transfers()) {
                    svc.clear_accept_callback();
                }
            })),
        ))
    }

    /// Answers an offer: accepted into `path`, or refused (`path` None) with `reason`.
    #[pyo3(signature = (id, path, reason=None))]
    fn answer_offer(
        &self,
        id: &str,
        path: Option<PathBuf>,
        reason: Option<String>,
    ) -> PyResult<bool> {
        let decision = match path {
            Some(p) => AcceptDecision::Accept(p),
            None => AcceptDecision::Reject(reason.unwrap_or_else(|| "refused".into())),
        };
        let tx = self.inner()?.pending.lock().offers.remove(id);
        Ok(tx.is_some_and(|tx| tx.send(decision).is_ok()))
    }

    // ------------------------------------------------------------------ discovery, NAT

    /// Looks up peers for `info_hash` (40 hex characters) on the DHT; an awaitable of
    /// `host:port` strings.
    fn find_peers<'py>(&self, py: Python<'py>, info_hash: String) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner()?;
        spawn_into(py, async move {
            inner
                .rc
                .find_peers(&info_hash)
                .await
                .map(|v| v.iter().map(ToString::to_string).collect::<Vec<_>>())
                .map_err(to_py)
        })
    }

    /// Announces us for `info_hash` on the DHT; an awaitable of how many nodes took it.
    fn announce<'py>(&self, py: Python<'py>, info_hash: String) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner()?;
        spawn_into(py, async move {
            inner.rc.announce(&info_hash).await.map_err(to_py)
        })
    }

    /// The DHT's state (JSON text), or None when the DHT is off.
    fn dht_status(&self) -> PyResult<Option<String>> {
        let inner = self.inner()?;
        Ok(inner.rc.dht_status().map(|s| {
            serde_json::json!({
                "running": inner.rc.is_dht_running(),
                "routing_table_size": inner.rc.dht_routing_table_size(),
                "status": format!("{s:?}"),
            })
            .to_string()
        }))
    }

    /// Starts mDNS discovery (as `name`); an awaitable.
    #[pyo3(signature = (name=None))]
    fn start_mdns<'py>(
        &self,
        py: Python<'py>,
        name: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner()?;
        spawn_into(py, async move {
            inner
                .rc
                .start_mdns_discovery(name.as_deref())
                .await
                .map_err(to_py)
        })
    }

    /// Stops mDNS discovery; an awaitable.
    fn stop_mdns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner()?;
        spawn_into(py, async move {
            inner.rc.stop_mdns_discovery().await;
            Ok(())
        })
    }

    /// Whether mDNS discovery runs.
    fn mdns_running(&self) -> PyResult<bool> {
        Ok(self.inner()?.rc.is_mdns_running())
    }

    /// Our public address as the configured STUN servers see it; an awaitable of
    /// `ip:port`.
    fn public_address<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner()?;
        spawn_into(py, async move {
            inner
                .rc
                .get_public_address()
                .await
                .map(|a| a.to_string())
                .map_err(to_py)
        })
    }

    /// The NAT type (`open`, `full-cone`, `symmetric`, ...); an awaitable.
    fn nat_type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner()?;
        spawn_into(py, async move {
            let t = inner.rc.detect_nat_type().await.map_err(to_py)?;
            Ok(serde_json::to_value(t)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| format!("{t:?}")))
        })
    }

    /// Starts an ICE session; an awaitable of `(session, offer_json)`: send the offer to the
    /// other side, then `connect_ice(session, their_offer_json)`.
    #[pyo3(signature = (controlling=true))]
    fn create_ice_offer<'py>(
        &self,
        py: Python<'py>,
        controlling: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner()?;
        spawn_into(py, async move {
            let (session, offer) = inner
                .rc
                .create_ice_offer(controlling)
                .await
                .map_err(to_py)?;
            let id = inner.id();
            inner.ice.lock().insert(id, session);
            let json =
                serde_json::to_string(&offer).map_err(|e| PyValueError::new_err(e.to_string()))?;
            Ok((id, json))
        })
    }

    /// Connects through an ICE session to the side that sent `remote_offer` (JSON text); an
    /// awaitable of the peer id.
    fn connect_ice<'py>(
        &self,
        py: Python<'py>,
        session: u64,
        remote_offer: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner()?;
        let remote: IceOffer = serde_json::from_str(remote_offer)
            .map_err(|e| PyValueError::new_err(format!("not an ICE offer: {e}")))?;
        let session = inner
            .ice
            .lock()
            .remove(&session)
            .ok_or_else(|| PyValueError::new_err("unknown ICE session"))?;
        spawn_into(py, async move {
            let r = inner.rc.connect_with_ice(&session, &remote).await;
            match r {
                Ok(peer) => {
                    // Kept for the connection's life; closed with the client.
                    let id = inner.id();
                    inner.ice.lock().insert(id, session);
                    Ok(peer.to_string())
                }
                Err(e) => {
                    session.close().await;
                    Err(to_py(e))
                }
            }
        })
    }
}

impl Drop for NativeClient {
    /// A client dropped without `close()` is stopped in the background.
    fn drop(&mut self) {
        if let Some(inner) = self.inner.get_mut().take()
            && let Ok(rt) = runtime()
        {
            rt.spawn(async move { shutdown(&inner).await });
        }
    }
}

async fn shutdown(inner: &Arc<Inner>) {
    if let Some(t) = inner.events_task.lock().take() {
        t.abort();
    }
    {
        let mut routes = inner.routes.lock();
        for q in routes.events.drain(..) {
            q.close();
        }
        for (_, qs) in routes.topics.drain() {
            qs.iter().for_each(|q| q.close());
        }
    }
    {
        let mut pending = inner.pending.lock();
        pending.offers.clear();
        pending.validations.clear();
    }
    inner.rc.shutdown().await;
    let sessions: Vec<_> = inner.ice.lock().drain().map(|(_, s)| s).collect();
    for s in sessions {
        s.close().await;
    }
}

fn sent(r: Result<(), rats::core::messaging::MessageError>) -> PyResult<bool> {
    use rats::core::messaging::MessageError as M;
    use rats::core::service::SendError as S;
    match r {
        Ok(()) => Ok(true),
        Err(M::Send(S::QueueFull(_))) => Ok(false),
        Err(e) => {
            let msg = crate::errors::message(&e);
            Err(crate::errors::message_error(&e, msg))
        }
    }
}

fn raw_json(text: &str) -> PyResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| PyValueError::new_err(format!("not JSON: {e}")))
}
