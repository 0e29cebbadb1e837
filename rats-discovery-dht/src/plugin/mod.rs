//! The `dht` discovery plugin: runs the DHT node(s), announces our discovery hash with our TCP
//! port and looks it up periodically, handing found addresses to the node to dial.

mod discovery_loop;
mod nodes;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use parking_lot::Mutex;
use rats_core::Address;
use rats_core::DiscoveryContext;
use rats_core::discovery::{Discovery, DiscoveryError};
use rats_core::encryption::ProtocolId;
use rats_core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};
use serde::Serialize;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::config::DhtConfig;
use crate::id::NodeId;
use crate::node::{DhtError, DhtNode};
use crate::stats::DhtStats;

/// How long `stop_dht` waits for the nodes to save and stop.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// `SHA-1(protocol_name + "_peer_discovery_v" + protocol_version)`: the info-hash under which
/// peers of one application find each other (the same formula as librats).
pub fn discovery_hash(protocol: &ProtocolId) -> NodeId {
    let text = format!("{}_peer_discovery_v{}", protocol.name, protocol.version);
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, text.as_bytes());
    let mut id = [0u8; 20];
    id.copy_from_slice(d.as_ref());
    NodeId(id)
}

/// The last discovery lookup.
#[derive(Clone, Debug, Serialize)]
pub struct LastLookup {
    /// When it finished.
    pub at: SystemTime,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// Peers it returned (including ones already known).
    pub peers: usize,
    /// Nodes that answered.
    pub responses: usize,
    /// Nodes that took our announce (0 when this round did not announce).
    pub announced_to: usize,
}

/// Status of the DHT discovery.
#[derive(Clone, Debug, Serialize)]
pub struct DhtStatus {
    /// Whether the DHT is running.
    pub running: bool,
    /// Our discovery hash (hex).
    pub discovery_hash: String,
    /// Nodes in the routing tables (all families).
    pub routing_table_size: usize,
    /// Distinct peer addresses found by the discovery loop.
    pub peers_found: usize,
    /// The last discovery lookup.
    pub last_lookup: Option<LastLookup>,
    /// Per address family.
    pub nodes: Vec<DhtStats>,
}

struct Running {
    nodes: Vec<DhtNode>,
    cancel: CancellationToken,
    finished: Vec<oneshot::Receiver<()>>,
}

#[derive(Default)]
pub(crate) struct Found {
    addrs: HashSet<SocketAddr>,
    last: Option<LastLookup>,
}

/// The DHT discovery plugin. Reach it with `node.discovery_plugin::<DhtDiscovery>()` (or
/// `rats::RatsClient::dht()`).
pub struct DhtDiscovery {
    config: DhtConfig,
    hash: NodeId,
    ctx: Mutex<Option<DiscoveryContext>>,
    running: Mutex<Option<Running>>,
    /// Serialises start_dht and stop_dht.
    lifecycle: tokio::sync::Mutex<()>,
    found: Arc<Mutex<Found>>,
    data_dir: Option<PathBuf>,
}

impl std::fmt::Debug for DhtDiscovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhtDiscovery")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

impl DhtDiscovery {
    /// A plugin for `protocol` with `config`, saving nodes under `data_dir`.
    pub fn new(config: DhtConfig, protocol: &ProtocolId, data_dir: Option<PathBuf>) -> Self {
        DhtDiscovery {
            config,
            hash: discovery_hash(protocol),
            ctx: Mutex::new(None),
            running: Mutex::new(None),
            lifecycle: tokio::sync::Mutex::new(()),
            found: Arc::default(),
            data_dir,
        }
    }

    /// Our discovery hash.
    pub fn discovery_hash(&self) -> NodeId {
        self.hash
    }

    /// Whether the DHT is running.
    pub fn is_running(&self) -> bool {
        self.running.lock().is_some()
    }

    /// The running nodes (one per address family).
    pub fn nodes(&self) -> Vec<DhtNode> {
        self.running
            .lock()
            .as_ref()
            .map(|r| r.nodes.clone())
            .unwrap_or_default()
    }

    fn nodes_or_err(&self) -> Result<Vec<DhtNode>, DhtError> {
        let n = self.nodes();
        if n.is_empty() {
            return Err(DhtError::Stopped);
        }
        Ok(n)
    }

    /// Nodes in the routing tables.
    pub fn routing_table_size(&self) -> usize {
        self.nodes().iter().map(DhtNode::routing_table_size).sum()
    }

    /// Status and statistics.
    pub fn status(&self) -> DhtStatus {
        let nodes: Vec<DhtStats> = self.nodes().iter().map(DhtNode::stats).collect();
        let found = self.found.lock();
        DhtStatus {
            running: !nodes.is_empty(),
            discovery_hash: self.hash.to_hex(),
            routing_table_size: nodes.iter().map(|s| s.routing_table_size).sum(),
            peers_found: found.addrs.len(),
            last_lookup: found.last.clone(),
            nodes,
        }
    }

    /// Waits until a node has bootstrapped (false on timeout or when not running).
    pub async fn wait_bootstrapped(&self, timeout: Duration) -> bool {
        let nodes = self.nodes();
        let waits = nodes.iter().map(|n| Box::pin(n.wait_bootstrapped(timeout)));
        if nodes.is_empty() {
            return false;
        }
        futures::future::select_all(waits).await.0
    }

