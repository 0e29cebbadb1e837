//! The [`Service`] contract: a protocol running on top of connections, on its own channel.

use async_trait::async_trait;
use bytes::Bytes;

mod context;

pub use crate::outbound::Priority;
pub use context::{PeerSender, ReserveError, SendError, ServiceContext};

use crate::event::DisconnectReason;
use crate::identity::PeerId;
use crate::peer::PeerInfo;

/// Who a service is on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceDescriptor {
    /// Unique name (`messages`, `gossipsub`, `transfer`, ...).
    pub name: &'static str,
    /// The frame channel, fixed per service so both sides agree without negotiation.
    /// 0 is the node's; 1..=255 are reserved for the rats services; third parties use 256+.
    pub channel: u16,
    /// Scheduling class of the frames it sends.
    pub priority: Priority,
    /// A second channel, always at [`Priority::Bulk`], for a service that sends both small
    /// control messages and bulk data (file chunks): the two classes cannot share one channel
    /// because a channel's fragments must never interleave. Frames on it reach
    /// [`Service::on_bulk_frame`]; send on it with [`ServiceContext::bulk_sender`].
    pub bulk_channel: Option<u16>,
}

/// Errors a service reports. Returned from [`Service::on_frame`], it disconnects the peer.
/// Each keeps the error that caused it as its source (text converts too:
/// `ServiceError::BadMessage("why".into())`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The peer sent something this service cannot accept.
    #[error("bad message: {0}")]
    BadMessage(#[source] crate::BoxError),
    /// The service could not start.
    #[error("service failed to start: {0}")]
    Start(#[source] crate::BoxError),
    /// Anything else.
    #[error(transparent)]
    Other(crate::BoxError),
}

/// A protocol on top of connections. Used as `Arc<dyn Service>`.
///
/// `on_peer_connected`, `on_frame` and `on_peer_disconnected` run on the peer's connection task
/// and must not block: a service with real work hands it to its own actor task (through a
/// bounded channel). Frames of one peer arrive in order, after `on_peer_connected`. The connect
/// and disconnect callbacks of all peers are serialized (they run under one node-wide lock), so
/// they must be quick and must not wait for anything.
#[async_trait]
pub trait Service: std::any::Any + Send + Sync + 'static {
    /// Name, channel and priority.
    fn descriptor(&self) -> ServiceDescriptor;
    /// Called once when the node starts; keep `ctx` to send.
    async fn start(&self, ctx: ServiceContext) -> Result<(), ServiceError>;
    /// A peer connected (before any of its frames is delivered).
    fn on_peer_connected(&self, _peer: &PeerInfo) {}
    /// A complete message on this service's channel from an authenticated peer.
    fn on_frame(&self, peer: &PeerId, message: Bytes) -> Result<(), ServiceError>;
    /// A complete message on this service's bulk channel (see
    /// [`ServiceDescriptor::bulk_channel`]). The default refuses it.
    fn on_bulk_frame(&self, _peer: &PeerId, _message: Bytes) -> Result<(), ServiceError> {
        Err(ServiceError::BadMessage(
            "this service has no bulk channel".into(),
        ))
    }
    /// A peer's last connection closed.
    fn on_peer_disconnected(&self, _peer: &PeerId, _reason: &DisconnectReason) {}
    /// The node is stopping.
    async fn stop(&self) {}
}
