//! NAT behaviour discovery (RFC 5780 §4.3, §4.4) and a classification users understand.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use tokio::net::UdpSocket;

use crate::stun::{ChangeRequest, Retransmit, StunError, binding};
pub use rats_core::nat::NatType;

/// How the NAT maps our internal address to external ones (RFC 4787).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mapping {
    /// The same external address for every destination.
    EndpointIndependent,
    /// A new external address per destination IP.
    AddressDependent,
    /// A new external address per destination IP and port.
    AddressAndPortDependent,
}

/// Which inbound packets the NAT lets through to a mapping (RFC 4787).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Filtering {
    /// From anyone.
    EndpointIndependent,
    /// From IPs we sent to.
    AddressDependent,
    /// From IP and port pairs we sent to.
    AddressAndPortDependent,
}

/// What the tests found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct NatBehaviour {
    /// Our local address toward the server.
    pub local: SocketAddr,
    /// Our address as the server saw it.
    pub mapped: SocketAddr,
    /// Whether there is a NAT (mapped differs from local).
    pub nat: bool,
    /// Mapping behaviour, when the server has an alternate address.
    pub mapping: Option<Mapping>,
    /// Filtering behaviour, when the server has an alternate address.
    pub filtering: Option<Filtering>,
}

impl NatBehaviour {
    /// The classic name.
    pub fn nat_type(&self) -> NatType {
        match (self.nat, self.mapping, self.filtering) {
            (false, _, Some(Filtering::EndpointIndependent)) => NatType::Open,
            (false, _, Some(_)) => NatType::Firewalled,
            (true, Some(Mapping::EndpointIndependent), Some(f)) => match f {
                Filtering::EndpointIndependent => NatType::FullCone,
                Filtering::AddressDependent => NatType::RestrictedCone,
                Filtering::AddressAndPortDependent => NatType::PortRestrictedCone,
            },
            (true, Some(Mapping::AddressDependent | Mapping::AddressAndPortDependent), _) => {
                NatType::Symmetric
            }
            _ => NatType::Unknown,
        }
    }
}

/// Timing of the filtering tests, whose "no answer" is an answer: short.
const FILTER_PROBE: Retransmit = Retransmit {
    rto: Duration::from_millis(200),
    tries: 3,
};

/// Runs the RFC 5780 mapping and filtering tests against `server` (which must have an
/// alternate IP and port for the full answer), from sockets bound to `bind`.
pub async fn discover(
    server: SocketAddr,
    bind: SocketAddr,
    timing: Retransmit,
) -> Result<NatBehaviour, StunError> {
    let local_ip = local_ip_toward(bind, server).await?;
    // Mapping (§4.3) on one socket.
    let sock = UdpSocket::bind(bind).await?;
    let port = sock.local_addr()?.port();
    let local = SocketAddr::new(local_ip, port);
    let t1 = binding(&sock, server, ChangeRequest::default(), timing).await?;
    let nat = t1.mapped != local;
    let mut mapping = None;
    let mut filtering = None;
    if let Some(other) = t1
        .other
        .filter(|o| o.ip() != server.ip() && o.port() != server.port())
    {
        mapping = if !nat {
            Some(Mapping::EndpointIndependent)
        } else {
            // A test without an answer leaves the mapping unknown, not the whole check.
            let alt_ip = SocketAddr::new(other.ip(), server.port());
            match binding(&sock, alt_ip, ChangeRequest::default(), timing).await {
                Ok(t2) if t2.mapped == t1.mapped => Some(Mapping::EndpointIndependent),
                Ok(t2) => match binding(&sock, other, ChangeRequest::default(), timing).await {
                    Ok(t3) if t3.mapped == t2.mapped => Some(Mapping::AddressDependent),
                    Ok(_) => Some(Mapping::AddressAndPortDependent),
                    Err(_) => None,
                },
                Err(_) => None,
            }
        };
        // Filtering (§4.4) on a fresh socket that has only talked to the primary address, so
        // the mapping tests' traffic opens nothing.
        let fsock = UdpSocket::bind(bind).await?;
        binding(&fsock, server, ChangeRequest::default(), timing).await?;
        // An answer counts only if it really came from where we asked it to (a server that
        // ignores CHANGE-REQUEST would make every NAT look open); a server that refuses the
        // request (420) leaves the filtering unknown.
        let both = ChangeRequest {
            ip: true,
            port: true,
        };
        let port_only = ChangeRequest {
            ip: false,
            port: true,
        };
        filtering = match binding(&fsock, server, both, FILTER_PROBE).await {
            Ok(r) if r.from.ip() != server.ip() && r.from.port() != server.port() => {
                Some(Filtering::EndpointIndependent)
            }
            Ok(_) => None,
            Err(StunError::Timeout(_)) => {
                match binding(&fsock, server, port_only, FILTER_PROBE).await {
                    Ok(r) if r.from.ip() == server.ip() && r.from.port() != server.port() => {
                        Some(Filtering::AddressDependent)
                    }
                    Ok(_) => None,
                    Err(StunError::Timeout(_)) => Some(Filtering::AddressAndPortDependent),
                    Err(_) => None,
                }
            }
            Err(_) => None,
        };
    }
    Ok(NatBehaviour {
        local,
        mapped: t1.mapped,
        nat,
        mapping,
        filtering,
    })
}

