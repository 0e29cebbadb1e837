//! `RatsClient`: a node with message exchange, configured in a few lines.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use rats_core::messaging::{HandlerId, MessageError};
use rats_core::registry::PluginFactory;
use rats_core::{
    Address, EventStream, Identity, MessageExchange, Node, NodeConfig, PeerId, PeerInfo,
};
use rats_core::{ConnectError, NodeError};

use crate::data_dir::{DataDirError, DataDirLock};

/// Errors of the client.
#[derive(Debug, thiserror::Error)]
pub enum RatsError {
    /// Starting the node failed.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// Connecting failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// Sending failed.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// The data directory could not be used.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// ICE failed.
    #[cfg(feature = "nat")]
    #[error(transparent)]
    Ice(#[from] rats_nat::ice::IceError),
    /// The configuration is invalid (the message names the key and where it came from).
    #[error("{0}")]
    Config(String),
    /// A malformed address or peer id.
    #[error("{0}")]
    Invalid(String),
}

/// Builds a [`RatsClient`].
///
/// Values set here win over the data directory's `config.json` and `RATS_*` environment
/// variables (with the `persist` feature and a data directory); everything not set here comes
/// from those, then from the defaults.
#[derive(Debug, Default)]
pub struct RatsClientBuilder {
    config: NodeConfig,
    /// Top-level config keys set in code.
    set_keys: BTreeSet<String>,
    default_port: u16,
    no_listen: bool,
    data_dir: Option<PathBuf>,
    lock: Option<DataDirLock>,
    identity: Option<Identity>,
    plaintext: bool,
    plugins: Vec<&'static PluginFactory>,
    #[cfg(feature = "log")]
    log_defaults: Option<rats_log::LogConfig>,
}

impl RatsClientBuilder {
    fn set(mut self, keys: &[&str], f: impl FnOnce(&mut NodeConfig)) -> Self {
        f(&mut self.config);
        self.set_keys.extend(keys.iter().map(|k| k.to_string()));
        self
    }

    /// Listens on TCP `port` on IPv6 and IPv4 (0 = any free port).
    pub fn port(self, port: u16) -> Self {
        self.set(&["listen"], |c| {
            c.listen = vec![Address::tcp((std::net::Ipv6Addr::UNSPECIFIED, port).into())]
        })
    }

    /// The port used when nothing (code, file, environment) says where to listen (default 0:
    /// any free port).
    pub fn default_port(mut self, port: u16) -> Self {
        self.default_port = port;
        self
    }

    /// Adds a listen address (`tcp:127.0.0.1:0`, `tcp:[::]:7878`, ...).
    pub fn listen(self, addr: &str) -> Result<Self, RatsError> {
        let addr: Address = addr
            .parse()
            .map_err(|e| RatsError::Invalid(format!("{e}")))?;
        let first = !self.set_keys.contains("listen");
        Ok(self.set(&["listen"], |c| {
            if first {
                c.listen.clear();
            }
            c.listen.push(addr);
        }))
    }

    /// Does not listen at all (outbound connections only).
    pub fn no_listen(mut self) -> Self {
        self.no_listen = true;
        self.set(&["listen"], |c| c.listen.clear())
    }

    /// The application protocol: nodes connect only when name and version match.
    pub fn protocol(self, name: &str, version: &str) -> Self {
        self.set(&["protocol_name", "protocol_version"], |c| {
            c.protocol_name = name.into();
            c.protocol_version = version.into();
        })
    }

    /// Most connected peers (pending handshakes count too).
    pub fn max_peers(self, n: usize) -> Self {
        self.set(&["max_peers"], |c| c.max_peers = n)
    }

    /// Keeps the identity, configuration and peer store in `dir`, which is locked for this
    /// process.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Uses a data directory this process has already locked.
    pub fn data_dir_lock(mut self, lock: DataDirLock) -> Self {
        self.data_dir = Some(lock.path().to_path_buf());
        self.lock = Some(lock);
        self
    }

    /// Uses this identity instead of the data directory's.
    pub fn identity(mut self, id: Identity) -> Self {
        self.identity = Some(id);
        self
    }

