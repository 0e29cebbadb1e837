//! Upgrading relayed connections: a connection we made through a relay is replaced in the
//! background by a direct one when a NAT strategy that [upgrades relayed
//! connections](crate::nat::NatStrategy::upgrades_relayed) (hole punching) makes one. The
//! duplicate rule keeps the direct connection on both sides and retires the relayed one, which
//! is still read for a grace period, so nothing in flight is lost and services see no
//! disconnect: only `PeerInfo::method` changes.

use std::sync::Arc;
use std::time::Duration;

use tracing::debug;

use crate::event::Event;
use crate::identity::PeerId;
use crate::nat::{NatConnection, NatTarget};
use crate::node::dial::nat_deadline;
use crate::node::handshake::establish_with;
use crate::node::shared::NodeShared;
use crate::peer::ConnectionMethod;

/// Waits before each round of attempts: soon after connecting, then backing off; after the
/// last round the connection stays relayed (no punch storms).
const ROUNDS: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_secs(5),
    Duration::from_secs(20),
];

/// Starts the upgrade task for relayed connection `conn_id` to `peer`, if any NAT strategy
/// upgrades relayed connections.
pub(crate) fn spawn(shared: &Arc<NodeShared>, peer: PeerId, conn_id: u64) {
    if shared.nat.iter().any(|n| n.upgrades_relayed()) {
        shared.tasks.spawn(run(shared.clone(), peer, conn_id));
    }
}

async fn run(shared: Arc<NodeShared>, peer: PeerId, conn_id: u64) {
    for wait in ROUNDS {
        tokio::select! {
            _ = shared.cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        // Only while this relayed connection is still the peer's, and only on the side that
        // dialed it (after a simultaneous dial, one side).
        let (addrs, relay_addr) = match shared.peers.get(&peer) {
            Some(e) if e.conn.id == conn_id && e.dialer == shared.local_id() => {
                (e.info.listen_addrs.clone(), e.info.remote_addr.clone())
            }
            _ => return,
        };
        for strategy in shared.nat.iter().filter(|n| n.upgrades_relayed()) {
            let target = NatTarget {
                peer: Some(peer),
                addrs: addrs.clone(),
            };
            let attempt = tokio::time::timeout(nat_deadline(&shared), strategy.connect(&target));
            let result = tokio::select! {
                _ = shared.cancel.cancelled() => return,
                r = attempt => r,
            };
            let error = match result {
                Ok(Ok(NatConnection::Raw { raw, method })) => {
                    establish_with(&shared, raw, false, method, Some(peer))
                        .await
                        .err()
                        .map(|e| e.to_string())
                }
                Ok(Ok(NatConnection::Established(p))) if p == peer => None,
                // Strategies check the peer before registering; this is only a safeguard.
                Ok(Ok(NatConnection::Established(_))) => Some("reached another peer".into()),
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some("timed out".into()),
            };
            debug!(peer = %peer.short(), strategy = strategy.name(), ?error, "relay upgrade");
            let done = error.is_none();
            shared.events.emit(Event::ConnectAttempt {
                addr: relay_addr.clone(),
                method: ConnectionMethod::Nat(strategy.name()),
                upgrade: true,
                error,
            });
            if done {
                return;
            }
        }
    }
}
