//! Handles given to plugins: [`ServiceContext`] for services, [`DiscoveryContext`] for
//! discovery. They hold the node weakly, so a plugin keeping one does not keep the node alive.

use std::sync::{Arc, Weak};

use tokio_util::sync::CancellationToken;

use crate::address::Address;
use crate::encryption::ProtocolId;
use crate::event::{Event, EventBus};
use crate::identity::PeerId;
use crate::node::connection::Connection;
use crate::node::outbound::{Outgoing, PushError};
use crate::node::peers::PeerInfo;
use crate::node::shared::NodeShared;
use crate::service::Priority;

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No connection to that peer.
    #[error("peer {0} is not connected")]
    NotConnected(PeerId),
    /// The queue is full (only from `try_send`).
    #[error("send queue to {0} is full")]
    QueueFull(PeerId),
    /// Larger than the maximum message size.
    #[error("message larger than the maximum message size")]
    TooLarge,
    /// The node has stopped.
    #[error("node stopped")]
    NodeStopped,
    /// The connection a [`PeerSender`] was bound to was replaced by another one to the same
    /// peer (a direct connection replacing a relayed one, a duplicate resolved): get a new
    /// sender. Nothing was queued.
    #[error("the connection to {0} was replaced; get a new sender")]
    Replaced(PeerId),
}

fn map_push(peer: PeerId, e: PushError) -> SendError {
    match e {
        PushError::Full => SendError::QueueFull(peer),
        PushError::Closed => SendError::NotConnected(peer),
        PushError::TooLarge => SendError::TooLarge,
    }
}

/// Why [`ServiceContext::reserve_memory`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReserveError {
    /// The peer has no connection (its memory is not ours to hold).
    #[error("peer not connected")]
    NotConnected,
    /// A memory limit refused.
    #[error(transparent)]
    Budget(crate::budget::BudgetError),
}

/// A service's handle on the node: send on its channel, list peers, emit events, spawn tasks.
#[derive(Clone)]
pub struct ServiceContext {
    pub(crate) shared: Weak<NodeShared>,
    pub(crate) channel: u16,
    pub(crate) priority: Priority,
    pub(crate) bulk_channel: Option<u16>,
    pub(crate) local: PeerId,
    pub(crate) events: EventBus,
    pub(crate) cancel: CancellationToken,
}

