//! Fresh sockets for one punch (UDP, and a TCP port), and what STUN says about their mappings.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream, UdpSocket};

use crate::stun::{ChangeRequest, Retransmit, StunError, binding, binding_tcp};

/// Longest wait for a STUN answer over TCP (connect included).
const TCP_STUN_TIMEOUT: Duration = Duration::from_millis(700);

/// STUN timing for punches: an answer is needed within the other side's patience, so a dead
/// server costs at most 100 + 200 + 400 ms.
const TIMING: Retransmit = Retransmit {
    rto: Duration::from_millis(100),
    tries: 3,
};

/// A bound socket with its public mapping.
pub(crate) struct PunchSocket {
    pub(crate) socket: UdpSocket,
    /// Our address as the (first answering) STUN server sees it.
    pub(crate) mapped: SocketAddr,
    /// A second server address saw another mapping: the NAT maps per destination
    /// (symmetric), so `mapped` is no use to anyone but that server.
    pub(crate) varies: bool,
}

impl PunchSocket {
    /// Binds an IPv4 socket and asks the STUN `servers` (resolved, in order, first answer)
    /// for its mapping, then a second address (the server's RFC 5780 alternate, else the next
    /// server) whether the mapping depends on the destination. Without a second address the
    /// mapping is taken as stable.
    pub(crate) async fn prepare(servers: &[SocketAddr]) -> Result<PunchSocket, StunError> {
        let servers: Vec<SocketAddr> = servers
            .iter()
            .copied()
            .filter(SocketAddr::is_ipv4)
            .collect();
        let timing = TIMING;
        let socket = UdpSocket::bind(SocketAddr::from(([0u8; 4], 0))).await?;
        let mut last = StunError::NoServer;
        for (i, server) in servers.iter().enumerate() {
            let first = match binding(&socket, *server, ChangeRequest::default(), timing).await {
                Ok(r) => r,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let second = first.other.or_else(|| servers.get(i + 1).copied());
            let varies = match second {
                Some(s) => binding(&socket, s, ChangeRequest::default(), timing)
                    .await
                    .is_ok_and(|r| r.mapped != first.mapped),
                None => false,
            };
            return Ok(PunchSocket {
                socket,
                mapped: first.mapped,
                varies,
            });
        }
        Err(last)
    }
}

/// A TCP port reserved for one punch and its public mapping (STUN over TCP from that port).
/// Sockets on it set SO_REUSEADDR and SO_REUSEPORT, so we can listen on it and connect from it
/// at once (TCP simultaneous open).
pub(crate) struct TcpPunchPort {
    /// `0.0.0.0:P`.
    pub(crate) local: SocketAddr,
    /// Our address as the STUN server saw the port.
    pub(crate) mapped: SocketAddr,
    /// The STUN connection, kept open while the punch runs (it holds the NAT's mapping, and
    /// closing it first would leave the port in TIME_WAIT).
    _stun: TcpStream,
}

impl TcpPunchPort {
    /// Binds a fresh port and asks the STUN `servers` (TCP, in order, first answer) for its
    /// mapping.
    pub(crate) async fn prepare(servers: &[SocketAddr]) -> Result<TcpPunchPort, StunError> {
        let mut last = StunError::NoServer;
        for server in servers.iter().copied().filter(SocketAddr::is_ipv4) {
            let sock = reusable_socket()?;
            sock.bind(SocketAddr::from(([0u8; 4], 0)))?;
            let local = sock.local_addr()?;
            let ask = async {
                let mut stream = sock.connect(server).await?;
                let mapped = binding_tcp(&mut stream, server).await?;
                Ok::<_, StunError>((stream, mapped))
            };
            match tokio::time::timeout(TCP_STUN_TIMEOUT, ask).await {
                Ok(Ok((stream, mapped))) => {
                    return Ok(TcpPunchPort {
                        local,
                        mapped,
                        _stun: stream,
                    });
                }
                Ok(Err(e)) => last = e,
                Err(_) => last = StunError::Timeout(server),
            }
        }
        Err(last)
    }
}

/// An IPv4 TCP socket that shares its port (SO_REUSEADDR, and SO_REUSEPORT where it exists;
/// TCP punching is only attempted on Unix).
pub(crate) fn reusable_socket() -> std::io::Result<TcpSocket> {
    let s = TcpSocket::new_v4()?;
    s.set_reuseaddr(true)?;
    #[cfg(unix)]
    s.set_reuseport(true)?;
    Ok(s)
}
