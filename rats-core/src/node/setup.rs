//! Turning raw byte streams into connected peers: dial, accept, handshake, Hello, registration.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use tracing::{Instrument, debug, info_span, warn};

use crate::address::Address;
use crate::connect::ConnectError;
use crate::encryption::{HandshakeParams, Role};
use crate::event::{DisconnectReason, Event};
use crate::identity::PeerId;
use crate::nat::{NatConnection, NatTarget};
use crate::node::connection::{Connection, read_loop, write_loop};
use crate::node::hello::Hello;
use crate::node::limits::{IpSlot, PeerSlot, PendingGuard};
use crate::node::peers::{PeerEntry, Registered, register};
use crate::node::shared::NodeShared;
use crate::outbound::CloseMode;
use crate::peer::{ConnectionMethod, PeerInfo};
use crate::record::write_record;
use crate::transport::{Listener, RawConnection, TransportError};

/// Dials `addr` (as [`connect_any`] with one address) and runs the handshake.
pub(crate) async fn dial(shared: &Arc<NodeShared>, addr: &Address) -> Result<PeerId, ConnectError> {
    connect_any(shared, std::slice::from_ref(addr), None).await
}

/// How a connection was made: `direct`, `relay` (through a relaying transport such as TURN), or
/// the name of the NAT strategy that produced it.
fn method_of(addr: &Address) -> &'static str {
    if is_relayed(addr) { "relay" } else { "direct" }
}

/// Addresses of relaying transports.
pub(crate) fn is_relayed(addr: &Address) -> bool {
    addr.scheme() == "turn"
}

/// Connects to a peer known by several addresses, as the configured
/// [`ConnectStrategy`](crate::config::ConnectStrategy) allows: direct addresses all at once
/// (the first to connect wins), then relayed addresses one by one, then the NAT strategies.
/// A candidate whose handshake fails (or that turns out to be another peer than `expected`)
/// gives way to the next. Every attempt is reported as `ConnectAttempt`; the peer's
/// `PeerInfo::method` tells which way won.
pub(crate) async fn connect_any(
    shared: &Arc<NodeShared>,
    addrs: &[Address],
    expected: Option<PeerId>,
) -> Result<PeerId, ConnectError> {
    use crate::config::ConnectStrategy;
    if shared.cancel.is_cancelled() {
        return Err(ConnectError::ShuttingDown);
    }
    if let [only] = addrs
        && shared.is_own_address(only)
    {
        return Err(ConnectError::SelfConnection);
    }
    let addrs: Vec<Address> = addrs
        .iter()
        .filter(|a| !shared.is_own_address(a))
        .cloned()
        .collect();
    let strategy = shared.config.connect_strategy;
    let (mut relayed, mut direct): (Vec<Address>, Vec<Address>) =
        addrs.iter().cloned().partition(is_relayed);
    if strategy == ConnectStrategy::RelayOnly {
        direct.clear();
    }
    let mut nat_left =
        strategy != ConnectStrategy::DirectOnly && !shared.nat.is_empty() && !addrs.is_empty();
    if strategy == ConnectStrategy::DirectOnly {
        relayed.clear();
    }
    if direct.is_empty() && relayed.is_empty() && !nat_left {
        return Err(ConnectError::NoAddress);
    }
    let mut failures: Vec<(Address, String)> = Vec::new();
    let mut last_err: Option<ConnectError> = None;
    loop {
        if shared.cancel.is_cancelled() {
            return Err(ConnectError::ShuttingDown);
        }
        let candidate: Option<(RawConnection, &'static str, Address)> = if !direct.is_empty() {
            let raced = race_direct(shared, &mut direct, &mut relayed, &mut failures).await;
            match raced {
                Ok(won) => Some(won),
                Err(e) => {
                    last_err = Some(e);
                    None
                }
            }
        } else if !relayed.is_empty() {
            let a = relayed.remove(0);
            let r = dial_raw(shared, &a).await;
            report_attempt(shared, &a, "relay", r.as_ref().err());
            match r {
                Ok(raw) => Some((raw, "relay", a)),
                Err(e) => {
                    failures.push((a, e.to_string()));
                    last_err = Some(e);
                    None
                }
            }
        } else if nat_left {
            nat_left = false;
            match dial_through_nat(shared, &addrs, expected).await {
                Some(NatConnection::Raw { raw, method }) => {
                    let a = addrs
                        .first()
                        .cloned()
                        .unwrap_or_else(|| raw.remote_addr.clone());
                    Some((raw, method, a))
                }
                // The strategy connected the peer itself (the other side dialed).
                Some(NatConnection::Established(peer)) if expected.is_none_or(|e| e == peer) => {
                    return Ok(peer);
                }
                // Strategies check the peer before registering; this is only a safeguard.
                Some(NatConnection::Established(other)) => {
                    if let Some(a) = addrs.first() {
                        failures.push((
                            a.clone(),
                            format!("reached another peer ({})", other.short()),
                        ));
                    }
                    None
                }
                None => None,
            }
        } else {
            break;
        };
        let Some((raw, method, addr)) = candidate else {
            continue;
        };
        let setup = Setup {
            role: Role::Initiator,
            slot: shared.limits.peer_slot()?,
            pending: shared.limits.pending(None)?,
            ip_slot: None,
            method,
            expected,
        };
        match establish(shared, raw, setup).await {
            Ok(peer) => return Ok(peer),
            Err(ConnectError::ShuttingDown) => return Err(ConnectError::ShuttingDown),
            Err(e) => {
                failures.push((addr, e.to_string()));
                last_err = Some(e);
            }
        }
    }
    for (addr, error) in failures {
        shared.events.emit(Event::DialFailed { addr, error });
    }
    Err(last_err.unwrap_or(ConnectError::NoAddress))
}