    /// Looks `hash` up on every running node; peers arrive as they are found, the stream
    /// ends when all lookups have finished.
    pub async fn find_peers(
        &self,
        hash: NodeId,
    ) -> Result<BoxStream<'static, SocketAddr>, DhtError> {
        let mut streams = Vec::new();
        for n in self.nodes_or_err()? {
            streams.push(n.find_peers(hash).await?.into_stream().boxed());
        }
        let mut seen = HashSet::new();
        Ok(futures::stream::select_all(streams)
            .filter(move |a| futures::future::ready(seen.insert(*a)))
            .boxed())
    }

    /// Looks `hash` up and returns every peer found.
    pub async fn find_peers_all(&self, hash: NodeId) -> Result<Vec<SocketAddr>, DhtError> {
        Ok(self.find_peers(hash).await?.collect().await)
    }

    /// Callback form of [`find_peers`](Self::find_peers): `on_peer` runs for each peer on a
    /// background task; `on_done` runs once at the end with the number of peers.
    pub async fn find_peers_with(
        &self,
        hash: NodeId,
        mut on_peer: impl FnMut(SocketAddr) + Send + 'static,
        on_done: impl FnOnce(usize) + Send + 'static,
    ) -> Result<(), DhtError> {
        let mut stream = self.find_peers(hash).await?;
        tokio::spawn(async move {
            let mut n = 0;
            while let Some(p) = stream.next().await {
                n += 1;
                on_peer(p);
            }
            on_done(n);
        });
        Ok(())
    }

    /// Announces `port` under `hash` to the closest nodes (`None`: the DHT's UDP port,
    /// BEP 5 `implied_port`). Returns how many nodes took the announce.
    pub async fn announce(&self, hash: NodeId, port: Option<u16>) -> Result<usize, DhtError> {
        let mut total = 0;
        for n in self.nodes_or_err()? {
            total += n.announce(hash, port).await?.finish().await?.announced_to;
        }
        Ok(total)
    }

    /// Starts the DHT (again) with the node's context; a no-op while running.
    pub async fn start_dht(&self) -> Result<(), DhtError> {
        let _one_at_a_time = self.lifecycle.lock().await;
        let Some(ctx) = self.ctx.lock().clone() else {
            return Err(DhtError::Stopped);
        };
        if self.is_running() {
            return Ok(());
        }
        let cancel = ctx.cancellation().child_token();
        let started =
            nodes::start_nodes(&self.config, self.data_dir.as_deref(), &ctx, &cancel).await?;
        if self.config.discover {
            let (nodes, ctx2, cfg) = (started.nodes.clone(), ctx.clone(), self.config.clone());
            let (hash, found, cancel) = (self.hash, self.found.clone(), cancel.clone());
            ctx.spawn(discovery_loop::run(nodes, ctx2, cfg, hash, found, cancel));
        }
        info!(
            hash = %self.hash,
            addrs = ?started.nodes.iter().map(DhtNode::local_addr).collect::<Vec<_>>(),
            "DHT started"
        );
        *self.running.lock() = Some(Running {
            nodes: started.nodes,
            cancel,
            finished: started.finished,
        });
        Ok(())
    }

    /// Stops the DHT and waits (a few seconds at most) until its nodes have saved and stopped;
    /// `start_dht` starts it again.
    pub async fn stop_dht(&self) {
        let _one_at_a_time = self.lifecycle.lock().await;
        let r = self.running.lock().take();
        if let Some(r) = r {
            r.cancel.cancel();
            let all = futures::future::join_all(r.finished);
            let _ = tokio::time::timeout(STOP_WAIT, all).await;
        }
    }
}

fn key_to_hash(key: &[u8]) -> Result<NodeId, DiscoveryError> {
    NodeId::from_slice(key)
        .or_else(|| std::str::from_utf8(key).ok().and_then(NodeId::from_hex))
        .ok_or_else(|| DiscoveryError::Other(DhtError::BadKey(key.len()).into()))
}

#[async_trait]
impl Discovery for DhtDiscovery {
    fn name(&self) -> &'static str {
        "dht"
    }

    async fn start(&self, ctx: DiscoveryContext) -> Result<(), DiscoveryError> {
        *self.ctx.lock() = Some(ctx);
        self.start_dht()
            .await
            .map_err(|e| DiscoveryError::Other(e.into()))
    }

    async fn announce(&self, key: &[u8]) -> Result<(), DiscoveryError> {
        let hash = key_to_hash(key)?;
        let port = self
            .ctx
            .lock()
            .as_ref()
            .and_then(|c| {
                discovery_loop::tcp_port(c, false).or_else(|| discovery_loop::tcp_port(c, true))
            })
            .ok_or_else(|| {
                DiscoveryError::Other("dht: nothing to announce: not listening on TCP".into())
            })?;
        self.announce(hash, Some(port))
            .await
            .map(|_| ())
            .map_err(|e| DiscoveryError::Other(e.into()))
    }

    async fn find(&self, key: &[u8]) -> Result<BoxStream<'static, Address>, DiscoveryError> {
        let hash = key_to_hash(key)?;
        let s = self
            .find_peers(hash)
            .await
            .map_err(|_| DiscoveryError::NotRunning("dht"))?;
        Ok(s.map(Address::tcp).boxed())
    }

    async fn stop(&self) {
        self.stop_dht().await;
    }
}

fn create(cfg: &PluginConfig) -> Result<Plugin, PluginError> {
    let config: DhtConfig = cfg.parse()?;
    config.validate().map_err(|error| PluginError::Config {
        key: error.key().map(|k| format!("dht.{k}")),
        plugin: "dht",
        error: error.to_string(),
    })?;
    Ok(Plugin::Discovery(Arc::new(DhtDiscovery::new(
        config,
        &cfg.protocol,
        cfg.data_dir.clone(),
    ))))
}

rats_core::inventory::submit! {
    PluginFactory { name: "dht", kind: PluginKind::Discovery, create }
}