    /// Adds a plugin from a crate that is not linked through the registry, or that the
    /// application wants to name explicitly (see [`NodeBuilder::plugin`]). Its config section
    /// and `disable_plugin` apply as to any plugin.
    ///
    /// A plugin crate that submits its factory with `inventory` is found without this, but only
    /// when the program references the crate: the linker drops a dependency nothing uses, so
    /// write `use my_plugin as _;` somewhere in the program, or register it here.
    ///
    /// [`NodeBuilder::plugin`]: rats_core::NodeBuilder::plugin
    pub fn plugin(mut self, factory: &'static PluginFactory) -> Self {
        self.plugins.push(factory);
        self
    }

    /// Switches a linked plugin off by name (`tcp`, `noise`, `persist`, `mdns`, `dht`, ...).
    pub fn disable_plugin(self, name: &str) -> Self {
        self.set(&["disabled_plugins"], |c| {
            c.disabled_plugins.insert(name.into());
        })
    }

    /// Sends nothing to any machine the application does not name: switches off every plugin
    /// in [`crate::NETWORK_REACHING_PLUGINS`] (DHT, mDNS, STUN, port mapping, hole punching).
    /// For tests and for applications that connect only to addresses they know. A plugin can
    /// be switched on again afterwards with [`configure`](Self::configure), with its own
    /// (local) settings.
    pub fn local_only(self) -> Self {
        self.set(&["disabled_plugins"], |c| {
            c.disabled_plugins.extend(
                crate::NETWORK_REACHING_PLUGINS
                    .iter()
                    .map(|p| p.to_string()),
            );
        })
    }

    /// Peer exchange on or off (on by default).
    pub fn peer_exchange(self, on: bool) -> Self {
        self.set(&["peer_exchange"], |c| c.peer_exchange = on)
    }

    /// Installs logging (rats-log) with `defaults` for every setting that the `log` section of
    /// the configuration does not give. Without this call or a `log` section, the client
    /// installs no logger (the application may have its own).
    #[cfg(feature = "log")]
    pub fn logging(mut self, defaults: rats_log::LogConfig) -> Self {
        self.log_defaults = Some(defaults);
        self
    }

    /// Sets one logging setting in code (`level`, `file`, `stderr`, `colors`, `timestamps`,
    /// `rotation_size`, `retention_count`, `enabled`, `filter`): it wins over the file and the
    /// environment, and installs logging.
    #[cfg(feature = "log")]
    pub fn log_setting(self, key: &str, value: serde_json::Value) -> Self {
        self.set(&["log"], |c| {
            let section = c
                .plugins
                .entry("log")
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            if !section.is_object() {
                *section = serde_json::Value::Object(Default::default());
            }
            if let Some(m) = section.as_object_mut() {
                m.insert(key.to_string(), value);
            }
        })
    }

    /// Turns encryption off (debugging only: peers are then not authenticated either).
    pub fn insecure_plaintext(mut self, on: bool) -> Self {
        self.plaintext = on;
        self
    }

    /// Edits the full node configuration; every setting the closure changes counts as set in
    /// code.
    pub fn configure(mut self, f: impl FnOnce(&mut NodeConfig)) -> Self {
        let before = to_map(&self.config);
        f(&mut self.config);
        let after = to_map(&self.config);
        for (k, v) in &after {
            if before.get(k) != Some(v) {
                self.set_keys.insert(k.clone());
            }
        }
        for k in before.keys().filter(|k| !after.contains_key(*k)) {
            self.set_keys.insert(k.clone());
        }
        self
    }

    /// The merged configuration: defaults ← file ← environment ← code (with `persist` and a
    /// data directory), else defaults ← code. Also where each value came from, to name it
    /// when a plugin refuses its section.
    fn resolve_config(
        &self,
        warnings: &mut Vec<String>,
    ) -> Result<(NodeConfig, Origins), RatsError> {
        #[cfg(feature = "persist")]
        if let Some(dir) = &self.data_dir {
            let all = to_map(&self.config);
            let overrides: serde_json::Map<String, serde_json::Value> = all
                .into_iter()
                .filter(|(k, _)| self.set_keys.contains(k))
                .collect();
            let loaded = rats_persist::load_config(dir, &overrides, crate::KNOWN_SECTIONS)
                .map_err(|e| RatsError::Config(e.to_string()))?;
            warnings.extend(loaded.warnings.iter().cloned());
            return Ok((loaded.config.clone(), Some(loaded)));
        }
        let _ = warnings;
        Ok((self.config.clone(), None))
    }