impl std::fmt::Debug for ServiceContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceContext")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl ServiceContext {
    fn shared(&self) -> Result<Arc<NodeShared>, SendError> {
        self.shared.upgrade().ok_or(SendError::NodeStopped)
    }

    fn connection(&self, peer: &PeerId) -> Result<Arc<Connection>, SendError> {
        let shared = self.shared()?;
        let conn = shared
            .peers
            .get(peer)
            .map(|e| e.conn.clone())
            .ok_or(SendError::NotConnected(*peer))?;
        Ok(conn)
    }

    /// Our peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local
    }

    /// Signs `message` with the node's identity key (verify with [`PeerId::verify`]): for
    /// services whose messages travel beyond the first hop, so receivers can check the origin.
    pub fn sign(&self, message: &[u8]) -> Result<[u8; 64], SendError> {
        Ok(self.shared()?.identity.sign(message))
    }

    /// Connected peers.
    pub fn peers(&self) -> Vec<PeerId> {
        self.shared
            .upgrade()
            .map(|s| s.peers.iter().map(|e| *e.key()).collect())
            .unwrap_or_default()
    }

    /// What we know about a peer.
    pub fn peer_info(&self, peer: &PeerId) -> Option<PeerInfo> {
        let shared = self.shared.upgrade()?;
        let e = shared.peers.get(peer)?;
        let mut info = (*e.info).clone();
        info.rtt = e.conn.rtt();
        Some(info)
    }

    /// Sends a message to a peer, waiting while its queue is full.
    pub async fn send(&self, peer: &PeerId, msg: Outgoing<'_>) -> Result<(), SendError> {
        let conn = self.connection(peer)?;
        conn.queue
            .push(self.channel, self.priority, &msg)
            .await
            .map_err(|e| map_push(*peer, e))
    }

    /// Sends without waiting; fails with `QueueFull` when the peer's queue is full.
    pub fn try_send(&self, peer: &PeerId, msg: Outgoing<'_>) -> Result<(), SendError> {
        let conn = self.connection(peer)?;
        conn.queue
            .try_push(self.channel, self.priority, &msg)
            .map_err(|e| map_push(*peer, e))
    }

    /// Sends to every connected peer without waiting; returns how many queued it.
    pub fn broadcast(&self, msg: Outgoing<'_>) -> usize {
        let Ok(shared) = self.shared() else {
            return 0;
        };
        let conns: Vec<Arc<Connection>> = shared.peers.iter().map(|e| e.conn.clone()).collect();
        conns
            .iter()
            .filter(|c| c.queue.try_push(self.channel, self.priority, &msg).is_ok())
            .count()
    }

    /// A cached handle to one peer's connection, for hot send loops.
    pub fn peer_sender(&self, peer: &PeerId) -> Result<PeerSender, SendError> {
        Ok(PeerSender {
            conn: self.connection(peer)?,
            channel: self.channel,
            priority: self.priority,
        })
    }

    /// A cached handle to one peer's connection on this service's bulk channel (at
    /// [`Priority::Bulk`]); the main channel when the service declared no bulk channel.
    pub fn bulk_sender(&self, peer: &PeerId) -> Result<PeerSender, SendError> {
        let Some(channel) = self.bulk_channel else {
            return self.peer_sender(peer);
        };
        Ok(PeerSender {
            conn: self.connection(peer)?,
            channel,
            priority: Priority::Bulk,
        })
    }

    /// Dials a peer another peer told us about (gossipsub's peer exchange), unless it is us,
    /// connected or being dialed; subject to the node's limits like discovery candidates.
    pub fn add_candidate(&self, peer: PeerId, addrs: Vec<Address>) {
        if let Ok(shared) = self.shared() {
            shared.dial_candidate(Some(peer), addrs, "service");
        }
    }

    /// How full a peer's send queue is (queued bytes over its limit), for services that shed
    /// optional traffic (gossip) first when a peer falls behind. `None` if not connected.
    pub fn queue_load(&self, peer: &PeerId) -> Option<f32> {
        self.connection(peer).ok().map(|c| c.queue.load())
    }

    /// Disconnects a peer that cannot keep up with this service (its send queue stays full):
    /// reported as [`DisconnectReason::SlowPeer`](crate::event::DisconnectReason::SlowPeer).
    /// False if it is not connected.
    pub fn disconnect_slow_peer(&self, peer: &PeerId) -> bool {
        let (Ok(shared), Ok(conn)) = (self.shared(), self.connection(peer)) else {
            return false;
        };
        conn.close(
            crate::event::DisconnectReason::SlowPeer,
            crate::node::outbound::CloseMode::Graceful,
            shared.clock.now(),
        );
        true
    }

    /// Charges `bytes` that this service keeps for `peer` (a message queued for its task) to
    /// the peer's connection, its address and the node's memory budget; given back when the
    /// [`Reservation`](crate::budget::Reservation) is dropped. A refusal says which limit;
    /// drop the message then (the peer may send it again), as reassembly does.
    pub fn reserve_memory(
        &self,
        peer: &PeerId,
        bytes: usize,
    ) -> Result<crate::budget::Reservation, ReserveError> {
        let conn = self
            .connection(peer)
            .map_err(|_| ReserveError::NotConnected)?;
        conn.memory.reserve(bytes).map_err(ReserveError::Budget)
    }

    /// Publishes an event on the node's bus.
    pub fn emit(&self, event: Event) {
        self.events.emit(event);
    }

    /// The node's event bus.
    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// Cancelled when the node stops: end service tasks on it.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Spawns a task that the node waits for on shutdown.
    pub fn spawn<F>(&self, fut: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        if let Some(shared) = self.shared.upgrade() {
            shared.tasks.spawn(fut);
        }
    }
}

/// A handle to one peer's current connection on one channel.
#[derive(Clone)]
pub struct PeerSender {
    conn: Arc<Connection>,
    channel: u16,
    priority: Priority,
}

