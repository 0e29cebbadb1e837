//! [`DiscoveryContext`], a discovery plugin's handle on the node. It holds the node weakly
//! (through [`NodeHost`]), so a plugin keeping one does not keep the node alive.

use std::sync::{Arc, Weak};

use tokio_util::sync::CancellationToken;

use crate::address::Address;
use crate::connect::ConnectError;
use crate::encryption::ProtocolId;
use crate::event::{Event, EventStream};
use crate::host::NodeHost;
use crate::identity::PeerId;
use crate::peer::PeerInfo;
use crate::reachability::NatType;

/// A discovery plugin's handle on the node.
#[derive(Clone)]
pub struct DiscoveryContext {
    pub(crate) host: Weak<dyn NodeHost>,
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
    pub(crate) fn host(&self) -> Option<Arc<dyn NodeHost>> {
        self.host.upgrade()
    }

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
        self.host().map(|h| h.listen_addrs()).unwrap_or_default()
    }

    /// Dials `addr` now and waits for the outcome (for plugins that manage their own retries).
    pub async fn connect(&self, addr: &Address) -> Result<PeerId, ConnectError> {
        let host = self.host().ok_or(ConnectError::ShuttingDown)?;
        host.connect(addr.clone()).await
    }

    /// Whether `peer` is connected.
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.host().is_some_and(|h| h.is_connected(peer))
    }

    /// What we know about a connected peer.
    pub fn peer_info(&self, peer: &PeerId) -> Option<PeerInfo> {
        self.host()?.peer_info(peer)
    }

    /// Connected peers.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.host().map(|h| h.peer_infos()).unwrap_or_default()
    }

    /// Subscribes to the node's events except messages (`None` once the node is gone).
    pub fn events(&self) -> Option<EventStream> {
        self.host().map(|h| h.subscribe_without_messages())
    }

    /// The node's data directory, if it has one.
    pub fn data_dir(&self) -> Option<std::path::PathBuf> {
        self.host().and_then(|h| h.data_dir())
    }

    /// The node's configured maximum of peers.
    pub fn max_peers(&self) -> usize {
        self.host().map_or(0, |h| h.max_peers())
    }

    /// Number of connected peers.
    pub fn peer_count(&self) -> usize {
        self.host().map_or(0, |h| h.peer_count())
    }

    /// Reports a found peer: emits `PeerDiscovered` and dials it unless it is us, connected,
    /// or being dialed.
    pub fn report(&self, peer: Option<PeerId>, addrs: Vec<Address>) {
        let Some(host) = self.host() else {
            return;
        };
        if peer == Some(self.local) {
            return;
        }
        for addr in &addrs {
            host.events().emit(Event::PeerDiscovered {
                peer,
                addr: addr.clone(),
                source: self.source.to_string(),
            });
        }
        host.dial_candidate(peer, addrs, self.source);
    }

    /// Tells peers (in later Hellos) that `addr` also reaches us, e.g. a router's port mapping.
    pub fn add_external_address(&self, addr: Address) {
        if let Some(host) = self.host() {
            host.add_external_address(addr);
        }
    }

    /// Withdraws an address given to [`add_external_address`](Self::add_external_address).
    pub fn remove_external_address(&self, addr: &Address) {
        if let Some(host) = self.host() {
            host.remove_external_address(addr);
        }
    }

    /// Records the NAT kind we are behind, told to peers in later Hellos (and passed on in
    /// their peer exchanges) so that peers behind other NATs start the relayed path at once.
    pub fn set_nat_type(&self, nat: Option<NatType>) {
        if let Some(host) = self.host() {
            host.set_nat_type(nat);
        }
    }

    /// Emits an event on the node's bus.
    pub fn emit(&self, event: Event) {
        if let Some(host) = self.host() {
            host.events().emit(event);
        }
    }

    /// Reports that a peer this mechanism found is gone: emits `PeerLost`.
    pub fn report_lost(&self, peer: Option<PeerId>) {
        if let Some(host) = self.host() {
            host.events().emit(Event::PeerLost {
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
        if let Some(host) = self.host() {
            host.spawn(Box::pin(fut));
        }
    }
}