/// How long direct dials run alone before the first relayed address joins the race (happy
/// eyeballs: a direct path is preferred, but a peer behind a NAT that drops our SYNs must not
/// cost a whole dial timeout before the relay is tried).
const RELAY_HEAD_START: std::time::Duration = std::time::Duration::from_millis(750);

/// Dials all direct addresses at once and, once they have had [`RELAY_HEAD_START`] (or all
/// failed), the first relayed address too; the first raw connection wins and the others are
/// dropped. Failed addresses leave their lists (and go to `failures`); a relayed address is
/// taken from `relayed` once tried.
async fn race_direct(
    shared: &Arc<NodeShared>,
    direct: &mut Vec<Address>,
    relayed: &mut Vec<Address>,
    failures: &mut Vec<(Address, String)>,
) -> Result<(RawConnection, &'static str, Address), ConnectError> {
    let failed = parking_lot::Mutex::new(Vec::new());
    let relay_addr = relayed.first().cloned();
    let outcome = {
        let attempts = direct.iter().map(|a| {
            let failed = &failed;
            Box::pin(async move {
                let r = dial_raw(shared, a).await;
                report_attempt(shared, a, "direct", r.as_ref().err());
                match r {
                    Ok(raw) => Ok((raw, a.clone())),
                    Err(e) => {
                        failed.lock().push((a.clone(), e.to_string()));
                        Err(e)
                    }
                }
            })
        });
        // The losers are dropped when this returns (their connections closed).
        let mut raced = std::pin::pin!(futures::future::select_ok(attempts));
        let direct_failed = tokio::sync::Notify::new();
        let mut relay = std::pin::pin!(async {
            let Some(a) = &relay_addr else {
                return std::future::pending().await;
            };
            tokio::select! {
                _ = tokio::time::sleep(RELAY_HEAD_START) => {}
                _ = direct_failed.notified() => {}
            }
            let r = dial_raw(shared, a).await;
            report_attempt(shared, a, "relay", r.as_ref().err());
            r
        });
        let mut direct_result = None;
        loop {
            tokio::select! {
                d = &mut raced, if direct_result.is_none() => match d {
                    Ok(((raw, a), _losers)) => break Ok((raw, "direct", a)),
                    Err(e) if relay_addr.is_none() => break Err(e),
                    Err(e) => {
                        direct_result = Some(e);
                        direct_failed.notify_one();
                    }
                },
                r = &mut relay => {
                    relayed.remove(0);
                    match r {
                        Ok(raw) => {
                            let a = relay_addr.clone().unwrap_or_else(|| raw.remote_addr.clone());
                            break Ok((raw, "relay", a));
                        }
                        Err(e) => {
                            if let Some(a) = &relay_addr {
                                failures.push((a.clone(), e.to_string()));
                            }
                            match direct_result.take() {
                                // Both failed.
                                Some(_) => break Err(e),
                                // Let the direct dials finish.
                                None => match (&mut raced).await {
                                    Ok(((raw, a), _losers)) => break Ok((raw, "direct", a)),
                                    Err(e) => break Err(e),
                                },
                            }
                        }
                    }
                }
            }
        }
    };
    let failed = failed.into_inner();
    direct.retain(|a| !failed.iter().any(|(f, _)| f == a));
    failures.extend(failed);
    match &outcome {
        Ok((_, "direct", won)) => direct.retain(|d| d != won),
        Ok(_) => {
            // The relay won while these were still trying: say so, they had their chance.
            for a in direct.drain(..) {
                shared.events.emit(Event::ConnectAttempt {
                    addr: a,
                    method: ConnectionMethod::Direct,
                    upgrade: false,
                    error: Some("abandoned: the relay connected first".into()),
                });
            }
        }
        Err(_) => direct.clear(),
    }
    outcome
}