impl std::fmt::Debug for PeerSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerSender")
            .field("peer", &self.conn.peer)
            .field("channel", &self.channel)
            .finish()
    }
}

impl PeerSender {
    /// Refuses to queue more on a retired connection: it only drains what it has, and the
    /// peer's current connection is the better way (a relay's backlog must not keep growing).
    fn check_current(&self) -> Result<(), SendError> {
        if self.conn.retired.load(std::sync::atomic::Ordering::Acquire) {
            return Err(SendError::Replaced(self.conn.peer));
        }
        Ok(())
    }

    /// Sends, waiting while the queue is full.
    pub async fn send(&self, msg: Outgoing<'_>) -> Result<(), SendError> {
        self.check_current()?;
        self.conn
            .queue
            .push(self.channel, self.priority, &msg)
            .await
            .map_err(|e| map_push(self.conn.peer, e))
    }

    /// Sends without waiting.
    pub fn try_send(&self, msg: Outgoing<'_>) -> Result<(), SendError> {
        self.check_current()?;
        self.conn
            .queue
            .try_push(self.channel, self.priority, &msg)
            .map_err(|e| map_push(self.conn.peer, e))
    }
}

/// A discovery plugin's handle on the node.
#[derive(Clone)]
pub struct DiscoveryContext {
    pub(crate) shared: Weak<NodeShared>,
    pub(crate) source: &'static str,
    pub(crate) local: PeerId,
    pub(crate) protocol: ProtocolId,
    pub(crate) cancel: CancellationToken,
}

