//! STUN messages (RFC 8489 §5, §14): a strict decoder and an encoder with MESSAGE-INTEGRITY
//! and FINGERPRINT.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ring::hmac;

/// The magic cookie of every RFC 5389/8489 message.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// Header size.
pub const HEADER_LEN: usize = 20;
/// Most attributes we read from one message.
const MAX_ATTRIBUTES: usize = 64;
/// FINGERPRINT is the CRC-32 of the message XOR this (RFC 8489 §14.7).
const FINGERPRINT_XOR: u32 = 0x5354_554e;

/// Attribute types we use.
pub mod attr {
    /// MAPPED-ADDRESS
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    /// CHANGE-REQUEST (RFC 5780)
    pub const CHANGE_REQUEST: u16 = 0x0003;
    /// USERNAME
    pub const USERNAME: u16 = 0x0006;
    /// MESSAGE-INTEGRITY
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    /// ERROR-CODE
    pub const ERROR_CODE: u16 = 0x0009;
    /// CHANNEL-NUMBER (TURN)
    pub const CHANNEL_NUMBER: u16 = 0x000C;
    /// LIFETIME (TURN)
    pub const LIFETIME: u16 = 0x000D;
    /// XOR-PEER-ADDRESS (TURN)
    pub const XOR_PEER_ADDRESS: u16 = 0x0012;
    /// DATA (TURN)
    pub const DATA: u16 = 0x0013;
    /// REALM
    pub const REALM: u16 = 0x0014;
    /// NONCE
    pub const NONCE: u16 = 0x0015;
    /// XOR-RELAYED-ADDRESS (TURN)
    pub const XOR_RELAYED_ADDRESS: u16 = 0x0016;
    /// REQUESTED-TRANSPORT (TURN)
    pub const REQUESTED_TRANSPORT: u16 = 0x0019;
    /// XOR-MAPPED-ADDRESS
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    /// SOFTWARE
    pub const SOFTWARE: u16 = 0x8022;
    /// FINGERPRINT
    pub const FINGERPRINT: u16 = 0x8028;
    /// RESPONSE-ORIGIN (RFC 5780)
    pub const RESPONSE_ORIGIN: u16 = 0x802B;
    /// OTHER-ADDRESS (RFC 5780)
    pub const OTHER_ADDRESS: u16 = 0x802C;
}

/// Methods we use.
pub mod method {
    /// Binding
    pub const BINDING: u16 = 0x001;
    /// Allocate (TURN)
    pub const ALLOCATE: u16 = 0x003;
    /// Refresh (TURN)
    pub const REFRESH: u16 = 0x004;
    /// Send (TURN indication)
    pub const SEND: u16 = 0x006;
    /// Data (TURN indication)
    pub const DATA: u16 = 0x007;
    /// CreatePermission (TURN)
    pub const CREATE_PERMISSION: u16 = 0x008;
    /// ChannelBind (TURN)
    pub const CHANNEL_BIND: u16 = 0x009;
}

/// Message class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// A request.
    Request,
    /// An indication.
    Indication,
    /// A success response.
    Success,
    /// An error response.
    Error,
}

/// Why bytes are not a STUN message we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StunParseError {
    /// Shorter than a header, or than its length says.
    #[error("truncated STUN message")]
    Truncated,
    /// Not STUN (first bits, cookie, or a length that is not a multiple of 4).
    #[error("not a STUN message")]
    NotStun,
    /// An attribute runs past the end, or there are too many.
    #[error("malformed STUN attributes")]
    BadAttributes,
    /// FINGERPRINT present but wrong.
    #[error("STUN fingerprint mismatch")]
    BadFingerprint,
}

/// A decoded message; attribute values borrow from the packet.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    /// Method (12 bits).
    pub method: u16,
    /// Class.
    pub class: Class,
    /// Transaction id.
    pub tid: [u8; 12],
    /// Attributes in order: (type, value, offset of the attribute header in the packet).
    pub attrs: Vec<(u16, &'a [u8], usize)>,
    raw: &'a [u8],
}

