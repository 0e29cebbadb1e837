//! A fresh UDP socket for one punch, and what STUN says about its mapping.

use std::net::SocketAddr;

use tokio::net::UdpSocket;

use crate::StunConfig;
use crate::stun::{ChangeRequest, StunError, binding};

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
    /// Binds an IPv4 socket and asks the configured STUN servers (in order, first answer) for
    /// its mapping, then a second address (the server's RFC 5780 alternate, else the next
    /// server) whether the mapping depends on the destination. Without a second address the
    /// mapping is taken as stable.
    pub(crate) async fn prepare(stun: &StunConfig) -> Result<PunchSocket, StunError> {
        let servers: Vec<SocketAddr> = stun
            .resolved_servers()
            .await
            .into_iter()
            .filter(SocketAddr::is_ipv4)
            .collect();
        let timing = stun.timing();
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
