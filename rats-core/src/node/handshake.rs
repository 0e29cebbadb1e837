//! From a raw byte stream to a connected peer: the encryption handshake, the Hello, the
//! registration in the peer table, the connection's tasks, and the cleanup when it ends.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use tracing::{Instrument, debug, info_span, warn};

use super::accept::peer_ip;
use crate::address::Address;
use crate::connect::ConnectError;
use crate::encryption::{HandshakeParams, Role};
use crate::event::{DisconnectReason, Event};
use crate::identity::PeerId;
use crate::node::connection::{Connection, read_loop, write_loop};
use crate::node::hello::Hello;
use crate::node::limits::{IpSlot, PeerSlot, PendingGuard};
use crate::node::peers::{PeerEntry, Registered, register};
use crate::node::shared::NodeShared;
use crate::outbound::CloseMode;
use crate::peer::{ConnectionMethod, PeerInfo};
use crate::transport::RawConnection;

/// Runs the handshake on a stream a NAT strategy produced (see
/// [`NatContext::establish`](crate::nat::NatContext::establish)).
pub(crate) async fn establish_with(
    shared: &Arc<NodeShared>,
    raw: RawConnection,
    inbound: bool,
    method: &'static str,
    expected: Option<PeerId>,
) -> Result<PeerId, ConnectError> {
    // Replacing a connection to a peer we have (an upgrade) must work at `max_peers` too.
    let slot = match expected {
        Some(p) if shared.is_connected(&p) => shared.limits.replacement_slot()?,
        _ => shared.limits.peer_slot()?,
    };
    let setup = Setup {
        role: if inbound {
            Role::Responder
        } else {
            Role::Initiator
        },
        slot,
        pending: shared.limits.pending(None)?,
        ip_slot: None,
        method,
        expected,
    };
    establish(shared, raw, setup).await
}

/// The side of a new connection and the limit slots it holds.
pub(crate) struct Setup {
    pub(super) role: Role,
    pub(super) slot: PeerSlot,
    pub(super) pending: PendingGuard,
    /// Inbound connections hold a slot of their IP for their whole life.
    pub(super) ip_slot: Option<IpSlot>,
    /// How the connection was made (`direct`, `relay`, a NAT strategy's name).
    pub(super) method: &'static str,
    /// The peer we mean to reach: another one is dropped after the handshake, before it is
    /// registered (so nothing about it, or an existing connection to it, is touched).
    pub(super) expected: Option<PeerId>,
}

/// Handshake, Hello, registration, and the connection's tasks.
pub(crate) async fn establish(
    shared: &Arc<NodeShared>,
    raw: RawConnection,
    setup: Setup,
) -> Result<PeerId, ConnectError> {
    let Setup {
        role,
        slot,
        pending,
        ip_slot,
        method,
        expected,
    } = setup;
    let remote_addr = raw.remote_addr.clone();
    let hello = shared.hello_for(&remote_addr);
    // Serializing a plain struct cannot fail.
    let early = serde_json::to_vec(&hello).unwrap_or_default();
    let params = HandshakeParams {
        identity: &shared.identity,
        protocol: &shared.protocol,
        role,
        early_data: &early,
    };
    let timeout = shared.config.handshake_timeout;
    let upgrade = shared.encryption.upgrade(raw, params);
    let secure = tokio::select! {
        _ = shared.cancel.cancelled() => return Err(ConnectError::ShuttingDown),
        r = tokio::time::timeout(timeout, upgrade) => match r {
            Ok(r) => r?,
            Err(_) => return Err(ConnectError::HandshakeTimeout(timeout)),
        },
    };
    drop(pending);
    let peer = secure.remote_peer;
    if peer == shared.local_id() {
        return Err(ConnectError::SelfConnection);
    }
    if expected.is_some_and(|e| e != peer) {
        return Err(ConnectError::UnexpectedPeer(peer));
    }
    let remote_hello = Hello::decode(&secure.remote_early_data).map_err(ConnectError::BadHello)?;
    let info = Arc::new(PeerInfo {
        peer_id: peer,
        remote_addr: secure.remote_addr.clone(),
        outbound: role == Role::Initiator,
        agent: remote_hello.agent,
        listen_addrs: normalize_listen(&remote_hello.listen, &secure.remote_addr),
        services: remote_hello.services.into_iter().map(|s| s.name).collect(),
        encrypted: secure.encrypted,
        observed_addr: remote_hello.observed,
        nat: remote_hello.nat,
        connected_at: SystemTime::now(),
        rtt: None,
        method: ConnectionMethod::from_name(method),
        transport: secure.remote_addr.scheme().to_string(),
    });
    let conn_id = shared.next_conn_id.fetch_add(1, Ordering::Relaxed);
    let conn = Arc::new(Connection::new(
        conn_id,
        peer,
        peer_ip(&secure.remote_addr),
        shared,
    ));
    let dialer = if role == Role::Initiator {
        shared.local_id()
    } else {
        peer
    };
    shared.connections.insert(conn_id, conn.clone());
    // Registration and its notifications happen under the lifecycle lock, so a peer's
    // `PeerConnected` and `PeerDisconnected` are always seen in the order they happened.
    let lifecycle = shared.lifecycle.lock();
    let outcome = register(
        &shared.peers,
        shared.local_id(),
        PeerEntry {
            info: info.clone(),
            conn: conn.clone(),
            dialer,
            session_id: secure.session_id,
            _slot: Some(slot),
        },
    );
    let now = shared.clock.now();
    match &outcome {
        Registered::Fresh => {
            for s in &shared.services {
                let call = || s.service.on_peer_connected(&info);
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).is_err() {
                    warn!(
                        service = s.descriptor.name,
                        "service panicked in on_peer_connected"
                    );
                }
            }
            shared.events.emit(Event::PeerConnected {
                peer,
                addr: info.remote_addr.clone(),
                outbound: info.outbound,
            });
            shared.send_exchange(&conn);
        }
        Registered::Replaced(old, was_relayed) => {
            old.retire(now);
            if *was_relayed && !info.is_relayed() {
                shared.events.emit(Event::ConnectionUpgraded {
                    peer,
                    method: info.method,
                    addr: info.remote_addr.clone(),
                });
            }
        }
        Registered::Rejected => conn.retire(now),
    }
    drop(lifecycle);
    if info.is_relayed()
        && role == Role::Initiator
        && !matches!(outcome, Registered::Rejected)
        && shared.config.connect_strategy != crate::config::ConnectStrategy::RelayOnly
    {
        super::upgrade::spawn(shared, peer, conn_id);
    }
    let span = info_span!("peer", peer = %peer.short(), conn = conn_id);
    shared
        .tasks
        .spawn(write_loop(shared.clone(), conn.clone(), secure.writer).instrument(span.clone()));
    let reader = secure.reader;
    let shared2 = shared.clone();
    shared.tasks.spawn(
        async move {
            let reason = read_loop(&shared2, &conn, reader).await;
            // Free the address's slot before the departure becomes visible.
            drop(ip_slot);
            connection_closed(&shared2, &conn, reason);
        }
        .instrument(span),
    );
    Ok(peer)
}

