//! What the plugin contexts ask of the node. The runtime (the `node` module) implements these
//! traits, so the contract modules (`service`, `discovery`, `nat`) sit below it and never
//! import it: a context holds a `Weak<dyn NodeHost>`, not the node's internals.

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::address::Address;
use crate::budget::{BudgetError, Reservation};
use crate::connect::ConnectError;
use crate::event::{EventBus, EventStream};
use crate::identity::PeerId;
use crate::outbound::OutboundQueue;
use crate::peer::PeerInfo;
use crate::reachability::NatType;
use crate::transport::{DatagramPath, PathEndpoint, RawConnection, TransportError};

/// The node as its plugins see it.
pub(crate) trait NodeHost: Send + Sync {
    /// Signs with the node's identity key.
    fn sign(&self, message: &[u8]) -> [u8; 64];
    /// Connected peers.
    fn peer_ids(&self) -> Vec<PeerId>;
    /// What we know about a connected peer, with its latest round-trip time.
    fn peer_info(&self, peer: &PeerId) -> Option<PeerInfo>;
    /// What we know about every connected peer.
    fn peer_infos(&self) -> Vec<PeerInfo>;
    /// Number of connected peers.
    fn peer_count(&self) -> usize;
    /// Whether `peer` is connected.
    fn is_connected(&self, peer: &PeerId) -> bool;
    /// The active connection to a peer.
    fn link(&self, peer: &PeerId) -> Option<Arc<dyn PeerLink>>;
    /// The active connection to every peer.
    fn links(&self) -> Vec<Arc<dyn PeerLink>>;
    /// Closes a peer's connection as too slow to keep up.
    fn disconnect_slow(&self, peer: &PeerId) -> bool;
    /// Dials a peer in the background unless connected, being dialed or over the limits.
    fn dial_candidate(
        self: Arc<Self>,
        peer: Option<PeerId>,
        addrs: Vec<Address>,
        source: &'static str,
    );
    /// Dials `addr` now and waits for the outcome.
    fn connect(self: Arc<Self>, addr: Address) -> BoxFuture<'static, Result<PeerId, ConnectError>>;
    /// Runs the handshake on a stream a NAT strategy made and registers the peer.
    fn establish(
        self: Arc<Self>,
        raw: RawConnection,
        inbound: bool,
        method: &'static str,
        expected: Option<PeerId>,
    ) -> BoxFuture<'static, Result<PeerId, ConnectError>>;
    /// The node's event bus.
    fn events(&self) -> &EventBus;
    /// Subscribes to every event but messages.
    fn subscribe_without_messages(&self) -> EventStream;
    /// Spawns a task that shutdown waits for.
    fn spawn(&self, task: BoxFuture<'static, ()>);
    /// Our listen addresses.
    fn listen_addrs(&self) -> Vec<Address>;
    /// Adds an address peers can reach us at (told in later Hellos).
    fn add_external_address(&self, addr: Address);
    /// Withdraws an address given to `add_external_address`.
    fn remove_external_address(&self, addr: &Address);
    /// Records the NAT kind we are behind (told to peers in later Hellos).
    fn set_nat_type(&self, nat: Option<NatType>);
    /// The data directory, if any.
    fn data_dir(&self) -> Option<PathBuf>;
    /// The configured maximum of peers.
    fn max_peers(&self) -> usize;
    /// The connected peer that introduced `peer` (peer exchange), if still connected.
    fn introducer(&self, peer: &PeerId) -> Option<PeerId>;
    /// Sends a NAT signal to strategy `name` on `to`, directly or passed on by `via`.
    fn send_signal(&self, via: &PeerId, to: &PeerId, name: &str, payload: &[u8]) -> bool;
    /// Runs the first transport that can over a datagram path.
    fn bind_path(
        &self,
        path: DatagramPath,
        accept: bool,
    ) -> Result<Arc<dyn PathEndpoint>, TransportError>;
    /// Whether some transport runs over datagram paths.
    fn runs_over_datagrams(&self) -> bool;
}

/// One peer's active connection, as a sending service sees it.
pub(crate) trait PeerLink: Send + Sync {
    /// The peer.
    fn peer(&self) -> PeerId;
    /// Its send queue.
    fn queue(&self) -> &OutboundQueue;
    /// Replaced by a newer connection to the same peer (only drains what it has).
    fn is_retired(&self) -> bool;
    /// Charges bytes kept for this peer to its memory accounts.
    fn reserve(&self, bytes: usize) -> Result<Reservation, BudgetError>;
}
