//! NAT-PMP (RFC 6886): the external address and TCP port mappings from the gateway.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use tokio::net::UdpSocket;

use super::{MappingMethod, PortMapError, PortMapping};

/// The NAT-PMP and PCP server port.
pub const SERVER_PORT: u16 = 5351;

/// Sends `request` and returns the first answer from the gateway of at least `min_len` bytes
/// whose opcode answers ours; retransmits 4 times from 250 ms, doubling (RFC 6886 §3.1
/// starts there too).
pub(crate) async fn transact(
    gateway: Ipv4Addr,
    request: &[u8],
    min_len: usize,
    expect_op: u8,
) -> Result<Vec<u8>, PortMapError> {
    let sock = UdpSocket::bind("0.0.0.0:0").await?;
    let to = SocketAddr::from((gateway, SERVER_PORT));
    let mut buf = [0u8; 1100];
    let mut wait = Duration::from_millis(250);
    for _ in 0..4 {
        sock.send_to(request, to).await?;
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(r) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await {
            let Ok((n, from)) = r else {
                // A socket error (ICMP unreachable...): do not spin on it.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            // Only the gateway may answer (RFC 6886 §3.1).
            if from.ip() != std::net::IpAddr::V4(gateway) || n < min_len || buf[1] != expect_op {
                continue;
            }
            return Ok(buf[..n].to_vec());
        }
        wait *= 2;
    }
    Err(PortMapError::NoAnswer)
}

fn result_code(answer: &[u8]) -> Result<(), PortMapError> {
    match u16::from_be_bytes([answer[2], answer[3]]) {
        0 => Ok(()),
        code => Err(PortMapError::Refused(format!("NAT-PMP result {code}"))),
    }
}

/// The gateway's external IPv4 address.
pub async fn external_address(gateway: Ipv4Addr) -> Result<Ipv4Addr, PortMapError> {
    let a = transact(gateway, &[0, 0], 12, 128).await?;
    result_code(&a)?;
    Ok(Ipv4Addr::new(a[8], a[9], a[10], a[11]))
}

/// Maps TCP `internal_port` (asking for the same external port) for `lifetime` seconds; a
/// lifetime of 0 deletes the mapping.
pub async fn map_tcp(
    gateway: Ipv4Addr,
    internal_port: u16,
    lifetime: u32,
) -> Result<PortMapping, PortMapError> {
    let mut req = vec![0u8, 2, 0, 0];
    req.extend_from_slice(&internal_port.to_be_bytes());
    // Suggest the same external port; a deletion (lifetime 0) must suggest 0 (RFC 6886 §3.4).
    let suggested = if lifetime == 0 { 0 } else { internal_port };
    req.extend_from_slice(&suggested.to_be_bytes());
    req.extend_from_slice(&lifetime.to_be_bytes());
    let a = transact(gateway, &req, 16, 130).await?;
    result_code(&a)?;
    let internal = u16::from_be_bytes([a[8], a[9]]);
    if internal != internal_port {
        return Err(PortMapError::Refused(
            "NAT-PMP answered for another port".into(),
        ));
    }
    let external_port = u16::from_be_bytes([a[10], a[11]]);
    let granted = u32::from_be_bytes([a[12], a[13], a[14], a[15]]);
    let ip = if lifetime == 0 {
        Ipv4Addr::UNSPECIFIED
    } else {
        external_address(gateway).await?
    };
    Ok(PortMapping {
        method: MappingMethod::NatPmp,
        external: SocketAddr::V4(SocketAddrV4::new(ip, external_port)),
        internal_port,
        lifetime: Duration::from_secs(u64::from(granted)),
        gateway: gateway.into(),
    })
}
