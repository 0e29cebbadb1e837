//! The `dht` discovery plugin: runs the DHT node(s), announces our discovery hash with our TCP
//! port and looks it up periodically, handing found addresses to the node to dial.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use parking_lot::Mutex;
use rats_core::Address;
use rats_core::discovery::{Discovery, DiscoveryError};
use rats_core::encryption::ProtocolId;
use rats_core::node::DiscoveryContext;
use rats_core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::config::DhtConfig;
use crate::id::NodeId;
use crate::node::{DhtError, DhtNode, NodeSettings};
use crate::saved;
use crate::stats::DhtStats;

/// Distinct discovered addresses remembered for statistics.
const MAX_REMEMBERED: usize = 1024;
/// How often the routing table is saved while running.
const SAVE_EVERY: Duration = Duration::from_secs(5 * 60);
/// How long the discovery loop waits for a first bootstrap before its first lookup.
const FIRST_BOOTSTRAP_WAIT: Duration = Duration::from_secs(5);
/// Longest wait for a name lookup of a bootstrap host.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

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
}

#[derive(Default)]
struct Found {
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
        let Some(ctx) = self.ctx.lock().clone() else {
            return Err(DhtError::Stopped);
        };
        if self.is_running() {
            return Ok(());
        }
        let cancel = ctx.cancellation().child_token();
        let nodes = self.bind_nodes(&ctx, &cancel).await?;
        if self.config.discover {
            let found = self.found.clone();
            let cfg = self.config.clone();
            let hash = self.hash;
            let loop_nodes = nodes.clone();
            let loop_ctx = ctx.clone();
            let loop_cancel = cancel.clone();
            ctx.spawn(async move {
                discovery_loop(loop_nodes, loop_ctx, cfg, hash, found, loop_cancel).await;
            });
        }
        info!(
            hash = %self.hash,
            addrs = ?nodes.iter().map(DhtNode::local_addr).collect::<Vec<_>>(),
            "DHT started"
        );
        *self.running.lock() = Some(Running { nodes, cancel });
        Ok(())
    }

    /// Stops the DHT (saving its nodes); `start_dht` starts it again.
    pub async fn stop_dht(&self) {
        let r = self.running.lock().take();
        if let Some(r) = r {
            r.cancel.cancel();
        }
    }

    async fn bind_nodes(
        &self,
        ctx: &DiscoveryContext,
        cancel: &CancellationToken,
    ) -> Result<Vec<DhtNode>, DhtError> {
        let cfg = &self.config;
        let (mut literal, mut names) = split_bootstrap(&cfg.bootstrap_nodes());
        let (mut bind_v4, mut bind_v6) = (IpAddr::V4(cfg.bind_v4), IpAddr::V6(cfg.bind_v6));
        // A node that only listens on loopback cannot be reached from the internet: its DHT
        // stays on loopback too and never contacts outside bootstrap nodes.
        let listen = ctx.listen_addrs();
        if !listen.is_empty() && listen.iter().all(Address::is_loopback) {
            if bind_v4.is_unspecified() {
                bind_v4 = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
            }
            if bind_v6.is_unspecified() {
                bind_v6 = IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);
            }
            literal.retain(|a| a.ip().is_loopback());
            names.clear();
            debug!("node listens on loopback only: DHT kept on loopback");
        }
        let mut binds: Vec<SocketAddr> = Vec::new();
        if cfg.ipv4 {
            binds.push(SocketAddr::new(bind_v4, cfg.port));
        }
        if cfg.ipv6 {
            binds.push(SocketAddr::new(bind_v6, cfg.port));
        }
        let mut nodes = Vec::new();
        let mut first_err = None;
        let mut port = cfg.port;
        for bind in binds {
            let v6 = bind.is_ipv6();
            let file = self.data_dir.as_ref().map(|d| saved::path(d, v6));
            let old = file.as_deref().map(saved::load).unwrap_or_default();
            let mut settings = NodeSettings::new(
                SocketAddr::new(bind.ip(), port),
                literal
                    .iter()
                    .filter(|a| a.is_ipv6() == v6)
                    .copied()
                    .collect(),
            );
            settings.id = old.id;
            settings.saved = old.nodes;
            settings.request_timeout = cfg.request_timeout();
            settings.max_queries_per_sec = cfg.max_queries_per_sec;
            settings.max_inbound_per_ip_per_sec = cfg.max_inbound_per_ip_per_sec;
            settings.max_inbound_per_sec = cfg.max_inbound_per_sec;
            settings.restrict_routing_ips = cfg.restrict_routing_ips;
            settings.secure_node_id = cfg.secure_node_id;
            settings.max_stored_hashes = cfg.max_stored_hashes;
            settings.max_peers_per_hash = cfg.max_peers_per_hash;
            let bound = match DhtNode::bind(settings.clone()).await {
                Ok(b) => Ok(b),
                // The IPv4 node's port may be taken on IPv6: take any there.
                Err(_) if port != 0 && !nodes.is_empty() => {
                    settings.bind.set_port(0);
                    DhtNode::bind(settings).await
                }
                Err(e) => Err(e),
            };
            match bound {
                Ok((node, task)) => {
                    port = node.local_addr().port();
                    let cancel = cancel.clone();
                    let save_to = if cfg.save_nodes { file } else { None };
                    let handle = node.clone();
                    ctx.spawn(async move {
                        let good = task.run(cancel).await;
                        if let Some(path) = save_to {
                            save(&handle, &path, &good).await;
                        }
                    });
                    nodes.push(node);
                }
                Err(e) if v6 && !nodes.is_empty() => {
                    warn!(error = %e, "DHT: no IPv6 node (IPv4 only)");
                }
                Err(e) => first_err = Some(e),
            }
        }
        if nodes.is_empty() {
            return Err(first_err.unwrap_or(DhtError::Stopped));
        }
        if !names.is_empty() {
            let resolve_nodes = nodes.clone();
            ctx.spawn(resolve_bootstrap(names, resolve_nodes, cancel.clone()));
        }
        Ok(nodes)
    }
}

