//! One punch, over UDP and TCP at once.
//!
//! UDP: spray a few datagrams at the other side's mapping from our socket (opening our NAT's
//! filter for its packets), and dial QUIC from the same socket, or accept on it.
//! TCP: connect from our shared port to the other side's TCP mapping (both sides doing so is a
//! TCP simultaneous open), and on the accepting side also listen on that port.
//!
//! Every path that comes up is handed over as it does: the dialing side runs the initiator
//! handshake on them one at a time until one completes (a path that connected to the wrong
//! box gives way to the next), the accepting side runs the responder handshake on all of them,
//! and the dialer's choice wins.

use std::net::SocketAddr;
use std::time::Duration;

use futures::future::BoxFuture;
use rats_core::NatContext;
use rats_core::transport::{DatagramPath, RawConnection};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::socket::{PunchSocket, TcpPunchPort, reusable_socket};
use super::{PUNCHED_TCP, PUNCHED_UDP};

/// Not a QUIC packet (the fixed bit is clear), so QUIC endpoints drop it without answering.
const PUNCH_PACKET: &[u8] = b"\x00rats-punch";
/// Spray timing: a quick burst so the first exchange gets through, then a slow trickle that
/// keeps the hole open until the handshake is done.
const BURST: usize = 4;
const BURST_GAP: Duration = Duration::from_millis(25);
const TRICKLE_GAP: Duration = Duration::from_millis(200);
/// The dialer starts its handshake this long after its first packets, so that the other
/// side's burst has usually opened the way.
const DIAL_DELAY: Duration = Duration::from_millis(30);
/// Pause between TCP connect attempts that were refused (a reset from a NAT or host).
const TCP_RETRY: Duration = Duration::from_millis(100);

/// Which side of the handshakes we take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Dial,
    Accept,
}

/// What one punch may use.
pub(crate) struct Plan {
    pub(crate) udp: PunchSocket,
    /// Punch UDP (else the UDP socket only served to learn the NAT's behaviour).
    pub(crate) use_udp: bool,
    pub(crate) tcp: Option<TcpPunchPort>,
    pub(crate) remote_udp: Vec<SocketAddr>,
    pub(crate) remote_tcp: Option<SocketAddr>,
    pub(crate) side: Side,
    pub(crate) window: Duration,
}

/// Paths as they come up, with their methods, until the window ends or the receiver is
/// dropped (which also stops the punch).
pub(crate) type Paths = mpsc::Receiver<(RawConnection, &'static str)>;

type Attempt = BoxFuture<'static, Result<(RawConnection, &'static str), String>>;