/// The local IP the system would use to reach `server` (a connected UDP socket sends nothing).
async fn local_ip_toward(
    bind: SocketAddr,
    server: SocketAddr,
) -> std::io::Result<std::net::IpAddr> {
    if !bind.ip().is_unspecified() {
        return Ok(bind.ip());
    }
    let probe = UdpSocket::bind(bind).await?;
    probe.connect(server).await?;
    Ok(probe.local_addr()?.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(nat: bool, m: Option<Mapping>, f: Option<Filtering>) -> NatBehaviour {
        let a: SocketAddr = "10.0.0.2:1000".parse().expect("addr");
        NatBehaviour {
            local: a,
            mapped: a,
            nat,
            mapping: m,
            filtering: f,
        }
    }

    #[test]
    fn classification() {
        use Filtering as F;
        use Mapping as M;
        assert_eq!(
            b(
                false,
                Some(M::EndpointIndependent),
                Some(F::EndpointIndependent)
            )
            .nat_type(),
            NatType::Open
        );
        assert_eq!(
            b(
                false,
                Some(M::EndpointIndependent),
                Some(F::AddressAndPortDependent)
            )
            .nat_type(),
            NatType::Firewalled
        );
        assert_eq!(
            b(
                true,
                Some(M::EndpointIndependent),
                Some(F::EndpointIndependent)
            )
            .nat_type(),
            NatType::FullCone
        );
        assert_eq!(
            b(
                true,
                Some(M::EndpointIndependent),
                Some(F::AddressDependent)
            )
            .nat_type(),
            NatType::RestrictedCone
        );
        assert_eq!(
            b(
                true,
                Some(M::EndpointIndependent),
                Some(F::AddressAndPortDependent)
            )
            .nat_type(),
            NatType::PortRestrictedCone
        );
        assert_eq!(
            b(
                true,
                Some(M::AddressAndPortDependent),
                Some(F::AddressAndPortDependent)
            )
            .nat_type(),
            NatType::Symmetric
        );
        assert_eq!(
            b(true, Some(M::AddressDependent), None).nat_type(),
            NatType::Symmetric
        );
        assert_eq!(b(true, None, None).nat_type(), NatType::Unknown);
        assert_eq!(
            b(true, Some(M::EndpointIndependent), None).nat_type(),
            NatType::Unknown
        );
        assert_eq!(
            b(false, Some(M::EndpointIndependent), None).nat_type(),
            NatType::Unknown
        );
    }
}