    /// Starts the client.
    pub async fn start(self) -> Result<RatsClient, RatsError> {
        let lock = match (self.lock, &self.data_dir) {
            (Some(lock), _) => Some(lock),
            (None, Some(dir)) => Some(DataDirLock::acquire(dir)?),
            (None, None) => None,
        };
        let builder = RatsClientBuilder { lock: None, ..self };
        let mut warnings = Vec::new();
        let (mut config, origins) = builder.resolve_config(&mut warnings)?;
        #[cfg(feature = "log")]
        install_logging(
            builder.log_defaults.as_ref(),
            config.plugins.get("log"),
            &origins,
        )?;
        log_warnings_once(&warnings);
        if config.listen.is_empty() && !builder.no_listen {
            config.listen = vec![Address::tcp(
                (std::net::Ipv6Addr::UNSPECIFIED, builder.default_port).into(),
            )];
        }
        let identity = match (builder.identity, &lock) {
            (Some(id), _) => id,
            (None, Some(lock)) => lock.identity()?.0,
            (None, None) => Identity::generate(),
        };
        let messages = MessageExchange::new();
        let mut node_builder = Node::builder()
            .with_config(config)
            .identity(identity)
            .service(messages.clone());
        if let Some(dir) = &builder.data_dir {
            node_builder = node_builder.data_dir(dir.clone());
        }
        if builder.plaintext {
            node_builder = node_builder.encryption(Arc::new(rats_core::Plaintext));
        }
        for factory in builder.plugins {
            node_builder = node_builder.plugin(factory);
        }
        let node = node_builder
            .start()
            .await
            .map_err(|e| name_origin(e, &origins))?;
        Ok(RatsClient {
            node,
            messages,
            warnings: Arc::new(warnings),
            _lock: lock.map(Arc::new),
        })
    }
}

/// Installs rats-log when asked for in code or in the configuration's `log` section: the
/// section's keys over the code defaults over rats-log's defaults.
#[cfg(feature = "log")]
fn install_logging(
    defaults: Option<&rats_log::LogConfig>,
    section: Option<&serde_json::Value>,
    origins: &Origins,
) -> Result<(), RatsError> {
    if defaults.is_none() && section.is_none() {
        return Ok(());
    }
    let bad = |e: String| RatsError::Config(format!("log section: {e}"));
    let mut merged = serde_json::to_value(defaults.cloned().unwrap_or_default())
        .map_err(|e| bad(e.to_string()))?;
    if let (Some(base), Some(serde_json::Value::Object(over))) = (merged.as_object_mut(), section) {
        for (k, v) in over {
            base.insert(k.clone(), v.clone());
        }
    }
    let cfg: rats_log::LogConfig = serde_path_to_error::deserialize(merged).map_err(|e| {
        let key = format!("log.{}", e.path());
        let from = origin_text(origins, &key);
        RatsError::Config(format!("{key}: {}{from}", e.into_inner()))
    })?;
    rats_log::init(&cfg).map_err(|e| bad(e.to_string()))?;
    Ok(())
}

/// Logs each distinct configuration warning once per process: an application that starts
/// again on the same directory (a retry on another port, say) does not repeat them.
fn log_warnings_once(warnings: &[String]) {
    static LOGGED: std::sync::Mutex<BTreeSet<String>> = std::sync::Mutex::new(BTreeSet::new());
    let mut logged = LOGGED.lock().unwrap_or_else(|e| e.into_inner());
    for w in warnings {
        // Bounded: past a few hundred distinct warnings, repeats are logged again.
        if logged.len() >= 256 {
            logged.clear();
        }
        if logged.insert(w.clone()) {
            tracing::warn!("{w}");
        }
    }
}

/// Where configuration values came from (with `persist` and a data directory).
#[cfg(feature = "persist")]
type Origins = Option<rats_persist::LoadedConfig>;
#[cfg(not(feature = "persist"))]
type Origins = Option<()>;

/// A plugin that refuses a value of its section: the error also says where the value came
/// from (the file or the environment variable), so the user knows what to fix.
fn name_origin(e: NodeError, origins: &Origins) -> RatsError {
    if let NodeError::Plugin(rats_core::registry::PluginError::Config { key: Some(key), .. }) = &e {
        let from = origin_text(origins, key);
        if !from.is_empty() {
            return RatsError::Config(format!("{e}{from}"));
        }
    }
    RatsError::Node(e)
}

/// ` (from <file or variable>)` for a value that came from the file or the environment.
fn origin_text(origins: &Origins, key: &str) -> String {
    #[cfg(feature = "persist")]
    if let Some(origin) = origins.as_ref().and_then(|o| o.origin_of(key)) {
        return format!(" (from {origin})");
    }
    let _ = (origins, key);
    String::new()
}

fn to_map(c: &NodeConfig) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(c) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

/// The easy door to rats: a running node with message exchange. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RatsClient {
    node: Node,
    messages: Arc<MessageExchange>,
    warnings: Arc<Vec<String>>,
    _lock: Option<Arc<DataDirLock>>,
}

