//! [`RatsClient`]: a running node with message exchange; connections, peers, events and
//! messages. The plugin facades (DHT, mDNS, NAT, logging) live in their own files.

use std::sync::Arc;

use bytes::Bytes;
use rats_core::address::ToAddress;
use rats_core::messaging::{HandlerId, MessageStream};
use rats_core::{Address, EventStream, MessageExchange, Node, PeerId, PeerInfo};

use crate::RatsError;
use crate::builder::RatsClientBuilder;
use crate::data_dir::DataDirLock;

/// The easy door to rats: a running node with message exchange. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RatsClient {
    pub(crate) node: Node,
    pub(crate) messages: Arc<MessageExchange>,
    pub(crate) warnings: Arc<Vec<String>>,
    pub(crate) _lock: Option<Arc<DataDirLock>>,
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

    /// Connects to `addr`: an [`Address`], a `SocketAddr`, or text (`host:port`,
    /// `[v6]:port`, `scheme:...`).
    pub async fn connect(&self, addr: impl ToAddress) -> Result<PeerId, RatsError> {
        Ok(self.node.connect(addr).await?)
    }

    /// Connects to a peer known by several addresses (`tcp:...`, `turn:...`): direct ones all
    /// at once, then relayed ones, then NAT strategies, as the `connect_strategy` setting
    /// (`AUTO`, `DIRECT_ONLY`, `RELAY_ONLY`) allows. Each try is reported as a
    /// `ConnectAttempt` event; [`connection_method`](Self::connection_method) tells which won.
    pub async fn connect_any<A: ToAddress>(&self, addrs: &[A]) -> Result<PeerId, RatsError> {
        let addrs: Vec<Address> = addrs
            .iter()
            .map(|a| a.to_address())
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

    /// Subscribes to every event of the node: `recv()` in a loop, or use it as a
    /// `futures::Stream` (lag is reported as an `Err(Lagged)` item).
    pub fn events(&self) -> EventStream {
        self.node.events()
    }

    /// Calls `handler` for JSON messages of type `kind` (see [`on_message`](Self::on_message)
    /// for the application's own types).
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

    /// Calls `handler` for JSON messages of type `kind` whose data decodes into `T` (the
    /// application's own `Deserialize` type); messages that do not fit are dropped.
    pub fn on_message<T, F>(&self, kind: &str, handler: F) -> HandlerId
    where
        T: serde::de::DeserializeOwned,
        F: Fn(PeerId, T) + Send + Sync + 'static,
    {
        self.messages.on_typed(kind, handler)
    }

    /// The JSON messages of type `kind`, decoded into `T`, as a `futures::Stream` holding at
    /// most `capacity` undelivered messages (more are dropped and reported as
    /// [`TypedMessageError::Lagged`](rats_core::messaging::TypedMessageError::Lagged); data that is not a `T` comes as
    /// [`TypedMessageError::Malformed`](rats_core::messaging::TypedMessageError::Malformed)).
    pub fn messages_of<T>(&self, kind: &str, capacity: usize) -> MessageStream<T>
    where
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        self.messages.subscribe(kind, capacity)
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

    /// Sends a JSON message of type `kind` to one peer, waiting while its queue is full.
    /// `data` is anything serializable: a `serde_json::Value` or the application's own type.
    pub async fn send_to<T: serde::Serialize + ?Sized>(
        &self,
        peer: &PeerId,
        kind: &str,
        data: &T,
    ) -> Result<(), RatsError> {
        Ok(self.messages.send_to(peer, kind, data).await?)
    }

    /// Sends a JSON message of type `kind` to every connected peer without waiting;
    /// returns how many got it queued.
    pub fn broadcast<T: serde::Serialize + ?Sized>(
        &self,
        kind: &str,
        data: &T,
    ) -> Result<usize, RatsError> {
        Ok(self.messages.broadcast(kind, data)?)
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

    /// Stops the node and waits for its tasks.
    pub async fn shutdown(&self) {
        self.node.shutdown().await;
    }
}
