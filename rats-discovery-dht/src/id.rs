//! 160-bit node ids and info-hashes, XOR distance, and BEP 42 node ids bound to an IP.

use std::fmt;
use std::net::IpAddr;

use rand::RngCore;

/// A node id or an info-hash: 20 bytes compared by XOR distance.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub [u8; 20]);

impl NodeId {
    /// A random id.
    pub fn random() -> Self {
        Self::random_from(&mut rand::thread_rng())
    }

    /// A random id drawn from `rng`.
    pub fn random_from(rng: &mut impl RngCore) -> Self {
        let mut b = [0u8; 20];
        rng.fill_bytes(&mut b);
        NodeId(b)
    }

    /// From exactly 20 bytes.
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        b.try_into().ok().map(NodeId)
    }

    /// From 40 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        let v = hex::decode(s.trim()).ok()?;
        Self::from_slice(&v)
    }

    /// The XOR distance to `other`.
    pub fn distance(&self, other: &NodeId) -> [u8; 20] {
        let mut d = [0u8; 20];
        for (i, x) in d.iter_mut().enumerate() {
            *x = self.0[i] ^ other.0[i];
        }
        d
    }

    /// The number of leading bits shared with `other` (160 when equal): the routing bucket.
    pub fn common_prefix_len(&self, other: &NodeId) -> usize {
        for (i, (a, b)) in self.0.iter().zip(other.0.iter()).enumerate() {
            let x = a ^ b;
            if x != 0 {
                return i * 8 + x.leading_zeros() as usize;
            }
        }
        160
    }

    /// A random id sharing exactly `prefix` leading bits with `self` (to refresh a bucket).
    pub fn random_with_prefix(&self, prefix: usize, rng: &mut impl RngCore) -> NodeId {
        let mut r = NodeId::random_from(rng);
        if prefix >= 160 {
            return *self;
        }
        for bit in 0..=prefix {
            let (byte, mask) = (bit / 8, 0x80u8 >> (bit % 8));
            let mine = self.0[byte] & mask;
            let want = if bit == prefix { mine ^ mask } else { mine };
            r.0[byte] = (r.0[byte] & !mask) | want;
        }
        r
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A BEP 42 id for `ip` (random in the free bits).
    pub fn secure_for(ip: IpAddr) -> NodeId {
        let mut id = NodeId::random();
        let r = id.0[19] & 0x07;
        let crc = bep42_crc(ip, r);
        id.0[0] = (crc >> 24) as u8;
        id.0[1] = (crc >> 16) as u8;
        id.0[2] = ((crc >> 8) as u8 & 0xf8) | (id.0[2] & 0x07);
        id.0[19] = (id.0[19] & 0xf8) | r;
        id
    }

    /// Whether this id is valid for `ip` under BEP 42 (local addresses are exempt).
    pub fn is_secure_for(&self, ip: IpAddr) -> bool {
        if is_local(ip) {
            return true;
        }
        let crc = bep42_crc(ip, self.0[19] & 0x07);
        self.0[0] == (crc >> 24) as u8
            && self.0[1] == (crc >> 16) as u8
            && (self.0[2] & 0xf8) == ((crc >> 8) as u8 & 0xf8)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.to_hex())
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Loopback, private, link-local and unspecified addresses: BEP 42 does not apply, and many
/// nodes may share them.
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified()
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

fn bep42_crc(ip: IpAddr, r: u8) -> u32 {
    match ip {
        IpAddr::V4(v4) => {
            let mut b = v4.octets();
            for (x, m) in b.iter_mut().zip([0x03, 0x0f, 0x3f, 0xff]) {
                *x &= m;
            }
            b[0] |= r << 5;
            crc32c(&b)
        }
        IpAddr::V6(v6) => {
            let o = v6.octets();
            let mut b = [0u8; 8];
            for (i, m) in [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff]
                .into_iter()
                .enumerate()
            {
                b[i] = o[i] & m;
            }
            b[0] |= r << 5;
            crc32c(&b)
        }
    }
}

/// CRC-32C (Castagnoli), bitwise: BEP 42 hashes at most 8 bytes, rarely.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82f6_3b78 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bep42_test_vectors() {
        // From BEP 42: IP, rand byte, expected first three bytes (top 21 bits) and last byte.
        let vectors = [
            ("124.31.75.21", 1u8, [0x5f, 0xbf, 0xbf], 0x01u8),
            ("21.75.31.124", 86, [0x5a, 0x3c, 0xe9], 0x56),
            ("65.23.51.170", 22, [0xa5, 0xd4, 0x32], 0x16),
            ("84.124.73.14", 65, [0x1b, 0x03, 0x21], 0x41),
            ("43.213.53.83", 90, [0xe5, 0x6f, 0x6c], 0x5a),
        ];
        for (ip, rand, prefix, last) in vectors {
            let ip: IpAddr = ip.parse().expect("ip");
            let crc = bep42_crc(ip, rand & 7);
            assert_eq!((crc >> 24) as u8, prefix[0], "{ip}");
            assert_eq!((crc >> 16) as u8, prefix[1], "{ip}");
            assert_eq!((crc >> 8) as u8 & 0xf8, prefix[2] & 0xf8, "{ip}");
            let mut id = [0u8; 20];
            id[..3].copy_from_slice(&prefix);
            id[19] = last;
            assert!(NodeId(id).is_secure_for(ip), "{ip}");
        }
        let ip: IpAddr = "8.8.4.4".parse().expect("ip");
        assert!(NodeId::secure_for(ip).is_secure_for(ip));
    }

    #[test]
    fn prefix_and_refresh_ids() {
        let a = NodeId::random();
        assert_eq!(a.common_prefix_len(&a), 160);
        for p in [0, 1, 7, 8, 100, 159] {
            assert_eq!(
                a.common_prefix_len(&a.random_with_prefix(p, &mut rand::thread_rng())),
                p
            );
        }
    }
}
