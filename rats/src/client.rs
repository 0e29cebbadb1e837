//! `RatsClient`: a node with message exchange, configured in a few lines.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use rats_core::messaging::{HandlerId, MessageError};
use rats_core::node::{ConnectError, NodeError};
use rats_core::{
    Address, EventStream, Identity, MessageExchange, Node, NodeConfig, PeerId, PeerInfo,
};

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
    /// A malformed address or peer id.
    #[error("{0}")]
    Invalid(String),
}

/// Builds a [`RatsClient`].
#[derive(Debug, Default)]
pub struct RatsClientBuilder {
    config: NodeConfig,
    listen_set: bool,
    data_dir: Option<PathBuf>,
    lock: Option<DataDirLock>,
    identity: Option<Identity>,
    plaintext: bool,
}

impl RatsClientBuilder {
    /// Listens on TCP `port` on IPv6 and IPv4 (0 = any free port; the default).
    pub fn port(mut self, port: u16) -> Self {
        self.config.listen = vec![Address::tcp((std::net::Ipv6Addr::UNSPECIFIED, port).into())];
        self.listen_set = true;
        self
    }

    /// Adds a listen address (`tcp:127.0.0.1:0`, `tcp:[::]:7878`, ...).
    pub fn listen(mut self, addr: &str) -> Result<Self, RatsError> {
        let addr: Address = addr
            .parse()
            .map_err(|e| RatsError::Invalid(format!("{e}")))?;
        if !self.listen_set {
            self.config.listen.clear();
            self.listen_set = true;
        }
        self.config.listen.push(addr);
        Ok(self)
    }

    /// Does not listen at all (outbound connections only).
    pub fn no_listen(mut self) -> Self {
        self.config.listen.clear();
        self.listen_set = true;
        self
    }

    /// The application protocol: nodes connect only when name and version match.
    pub fn protocol(mut self, name: &str, version: &str) -> Self {
        self.config.protocol_name = name.into();
        self.config.protocol_version = version.into();
        self
    }

    /// Most connected peers (pending handshakes count too).
    pub fn max_peers(mut self, n: usize) -> Self {
        self.config.max_peers = n;
        self
    }

    /// Keeps the identity (and, later, other state) in `dir`, which is locked for this process.
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

    /// Switches a linked plugin off by name (`tcp`, `noise`, `mdns`, `dht`, ...).
    pub fn disable_plugin(mut self, name: &str) -> Self {
        self.config.disabled_plugins.insert(name.into());
        self
    }

    /// Peer exchange on or off (on by default).
    pub fn peer_exchange(mut self, on: bool) -> Self {
        self.config.peer_exchange = on;
        self
    }

    /// Turns encryption off (debugging only: peers are then not authenticated either).
    pub fn insecure_plaintext(mut self, on: bool) -> Self {
        self.plaintext = on;
        self
    }

    /// Edits the full node configuration.
    pub fn configure(mut self, f: impl FnOnce(&mut NodeConfig)) -> Self {
        f(&mut self.config);
        if !self.config.listen.is_empty() {
            self.listen_set = true;
        }
        self
    }

    /// Starts the client.
    pub async fn start(self) -> Result<RatsClient, RatsError> {
        let mut config = self.config;
        if !self.listen_set {
            config.listen = vec![Address::tcp((std::net::Ipv6Addr::UNSPECIFIED, 0).into())];
        }
        let lock = match (self.lock, &self.data_dir) {
            (Some(lock), _) => Some(lock),
            (None, Some(dir)) => Some(DataDirLock::acquire(dir)?),
            (None, None) => None,
        };
        let identity = match (self.identity, &lock) {
            (Some(id), _) => id,
            (None, Some(lock)) => lock.identity()?.0,
            (None, None) => Identity::generate(),
        };
        let messages = MessageExchange::new();
        let mut builder = Node::builder()
            .with_config(config)
            .identity(identity)
            .service(messages.clone());
        if let Some(dir) = &self.data_dir {
            builder = builder.data_dir(dir.clone());
        }
        if self.plaintext {
            builder = builder.encryption(Arc::new(rats_core::Plaintext));
        }
        let node = builder.start().await?;
        Ok(RatsClient {
            node,
            messages,
            _lock: lock.map(Arc::new),
        })
    }
}

/// The easy door to rats: a running node with message exchange. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RatsClient {
    node: Node,
    messages: Arc<MessageExchange>,
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

    /// Stops the node and waits for its tasks.
    pub async fn shutdown(&self) {
        self.node.shutdown().await;
    }
}