/// Opens a raw byte stream to `addr` with its transport, within the dial timeout.
async fn dial_raw(shared: &Arc<NodeShared>, addr: &Address) -> Result<RawConnection, ConnectError> {
    let timeout = shared.config.dial_timeout;
    match shared.transport_for(addr) {
        Some(t) => tokio::select! {
            _ = shared.cancel.cancelled() => Err(ConnectError::ShuttingDown),
            r = tokio::time::timeout(timeout, t.dial(addr)) => match r {
                Ok(Ok(raw)) => Ok(raw),
                Ok(Err(e)) => Err(ConnectError::Transport(e)),
                Err(_) => Err(ConnectError::DialTimeout(timeout)),
            },
        },
        None => Err(ConnectError::NoTransport(addr.clone())),
    }
}

fn report_attempt(
    shared: &NodeShared,
    addr: &Address,
    method: &'static str,
    error: Option<&ConnectError>,
) {
    shared.events.emit(Event::ConnectAttempt {
        addr: addr.clone(),
        method: ConnectionMethod::from_name(method),
        upgrade: false,
        error: error.map(|e| e.to_string()),
    });
}

/// How long one NAT strategy may take: the dial timeout plus room for its own coordination
/// (a hole punch waits for an answer and a punch window; each step has its own bound).
pub(crate) fn nat_deadline(shared: &NodeShared) -> std::time::Duration {
    shared.config.dial_timeout + std::time::Duration::from_secs(10)
}

async fn dial_through_nat(
    shared: &Arc<NodeShared>,
    addrs: &[Address],
    expected: Option<PeerId>,
) -> Option<NatConnection> {
    let target = NatTarget {
        peer: expected,
        addrs: addrs.to_vec(),
    };
    for strategy in &shared.nat {
        let attempt = tokio::time::timeout(nat_deadline(shared), strategy.connect(&target));
        let result = tokio::select! {
            _ = shared.cancel.cancelled() => return None,
            r = attempt => r,
        };
        match result {
            Ok(Ok(made)) => {
                if let Some(a) = addrs.first() {
                    report_attempt(shared, a, strategy.name(), None);
                }
                return Some(made);
            }
            Ok(Err(crate::nat::NatError::NotApplicable(_))) => {}
            Ok(Err(e)) => {
                debug!(strategy = strategy.name(), error = %e, "nat strategy failed");
                if let Some(a) = addrs.first() {
                    shared.events.emit(Event::ConnectAttempt {
                        addr: a.clone(),
                        method: ConnectionMethod::Nat(strategy.name()),
                        upgrade: false,
                        error: Some(e.to_string()),
                    });
                }
            }
            Err(_) => {
                debug!(strategy = strategy.name(), "nat strategy timed out");
                if let Some(a) = addrs.first() {
                    shared.events.emit(Event::ConnectAttempt {
                        addr: a.clone(),
                        method: ConnectionMethod::Nat(strategy.name()),
                        upgrade: false,
                        error: Some("timed out".into()),
                    });
                }
            }
        }
    }
    None
}

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