impl<'a> Message<'a> {
    /// Decodes `b`, which must be exactly one message (for TCP, cut it with
    /// [`message_len`] first). A FINGERPRINT, if present, must be right.
    pub fn decode(b: &'a [u8]) -> Result<Message<'a>, StunParseError> {
        if b.len() < HEADER_LEN {
            return Err(StunParseError::Truncated);
        }
        let ty = u16::from_be_bytes([b[0], b[1]]);
        let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
        let cookie = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
        if ty & 0xC000 != 0 || cookie != MAGIC_COOKIE || !len.is_multiple_of(4) {
            return Err(StunParseError::NotStun);
        }
        if b.len() < HEADER_LEN + len {
            return Err(StunParseError::Truncated);
        }
        if b.len() > HEADER_LEN + len {
            return Err(StunParseError::NotStun);
        }
        let class = match ((ty >> 7) & 0x2) | ((ty >> 4) & 0x1) {
            0 => Class::Request,
            1 => Class::Indication,
            2 => Class::Success,
            _ => Class::Error,
        };
        let method = (ty & 0x000F) | ((ty >> 1) & 0x0070) | ((ty >> 2) & 0x0F80);
        let mut tid = [0u8; 12];
        tid.copy_from_slice(&b[8..20]);
        let mut attrs = Vec::new();
        let mut pos = HEADER_LEN;
        while pos < b.len() {
            if attrs.len() >= MAX_ATTRIBUTES || pos + 4 > b.len() {
                return Err(StunParseError::BadAttributes);
            }
            let at = u16::from_be_bytes([b[pos], b[pos + 1]]);
            let alen = usize::from(u16::from_be_bytes([b[pos + 2], b[pos + 3]]));
            let start = pos + 4;
            let end = start + alen;
            let padded = start + alen.div_ceil(4) * 4;
            if padded > b.len() {
                return Err(StunParseError::BadAttributes);
            }
            // After MESSAGE-INTEGRITY only FINGERPRINT counts (RFC 8489 §14.5): anything else
            // there is not covered by the integrity check and is ignored.
            let after_integrity = attrs.iter().any(|(t, _, _)| *t == attr::MESSAGE_INTEGRITY);
            if !after_integrity || at == attr::FINGERPRINT {
                attrs.push((at, &b[start..end], pos));
            }
            pos = padded;
        }
        let msg = Message {
            method,
            class,
            tid,
            attrs,
            raw: b,
        };
        if let Some((value, at)) = msg.attr_with_offset(attr::FINGERPRINT) {
            // It must be the last attribute and match.
            if value.len() != 4 || at + 8 != b.len() {
                return Err(StunParseError::BadFingerprint);
            }
            let want = u32::from_be_bytes([value[0], value[1], value[2], value[3]]);
            if crc32fast::hash(&b[..at]) ^ FINGERPRINT_XOR != want {
                return Err(StunParseError::BadFingerprint);
            }
        }
        Ok(msg)
    }

    /// The first value of attribute `t`.
    pub fn attr(&self, t: u16) -> Option<&'a [u8]> {
        self.attr_with_offset(t).map(|(v, _)| v)
    }

    fn attr_with_offset(&self, t: u16) -> Option<(&'a [u8], usize)> {
        self.attrs
            .iter()
            .find(|(ty, _, _)| *ty == t)
            .map(|(_, v, at)| (*v, *at))
    }

    /// An XOR-encoded address attribute (XOR-MAPPED-ADDRESS, XOR-RELAYED-ADDRESS...).
    pub fn xor_address(&self, t: u16) -> Option<SocketAddr> {
        decode_address(self.attr(t)?, Some(&self.tid))
    }

