//! Every call into `rats::RatsClient` lives in this module, so that a change of the Rust API
//! is adapted here and nowhere else. The C functions (in `api`) and the client state (in
//! `client`) only see these small functions.

use std::sync::Arc;

use bytes::Bytes;
use rats_engine::core::messaging::BinarySender;
use rats_engine::core::service::SendError;
use rats_engine::{Event, Identity, NodeConfig, PeerId, RatsClient};

pub(crate) mod discovery;
pub(crate) mod gossip;
pub(crate) mod ice;
pub(crate) mod logging;
pub(crate) mod nat;
pub(crate) mod persist;
pub(crate) mod transfer;

/// What `rats_start` builds a client from: the setters' values, kept from `rats_create` on.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// TCP port to listen on (0: any free port).
    pub port: u16,
    /// Most peers (`None`: rats' default).
    pub max_peers: Option<usize>,
    /// Application protocol name.
    pub protocol_name: String,
    /// Application protocol version.
    pub protocol_version: String,
    /// Noise off (`rats_set_encryption_enabled(client, 0)`; debugging only).
    pub plaintext: bool,
    /// Node configuration keys set with `rats_set_config_json`, applied last.
    pub config: serde_json::Map<String, serde_json::Value>,
    /// The data directory (identity, config.json, peer store), if one is set.
    pub data_dir: Option<std::path::PathBuf>,
}

impl Settings {
    /// Defaults for a client listening on `port`.
    pub fn new(port: u16) -> Self {
        let d = NodeConfig::default();
        Settings {
            port,
            max_peers: None,
            protocol_name: d.protocol_name,
            protocol_version: d.protocol_version,
            plaintext: false,
            config: serde_json::Map::new(),
            data_dir: None,
        }
    }

    /// The max-peers value in effect.
    pub fn effective_max_peers(&self) -> usize {
        self.max_peers
            .unwrap_or_else(|| NodeConfig::default().max_peers)
    }
}

/// Whether plugin `name` is not switched off by the configuration keys set so far.
pub(crate) fn plugin_enabled(settings: &Settings, name: &str) -> bool {
    merge_config(&NodeConfig::default(), &settings.config)
        .map_or(true, |c| !c.disabled_plugins.contains(name))
}

