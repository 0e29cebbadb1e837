//! The node's side of the plugin contexts: [`NodeHost`] for the node and [`PeerLink`] for a
//! connection.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use futures::future::BoxFuture;

use crate::address::Address;
use crate::budget::{BudgetError, Reservation};
use crate::connect::ConnectError;
use crate::event::{DisconnectReason, EventBus, EventStream};
use crate::host::{NodeHost, PeerLink};
use crate::identity::PeerId;
use crate::node::connection::Connection;
use crate::node::control::Control;
use crate::node::shared::NodeShared;
use crate::node::{dial, handshake};
use crate::outbound::{CloseMode, OutboundQueue};
use crate::peer::PeerInfo;
use crate::reachability::NatType;
use crate::transport::{DatagramPath, PathEndpoint, RawConnection, TransportError};

/// Most external addresses told to peers.
const MAX_EXTERNAL_ADDRS: usize = 8;

impl NodeShared {
    /// A weak handle for a plugin context.
    pub(crate) fn host(self: &Arc<Self>) -> Weak<dyn NodeHost> {
        let weak: Weak<NodeShared> = Arc::downgrade(self);
        weak
    }
}

impl NodeHost for NodeShared {
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.identity.sign(message)
    }

    fn peer_ids(&self) -> Vec<PeerId> {
        self.peers.iter().map(|e| *e.key()).collect()
    }

    fn peer_info(&self, peer: &PeerId) -> Option<PeerInfo> {
        let e = self.peers.get(peer)?;
        let mut info = (*e.info).clone();
        info.rtt = e.conn.rtt();
        Some(info)
    }

    fn peer_infos(&self) -> Vec<PeerInfo> {
        self.peers.iter().map(|e| (*e.info).clone()).collect()
    }

    fn peer_count(&self) -> usize {
        self.peers.len()
    }

    fn is_connected(&self, peer: &PeerId) -> bool {
        NodeShared::is_connected(self, peer)
    }

    fn link(&self, peer: &PeerId) -> Option<Arc<dyn PeerLink>> {
        let conn: Arc<Connection> = self.peers.get(peer)?.conn.clone();
        Some(conn)
    }

    fn links(&self) -> Vec<Arc<dyn PeerLink>> {
        self.peers
            .iter()
            .map(|e| {
                let conn: Arc<dyn PeerLink> = e.conn.clone();
                conn
            })
            .collect()
    }

    fn disconnect_slow(&self, peer: &PeerId) -> bool {
        let Some(conn) = self.peers.get(peer).map(|e| e.conn.clone()) else {
            return false;
        };
        conn.close(
            DisconnectReason::SlowPeer,
            CloseMode::Graceful,
            self.clock.now(),
        );
        true
    }

    fn dial_candidate(
        self: Arc<Self>,
        peer: Option<PeerId>,
        addrs: Vec<Address>,
        source: &'static str,
    ) {
        NodeShared::dial_candidate(&self, peer, addrs, None, source);
    }

    fn connect(self: Arc<Self>, addr: Address) -> BoxFuture<'static, Result<PeerId, ConnectError>> {
        Box::pin(async move { dial::dial(&self, &addr).await })
    }

    fn establish(
        self: Arc<Self>,
        raw: RawConnection,
        inbound: bool,
        method: &'static str,
        expected: Option<PeerId>,
    ) -> BoxFuture<'static, Result<PeerId, ConnectError>> {
        Box::pin(
            async move { handshake::establish_with(&self, raw, inbound, method, expected).await },
        )
    }

    fn events(&self) -> &EventBus {
        &self.events
    }

    fn subscribe_without_messages(&self) -> EventStream {
        self.events.subscribe_without_messages()
    }

    fn spawn(&self, task: BoxFuture<'static, ()>) {
        self.tasks.spawn(task);
    }

    fn listen_addrs(&self) -> Vec<Address> {
        self.listen_addrs.read().clone()
    }

    fn add_external_address(&self, addr: Address) {
        let mut v = self.external_addrs.write();
        if !v.contains(&addr) && v.len() < MAX_EXTERNAL_ADDRS {
            v.push(addr);
        }
    }

    fn remove_external_address(&self, addr: &Address) {
        self.external_addrs.write().retain(|a| a != addr);
    }

    fn set_nat_type(&self, nat: Option<NatType>) {
        *self.local_nat.write() = nat;
    }

    fn data_dir(&self) -> Option<PathBuf> {
        self.data_dir.clone()
    }

    fn max_peers(&self) -> usize {
        self.config.max_peers
    }

    fn introducer(&self, peer: &PeerId) -> Option<PeerId> {
        let by = *self.introducers.lock().get(peer)?;
        NodeShared::is_connected(self, &by).then_some(by)
    }

    fn send_signal(&self, via: &PeerId, to: &PeerId, name: &str, payload: &[u8]) -> bool {
        let Some(e) = self.peers.get(via) else {
            return false;
        };
        let msg = if via == to {
            Control::Signal {
                from: self.local_id(),
                name: name.to_string(),
                payload: payload.to_vec(),
            }
        } else {
            Control::Forward {
                to: *to,
                name: name.to_string(),
                payload: payload.to_vec(),
            }
        };
        e.conn.try_send_control(&msg)
    }

    fn bind_path(
        &self,
        path: DatagramPath,
        accept: bool,
    ) -> Result<Arc<dyn PathEndpoint>, TransportError> {
        self.transports
            .iter()
            .find(|t| t.runs_over_datagrams())
            .ok_or(TransportError::NoDatagramTransport)?
            .bind_path(path, accept)
    }

    fn runs_over_datagrams(&self) -> bool {
        self.transports.iter().any(|t| t.runs_over_datagrams())
    }
}

impl PeerLink for Connection {
    fn peer(&self) -> PeerId {
        self.peer
    }

    fn queue(&self) -> &OutboundQueue {
        &self.queue
    }

    fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    fn reserve(&self, bytes: usize) -> Result<Reservation, BudgetError> {
        self.memory.reserve(bytes)
    }
}