    /// A plain address attribute (MAPPED-ADDRESS, OTHER-ADDRESS, RESPONSE-ORIGIN).
    pub fn address(&self, t: u16) -> Option<SocketAddr> {
        decode_address(self.attr(t)?, None)
    }

    /// The mapped address: XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS.
    pub fn mapped_address(&self) -> Option<SocketAddr> {
        self.xor_address(attr::XOR_MAPPED_ADDRESS)
            .or_else(|| self.address(attr::MAPPED_ADDRESS))
    }

    /// ERROR-CODE as (code, reason).
    pub fn error_code(&self) -> Option<(u16, String)> {
        let v = self.attr(attr::ERROR_CODE)?;
        if v.len() < 4 {
            return None;
        }
        let code = u16::from(v[2] & 0x07) * 100 + u16::from(v[3]);
        // coturn counts the reason's NUL padding in the attribute length.
        let reason = String::from_utf8_lossy(&v[4..v.len().min(4 + 128)])
            .trim_end_matches('\0')
            .to_string();
        Some((code, reason))
    }

    /// Whether MESSAGE-INTEGRITY is present and right for `key` (RFC 8489 §14.5).
    pub fn check_integrity(&self, key: &[u8]) -> bool {
        let Some((value, at)) = self.attr_with_offset(attr::MESSAGE_INTEGRITY) else {
            return false;
        };
        if value.len() != 20 {
            return false;
        }
        // The HMAC covers the message up to the attribute, with the length field counting
        // up to and including it.
        let mut covered = self.raw[..at].to_vec();
        let len = (at + 24 - HEADER_LEN) as u16;
        covered[2..4].copy_from_slice(&len.to_be_bytes());
        let k = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
        hmac::verify(&k, &covered, value).is_ok()
    }
}

/// The length of the STUN message at the start of `b` (for stream transports), once the
/// header is there.
pub fn message_len(b: &[u8]) -> Option<usize> {
    (b.len() >= 4).then(|| HEADER_LEN + usize::from(u16::from_be_bytes([b[2], b[3]])))
}

