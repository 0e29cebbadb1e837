//! Compact peer and node info (BEP 5 for IPv4, BEP 32 for IPv6): 6 / 18 bytes per peer,
//! 26 / 38 bytes per node.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::id::NodeId;

/// A node as carried in `nodes` / `nodes6`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// Its id.
    pub id: NodeId,
    /// Its UDP address.
    pub addr: SocketAddr,
}

/// Appends the compact form of `addr` (4 or 16 address bytes, then the port).
pub fn encode_addr(addr: &SocketAddr, out: &mut Vec<u8>) {
    match addr.ip() {
        IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
        IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

/// Parses a compact address of 6 (IPv4) or 18 (IPv6) bytes.
pub fn decode_addr(b: &[u8]) -> Option<SocketAddr> {
    match b.len() {
        6 => {
            let ip = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
            Some(SocketAddr::new(ip.into(), u16::from_be_bytes([b[4], b[5]])))
        }
        18 => {
            let octets: [u8; 16] = b[..16].try_into().ok()?;
            Some(SocketAddr::new(
                Ipv6Addr::from(octets).into(),
                u16::from_be_bytes([b[16], b[17]]),
            ))
        }
        _ => None,
    }
}

/// Encodes nodes of one family into a `nodes` (IPv4) or `nodes6` (IPv6) string.
pub fn encode_nodes(nodes: &[NodeInfo]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nodes.len() * 38);
    for n in nodes {
        out.extend_from_slice(&n.id.0);
        encode_addr(&n.addr, &mut out);
    }
    out
}

/// Decodes a `nodes` (`v6` false) or `nodes6` string. A length that is not a whole number of
/// records is malformed (`None`); nodes with port 0 are skipped.
pub fn decode_nodes(b: &[u8], v6: bool) -> Option<Vec<NodeInfo>> {
    let size = if v6 { 38 } else { 26 };
    if !b.len().is_multiple_of(size) {
        return None;
    }
    Some(
        b.chunks_exact(size)
            .filter_map(|c| {
                let id = NodeId::from_slice(&c[..20])?;
                let addr = decode_addr(&c[20..])?;
                (addr.port() != 0).then_some(NodeInfo { id, addr })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_round_trip_and_truncation() {
        let n4 = NodeInfo {
            id: NodeId::random(),
            addr: "127.0.0.1:6881".parse().expect("addr"),
        };
        let n6 = NodeInfo {
            id: NodeId::random(),
            addr: "[::1]:6882".parse().expect("addr"),
        };
        let e4 = encode_nodes(&[n4, n4]);
        assert_eq!(e4.len(), 52);
        assert_eq!(decode_nodes(&e4, false), Some(vec![n4, n4]));
        assert_eq!(decode_nodes(&e4[..51], false), None);
        let e6 = encode_nodes(&[n6]);
        assert_eq!(e6.len(), 38);
        assert_eq!(decode_nodes(&e6, true), Some(vec![n6]));
        assert_eq!(decode_addr(&[1, 2, 3]), None);
    }
}
