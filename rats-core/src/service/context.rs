//! [`ServiceContext`], a service's handle on the node. It holds the node weakly (through
//! [`NodeHost`]), so a service keeping one does not keep the node alive.

use std::sync::{Arc, Weak};

use tokio_util::sync::CancellationToken;

use crate::address::Address;
use crate::budget::Reservation;
use crate::event::{Event, EventBus};
use crate::host::{NodeHost, PeerLink};
use crate::identity::PeerId;
use crate::outbound::{Outgoing, PushError};
use crate::peer::PeerInfo;
use crate::service::Priority;

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
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
#[non_exhaustive]
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
    pub(crate) host: Weak<dyn NodeHost>,
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
    fn host(&self) -> Result<Arc<dyn NodeHost>, SendError> {
        self.host.upgrade().ok_or(SendError::NodeStopped)
    }

    fn link(&self, peer: &PeerId) -> Result<Arc<dyn PeerLink>, SendError> {
        self.host()?
            .link(peer)
            .ok_or(SendError::NotConnected(*peer))
    }

    /// Our peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local
    }

    /// Signs `message` with the node's identity key (verify with [`PeerId::verify`]): for
    /// services whose messages travel beyond the first hop, so receivers can check the origin.
    pub fn sign(&self, message: &[u8]) -> Result<[u8; 64], SendError> {
        Ok(self.host()?.sign(message))
    }

    /// Connected peers.
    pub fn peers(&self) -> Vec<PeerId> {
        self.host
            .upgrade()
            .map(|h| h.peer_ids())
            .unwrap_or_default()
    }

    /// What we know about a peer.
    pub fn peer_info(&self, peer: &PeerId) -> Option<PeerInfo> {
        self.host.upgrade()?.peer_info(peer)
    }

    /// Sends a message to a peer, waiting while its queue is full.
    pub async fn send(&self, peer: &PeerId, msg: Outgoing<'_>) -> Result<(), SendError> {
        let link = self.link(peer)?;
        link.queue()
            .push(self.channel, self.priority, &msg)
            .await
            .map_err(|e| map_push(*peer, e))
    }

    /// Sends without waiting; fails with `QueueFull` when the peer's queue is full.
    pub fn try_send(&self, peer: &PeerId, msg: Outgoing<'_>) -> Result<(), SendError> {
        let link = self.link(peer)?;
        link.queue()
            .try_push(self.channel, self.priority, &msg)
            .map_err(|e| map_push(*peer, e))
    }

    /// Sends to every connected peer without waiting; returns how many queued it.
    pub fn broadcast(&self, msg: Outgoing<'_>) -> usize {
        let Ok(host) = self.host() else {
            return 0;
        };
        host.links()
            .iter()
            .filter(|l| {
                l.queue()
                    .try_push(self.channel, self.priority, &msg)
                    .is_ok()
            })
            .count()
    }

    /// A cached handle to one peer's connection, for hot send loops.
    pub fn peer_sender(&self, peer: &PeerId) -> Result<PeerSender, SendError> {
        Ok(PeerSender {
            link: self.link(peer)?,
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
            link: self.link(peer)?,
            channel,
            priority: Priority::Bulk,
        })
    }

    /// Dials a peer another peer told us about (gossipsub's peer exchange), unless it is us,
    /// connected or being dialed; subject to the node's limits like discovery candidates.
    pub fn add_candidate(&self, peer: PeerId, addrs: Vec<Address>) {
        if let Ok(host) = self.host() {
            host.dial_candidate(Some(peer), addrs, "service");
        }
    }

    /// How full a peer's send queue is (queued bytes over its limit), for services that shed
    /// optional traffic (gossip) first when a peer falls behind. `None` if not connected.
    pub fn queue_load(&self, peer: &PeerId) -> Option<f32> {
        self.link(peer).ok().map(|l| l.queue().load())
    }

    /// Disconnects a peer that cannot keep up with this service (its send queue stays full):
    /// reported as [`DisconnectReason::SlowPeer`](crate::event::DisconnectReason::SlowPeer).
    /// False if it is not connected.
    pub fn disconnect_slow_peer(&self, peer: &PeerId) -> bool {
        self.host().is_ok_and(|h| h.disconnect_slow(peer))
    }

    /// Charges `bytes` that this service keeps for `peer` (a message queued for its task) to
    /// the peer's connection, its address and the node's memory budget; given back when the
    /// [`Reservation`](crate::budget::Reservation) is dropped. A refusal says which limit;
    /// drop the message then (the peer may send it again), as reassembly does.
    pub fn reserve_memory(&self, peer: &PeerId, bytes: usize) -> Result<Reservation, ReserveError> {
        let link = self.link(peer).map_err(|_| ReserveError::NotConnected)?;
        link.reserve(bytes).map_err(ReserveError::Budget)
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
        if let Some(host) = self.host.upgrade() {
            host.spawn(Box::pin(fut));
        }
    }
}

/// A handle to one peer's current connection on one channel.
#[derive(Clone)]
pub struct PeerSender {
    link: Arc<dyn PeerLink>,
    channel: u16,
    priority: Priority,
}

impl std::fmt::Debug for PeerSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerSender")
            .field("peer", &self.link.peer())
            .field("channel", &self.channel)
            .finish()
    }
}

impl PeerSender {
    /// Refuses to queue more on a retired connection: it only drains what it has, and the
    /// peer's current connection is the better way (a relay's backlog must not keep growing).
    fn check_current(&self) -> Result<(), SendError> {
        if self.link.is_retired() {
            return Err(SendError::Replaced(self.link.peer()));
        }
        Ok(())
    }

    /// Sends, waiting while the queue is full.
    pub async fn send(&self, msg: Outgoing<'_>) -> Result<(), SendError> {
        self.check_current()?;
        self.link
            .queue()
            .push(self.channel, self.priority, &msg)
            .await
            .map_err(|e| map_push(self.link.peer(), e))
    }

    /// Sends without waiting.
    pub fn try_send(&self, msg: Outgoing<'_>) -> Result<(), SendError> {
        self.check_current()?;
        self.link
            .queue()
            .try_push(self.channel, self.priority, &msg)
            .map_err(|e| map_push(self.link.peer(), e))
    }
}