fn decode_address(v: &[u8], xor_tid: Option<&[u8; 12]>) -> Option<SocketAddr> {
    if v.len() < 4 {
        return None;
    }
    let mut port = u16::from_be_bytes([v[2], v[3]]);
    let cookie = MAGIC_COOKIE.to_be_bytes();
    if xor_tid.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let ip = match (v[1], v.len()) {
        (0x01, 8) => {
            let mut o = [v[4], v[5], v[6], v[7]];
            if xor_tid.is_some() {
                for (b, c) in o.iter_mut().zip(cookie) {
                    *b ^= c;
                }
            }
            IpAddr::V4(Ipv4Addr::from(o))
        }
        (0x02, 20) => {
            let mut o = [0u8; 16];
            o.copy_from_slice(&v[4..20]);
            if let Some(tid) = xor_tid {
                let key: Vec<u8> = cookie.iter().chain(tid.iter()).copied().collect();
                for (b, k) in o.iter_mut().zip(key) {
                    *b ^= k;
                }
            }
            IpAddr::V6(Ipv6Addr::from(o))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

fn encode_address(addr: &SocketAddr, xor_tid: Option<&[u8; 12]>) -> Vec<u8> {
    let mut v = vec![0u8];
    let mut port = addr.port();
    if xor_tid.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let cookie = MAGIC_COOKIE.to_be_bytes();
    match addr.ip() {
        IpAddr::V4(ip) => {
            v.push(0x01);
            v.extend_from_slice(&port.to_be_bytes());
            let mut o = ip.octets();
            if xor_tid.is_some() {
                for (b, c) in o.iter_mut().zip(cookie) {
                    *b ^= c;
                }
            }
            v.extend_from_slice(&o);
        }
        IpAddr::V6(ip) => {
            v.push(0x02);
            v.extend_from_slice(&port.to_be_bytes());
            let mut o = ip.octets();
            if let Some(tid) = xor_tid {
                let key: Vec<u8> = cookie.iter().chain(tid.iter()).copied().collect();
                for (b, k) in o.iter_mut().zip(key) {
                    *b ^= k;
                }
            }
            v.extend_from_slice(&o);
        }
    }
    v
}

/// Builds a message.
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    method: u16,
    class: Class,
    tid: [u8; 12],
    body: Vec<u8>,
}

impl MessageBuilder {
    /// A message with a random transaction id.
    pub fn new(method: u16, class: Class) -> Self {
        Self::with_tid(method, class, rand::random())
    }

    /// A message with the given transaction id.
    pub fn with_tid(method: u16, class: Class, tid: [u8; 12]) -> Self {
        MessageBuilder {
            method,
            class,
            tid,
            body: Vec::new(),
        }
    }

    /// The transaction id.
    pub fn tid(&self) -> [u8; 12] {
        self.tid
    }

    /// Adds an attribute (padded).
    pub fn attr(mut self, t: u16, value: &[u8]) -> Self {
        self.body.extend_from_slice(&t.to_be_bytes());
        self.body
            .extend_from_slice(&(value.len() as u16).to_be_bytes());
        self.body.extend_from_slice(value);
        while !self.body.len().is_multiple_of(4) {
            self.body.push(0);
        }
        self
    }

    /// Adds an XOR-encoded address attribute.
    pub fn xor_address(self, t: u16, addr: &SocketAddr) -> Self {
        let tid = self.tid;
        let v = encode_address(addr, Some(&tid));
        self.attr(t, &v)
    }

    /// Adds a plain address attribute.
    pub fn address(self, t: u16, addr: &SocketAddr) -> Self {
        let v = encode_address(addr, None);
        self.attr(t, &v)
    }

    fn header(&self, body_len: usize) -> Vec<u8> {
        let m = self.method;
        let c: u16 = match self.class {
            Class::Request => 0,
            Class::Indication => 1,
            Class::Success => 2,
            Class::Error => 3,
        };
        let ty = (m & 0x000F)
            | ((m & 0x0070) << 1)
            | ((m & 0x0F80) << 2)
            | ((c & 0x1) << 4)
            | ((c & 0x2) << 7);
        let mut h = Vec::with_capacity(HEADER_LEN + body_len);
        h.extend_from_slice(&ty.to_be_bytes());
        h.extend_from_slice(&(body_len as u16).to_be_bytes());
        h.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        h.extend_from_slice(&self.tid);
        h
    }

    /// The message, with MESSAGE-INTEGRITY under `key` (if given) and a FINGERPRINT.
    pub fn build(self, key: Option<&[u8]>) -> Vec<u8> {
        let mut out = self.header(self.body.len());
        out.extend_from_slice(&self.body);
        if let Some(key) = key {
            let len = (out.len() - HEADER_LEN + 24) as u16;
            out[2..4].copy_from_slice(&len.to_be_bytes());
            let k = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
            let tag = hmac::sign(&k, &out);
            out.extend_from_slice(&attr::MESSAGE_INTEGRITY.to_be_bytes());
            out.extend_from_slice(&20u16.to_be_bytes());
            out.extend_from_slice(tag.as_ref());
        }
        let len = (out.len() - HEADER_LEN + 8) as u16;
        out[2..4].copy_from_slice(&len.to_be_bytes());
        let crc = crc32fast::hash(&out) ^ FINGERPRINT_XOR;
        out.extend_from_slice(&attr::FINGERPRINT.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5769 §2.2: a sample IPv4 response (password "VOkJxbRl1RmTxUk/WvJxBt").
    const RFC5769_V4_RESPONSE: &[u8] = &[
        0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6,
        0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76,
        0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1,
        0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
        0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00,
        0x04, 0xc0, 0x7d, 0x4c, 0x96,
    ];

    #[test]
    fn rfc5769_test_vector() {
        let m = Message::decode(RFC5769_V4_RESPONSE).expect("decodes, fingerprint ok");
        assert_eq!((m.method, m.class), (method::BINDING, Class::Success));
        assert_eq!(
            m.mapped_address(),
            Some("192.0.2.1:32853".parse().expect("addr"))
        );
        assert!(m.check_integrity(b"VOkJxbRl1RmTxUk/WvJxBt"));
        assert!(!m.check_integrity(b"wrong"));
    }

    #[test]
    fn round_trip_with_integrity_and_fingerprint() {
        let addr: SocketAddr = "[2001:db8::1]:4000".parse().expect("addr");
        let b = MessageBuilder::new(method::ALLOCATE, Class::Success)
            .xor_address(attr::XOR_RELAYED_ADDRESS, &addr)
            .address(attr::OTHER_ADDRESS, &"10.0.0.1:3479".parse().expect("addr"))
            .attr(attr::SOFTWARE, b"rats")
            .build(Some(b"key"));
        let m = Message::decode(&b).expect("decodes");
        assert_eq!((m.method, m.class), (method::ALLOCATE, Class::Success));
        assert_eq!(m.xor_address(attr::XOR_RELAYED_ADDRESS), Some(addr));
        assert_eq!(
            m.address(attr::OTHER_ADDRESS),
            Some("10.0.0.1:3479".parse().expect("addr"))
        );
        assert!(m.check_integrity(b"key"));
        let mut bad = b.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(
            Message::decode(&bad).err(),
            Some(StunParseError::BadFingerprint)
        );
    }

    #[test]
    fn error_reason_without_nul_padding() {
        // As coturn sends it: the padding counted in the length.
        let b = MessageBuilder::new(method::ALLOCATE, Class::Error)
            .attr(
                attr::ERROR_CODE,
                b"\0\0\x04\x2fConnection Timeout or Failure\0\0\0",
            )
            .build(None);
        let m = Message::decode(&b).expect("decodes");
        assert_eq!(
            m.error_code(),
            Some((447, "Connection Timeout or Failure".to_string()))
        );
    }

    #[test]
    fn malformed_messages_are_errors() {
        let ok = MessageBuilder::new(method::BINDING, Class::Request).build(None);
        assert!(Message::decode(&ok).is_ok());
        assert!(Message::decode(&ok[..19]).is_err());
        let mut wrong_len = ok.clone();
        wrong_len[3] = 0x30; // claims more than there is
        assert!(Message::decode(&wrong_len).is_err());
        let mut not_mult4 = ok.clone();
        not_mult4[3] = 0x07;
        assert!(Message::decode(&not_mult4).is_err());
        let mut no_cookie = ok.clone();
        no_cookie[4] = 0;
        assert!(Message::decode(&no_cookie).is_err());
        // An attribute whose length runs past the end.
        let mut overrun = MessageBuilder::new(method::BINDING, Class::Request).header(8);
        overrun.extend_from_slice(&[0x80, 0x22, 0x00, 0xff, 1, 2, 3, 4]);
        assert_eq!(
            Message::decode(&overrun).err(),
            Some(StunParseError::BadAttributes)
        );
        // Many empty attributes: bounded.
        let mut many = MessageBuilder::new(method::BINDING, Class::Request).header(4 * 100);
        for _ in 0..100 {
            many.extend_from_slice(&[0x80, 0x22, 0, 0]);
        }
        assert_eq!(
            Message::decode(&many).err(),
            Some(StunParseError::BadAttributes)
        );
        // Address attributes of the wrong size are ignored.
        let odd = MessageBuilder::new(method::BINDING, Class::Success)
            .attr(attr::XOR_MAPPED_ADDRESS, &[0, 1, 2])
            .build(None);
        assert_eq!(
            Message::decode(&odd).expect("decodes").mapped_address(),
            None
        );
    }
}
