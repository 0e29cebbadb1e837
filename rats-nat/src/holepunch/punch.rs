//! One punch: spray a few UDP packets at the other side's addresses from our socket (opening
//! our NAT's filter for its packets), and dial QUIC from the same socket, or accept on it.

use std::net::SocketAddr;
use std::time::Duration;

use rats_core::transport::RawConnection;
use rats_transport::QuicTransport;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::socket::PunchSocket;

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

/// Which side of the QUIC handshake we take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Dial,
    Accept,
}

/// What the punch produced.
pub(crate) struct Punched {
    pub(crate) raw: RawConnection,
    /// The connection was opened by the other side (we run the handshake as responder).
    pub(crate) inbound: bool,
}

/// Runs the punch for at most `window`.
pub(crate) async fn run(
    socket: PunchSocket,
    remote: &[SocketAddr],
    side: Side,
    window: Duration,
) -> Result<Punched, String> {
    let std = socket
        .socket
        .into_std()
        .map_err(|e| format!("punch socket: {e}"))?;
    // A second descriptor of the same socket for the spray (QUIC owns the first); the spray
    // only sends, so every datagram still reaches QUIC.
    let spray_fd = std.try_clone().map_err(|e| format!("punch socket: {e}"))?;
    let spray_sock = UdpSocket::from_std(spray_fd).map_err(|e| format!("punch socket: {e}"))?;
    let endpoint = rats_transport::quic::endpoint_on(std).map_err(|e| e.to_string())?;
    let stop = CancellationToken::new();
    let _stop_spray = stop.clone().drop_guard();
    tokio::spawn(spray(spray_sock, remote.to_vec(), window, stop));
    let punched = tokio::time::timeout(window, async {
        match side {
            Side::Dial => {
                // Only the accepting side takes connections on its socket.
                endpoint.set_server_config(None);
                tokio::time::sleep(DIAL_DELAY).await;
                let dials = remote
                    .iter()
                    .map(|a| Box::pin(QuicTransport::dial_on(&endpoint, *a)));
                futures::future::select_ok(dials)
                    .await
                    .map(|(raw, _)| Punched {
                        raw,
                        inbound: false,
                    })
                    .map_err(|e| e.to_string())
            }
            Side::Accept => {
                let mut listener =
                    QuicTransport::listener_on(endpoint.clone()).map_err(|e| e.to_string())?;
                // Dropping the listener afterwards refuses further connections on this socket.
                listener
                    .accept()
                    .await
                    .map(|raw| Punched { raw, inbound: true })
                    .map_err(|e| e.to_string())
            }
        }
    })
    .await;
    match punched {
        Ok(r) => r,
        Err(_) => {
            endpoint.close(0u32.into(), b"punch timed out");
            Err(format!("no direct path within {window:?}"))
        }
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