async fn save(node: &DhtNode, path: &std::path::Path, good: &[crate::compact::NodeInfo]) {
    let Some(id) = NodeId::from_hex(&node.stats().node_id) else {
        return;
    };
    let path = path.to_path_buf();
    let good = good.to_vec();
    let r = tokio::task::spawn_blocking(move || saved::store(&path, id, &good)).await;
    if let Ok(Err(e)) = r {
        debug!(error = %e, "DHT: could not save nodes");
    }
}

/// Splits bootstrap entries into socket addresses and names to resolve.
fn split_bootstrap(list: &[String]) -> (Vec<SocketAddr>, Vec<String>) {
    let mut literal = Vec::new();
    let mut names = Vec::new();
    for s in list {
        match s.parse::<SocketAddr>() {
            Ok(a) => literal.push(a),
            Err(_) => names.push(s.clone()),
        }
    }
    (literal, names)
}

async fn resolve_bootstrap(names: Vec<String>, nodes: Vec<DhtNode>, cancel: CancellationToken) {
    for name in names {
        let lookup = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host(name.clone()));
        let addrs: Vec<SocketAddr> = tokio::select! {
            _ = cancel.cancelled() => return,
            r = lookup => match r {
                Ok(Ok(a)) => a.collect(),
                Ok(Err(e)) => { debug!(%name, error = %e, "DHT bootstrap name not resolved"); continue }
                Err(_) => { debug!(%name, "DHT bootstrap name lookup timed out"); continue }
            },
        };
        for n in &nodes {
            let v6 = n.local_addr().is_ipv6();
            let mine: Vec<SocketAddr> = addrs
                .iter()
                .filter(|a| a.is_ipv6() == v6)
                .copied()
                .collect();
            if !mine.is_empty() {
                let _ = n.add_bootstrap(mine).await;
            }
        }
    }
}

fn tcp_port(ctx: &DiscoveryContext) -> Option<u16> {
    ctx.listen_addrs()
        .iter()
        .filter(|a| a.scheme() == "tcp")
        .find_map(|a| a.socket_addr().map(|s| s.port()).filter(|p| *p != 0))
}