/// Applies configuration keys (as in rats' `config.json`) to `base`; an error names the key.
pub(crate) fn merge_config(
    base: &NodeConfig,
    keys: &serde_json::Map<String, serde_json::Value>,
) -> Result<NodeConfig, String> {
    let mut v = serde_json::to_value(base).map_err(|e| e.to_string())?;
    if let Some(obj) = v.as_object_mut() {
        for (k, val) in keys {
            obj.insert(k.clone(), val.clone());
        }
    }
    let config: NodeConfig = serde_json::from_value(v).map_err(|e| e.to_string())?;
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

/// A fresh identity (the peer id exists from `rats_create`).
pub(crate) fn new_identity() -> Identity {
    Identity::generate()
}

/// The peer id of an identity, as 64 hex characters.
pub(crate) fn identity_peer_id(id: &Identity) -> String {
    id.peer_id().to_string()
}

/// Builds and starts a client (on the library runtime).
pub(crate) async fn start(settings: Settings, identity: Identity) -> Result<RatsClient, String> {
    let mut builder = RatsClient::builder()
        .port(settings.port)
        .identity(identity)
        .protocol(&settings.protocol_name, &settings.protocol_version);
    if settings.plaintext {
        builder = builder.insecure_plaintext(true);
    }
    if let Some(dir) = &settings.data_dir {
        builder = builder.data_dir(dir.clone());
    }
    if let Some(n) = settings.max_peers {
        builder = builder.max_peers(n);
    }
    if !settings.config.is_empty() {
        let keys = settings.config.clone();
        builder = builder.configure(move |c| {
            // Checked when set (rats_set_config_json); a failure here keeps the config.
            if let Ok(merged) = merge_config(c, &keys) {
                *c = merged;
            }
        });
    }
    builder.start().await.map_err(|e| e.to_string())
}

/// Stops the client's node and waits for its tasks.
pub(crate) async fn shutdown(rc: &RatsClient) {
    rc.shutdown().await;
}

/// The TCP port the client listens on (the real one after asking for 0).
pub(crate) fn listen_port(rc: &RatsClient) -> Option<u16> {
    rc.listen_addrs()
        .iter()
        .find_map(|a| a.socket_addr().map(|s| s.port()))
}

/// Connects to `addr` (`host:port` or `[v6]:port`). `direct_only`: one direct dial; else the
/// node's connect strategy (direct, relayed, then NAT strategies). Returns the peer id.
pub(crate) async fn connect(
    rc: &RatsClient,
    addr: &str,
    direct_only: bool,
) -> Result<String, String> {
    let r = if direct_only {
        rc.connect(addr).await
    } else {
        rc.connect_any(&[addr]).await
    };
    r.map(|p| p.to_string()).map_err(|e| e.to_string())
}

/// Parses a peer id (64 hex characters).
pub(crate) fn parse_peer(s: &str) -> Option<PeerId> {
    s.parse().ok()
}

/// Disconnects a peer; false if it was not connected.
pub(crate) fn disconnect(rc: &RatsClient, peer: &PeerId) -> bool {
    rc.disconnect(peer)
}

/// Whether `peer` is connected.
pub(crate) fn is_connected(rc: &RatsClient, peer: &PeerId) -> bool {
    rc.peer_info(peer).is_some()
}

/// Connected peers' ids.
pub(crate) fn peer_ids(rc: &RatsClient) -> Vec<String> {
    rc.peers().iter().map(|p| p.peer_id.to_string()).collect()
}

/// Number of connected peers.
pub(crate) fn peer_count(rc: &RatsClient) -> usize {
    rc.peer_count()
}

/// librats' peer info JSON (`peer_id`, `ip`, `port`, `is_outgoing`, `handshake_completed`,
/// `version`, `encryption_enabled`) plus rats' `connection_method`, `transport`, `address`
/// and `rtt_ms`.
pub(crate) fn peer_info_json(rc: &RatsClient, peer: &PeerId) -> Option<String> {
    let info = rc.peer_info(peer)?;
    let sock = info.remote_addr.socket_addr();
    let v = serde_json::json!({
        "peer_id": info.peer_id.to_string(),
        "ip": sock.map_or_else(|| info.remote_addr.to_string(), |s| s.ip().to_string()),
        "port": sock.map_or(0, |s| s.port()),
        "is_outgoing": info.outbound,
        "handshake_completed": true,
        "version": info.agent,
        "encryption_enabled": info.encrypted,
        "connection_method": info.method.to_string(),
        "transport": info.transport,
        "address": info.remote_addr.to_string(),
        "rtt_ms": info.rtt.map(|d| d.as_secs_f64() * 1000.0),
    });
    Some(v.to_string())
}

/// Sends a text message to one peer.
pub(crate) async fn send_string(rc: &RatsClient, peer: &PeerId, text: &str) -> bool {
    rc.send_string(peer, text).await.is_ok()
}

/// Sends a text message to every peer; how many (`None`: failed).
pub(crate) fn broadcast_string(rc: &RatsClient, text: &str) -> Option<usize> {
    rc.broadcast_string(text).ok()
}

/// Sends a binary message to every peer; how many (`None`: failed).
pub(crate) fn broadcast_binary(rc: &RatsClient, data: &[u8]) -> Option<usize> {
    rc.broadcast_binary(data).ok()
}

/// Sends a typed JSON message to one peer.
pub(crate) async fn send_typed(
    rc: &RatsClient,
    peer: &PeerId,
    kind: &str,
    data: &serde_json::Value,
) -> bool {
    rc.send_to(peer, kind, data).await.is_ok()
}

/// Sends a typed JSON message to every peer; how many (`None`: failed).
pub(crate) fn broadcast_typed(
    rc: &RatsClient,
    kind: &str,
    data: &serde_json::Value,
) -> Option<usize> {
    rc.broadcast(kind, data).ok()
}

/// Whether the connection to `peer` is encrypted (`None`: not connected).
pub(crate) fn is_peer_encrypted(rc: &RatsClient, peer: &PeerId) -> Option<bool> {
    rc.is_peer_encrypted(peer)
}

/// Calls `f` for every text message (on the sending peer's connection task).
pub(crate) fn on_string(rc: &RatsClient, f: impl Fn(PeerId, &str) + Send + Sync + 'static) {
    rc.on_string(f);
}

/// Messages smaller than this are copied out of the receive buffer before they wait for the
/// callback thread; larger ones are shared (a small message must not pin a whole buffer).
const COPY_BELOW: usize = 64 * 1024;

/// Calls `f` for every binary message. Up to `small` bytes it gets rats' slice of the
/// receive buffer (to copy out before it returns); larger messages are already copied out
/// (below 64 KiB) or shared.
pub(crate) fn on_binary(
    rc: &RatsClient,
    small: usize,
    f: impl Fn(PeerId, Bytes) + Send + Sync + 'static,
) {
    rc.on_binary(move |peer, data| {
        let data = if data.len() > small && data.len() < COPY_BELOW {
            Bytes::copy_from_slice(&data)
        } else {
            data
        };
        f(peer, data)
    });
}

/// A sender bound to `peer`'s connection, for sending without looking the peer up each time
/// (`None`: not connected).
pub(crate) fn binary_sender(rc: &RatsClient, peer: &PeerId) -> Option<BinarySender> {
    rc.messages().binary_sender(peer).ok()
}

/// How a send through a cached [`BinarySender`] ended.
pub(crate) enum SenderOutcome {
    /// Queued.
    Sent,
    /// The sender's connection is gone or was replaced: get a new sender (nothing was sent).
    Stale,
    /// The message is too large, or the node stopped.
    Failed,
}

/// Sends `data` through `tx`: without waiting when its queue has room (the common case), else
/// waiting on the library runtime until it has.
pub(crate) fn send_with(tx: &BinarySender, data: &[u8]) -> SenderOutcome {
    let outcome = |r: Result<(), SendError>| match r {
        Ok(()) => SenderOutcome::Sent,
        Err(SendError::NotConnected(_) | SendError::Replaced(_)) => SenderOutcome::Stale,
        Err(_) => SenderOutcome::Failed,
    };
    match tx.try_send(data) {
        Err(SendError::QueueFull(_)) => crate::util::block_on(async { tx.send(data).await })
            .map_or(SenderOutcome::Failed, outcome),
        r => outcome(r),
    }
}

/// Calls `f` (peer, JSON text) for every typed message of type `kind`.
pub(crate) fn on_typed(
    rc: &RatsClient,
    kind: &str,
    f: impl Fn(String, String) + Send + Sync + 'static,
) {
    rc.on(kind, move |peer, data| {
        f(peer.to_string(), data.to_string())
    });
}

/// What the node's event bus tells the C side (copied out of rats' events).
pub(crate) enum NodeEv {
    /// A peer connected.
    Connected(String),
    /// A peer disconnected.
    Disconnected(String),
    /// A GossipSub event.
    Gossip(gossip::GossipEv),
    /// Transfer progress.
    Transfer(transfer::TransferEv),
    /// A discovery mechanism found a peer at `host:port` (`source`: `dht`, `mdns`, ...).
    Discovered {
        host: String,
        port: u16,
        source: String,
    },
}

/// Runs `f` for the node's peer and service events, on the library runtime, until the node
/// stops or the task is aborted. The bus is lossy for a subscriber that falls behind by more
/// than `event_capacity` events; those are skipped.
pub(crate) fn spawn_events(
    rt: &tokio::runtime::Runtime,
    rc: &Arc<RatsClient>,
    f: impl Fn(NodeEv) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    // Without message events: those are delivered through the handlers above.
    let mut events = rc.node().event_bus().subscribe_without_messages();
    let transfers = transfer::service_of(rc);
    rt.spawn(async move {
        while let Some(ev) = events.next_event().await {
            match ev {
                Event::PeerConnected { peer, .. } => f(NodeEv::Connected(peer.to_string())),
                Event::PeerDisconnected { peer, .. } => f(NodeEv::Disconnected(peer.to_string())),
                Event::PeerDiscovered { addr, source, .. } => {
                    if let Some(sock) = addr.socket_addr() {
                        f(NodeEv::Discovered {
                            host: sock.ip().to_string(),
                            port: sock.port(),
                            source,
                        });
                    }
                }
                Event::Service { service, event } => {
                    if let Some(g) = gossip::from_event(service, &event) {
                        f(NodeEv::Gossip(g));
                    } else if let Some(t) =
                        transfer::from_event(transfers.as_ref(), service, &event)
                    {
                        f(NodeEv::Transfer(t));
                    }
                }
                _ => {}
            }
        }
    })
}
