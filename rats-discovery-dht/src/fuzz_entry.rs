//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz): KRPC packets as any host on the
//! Internet may send them, the compact node and peer lists inside them, and the node file on
//! our disk. Reached as `rats_discovery_dht::__fuzz`; not public API (no stability promise).

use crate::bencode::Value;
use crate::compact::{decode_addr, decode_nodes, encode_addr, encode_nodes};
use crate::krpc::{Kind, Message};
use crate::saved;

/// One UDP datagram to the DHT port. Bencode that decodes has one canonical encoding (keys
/// sorted) that decodes to itself; a KRPC message that parses carries node lists that
/// survive their own encoding.
pub fn krpc(data: &[u8]) {
    if let Ok(value) = Value::decode(data) {
        let canonical = value.encode();
        let Ok(again) = Value::decode(&canonical) else {
            panic!("canonical encoding of {value:?} does not decode");
        };
        assert_eq!(again.encode(), canonical);
    }
    if let Ok(Message {
        kind: Kind::Response(r),
        ..
    }) = Message::parse(data)
    {
        assert_eq!(
            decode_nodes(&encode_nodes(&r.nodes), false),
            Some(r.nodes.clone())
        );
        assert_eq!(
            decode_nodes(&encode_nodes(&r.nodes6), true),
            Some(r.nodes6.clone())
        );
        for v in &r.values {
            let mut out = Vec::new();
            encode_addr(v, &mut out);
            assert_eq!(decode_addr(&out), Some(*v));
        }
    }
}

/// Compact node lists (IPv4 and IPv6) and compact peer addresses on their own: what decodes
/// encodes back to bytes that decode the same.
pub fn compact(data: &[u8]) {
    for v6 in [false, true] {
        if let Some(nodes) = decode_nodes(data, v6) {
            assert_eq!(decode_nodes(&encode_nodes(&nodes), v6), Some(nodes));
        }
    }
    if let Some(addr) = decode_addr(data) {
        let mut out = Vec::new();
        encode_addr(&addr, &mut out);
        assert_eq!(out, data);
    }
}

/// The saved node file (`dht/nodes-v4.json`): what loads saves as a file that loads the same.
pub fn saved_nodes(data: &[u8]) {
    let Some(loaded) = saved::parse(data) else {
        return;
    };
    assert!(loaded.nodes.len() <= 200);
    if let Some(id) = loaded.id {
        let again = saved::parse(&saved::encode(id, &loaded.nodes));
        let Some(again) = again else {
            panic!("a saved node file does not load");
        };
        assert_eq!((again.id, again.nodes), (Some(id), loaded.nodes));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn entry_points_accept_valid_and_garbage_input() {
        super::krpc(b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe");
        super::compact(&[127, 0, 0, 1, 0x1a, 0xe1]);
        super::saved_nodes(br#"{"id":"","nodes":[]}"#);
        for garbage in [&b""[..], b"d", b"i-0e", b"l"] {
            super::krpc(garbage);
            super::compact(garbage);
            super::saved_nodes(garbage);
        }
    }
}