/// Announce (every `announce_interval_secs`) and look up (every `interval_secs`, or
/// `fast_interval_secs` while we have few peers) our discovery hash.
async fn discovery_loop(
    nodes: Vec<DhtNode>,
    ctx: DiscoveryContext,
    cfg: DhtConfig,
    hash: NodeId,
    found: Arc<Mutex<Found>>,
    cancel: CancellationToken,
) {
    let first = futures::future::select_all(
        nodes
            .iter()
            .map(|n| Box::pin(n.wait_bootstrapped(FIRST_BOOTSTRAP_WAIT))),
    );
    tokio::select! {
        _ = cancel.cancelled() => return,
        _ = first => {}
    }
    let mut last_announce: Option<Instant> = None;
    let mut last_save = Instant::now();
    let announce_every = Duration::from_secs(cfg.announce_interval_secs.max(60));
    loop {
        let port = tcp_port(&ctx);
        let announce = port.filter(|_| last_announce.is_none_or(|t| t.elapsed() >= announce_every));
        let started = Instant::now();
        let rounds = nodes.iter().map(|n| {
            let ctx = ctx.clone();
            let found = found.clone();
            async move {
                let lookup = match announce {
                    Some(p) => n.announce(hash, Some(p)).await,
                    None => n.find_peers(hash).await,
                };
                let Ok(mut lookup) = lookup else {
                    return None;
                };
                while let Some(addr) = lookup.next_peer().await {
                    {
                        let mut f = found.lock();
                        if f.addrs.len() < MAX_REMEMBERED {
                            f.addrs.insert(addr);
                        }
                    }
                    if Some(addr.port()) == port && is_self(&ctx, addr) {
                        continue;
                    }
                    ctx.report(None, vec![Address::tcp(addr)]);
                }
                lookup.finish().await.ok()
            }
        });
        let results = tokio::select! {
            _ = cancel.cancelled() => return,
            r = futures::future::join_all(rounds) => r,
        };
        let summaries: Vec<_> = results.into_iter().flatten().collect();
        let announced_to: usize = summaries.iter().map(|s| s.announced_to).sum();
        if announce.is_some() && announced_to > 0 {
            last_announce = Some(Instant::now());
        }
        found.lock().last = Some(LastLookup {
            at: SystemTime::now(),
            duration_ms: started.elapsed().as_millis() as u64,
            peers: summaries.iter().map(|s| s.peers.len()).sum(),
            responses: summaries.iter().map(|s| s.responses).sum(),
            announced_to,
        });
        debug!(%hash, announced_to, "DHT discovery round done");
        if last_save.elapsed() >= SAVE_EVERY {
            last_save = Instant::now();
            // The node saves on exit; a periodic save guards against a crash.
            for n in &nodes {
                if let Ok(list) = n.nodes().await
                    && let Some(dir) = ctx.data_dir()
                    && cfg.save_nodes
                {
                    save(n, &saved::path(&dir, n.local_addr().is_ipv6()), &list).await;
                }
            }
        }
        let few = ctx.peer_count() < cfg.few_peers;
        // Until an announce has landed, retry at the fast pace too.
        let secs = if few || last_announce.is_none() && port.is_some() {
            cfg.fast_interval_secs
        } else {
            cfg.interval_secs
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(secs)) => {}
        }
    }
}

/// Whether `addr` (a peer found under our hash, with our port) is us.
fn is_self(ctx: &DiscoveryContext, addr: SocketAddr) -> bool {
    ctx.listen_addrs().iter().any(|l| {
        l.socket_addr().is_some_and(|l| {
            l.port() == addr.port()
                && (l.ip() == addr.ip() || (l.ip().is_unspecified() && addr.ip().is_loopback()))
        })
    })
}

fn key_to_hash(key: &[u8]) -> Result<NodeId, DiscoveryError> {
    NodeId::from_slice(key)
        .or_else(|| std::str::from_utf8(key).ok().and_then(NodeId::from_hex))
        .ok_or_else(|| DiscoveryError::Other(DhtError::BadKey(key.len()).to_string()))
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
            .map_err(|e| DiscoveryError::Other(e.to_string()))
    }

    async fn announce(&self, key: &[u8]) -> Result<(), DiscoveryError> {
        let hash = key_to_hash(key)?;
        let port = self.ctx.lock().as_ref().and_then(tcp_port);
        self.announce(hash, port)
            .await
            .map(|_| ())
            .map_err(|e| DiscoveryError::Other(e.to_string()))
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
        plugin: "dht",
        error,
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
