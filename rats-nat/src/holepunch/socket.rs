//! A fresh UDP socket for one punch, and what STUN says about its mapping.

use std::net::SocketAddr;

use tokio::net::UdpSocket;

use std::time::Duration;

use crate::stun::{ChangeRequest, Retransmit, StunError, binding};

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
