//! The `Node` runtime: listeners, dials, handshakes, the peer table, limits, keepalive and
//! shutdown. Every task a node starts is tracked and stopped by `shutdown()` or by dropping
//! the last `Node` handle.

mod accept;
mod clock;
mod connection;
pub(crate) mod control;
mod dial;
mod handshake;
pub(crate) mod hello;
mod host;
mod limits;
mod peers;
mod shared;
mod sweeper;
mod upgrade;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use dashmap::DashMap;
use parking_lot::RwLock;
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::address::{Address, ToAddress};
use crate::config::NodeConfig;
use crate::connect::ConnectError;
use crate::discovery::{Discovery, DiscoveryContext};
use crate::encryption::{Encryption, ProtocolId};
use crate::event::{DisconnectReason, EventBus, EventStream};
use crate::identity::{Identity, PeerId};
use crate::nat::{NatContext, NatStrategy};
use crate::node::shared::{NodeShared, ServiceEntry};
use crate::outbound::CloseMode;
use crate::peer::PeerInfo;
use crate::registry::{Plugin, PluginConfig, PluginError, PluginFactory};
use crate::service::{Priority, Service, ServiceContext, ServiceError};
use crate::transport::{Transport, TransportError};

/// Errors starting a node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// Invalid configuration.
    #[error("invalid configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// A service asked for the Control priority, which belongs to the node.
    #[error("service {0} asks for the Control priority, which belongs to the node")]
    ControlPriority(&'static str),
    /// A plugin factory failed.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// No encryption plugin with the configured name is linked.
    #[error("no encryption plugin named {0:?} is linked (enable the `noise` feature)")]
    NoEncryption(String),
    /// A listen address has no transport or could not be bound.
    #[error("cannot listen on {addr}: {error}")]
    Listen {
        /// The address.
        addr: Address,
        /// Why.
        error: TransportError,
    },
    /// Two services claim the same channel.
    #[error("services {0} and {1} both use channel {2}")]
    ChannelClash(&'static str, &'static str, u16),
    /// A service failed to start.
    #[error("service {0}: {1}")]
    Service(&'static str, ServiceError),
}

/// Builds a [`Node`]: identity, configuration and plugins. Plugins linked into the program
/// (through the registry) are added automatically unless disabled in the configuration.
pub struct NodeBuilder {
    config: NodeConfig,
    identity: Option<Identity>,
    data_dir: Option<PathBuf>,
    transports: Vec<Arc<dyn Transport>>,
    encryption: Option<Arc<dyn Encryption>>,
    services: Vec<Arc<dyn Service>>,
    discovery: Vec<Arc<dyn Discovery>>,
    nat: Vec<Arc<dyn NatStrategy>>,
    /// Factories registered explicitly with [`NodeBuilder::plugin`].
    factories: Vec<&'static PluginFactory>,
    use_registry: bool,
}

impl Default for NodeBuilder {
    fn default() -> Self {
        Self::new(NodeConfig::default())
    }
}

impl NodeBuilder {
    /// A builder with the given configuration.
    pub fn new(config: NodeConfig) -> Self {
        NodeBuilder {
            config,
            identity: None,
            data_dir: None,
            transports: Vec::new(),
            encryption: None,
            services: Vec::new(),
            discovery: Vec::new(),
            nat: Vec::new(),
            factories: Vec::new(),
            use_registry: true,
        }
    }

    /// Uses this identity (default: a fresh one).
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The data directory handed to plugins.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Adds a transport explicitly.
    pub fn transport(mut self, t: Arc<dyn Transport>) -> Self {
        self.transports.push(t);
        self
    }

    /// Uses this encryption instead of the configured plugin.
    pub fn encryption(mut self, e: Arc<dyn Encryption>) -> Self {
        self.encryption = Some(e);
        self
    }

    /// Adds a service.
    pub fn service(mut self, s: Arc<dyn Service>) -> Self {
        self.services.push(s);
        self
    }

    /// Adds a discovery mechanism.
    pub fn discovery(mut self, d: Arc<dyn Discovery>) -> Self {
        self.discovery.push(d);
        self
    }

    /// Adds a NAT strategy.
    pub fn nat(mut self, n: Arc<dyn NatStrategy>) -> Self {
        self.nat.push(n);
        self
    }

    /// Registers a plugin factory explicitly: it is instantiated like a linked one (its config
    /// section, `disabled_plugins`), whether or not the registry is used. This is how a plugin
    /// crate that does not submit itself to the registry is added, and it works for one that
    /// does too (the same factory is instantiated once).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rats_core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};
    ///
    /// fn make(_: &PluginConfig) -> Result<Plugin, PluginError> {
    ///     Ok(Plugin::Transport(Arc::new(rats_core::MemoryTransport)))
    /// }
    /// static MEMORY: PluginFactory =
    ///     PluginFactory { name: "my-mem", kind: PluginKind::Transport, create: make };
    ///
    /// let builder = rats_core::Node::builder().plugin(&MEMORY);
    /// # drop(builder);
    /// ```
    pub fn plugin(mut self, factory: &'static PluginFactory) -> Self {
        if !self.factories.iter().any(|f| f.name == factory.name) {
            self.factories.push(factory);
        }
        self
    }

    /// Whether to instantiate the plugins linked into the program through the registry
    /// (`inventory`; default true). Plugins added with [`plugin`](Self::plugin) are
    /// instantiated either way.
    pub fn use_registry(mut self, yes: bool) -> Self {
        self.use_registry = yes;
        self
    }

    /// Replaces the configuration.
    pub fn with_config(mut self, config: NodeConfig) -> Self {
        self.config = config;
        self
    }

    /// Mutable access to the configuration.
    pub fn config_mut(&mut self) -> &mut NodeConfig {
        &mut self.config
    }

    /// Instantiates the explicit factories, then the linked ones (unless `use_registry` is
    /// off); a name is instantiated once.
    fn instantiate_plugins(&mut self) -> Result<(), NodeError> {
        let protocol = self.config.protocol();
        let all_sections: Arc<serde_json::Map<String, serde_json::Value>> = Arc::new(
            self.config
                .plugins
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
        let linked: Vec<&'static PluginFactory> = if self.use_registry {
            crate::registry::factories().collect()
        } else {
            Vec::new()
        };
        let mut seen = std::collections::HashSet::new();
        let factories: Vec<&'static PluginFactory> = self
            .factories
            .iter()
            .copied()
            .chain(linked)
            .filter(|f| seen.insert(f.name))
            .collect();
        for factory in factories {
            if self.config.disabled_plugins.contains(factory.name) {
                continue;
            }
            let cfg = PluginConfig {
                name: factory.name,
                section: self
                    .config
                    .plugins
                    .get(factory.name)
                    .cloned()
                    .unwrap_or(serde_json::Value::Null),
                all_sections: all_sections.clone(),
                data_dir: self.data_dir.clone(),
                protocol: protocol.clone(),
            };
            let plugin = (factory.create)(&cfg)?;
            if plugin.kind() != factory.kind {
                return Err(NodeError::Plugin(PluginError::Failed {
                    plugin: factory.name,
                    error: format!(
                        "declared a {:?} plugin but made a {:?}",
                        factory.kind,
                        plugin.kind()
                    ),
                }));
            }
            match plugin {
                Plugin::Transport(t) => {
                    if !self.transports.iter().any(|x| x.name() == t.name()) {
                        self.transports.push(t);
                    }
                }
                Plugin::Encryption(e) => {
                    if self.encryption.is_none() && e.name() == self.config.encryption {
                        self.encryption = Some(e);
                    }
                }
                Plugin::Discovery(d) => self.discovery.push(d),
                Plugin::Nat(n) => self.nat.push(n),
                Plugin::Service(s) => {
                    let name = s.descriptor().name;
                    if !self.services.iter().any(|x| x.descriptor().name == name) {
                        self.services.push(s);
                    }
                }
            }
        }
        Ok(())
    }

    /// Builds the node, binds its listeners and starts plugins.
    pub async fn start(mut self) -> Result<Node, NodeError> {
        self.config.validate().map_err(NodeError::Config)?;
        self.instantiate_plugins()?;
        let encryption = self
            .encryption
            .take()
            .ok_or_else(|| NodeError::NoEncryption(self.config.encryption.clone()))?;
        let mut services: Vec<ServiceEntry> = Vec::new();
        for s in self.services {
            let d = s.descriptor();
            if d.channel == crate::frame::CONTROL_CHANNEL {
                return Err(NodeError::ChannelClash("node", d.name, 0));
            }
            if d.priority == Priority::Control {
                return Err(NodeError::ControlPriority(d.name));
            }
            let uses = |e: &ServiceEntry, c: u16| {
                e.descriptor.channel == c || e.descriptor.bulk_channel == Some(c)
            };
            for c in std::iter::once(d.channel).chain(d.bulk_channel) {
                if c == crate::frame::CONTROL_CHANNEL || d.bulk_channel == Some(d.channel) {
                    return Err(NodeError::ChannelClash(d.name, d.name, c));
                }
                if let Some(other) = services.iter().find(|e| uses(e, c)) {
                    return Err(NodeError::ChannelClash(other.descriptor.name, d.name, c));
                }
            }
            services.push(ServiceEntry {
                descriptor: d,
                service: s,
            });
        }
        self.nat.sort_by_key(|n| n.cost());
        let identity = self.identity.unwrap_or_else(Identity::generate);
        let cancel = CancellationToken::new();
        let config = self.config;
        let shared = Arc::new(NodeShared {
            protocol: config.protocol(),
            limits: limits::Limits::new(
                config.max_peers,
                config.max_pending_handshakes,
                config.max_pending_per_ip,
                config.max_connections_per_ip,
            ),
            memory: crate::budget::MemoryBudget::new(config.memory_limits()),
            events: EventBus::new(config.event_capacity),
            identity,
            transports: self.transports,
            encryption,
            nat: self.nat,
            discovery: self.discovery,
            services,
            peers: DashMap::new(),
            connections: DashMap::new(),
            dialing: DashMap::new(),
            cancel: cancel.clone(),
            tasks: TaskTracker::new(),
            listen_addrs: RwLock::new(Vec::new()),
            external_addrs: RwLock::new(Vec::new()),
            local_nat: RwLock::new(None),
            next_conn_id: AtomicU64::new(1),
            lifecycle: parking_lot::Mutex::new(()),
            candidate_dials: Default::default(),
            rejecting: Default::default(),
            introducers: Default::default(),
            clock: clock::CoarseClock::new(),
            data_dir: self.data_dir,
            config,
        });
        let node = Node {
            shared: shared.clone(),
            _guard: Arc::new(cancel.clone().drop_guard()),
        };
        if let Err(e) = node.start_inner().await {
            node.shutdown().await;
            return Err(e);
        }
        Ok(node)
    }
}

/// A running rats node. Cheap to clone; the node stops when `shutdown()` is called or the
/// last clone is dropped.
#[derive(Clone)]
pub struct Node {
    shared: Arc<NodeShared>,
    _guard: Arc<DropGuard>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("peer_id", &self.shared.local_id())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// A builder with default configuration.
    pub fn builder() -> NodeBuilder {
        NodeBuilder::default()
    }

    async fn start_inner(&self) -> Result<(), NodeError> {
        let shared = &self.shared;
        for addr in shared.config.listen.clone() {
            let transport = shared
                .transports
                .iter()
                .find(|t| t.can_dial(&addr))
                .ok_or_else(|| NodeError::Listen {
                    addr: addr.clone(),
                    error: TransportError::Unsupported(addr.clone()),
                })?;
            let listener = transport
                .listen(&addr)
                .await
                .map_err(|error| NodeError::Listen {
                    addr: addr.clone(),
                    error,
                })?;
            for bound in listener.local_addrs() {
                info!(addr = %bound, "listening");
                shared.listen_addrs.write().push(bound.clone());
                shared
                    .events
                    .emit(crate::event::Event::Listening { addr: bound });
            }
            shared
                .tasks
                .spawn(accept::accept_loop(shared.clone(), listener));
        }
        shared.tasks.spawn(sweeper::run(shared.clone()));
        for s in &shared.services {
            let ctx = ServiceContext {
                host: shared.host(),
                channel: s.descriptor.channel,
                priority: s.descriptor.priority,
                bulk_channel: s.descriptor.bulk_channel,
                local: shared.local_id(),
                events: shared.events.clone(),
                cancel: shared.cancel.child_token(),
            };
            s.service
                .start(ctx)
                .await
                .map_err(|e| NodeError::Service(s.descriptor.name, e))?;
        }
        for d in &shared.discovery {
            let ctx = DiscoveryContext {
                host: shared.host(),
                source: d.name(),
                local: shared.local_id(),
                protocol: shared.protocol.clone(),
                cancel: shared.cancel.child_token(),
            };
            if let Err(e) = d.start(ctx).await {
                warn!(discovery = d.name(), error = %e, "discovery failed to start");
            }
        }
        for n in &shared.nat {
            let ctx = NatContext {
                base: DiscoveryContext {
                    host: shared.host(),
                    source: n.name(),
                    local: shared.local_id(),
                    protocol: shared.protocol.clone(),
                    cancel: shared.cancel.child_token(),
                },
            };
            if let Err(e) = n.start(ctx).await {
                warn!(nat = n.name(), error = %e, "NAT plugin failed to start");
            }
        }
        Ok(())
    }

    /// The application protocol (name and version) this node speaks.
    pub fn protocol(&self) -> &ProtocolId {
        &self.shared.protocol
    }

    /// Our peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.shared.local_id()
    }

    /// Our identity.
    pub fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    /// The configuration in force.
    pub fn config(&self) -> &NodeConfig {
        &self.shared.config
    }

    /// The data directory, if any.
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self.shared.data_dir.as_deref()
    }

    /// Bound listen addresses (real ports).
    pub fn listen_addrs(&self) -> Vec<Address> {
        self.shared.listen_addrs.read().clone()
    }

    /// Public addresses that reach our listeners (from port mapping...), told to peers too.
    pub fn external_addrs(&self) -> Vec<Address> {
        self.shared.external_addrs.read().clone()
    }

    /// Connects to `addr`; returns the authenticated peer id once connected (also when the
    /// peer turned out to be connected already).
    pub async fn connect(&self, addr: impl ToAddress) -> Result<PeerId, ConnectError> {
        let addr = addr.to_address()?;
        dial::dial(&self.shared, &addr).await
    }

    /// Connects to a peer known by several addresses, as `connect_strategy` allows: direct
    /// addresses all at once (relayed ones joining the race after a head start), then NAT strategies. `ConnectAttempt` events
    /// report each try; `PeerInfo::method` says which way won.
    pub async fn connect_any(&self, addrs: &[Address]) -> Result<PeerId, ConnectError> {
        dial::connect_any(&self.shared, addrs, None, None).await
    }

    /// Like [`connect_any`](Self::connect_any) for a known peer: a candidate address that
    /// leads to another peer is dropped and the next one tried.
    pub async fn connect_peer(
        &self,
        peer: PeerId,
        addrs: &[Address],
    ) -> Result<PeerId, ConnectError> {
        dial::connect_any(&self.shared, addrs, Some(peer), None).await
    }

    /// Disconnects a peer gracefully (queued data is sent first).
    pub fn disconnect(&self, peer: &PeerId) -> bool {
        let Some(conn) = self.shared.peers.get(peer).map(|e| e.conn.clone()) else {
            return false;
        };
        conn.close(
            DisconnectReason::LocalRequest,
            CloseMode::Graceful,
            self.shared.clock.now(),
        );
        true
    }

    /// Connected peers.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.shared
            .peers
            .iter()
            .map(|e| {
                let mut info = (*e.info).clone();
                info.rtt = e.conn.rtt();
                info
            })
            .collect()
    }

    /// Ids of connected peers.
    pub fn peer_ids(&self) -> Vec<PeerId> {
        self.shared.peers.iter().map(|e| *e.key()).collect()
    }

    /// Number of connected peers.
    pub fn peer_count(&self) -> usize {
        self.shared.peers.len()
    }

    /// Whether `peer` is connected.
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.shared.is_connected(peer)
    }

    /// What we know about one peer.
    pub fn peer_info(&self, peer: &PeerId) -> Option<PeerInfo> {
        let e = self.shared.peers.get(peer)?;
        let mut info = (*e.info).clone();
        info.rtt = e.conn.rtt();
        Some(info)
    }

    /// Whether our connection to `peer` is encrypted (`None` if not connected).
    pub fn is_peer_encrypted(&self, peer: &PeerId) -> Option<bool> {
        self.shared.peers.get(peer).map(|e| e.info.encrypted)
    }

    /// Subscribes to the event bus.
    pub fn events(&self) -> EventStream {
        self.shared.events.subscribe()
    }

    /// The event bus itself.
    pub fn event_bus(&self) -> &EventBus {
        &self.shared.events
    }

    /// Bytes that peers make this node hold now (partial messages, messages queued for
    /// services), all together; never more than `memory_budget`.
    pub fn memory_used(&self) -> usize {
        self.shared.memory.used()
    }

    /// Messages dropped since start because the memory budget refused to hold them.
    pub fn memory_refusals(&self) -> u64 {
        self.shared.memory.refusals()
    }

    /// Live connections, including superseded ones still draining.
    pub fn connection_count(&self) -> usize {
        self.shared.connections.len()
    }

    /// Runs a linked transport that can (QUIC) over a datagram path the application opened
    /// (an ICE pair, say): see [`Transport::bind_path`]. Byte
    /// streams from it become connections with [`connect_raw`](Self::connect_raw).
    pub fn bind_path(
        &self,
        path: crate::transport::DatagramPath,
        accept: bool,
    ) -> Result<Arc<dyn crate::transport::PathEndpoint>, TransportError> {
        crate::host::NodeHost::bind_path(&*self.shared, path, accept)
    }

    /// A context for sending on `channel` from outside a service (tools, benchmarks), with the
    /// priority of the service registered on it (`Normal` if none). `None` for the node's own
    /// control channel. One channel always uses one priority, so fragments never interleave.
    pub fn channel_context(&self, channel: u16) -> Option<ServiceContext> {
        if channel == crate::frame::CONTROL_CHANNEL {
            return None;
        }
        let priority = match self.shared.service(channel) {
            Some((_, true)) => Priority::Bulk,
            _ => self
                .shared
                .services
                .iter()
                .find(|s| s.descriptor.channel == channel)
                .map_or(Priority::Normal, |s| s.descriptor.priority),
        };
        Some(ServiceContext {
            host: self.shared.host(),
            channel,
            priority,
            bulk_channel: None,
            local: self.shared.local_id(),
            events: self.shared.events.clone(),
            cancel: self.shared.cancel.child_token(),
        })
    }

    /// Asks discovery plugins and dials the peers they know; also usable for peer candidates
    /// found by the application.
    pub fn add_candidate(&self, peer: Option<PeerId>, addrs: Vec<Address>) {
        self.shared.dial_candidate(peer, addrs, None, "application");
    }

    /// The discovery plugin of concrete type `T`, to use its own API.
    pub fn discovery_plugin<T: Discovery>(&self) -> Option<Arc<T>> {
        self.shared.discovery.iter().find_map(|d| {
            let any: Arc<dyn std::any::Any + Send + Sync> = d.clone();
            any.downcast::<T>().ok()
        })
    }

    /// Runs the handshake on a byte stream made outside the node's transports (QUIC on an
    /// ICE-nominated candidate pair, say) and registers the peer with `method` as its
    /// `PeerInfo::method`: as the initiator when we opened the stream, as the responder when
    /// the other side did (`inbound`). Connection limits apply.
    pub async fn connect_raw(
        &self,
        raw: crate::transport::RawConnection,
        inbound: bool,
        method: &'static str,
    ) -> Result<PeerId, ConnectError> {
        handshake::establish_with(&self.shared, raw, inbound, method, None).await
    }

    /// The NAT plugin of concrete type `T`, to use its own API.
    pub fn nat_plugin<T: NatStrategy>(&self) -> Option<Arc<T>> {
        self.shared.nat.iter().find_map(|n| {
            let any: Arc<dyn std::any::Any + Send + Sync> = n.clone();
            any.downcast::<T>().ok()
        })
    }

    /// The service of concrete type `T`, to use its own API.
    pub fn service_plugin<T: Service>(&self) -> Option<Arc<T>> {
        self.shared.services.iter().find_map(|s| {
            let any: Arc<dyn std::any::Any + Send + Sync> = s.service.clone();
            any.downcast::<T>().ok()
        })
    }

    /// Linked discovery plugins.
    pub fn discovery(&self) -> &[Arc<dyn Discovery>] {
        &self.shared.discovery
    }

    /// Stops the node: stops discovery (so plugins can note who is still connected), says
    /// goodbye to peers (flushing what is queued, for at most a second), stops services, and
    /// waits for every task it started.
    pub async fn shutdown(&self) {
        let shared = &self.shared;
        if shared.cancel.is_cancelled() && shared.tasks.is_closed() {
            shared.tasks.wait().await;
            return;
        }
        for d in &shared.discovery {
            d.stop().await;
        }
        for n in &shared.nat {
            n.stop().await;
        }
        let now = shared.clock.now();
        for c in shared.connections.iter() {
            c.close(DisconnectReason::LocalShutdown, CloseMode::Graceful, now);
        }
        let drained = async {
            while !shared.connections.is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), drained).await;
        for s in &shared.services {
            s.service.stop().await;
        }
        for t in &shared.transports {
            t.stop().await;
        }
        shared.cancel.cancel();
        shared.tasks.close();
        shared.tasks.wait().await;
    }
}