impl RatsClient {
    /// A builder with defaults (any free TCP port, fresh identity, Noise).
    pub fn builder() -> RatsClientBuilder {
        RatsClientBuilder::default()
    }

    /// The underlying node.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The message-exchange service.
    pub fn messages(&self) -> &Arc<MessageExchange> {
        &self.messages
    }

    /// Our peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.node.local_peer_id()
    }

    /// Bound listen addresses.
    pub fn listen_addrs(&self) -> Vec<Address> {
        self.node.listen_addrs()
    }

    /// The data directory, if one is used.
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self.node.data_dir()
    }

    /// Connects to `addr` (`host:port`, `[v6]:port`, or `scheme:...`).
    pub async fn connect(&self, addr: &str) -> Result<PeerId, RatsError> {
        let addr: Address = addr
            .parse()
            .map_err(|e| RatsError::Invalid(format!("{e}")))?;
        Ok(self.node.connect(&addr).await?)
    }

    /// Connects to a peer known by several addresses (`tcp:...`, `turn:...`): direct ones all
    /// at once, then relayed ones, then NAT strategies, as the `connect_strategy` setting
    /// (`AUTO`, `DIRECT_ONLY`, `RELAY_ONLY`) allows. Each try is reported as a
    /// `ConnectAttempt` event; [`connection_method`](Self::connection_method) tells which won.
    pub async fn connect_any(&self, addrs: &[&str]) -> Result<PeerId, RatsError> {
        let addrs: Vec<Address> = addrs
            .iter()
            .map(|a| a.parse().map_err(|e| RatsError::Invalid(format!("{e}"))))
            .collect::<Result<_, _>>()?;
        Ok(self.node.connect_any(&addrs).await?)
    }

    /// How we are connected to `peer`: `direct`, `relay`, or a NAT strategy's name.
    pub fn connection_method(&self, peer: &PeerId) -> Option<rats_core::ConnectionMethod> {
        self.node.peer_info(peer).map(|i| i.method)
    }

    /// What we know of the connection to `peer`: method (`direct`, `mapped`, `punched-udp`,
    /// `relay`, ...), transport, round-trip time, addresses.
    pub fn peer_info(&self, peer: &PeerId) -> Option<PeerInfo> {
        self.node.peer_info(peer)
    }

    /// Disconnects a peer.
    pub fn disconnect(&self, peer: &PeerId) -> bool {
        self.node.disconnect(peer)
    }

    /// Connected peers.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.node.peers()
    }

    /// Number of connected peers.
    pub fn peer_count(&self) -> usize {
        self.node.peer_count()
    }

    /// Whether the connection to `peer` is encrypted (`None` if not connected).
    pub fn is_peer_encrypted(&self, peer: &PeerId) -> Option<bool> {
        self.node.is_peer_encrypted(peer)
    }

    /// Subscribes to every event of the node.
    pub fn events(&self) -> EventStream {
        self.node.events()
    }

    /// Calls `handler` for JSON messages of type `kind`.
    pub fn on<F>(&self, kind: &str, handler: F) -> HandlerId
    where
        F: Fn(PeerId, &serde_json::Value) + Send + Sync + 'static,
    {
        self.messages.on(kind, handler)
    }

    /// Calls `handler` for the next JSON message of type `kind` only.
    pub fn once<F>(&self, kind: &str, handler: F) -> HandlerId
    where
        F: Fn(PeerId, &serde_json::Value) + Send + Sync + 'static,
    {
        self.messages.once(kind, handler)
    }

    /// Removes the handlers of type `kind`.
    pub fn off(&self, kind: &str) -> usize {
        self.messages.off(kind)
    }

    /// Calls `handler` for text messages.
    pub fn on_string<F>(&self, handler: F) -> HandlerId
    where
        F: Fn(PeerId, &str) + Send + Sync + 'static,
    {
        self.messages.on_text(handler)
    }

    /// Calls `handler` for binary messages.
    pub fn on_binary<F>(&self, handler: F) -> HandlerId
    where
        F: Fn(PeerId, Bytes) + Send + Sync + 'static,
    {
        self.messages.on_binary(handler)
    }

    /// Sends a JSON message of type `kind` to every peer; returns how many.
    pub fn send(&self, kind: &str, data: &serde_json::Value) -> Result<usize, RatsError> {
        Ok(self.messages.send(kind, data)?)
    }

    /// Sends a JSON message of type `kind` to one peer.
    pub async fn send_to(
        &self,
        peer: &PeerId,
        kind: &str,
        data: &serde_json::Value,
    ) -> Result<(), RatsError> {
        Ok(self.messages.send_to(peer, kind, data).await?)
    }

    /// Sends a text message to one peer.
    pub async fn send_string(&self, peer: &PeerId, text: &str) -> Result<(), RatsError> {
        Ok(self.messages.send_text(peer, text).await?)
    }

    /// Sends a text message to every peer; returns how many.
    pub fn broadcast_string(&self, text: &str) -> Result<usize, RatsError> {
        Ok(self.messages.broadcast_text(text)?)
    }

    /// Sends a binary message to one peer.
    pub async fn send_binary(
        &self,
        peer: &PeerId,
        data: impl Into<Bytes>,
    ) -> Result<(), RatsError> {
        Ok(self.messages.send_binary(peer, data).await?)
    }

    /// Sends a binary message to every peer; returns how many.
    pub fn broadcast_binary(&self, data: &[u8]) -> Result<usize, RatsError> {
        Ok(self.messages.broadcast_binary(data)?)
    }

    /// Broadcasts a JSON message to every peer (same as [`send`](Self::send)).
    pub fn broadcast(&self, kind: &str, data: &serde_json::Value) -> Result<usize, RatsError> {
        self.send(kind, data)
    }

    /// Warnings from loading the configuration and state files (unknown keys, corrupt files
    /// moved aside, ...).
    pub fn config_warnings(&self) -> Vec<String> {
        #[cfg_attr(not(feature = "persist"), allow(unused_mut))]
        let mut w = (*self.warnings).clone();
        #[cfg(feature = "persist")]
        if let Some(store) = self.peer_store() {
            w.extend(store.warnings());
        }
        w
    }

    /// Publish/subscribe, with the `gossipsub` feature (`None` when the plugin is disabled in
    /// the configuration). See the `rats_gossipsub` crate docs.
    #[cfg(feature = "gossipsub")]
    pub fn gossip(&self) -> Option<Arc<rats_gossipsub::GossipsubService>> {
        self.node
            .service_plugin::<rats_gossipsub::GossipsubService>()
    }

    /// The DHT discovery plugin, with the `dht` feature (`None` when it is disabled in the
    /// configuration). See the `rats_discovery_dht` crate docs.
    #[cfg(feature = "dht")]
    pub fn dht(&self) -> Option<Arc<rats_discovery_dht::DhtDiscovery>> {
        self.node
            .discovery_plugin::<rats_discovery_dht::DhtDiscovery>()
    }

    /// `SHA-1(protocol_name + "_peer_discovery_v" + protocol_version)` in hex: the DHT key under
    /// which peers of this application find each other (the same formula as librats).
    #[cfg(feature = "dht")]
    pub fn discovery_hash(&self) -> String {
        rats_discovery_dht::discovery_hash(self.node.protocol()).to_hex()
    }

    /// Starts the DHT again after [`stop_dht`](Self::stop_dht) (it starts with the node).
    #[cfg(feature = "dht")]
    pub async fn start_dht(&self) -> Result<(), RatsError> {
        let dht = self
            .dht()
            .ok_or_else(|| RatsError::Config("the dht plugin is disabled".into()))?;
        dht.start_dht()
            .await
            .map_err(|e| RatsError::Config(e.to_string()))
    }

    /// Stops the DHT (its routing table is saved in the data directory).
    #[cfg(feature = "dht")]
    pub async fn stop_dht(&self) {
        if let Some(d) = self.dht() {
            d.stop_dht().await;
        }
    }

    /// Whether the DHT is running.
    #[cfg(feature = "dht")]
    pub fn is_dht_running(&self) -> bool {
        self.dht().is_some_and(|d| d.is_running())
    }

    /// Nodes in the DHT routing tables (0 when not running).
    #[cfg(feature = "dht")]
    pub fn dht_routing_table_size(&self) -> usize {
        self.dht().map_or(0, |d| d.routing_table_size())
    }

    /// DHT status and statistics (`None` when the plugin is disabled).
    #[cfg(feature = "dht")]
    pub fn dht_status(&self) -> Option<rats_discovery_dht::DhtStatus> {
        self.dht().map(|d| d.status())
    }

    /// Looks a 40-hex-digit info-hash up in the DHT and returns the peers found.
    #[cfg(feature = "dht")]
    pub async fn find_peers(&self, hash: &str) -> Result<Vec<std::net::SocketAddr>, RatsError> {
        let (dht, hash) = self.dht_and_hash(hash)?;
        dht.find_peers_all(hash)
            .await
            .map_err(|e| RatsError::Config(e.to_string()))
    }

    /// Announces our TCP port under a 40-hex-digit info-hash; returns how many DHT nodes
    /// took it.
    #[cfg(feature = "dht")]
    pub async fn announce(&self, hash: &str) -> Result<usize, RatsError> {
        let (dht, hash) = self.dht_and_hash(hash)?;
        let port = self
            .listen_addrs()
            .iter()
            .find_map(|a| a.socket_addr().map(|s| s.port()))
            .ok_or_else(|| RatsError::Config("not listening on TCP".into()))?;
        dht.announce(hash, Some(port))
            .await
            .map_err(|e| RatsError::Config(e.to_string()))
    }

    #[cfg(feature = "dht")]
    fn dht_and_hash(
        &self,
        hash: &str,
    ) -> Result<
        (
            Arc<rats_discovery_dht::DhtDiscovery>,
            rats_discovery_dht::NodeId,
        ),
        RatsError,
    > {
        let dht = self
            .dht()
            .ok_or_else(|| RatsError::Config("the dht plugin is disabled".into()))?;
        let hash = rats_discovery_dht::NodeId::from_hex(hash).ok_or_else(|| {
            RatsError::Invalid(format!("{hash:?} is not a 40-hex-digit info-hash"))
        })?;
        Ok((dht, hash))
    }

    /// The mDNS discovery plugin, with the `mdns` feature (`None` when it is disabled in the
    /// configuration). See the `rats_discovery_mdns` crate docs.
    #[cfg(feature = "mdns")]
    pub fn mdns(&self) -> Option<Arc<rats_discovery_mdns::MdnsDiscovery>> {
        self.node
            .discovery_plugin::<rats_discovery_mdns::MdnsDiscovery>()
    }

    /// Starts (or restarts) advertising this node on the local network as `instance_name`
    /// (default: `rats-` and the start of our peer id) and browsing for peers. mDNS starts with
    /// the node unless it listens on loopback only.
    #[cfg(feature = "mdns")]
    pub async fn start_mdns_discovery(&self, instance_name: Option<&str>) -> Result<(), RatsError> {
        let mdns = self
            .mdns()
            .ok_or_else(|| RatsError::Config("the mdns plugin is disabled".into()))?;
        mdns.start_mdns_discovery(instance_name)
            .await
            .map_err(|e| RatsError::Config(e.to_string()))
    }

    /// Sends goodbye records (peers see us lost at once) and stops mDNS.
    #[cfg(feature = "mdns")]
    pub async fn stop_mdns_discovery(&self) {
        if let Some(m) = self.mdns() {
            m.stop_mdns_discovery().await;
        }
    }

    /// Whether mDNS is running.
    #[cfg(feature = "mdns")]
    pub fn is_mdns_running(&self) -> bool {
        self.mdns().is_some_and(|m| m.is_running())
    }

    /// Asks the local network for peers now (answers arrive as `PeerDiscovered` events).
    #[cfg(feature = "mdns")]
    pub fn query_mdns(&self) -> Result<(), RatsError> {
        let mdns = self
            .mdns()
            .ok_or_else(|| RatsError::Config("the mdns plugin is disabled".into()))?;
        if !mdns.is_running() {
            return Err(RatsError::Config("mDNS is not running".into()));
        }
        mdns.query();
        Ok(())
    }

    /// The STUN plugin (public address, NAT kind), with the `nat` feature (`None` when it is
    /// disabled in the configuration). See the `rats_nat` crate docs.
    #[cfg(feature = "nat")]
    pub fn nat(&self) -> Option<Arc<rats_nat::StunPlugin>> {
        self.node.nat_plugin::<rats_nat::StunPlugin>()
    }

    /// Asks the configured STUN servers (all at once; the first answer wins) for our public
    /// address.
    #[cfg(feature = "nat")]
    pub async fn get_public_address(&self) -> Result<std::net::SocketAddr, RatsError> {
        let nat = self
            .nat()
            .ok_or_else(|| RatsError::Config("the stun plugin is disabled".into()))?;
        nat.get_public_address()
            .await
            .map_err(|e| RatsError::Config(e.to_string()))
    }

    /// Runs the RFC 5780 NAT behaviour tests against the configured STUN servers and returns
    /// the NAT kind (details in [`nat_characteristics`](Self::nat_characteristics)).
    #[cfg(feature = "nat")]
    pub async fn detect_nat_type(&self) -> Result<rats_nat::NatType, RatsError> {
        let nat = self
            .nat()
            .ok_or_else(|| RatsError::Config("the stun plugin is disabled".into()))?;
        nat.detect_nat_type()
            .await
            .map_err(|e| RatsError::Config(e.to_string()))
    }

    /// ICE settings from this node's configuration: the `stun` section's servers and the
    /// `turn` section's server.
    #[cfg(feature = "nat")]
    pub fn ice_config(&self) -> Result<rats_nat::ice::IceConfig, RatsError> {
        fn section<T: serde::de::DeserializeOwned + Default>(
            node: &Node,
            name: &str,
        ) -> Result<T, RatsError> {
            match node.config().plugins.get(name) {
                None | Some(serde_json::Value::Null) => Ok(T::default()),
                Some(v) => serde_json::from_value(v.clone())
                    .map_err(|e| RatsError::Config(format!("{name}: {e}"))),
            }
        }
        let stun: rats_nat::StunConfig = section(&self.node, "stun")?;
        let turn: rats_nat::TurnConfig = section(&self.node, "turn")?;
        Ok(rats_nat::ice::IceConfig::from_sections(&stun, &turn))
    }

    /// Starts an ICE session (RFC 8445) for a connection whose signalling the application does
    /// itself: gathers host, server-reflexive and relay candidates and returns the session and
    /// our offer, to be sent to the other side. `controlling` (one side, say the caller)
    /// nominates the pair. Later candidates are reported through
    /// [`IceSession::on_candidate`](rats_nat::ice::IceSession::on_candidate).
    #[cfg(feature = "nat")]
    pub async fn create_ice_offer(
        &self,
        controlling: bool,
    ) -> Result<(rats_nat::ice::IceSession, rats_nat::ice::IceOffer), RatsError> {
        let config = self.ice_config()?;
        let session = rats_nat::ice::IceSession::new(&config, controlling).await?;
        let offer = session.gather().await?;
        Ok((session, offer))
    }

    /// Connects to the peer behind `remote` (its ICE offer or answer): runs the connectivity
    /// checks, then a rats connection over QUIC on the nominated pair. The peer's method is
    /// `ice`.
    #[cfg(feature = "nat")]
    pub async fn connect_with_ice(
        &self,
        session: &rats_nat::ice::IceSession,
        remote: &rats_nat::ice::IceOffer,
    ) -> Result<PeerId, RatsError> {
        let conn = session.connect(remote).await?;
        let controlling = session.is_controlling();
        let raw = rats_nat::ice::stream_over(&self.node, conn, controlling).await?;
        Ok(self.node.connect_raw(raw, !controlling, "ice").await?)
    }

    /// The port-mapping plugin (PCP, NAT-PMP, UPnP), with the `nat` feature.
    #[cfg(feature = "nat")]
    pub fn port_mapper(&self) -> Option<Arc<rats_nat::PortMapper>> {
        self.node.nat_plugin::<rats_nat::PortMapper>()
    }

    /// What the last NAT check found (mapping, filtering, addresses).
    #[cfg(feature = "nat")]
    pub fn nat_characteristics(&self) -> Option<rats_nat::NatBehaviour> {
        self.nat().and_then(|n| n.nat_characteristics())
    }

    /// File and directory transfer, with the `transfer` feature (`None` when the plugin is
    /// disabled in the configuration).
    #[cfg(feature = "transfer")]
    pub fn transfers(&self) -> Option<Arc<rats_transfer::TransferService>> {
        self.node.service_plugin::<rats_transfer::TransferService>()
    }

    /// The peer store (remembered peers), with the `persist` feature.
    #[cfg(feature = "persist")]
    pub fn peer_store(&self) -> Option<Arc<rats_persist::PeerStore>> {
        self.node.discovery_plugin::<rats_persist::PeerStore>()
    }

    /// Dials the peers connected at the last stop (and the best known ones while we have few
    /// peers) with backoff, in the background; returns how many it tries. The node also does
    /// this by itself on start.
    #[cfg(feature = "persist")]
    pub fn load_and_reconnect_peers(&self) -> usize {
        self.peer_store()
            .map_or(0, |s| s.load_and_reconnect_peers())
    }

    /// The logging handle, when logging was installed (by this or another client).
    #[cfg(feature = "log")]
    pub fn log_handle(&self) -> Option<rats_log::LogHandle> {
        rats_log::global()
    }

    /// Changes the log level at run time (`trace`..`error`, any case); effective on the next
    /// line.
    #[cfg(feature = "log")]
    pub fn set_log_level(&self, level: &str) -> Result<(), RatsError> {
        let level = level
            .parse()
            .map_err(|e: rats_log::LogError| RatsError::Config(e.to_string()))?;
        let handle = self
            .log_handle()
            .ok_or_else(|| RatsError::Config("logging is not installed".into()))?;
        handle.set_level(level);
        Ok(())
    }

    /// Switches logging on or off at run time.
    #[cfg(feature = "log")]
    pub fn set_logging_enabled(&self, on: bool) {
        if let Some(h) = self.log_handle() {
            h.set_enabled(on);
        }
    }

    /// Empties the log file (rotated files are kept).
    #[cfg(feature = "log")]
    pub fn clear_log_file(&self) -> Result<(), RatsError> {
        match self.log_handle() {
            Some(h) => h
                .clear_log_file()
                .map_err(|e| RatsError::Config(e.to_string())),
            None => Ok(()),
        }
    }

    /// Stops the node and waits for its tasks.
    pub async fn shutdown(&self) {
        self.node.shutdown().await;
    }
}
