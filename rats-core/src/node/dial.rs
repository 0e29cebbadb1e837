//! Dialing: one address, or a peer known by several (direct addresses raced, relayed ones
//! after a head start, then the NAT strategies), each attempt reported as an event.

use std::sync::Arc;

use tracing::debug;

use super::handshake::{Setup, establish};
use crate::address::Address;
use crate::connect::ConnectError;
use crate::encryption::Role;
use crate::event::Event;
use crate::identity::PeerId;
use crate::nat::{NatConnection, NatTarget};
use crate::node::shared::NodeShared;
use crate::peer::ConnectionMethod;
use crate::reachability::NatType;
use crate::transport::RawConnection;

/// Dials `addr` (as [`connect_any`] with one address) and runs the handshake.
pub(crate) async fn dial(shared: &Arc<NodeShared>, addr: &Address) -> Result<PeerId, ConnectError> {
    connect_any(shared, std::slice::from_ref(addr), None, None).await
}

/// How a connection was made: `direct`, `relay` (through a relaying transport such as TURN), or
/// the name of the NAT strategy that produced it.
pub(super) fn method_of(addr: &Address) -> &'static str {
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
/// `PeerInfo::method` tells which way won. `peer_nat` is the NAT kind the peer said it is
/// behind (peer exchange): when it filters inbound connections, relayed addresses join the
/// race at once instead of after [`NodeConfig::relay_head_start`](crate::config::NodeConfig).
pub(crate) async fn connect_any(
    shared: &Arc<NodeShared>,
    addrs: &[Address],
    expected: Option<PeerId>,
    peer_nat: Option<NatType>,
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
            let head_start = if peer_nat.is_some_and(NatType::filters_inbound) {
                std::time::Duration::ZERO
            } else {
                shared.config.relay_head_start
            };
            let raced =
                race_direct(shared, &mut direct, &mut relayed, head_start, &mut failures).await;
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

/// Dials all direct addresses at once and, once they have had `head_start` (or all failed),
/// the first relayed address too; the first raw connection wins and the others are dropped. Failed addresses leave their lists (and go to `failures`); a relayed address is
/// taken from `relayed` once tried.
async fn race_direct(
    shared: &Arc<NodeShared>,
    direct: &mut Vec<Address>,
    relayed: &mut Vec<Address>,
    head_start: std::time::Duration,
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
                _ = tokio::time::sleep(head_start) => {}
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