/// Accepts connections from one listener until the node stops.
pub(crate) async fn accept_loop(shared: Arc<NodeShared>, mut listener: Box<dyn Listener>) {
    loop {
        let accepted = tokio::select! {
            _ = shared.cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let raw = match accepted {
            Ok(raw) => raw,
            Err(TransportError::Closed) => return,
            Err(e) => {
                // Out of file descriptors and similar: back off instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let ip = peer_ip(&raw.remote_addr);
        let guards = shared.limits.peer_slot().and_then(|slot| {
            let ip_slot = ip.map(|ip| shared.limits.ip_slot(ip)).transpose()?;
            Ok((slot, shared.limits.pending(ip)?, ip_slot))
        });
        let shared2 = shared.clone();
        shared.tasks.spawn(async move {
            match guards {
                Ok((slot, pending, ip_slot)) => {
                    let method = method_of(&raw.remote_addr);
                    let setup = Setup {
                        role: Role::Responder,
                        slot,
                        pending,
                        ip_slot,
                        method,
                        expected: None,
                    };
                    if let Err(e) = establish(&shared2, raw, setup).await {
                        debug!(error = %e, "inbound connection failed");
                    }
                }
                Err(limit) => {
                    let n = shared2.rejecting.fetch_add(1, Ordering::AcqRel);
                    if n < super::shared::MAX_REJECTING {
                        reject(raw, &limit.to_string()).await;
                    }
                    shared2.rejecting.fetch_sub(1, Ordering::AcqRel);
                }
            }
        });
    }
}

/// The address that per-IP limits and memory shares count a connection against: none for
/// relayed connections (they all come from the relay's address) and non-IP transports. An
/// IPv6 address counts as its /64 (one host usually holds a whole /64, so counting single
/// addresses would give it endless shares); an IPv4-mapped one as its IPv4 address.
fn peer_ip(addr: &Address) -> Option<IpAddr> {
    let ip = addr.socket_addr().filter(|_| !is_relayed(addr))?.ip();
    Some(match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    })
}

/// Tells an over-limit dialer why, in the handshake's rejection format, then closes.
async fn reject(mut raw: RawConnection, reason: &str) {
    let send = async {
        write_record(&mut raw.writer, b"").await?;
        write_record(&mut raw.writer, reason.as_bytes()).await
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), send).await;
}

/// The side of a new connection and the limit slots it holds.
pub(crate) struct Setup {
    role: Role,
    slot: PeerSlot,
    pending: PendingGuard,
    /// Inbound connections hold a slot of their IP for their whole life.
    ip_slot: Option<IpSlot>,
    /// How the connection was made (`direct`, `relay`, a NAT strategy's name).
    method: &'static str,
    /// The peer we mean to reach: another one is dropped after the handshake, before it is
    /// registered (so nothing about it, or an existing connection to it, is touched).
    expected: Option<PeerId>,
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
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::encryption::Encryption;
    use crate::identity::Identity;
    use crate::plaintext::Plaintext;
    use crate::record::RecordReader;
    use crate::transport::Transport;
    use crate::{Node, NodeConfig};
    use async_trait::async_trait;
    use std::time::Duration;
    use tokio::sync::mpsc;

    /// A transport whose listener hands out the connections a test pushes, each claiming
    /// the source address the test chose (per-IP limits need real-looking addresses).
    struct PushedTransport(parking_lot::Mutex<Option<mpsc::Receiver<RawConnection>>>);

    struct PushedListener(mpsc::Receiver<RawConnection>);

    #[async_trait]
    impl Listener for PushedListener {
        fn local_addrs(&self) -> Vec<Address> {
            vec!["tcp:192.0.2.1:7000".parse().unwrap()]
        }

        async fn accept(&mut self) -> Result<RawConnection, TransportError> {
            self.0.recv().await.ok_or(TransportError::Closed)
        }
    }

    #[async_trait]
    impl Transport for PushedTransport {
        fn name(&self) -> &'static str {
            "tcp"
        }

        async fn listen(&self, _: &Address) -> Result<Box<dyn Listener>, TransportError> {
            let rx = self.0.lock().take().ok_or(TransportError::Closed)?;
            Ok(Box::new(PushedListener(rx)))
        }

        async fn dial(&self, addr: &Address) -> Result<RawConnection, TransportError> {
            Err(TransportError::io(
                format!("dial {addr}"),
                std::io::ErrorKind::Unsupported.into(),
            ))
        }
    }

    /// A node whose only listener takes pushed connections, with the given per-IP limits.
    async fn node(
        pending_per_ip: usize,
        conns_per_ip: usize,
    ) -> (Node, mpsc::Sender<RawConnection>) {
        let (tx, rx) = mpsc::channel(16);
        let config = NodeConfig {
            listen: vec!["tcp:192.0.2.1:7000".parse().unwrap()],
            max_pending_per_ip: pending_per_ip,
            max_connections_per_ip: conns_per_ip,
            handshake_timeout: Duration::from_secs(30),
            ..NodeConfig::default()
        };
        let node = Node::builder()
            .with_config(config)
            .use_registry(false)
            .transport(Arc::new(PushedTransport(parking_lot::Mutex::new(Some(rx)))))
            .encryption(Arc::new(Plaintext))
            .start()
            .await
            .unwrap();
        (node, tx)
    }

    /// Pushes a connection from `ip` and returns the dialer's end of it.
    async fn push(tx: &mpsc::Sender<RawConnection>, ip: &str) -> RawConnection {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let (ar, aw) = tokio::io::split(a);
        let (br, bw) = tokio::io::split(b);
        let remote: Address = format!("tcp:{ip}:40000").parse().unwrap();
        let local: Address = "tcp:192.0.2.1:7000".parse().unwrap();
        tx.send(RawConnection {
            reader: Box::new(br),
            writer: Box::new(bw),
            local_addr: local.clone(),
            remote_addr: remote.clone(),
        })
        .await
        .unwrap();
        RawConnection {
            reader: Box::new(ar),
            writer: Box::new(aw),
            local_addr: remote,
            remote_addr: local,
        }
    }

    /// The reason a refused dialer is told: an empty record, then the reason.
    async fn rejection(conn: RawConnection) -> String {
        let mut r = RecordReader::new(conn.reader);
        let read = async {
            let first = r.read_record().await.unwrap().expect("a record");
            assert!(first.is_empty(), "a rejection starts with an empty record");
            let reason = r.read_record().await.unwrap().expect("the reason");
            String::from_utf8(reason.to_vec()).unwrap()
        };
        tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("rejected in time")
    }

    /// Completes a handshake as a fresh peer over `conn`: it must be accepted.
    async fn handshake(node: &Node, conn: RawConnection) -> crate::encryption::SecureConnection {
        let id = Identity::generate();
        let hello = br#"{"agent":"test","listen":[],"services":[]}"#;
        let params = HandshakeParams {
            identity: &id,
            protocol: node.protocol(),
            role: Role::Initiator,
            early_data: hello,
        };
        let secure = tokio::time::timeout(Duration::from_secs(5), Plaintext.upgrade(conn, params))
            .await
            .expect("in time")
            .expect("accepted");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !node.is_connected(&id.peer_id()) {
            assert!(tokio::time::Instant::now() < deadline, "registered in time");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        secure
    }

    #[tokio::test]
    async fn the_accept_loop_refuses_a_second_pending_handshake_from_one_ip() {
        let (node, tx) = node(1, 100).await;
        // Silent: its handshake stays pending.
        let _pending = push(&tx, "198.51.100.1").await;
        let second = push(&tx, "198.51.100.1").await;
        assert_eq!(
            rejection(second).await,
            crate::connect::LimitError::TooManyFromIp.to_string()
        );
        // Another address is not affected.
        let other = push(&tx, "198.51.100.2").await;
        let _kept = handshake(&node, other).await;
        node.shutdown().await;
    }

    #[tokio::test]
    async fn the_accept_loop_refuses_connections_beyond_the_per_ip_limit() {
        let (node, tx) = node(100, 1).await;
        let first = push(&tx, "198.51.100.1").await;
        let _kept = handshake(&node, first).await;
        let second = push(&tx, "198.51.100.1").await;
        assert_eq!(
            rejection(second).await,
            crate::connect::LimitError::TooManyConnectionsFromIp.to_string()
        );
        let other = push(&tx, "198.51.100.2").await;
        let _also = handshake(&node, other).await;
        assert_eq!(node.peer_count(), 2);
        node.shutdown().await;
    }

    #[test]
    fn per_ip_limits_count_an_ipv6_slash_64_as_one_address() {
        let ip = |a: &str| peer_ip(&a.parse().unwrap());
        assert_eq!(
            ip("tcp:[2001:db8:1:2::1]:5"),
            ip("tcp:[2001:db8:1:2:ffff::9]:6")
        );
        assert_ne!(ip("tcp:[2001:db8:1:2::1]:5"), ip("tcp:[2001:db8:1:3::1]:5"));
        assert_eq!(ip("tcp:[::ffff:192.0.2.7]:5"), ip("tcp:192.0.2.7:9"));
        assert_ne!(ip("tcp:192.0.2.7:5"), ip("tcp:192.0.2.8:5"));
        assert_eq!(ip("mem:3"), None);
    }

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