/// Starts the punch (dialing or accepting, for `plan.window`) and returns the paths it brings
/// up. UDP paths carry the node's datagram transport (QUIC), bound through `ctx`.
pub(crate) async fn run(ctx: &NatContext, plan: Plan) -> Result<Paths, String> {
    let stop = CancellationToken::new();
    let mut attempts: Vec<Attempt> = Vec::new();
    let (paths_tx, paths_rx) = mpsc::channel(4);
    // UDP paths need a transport that runs over datagrams (QUIC); without one, TCP only.
    if plan.use_udp && ctx.runs_over_datagrams() {
        let std = plan
            .udp
            .socket
            .into_std()
            .map_err(|e| format!("punch socket: {e}"))?;
        // A second descriptor of the same socket for the spray (QUIC owns the first); the
        // spray only sends, so every datagram still reaches QUIC.
        let spray_fd = std.try_clone().map_err(|e| format!("punch socket: {e}"))?;
        let spray_sock = UdpSocket::from_std(spray_fd).map_err(|e| format!("punch socket: {e}"))?;
        // Only the accepting side takes connections on its socket.
        let endpoint = ctx
            .bind_path(DatagramPath::Socket(std), plan.side == Side::Accept)
            .map_err(|e| e.to_string())?;
        tokio::spawn(spray(
            spray_sock,
            plan.remote_udp.clone(),
            plan.window,
            stop.clone(),
        ));
        match plan.side {
            Side::Dial => {
                for a in plan.remote_udp.iter().copied() {
                    let ep = endpoint.clone();
                    attempts.push(Box::pin(async move {
                        tokio::time::sleep(DIAL_DELAY).await;
                        ep.dial(a)
                            .await
                            .map(|raw| (raw, PUNCHED_UDP))
                            .map_err(|e| e.to_string())
                    }));
                }
            }
            Side::Accept => {
                let mut listener = endpoint.listen().map_err(|e| e.to_string())?;
                let (tx, window) = (paths_tx.clone(), plan.window);
                // Only the dialer's IP (its port may differ: a per-destination mapping).
                let from: Vec<std::net::IpAddr> = plan.remote_udp.iter().map(|a| a.ip()).collect();
                tokio::spawn(async move {
                    let accept = async {
                        loop {
                            match listener.accept().await {
                                Ok(raw)
                                    if raw
                                        .remote_addr
                                        .socket_addr()
                                        .is_some_and(|a| from.contains(&a.ip())) =>
                                {
                                    return Some(raw);
                                }
                                Ok(_) => continue,
                                Err(_) => return None,
                            }
                        }
                    };
                    tokio::select! {
                        _ = tx.closed() => {}
                        r = tokio::time::timeout(window, accept) => if let Ok(Some(raw)) = r {
                            let _ = tx.send((raw, PUNCHED_UDP)).await;
                        }
                    }
                    // Dropping the listener refuses further connections on this socket.
                });
            }
        }
    }
    if let (Some(port), Some(remote)) = (plan.tcp, plan.remote_tcp) {
        match plan.side {
            Side::Dial => attempts.push(Box::pin(async move {
                let stream = tcp_connect(port.local, remote, plan.window).await?;
                drop(port);
                RawConnection::from_tcp(stream)
                    .map(|raw| (raw, PUNCHED_TCP))
                    .map_err(|e| e.to_string())
            })),
            Side::Accept => {
                let (tx, window) = (paths_tx.clone(), plan.window);
                tokio::spawn(async move {
                    let got = tokio::select! {
                        _ = tx.closed() => None,
                        s = tcp_accept_or_connect(port.local, remote, window) => s.ok(),
                    };
                    drop(port);
                    if let Some(raw) = got.and_then(|s| RawConnection::from_tcp(s).ok()) {
                        let _ = tx.send((raw, PUNCHED_TCP)).await;
                    }
                });
            }
        }
    }
    if plan.side == Side::Dial && attempts.is_empty() {
        return Err("no path to punch".into());
    }
    for attempt in attempts {
        let (tx, window) = (paths_tx.clone(), plan.window);
        tokio::spawn(async move {
            tokio::select! {
                _ = tx.closed() => {}
                r = tokio::time::timeout(window, attempt) => if let Ok(Ok(path)) = r {
                    let _ = tx.send(path).await;
                }
            }
        });
    }
    // The spray stops with the window, or as soon as nobody wants paths any more.
    let (window, watch) = (plan.window, paths_tx);
    tokio::spawn(async move {
        tokio::select! {
            _ = watch.closed() => {}
            _ = tokio::time::sleep(window) => {}
        }
        stop.cancel();
    });
    Ok(paths_rx)
}

/// Connects from our shared TCP port to `remote` until it works or `window` ends; a refused
/// attempt (the other side's NAT not open yet) is retried.
async fn tcp_connect(
    local: SocketAddr,
    remote: SocketAddr,
    window: Duration,
) -> Result<TcpStream, String> {
    let end = tokio::time::Instant::now() + window;
    loop {
        let sock = reusable_socket().map_err(|e| e.to_string())?;
        sock.bind(local)
            .map_err(|e| format!("TCP punch port: {e}"))?;
        match tokio::time::timeout_at(end, sock.connect(remote)).await {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(e)) => {
                if tokio::time::Instant::now() + TCP_RETRY >= end {
                    return Err(format!("TCP punch: {e}"));
                }
                tokio::time::sleep(TCP_RETRY).await;
            }
            Err(_) => return Err("TCP punch timed out".into()),
        }
    }
}

/// The accepting side of a TCP punch: listens on the shared port (a peer behind a NAT that
/// maps per destination arrives from an unknown port) and connects to the peer's mapping (a
/// simultaneous open, and what opens our own NAT); the first connection wins.
async fn tcp_accept_or_connect(
    local: SocketAddr,
    remote: SocketAddr,
    window: Duration,
) -> Result<TcpStream, String> {
    let listener = reusable_socket()
        .and_then(|s| {
            s.bind(local)?;
            s.listen(4)
        })
        .map_err(|e| format!("TCP punch port: {e}"))?;
    let accept = async {
        loop {
            match listener.accept().await {
                // Only the peer's public IP is expected here.
                Ok((s, from)) if from.ip() == remote.ip() => return Ok(s),
                Ok(_) => continue,
                Err(e) => return Err(format!("TCP punch accept: {e}")),
            }
        }
    };
    tokio::select! {
        r = accept => r,
        r = tcp_connect(local, remote, window) => r,
    }
}

/// Sends punch packets to every address until stopped or the window ends (at most
/// `BURST + window / TRICKLE_GAP` rounds).
async fn spray(sock: UdpSocket, to: Vec<SocketAddr>, window: Duration, stop: CancellationToken) {
    let end = tokio::time::Instant::now() + window;
    let mut round = 0usize;
    while tokio::time::Instant::now() < end {
        for a in &to {
            // Unreachable addresses fail here (ICMP); the others may still work.
            let _ = sock.send_to(PUNCH_PACKET, a).await;
        }
        round += 1;
        let gap = if round < BURST {
            BURST_GAP
        } else {
            TRICKLE_GAP
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(gap) => {}
        }
    }
}
