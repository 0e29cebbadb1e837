//! PCP (RFC 6887): a MAP request for a TCP port.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::natpmp::transact;
use super::{MappingMethod, PortMapError, PortMapping};

const VERSION: u8 = 2;
const OP_MAP: u8 = 1;
const TCP: u8 = 6;

/// Maps TCP `internal_port` of `client_ip` for `lifetime` seconds (0 deletes it); `nonce`
/// must be the same to renew or delete a mapping.
pub async fn map_tcp(
    gateway: Ipv4Addr,
    client_ip: Ipv4Addr,
    internal_port: u16,
    lifetime: u32,
    nonce: [u8; 12],
) -> Result<PortMapping, PortMapError> {
    let mut req = Vec::with_capacity(60);
    req.extend_from_slice(&[VERSION, OP_MAP, 0, 0]);
    req.extend_from_slice(&lifetime.to_be_bytes());
    req.extend_from_slice(&client_ip.to_ipv6_mapped().octets());
    req.extend_from_slice(&nonce);
    req.extend_from_slice(&[TCP, 0, 0, 0]);
    req.extend_from_slice(&internal_port.to_be_bytes());
    req.extend_from_slice(&internal_port.to_be_bytes());
    // No suggested external address: the IPv4 all-zeros address, IPv4-mapped (RFC 6887 §5).
    req.extend_from_slice(&Ipv4Addr::UNSPECIFIED.to_ipv6_mapped().octets());
    let a = transact(gateway, &req, 60, 0x80 | OP_MAP).await?;
    if a[0] != VERSION {
        return Err(PortMapError::Refused(format!("PCP version {}", a[0])));
    }
    if a[3] != 0 {
        return Err(PortMapError::Refused(format!("PCP result {}", a[3])));
    }
    if a[24..36] != nonce || a[36] != TCP || u16::from_be_bytes([a[40], a[41]]) != internal_port {
        return Err(PortMapError::Refused(
            "PCP answer for another request".into(),
        ));
    }
    let granted = u32::from_be_bytes([a[4], a[5], a[6], a[7]]);
    let external_port = u16::from_be_bytes([a[42], a[43]]);
    let mut ip6 = [0u8; 16];
    ip6.copy_from_slice(&a[44..60]);
    let ip6 = Ipv6Addr::from(ip6);
    let ip = ip6.to_ipv4_mapped().map_or(IpAddr::V6(ip6), IpAddr::V4);
    Ok(PortMapping {
        method: MappingMethod::Pcp,
        external: SocketAddr::new(ip, external_port),
        internal_port,
        lifetime: Duration::from_secs(u64::from(granted)),
        gateway: gateway.into(),
    })
}