impl std::fmt::Debug for DiscoveryContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscoveryContext")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl DiscoveryContext {
    /// Our peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local
    }

    /// The application protocol.
    pub fn protocol(&self) -> &ProtocolId {
        &self.protocol
    }

    /// Whether we listen on a TCP address beyond loopback, i.e. can be reached from the
    /// network. Plugins that talk to the network on their own (mDNS, STUN) stay quiet otherwise.
    pub fn listens_beyond_loopback(&self) -> bool {
        self.listen_addrs()
            .iter()
            .any(|a| a.scheme() == "tcp" && a.socket_addr().is_some_and(|s| !s.ip().is_loopback()))
    }

    /// Our listen addresses.
    pub fn listen_addrs(&self) -> Vec<Address> {
        self.shared
            .upgrade()
            .map(|s| s.listen_addrs.read().clone())
            .unwrap_or_default()
    }

    /// Dials `addr` now and waits for the outcome (for plugins that manage their own retries).
    pub async fn connect(&self, addr: &Address) -> Result<PeerId, crate::node::ConnectError> {
        let shared = self
            .shared
            .upgrade()
            .ok_or(crate::node::ConnectError::ShuttingDown)?;
        crate::node::setup::dial(&shared, addr).await
    }

    /// Whether `peer` is connected.
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.shared.upgrade().is_some_and(|s| s.is_connected(peer))
    }

    /// What we know about a connected peer.
    pub fn peer_info(&self, peer: &PeerId) -> Option<PeerInfo> {
        let shared = self.shared.upgrade()?;
        let e = shared.peers.get(peer)?;
        Some((*e.info).clone())
    }

    /// Connected peers.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.shared
            .upgrade()
            .map(|s| s.peers.iter().map(|e| (*e.info).clone()).collect())
            .unwrap_or_default()
    }

    /// Subscribes to the node's events except messages (`None` once the node is gone).
    pub fn events(&self) -> Option<crate::event::EventStream> {
        self.shared
            .upgrade()
            .map(|s| s.events.subscribe_without_messages())
    }

    /// The node's data directory, if it has one.
    pub fn data_dir(&self) -> Option<std::path::PathBuf> {
        self.shared.upgrade().and_then(|s| s.data_dir.clone())
    }

    /// The node's configured maximum of peers.
    pub fn max_peers(&self) -> usize {
        self.shared.upgrade().map_or(0, |s| s.config.max_peers)
    }

    /// Number of connected peers.
    pub fn peer_count(&self) -> usize {
        self.shared.upgrade().map(|s| s.peers.len()).unwrap_or(0)
    }

    /// Reports a found peer: emits `PeerDiscovered` and dials it unless it is us, connected,
    /// or being dialed.
    pub fn report(&self, peer: Option<PeerId>, addrs: Vec<Address>) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        if peer == Some(self.local) {
            return;
        }
        for addr in &addrs {
            shared.events.emit(Event::PeerDiscovered {
                peer,
                addr: addr.clone(),
                source: self.source.to_string(),
            });
        }
        shared.dial_candidate(peer, addrs, self.source);
    }

    /// Tells peers (in later Hellos) that `addr` also reaches us, e.g. a router's port mapping.
    pub fn add_external_address(&self, addr: Address) {
        if let Some(shared) = self.shared.upgrade() {
            let mut v = shared.external_addrs.write();
            if !v.contains(&addr) && v.len() < 8 {
                v.push(addr);
            }
        }
    }

    /// Withdraws an address given to [`add_external_address`](Self::add_external_address).
    pub fn remove_external_address(&self, addr: &Address) {
        if let Some(shared) = self.shared.upgrade() {
            shared.external_addrs.write().retain(|a| a != addr);
        }
    }

    /// Emits an event on the node's bus.
    pub fn emit(&self, event: Event) {
        if let Some(shared) = self.shared.upgrade() {
            shared.events.emit(event);
        }
    }

    /// Reports that a peer this mechanism found is gone: emits `PeerLost`.
    pub fn report_lost(&self, peer: Option<PeerId>) {
        if let Some(shared) = self.shared.upgrade() {
            shared.events.emit(Event::PeerLost {
                peer,
                source: self.source.to_string(),
            });
        }
    }

    /// Cancelled when the node stops.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Spawns a task that the node waits for on shutdown.
    pub fn spawn<F>(&self, fut: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        if let Some(shared) = self.shared.upgrade() {
            shared.tasks.spawn(fut);
        }
    }

    /// The connected peer that told us about `peer` (peer exchange), if we know one: likely
    /// connected to it, so a good peer to pass signals through.
    pub fn introducer(&self, peer: &PeerId) -> Option<PeerId> {
        let shared = self.shared.upgrade()?;
        let by = *shared.introducers.lock().get(peer)?;
        shared.is_connected(&by).then_some(by)
    }

    /// Sends `payload` to the NAT strategy of the same name (this context's source) on peer
    /// `to`: directly when `via == to`, otherwise passed on by the connected peer `via`, which
    /// must itself be connected to `to`. Fire and forget (peers drop signals beyond a small
    /// budget per connection); false when `via` is not connected or its queue is full.
    pub fn send_signal(&self, via: &PeerId, to: &PeerId, payload: &[u8]) -> bool {
        use crate::node::control::{Control, MAX_SIGNAL_NAME, MAX_SIGNAL_PAYLOAD};
        if payload.len() > MAX_SIGNAL_PAYLOAD || self.source.len() > MAX_SIGNAL_NAME {
            return false;
        }
        let Some(shared) = self.shared.upgrade() else {
            return false;
        };
        let Some(e) = shared.peers.get(via) else {
            return false;
        };
        let msg = if via == to {
            Control::Signal {
                from: self.local,
                name: self.source.to_string(),
                payload: payload.to_vec(),
            }
        } else {
            Control::Forward {
                to: *to,
                name: self.source.to_string(),
                payload: payload.to_vec(),
            }
        };
        e.conn.try_send_control(&msg)
    }

    /// Runs the node's handshake on a byte stream the strategy produced, as the initiator
    /// (`inbound == false`, we opened it) or the responder (the other side opened it), and
    /// registers the peer with `method` as its `PeerInfo::method`. Connection limits apply.
    /// When the handshake shows another peer than `expected`, that connection is closed and
    /// the result is an error.
    pub async fn establish(
        &self,
        raw: crate::transport::RawConnection,
        inbound: bool,
        method: &'static str,
        expected: Option<PeerId>,
    ) -> Result<PeerId, crate::node::ConnectError> {
        let shared = self
            .shared
            .upgrade()
            .ok_or(crate::node::ConnectError::ShuttingDown)?;
        crate::node::setup::establish_with(&shared, raw, inbound, method, expected).await
    }
}