/// Cleans up after a connection's reader ended.
fn connection_closed(shared: &Arc<NodeShared>, conn: &Arc<Connection>, reason: DisconnectReason) {
    conn.close(reason.clone(), CloseMode::Abort, shared.clock.now());
    shared.connections.remove(&conn.id);
    let _lifecycle = shared.lifecycle.lock();
    let removed = shared
        .peers
        .remove_if(&conn.peer, |_, e| e.conn.id == conn.id);
    if removed.is_some() {
        debug!(peer = %conn.peer.short(), %reason, "peer disconnected");
        for s in &shared.services {
            let call = || s.service.on_peer_disconnected(&conn.peer, &reason);
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).is_err() {
                warn!(
                    service = s.descriptor.name,
                    "service panicked in on_peer_disconnected"
                );
            }
        }
        shared.events.emit(Event::PeerDisconnected {
            peer: conn.peer,
            reason,
        });
    }
}

/// Replaces unspecified IPs in a peer's listen addresses with the IP we see it at.
fn normalize_listen(listen: &[Address], remote: &Address) -> Vec<Address> {
    let remote_ip = remote.socket_addr().map(|a| a.ip());
    let mut out: Vec<Address> = Vec::with_capacity(listen.len());
    for a in listen {
        let fixed = match (a.socket_addr(), remote_ip) {
            (Some(sa), _) if sa.port() == 0 => continue,
            (Some(sa), Some(ip)) if sa.ip().is_unspecified() => {
                a.with_socket_addr(std::net::SocketAddr::new(ip, sa.port()))
            }
            // An unspecified IP we cannot replace is useless to anyone.
            (Some(sa), None) if sa.ip().is_unspecified() => continue,
            _ => a.clone(),
        };
        if !out.contains(&fixed) {
            out.push(fixed);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_listen_addresses_take_the_observed_ip() {
        let remote: Address = "10.1.2.3:50000".parse().expect("addr");
        let listen: Vec<Address> = [
            "tcp:0.0.0.0:7000",
            "tcp:[::]:7000",
            "tcp:192.168.1.5:7000",
            "tcp:0.0.0.0:0",
        ]
        .iter()
        .map(|s| s.parse().expect("addr"))
        .collect();
        let out = normalize_listen(&listen, &remote);
        let want: Vec<Address> = ["10.1.2.3:7000", "192.168.1.5:7000"]
            .iter()
            .map(|s| s.parse().expect("addr"))
            .collect();
        assert_eq!(out, want);
    }
}
