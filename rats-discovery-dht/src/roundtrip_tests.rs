//! Round-trip properties of the DHT's encodings: bencode, KRPC queries, responses and errors,
//! compact addresses and node lists, node ids in hex, and the saved node files. An arbitrary
//! valid value encodes to bytes that decode to the same value, bencode is canonical, and
//! decoding arbitrary bytes never panics.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;

use crate::bencode::Value;
use crate::compact::{self, NodeInfo};
use crate::id::NodeId;
use crate::krpc::{self, Kind, Message};
use crate::saved;

/// An owned bencode tree (a [`Value`] borrows its bytes).
#[derive(Clone, Debug)]
enum Tree {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Tree>),
    Dict(BTreeMap<Vec<u8>, Tree>),
}

impl Tree {
    /// The value, dictionary keys in order (as the encoder writes them).
    fn value(&self) -> Value<'_> {
        match self {
            Tree::Int(i) => Value::Int(*i),
            Tree::Bytes(b) => Value::Bytes(b),
            Tree::List(l) => Value::List(l.iter().map(Tree::value).collect()),
            Tree::Dict(d) => {
                Value::Dict(d.iter().map(|(k, v)| (k.as_slice(), v.value())).collect())
            }
        }
    }
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Tree::Int),
        prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0), Just(-1)].prop_map(Tree::Int),
        prop::collection::vec(any::<u8>(), 0..24).prop_map(Tree::Bytes),
    ];
    // At most 8 levels of nesting below the root, as the decoder accepts.
    leaf.prop_recursive(8, 200, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Tree::List),
            prop::collection::btree_map(prop::collection::vec(any::<u8>(), 0..6), inner, 0..6)
                .prop_map(Tree::Dict),
        ]
    })
}

fn node_id() -> impl Strategy<Value = NodeId> {
    any::<[u8; 20]>().prop_map(NodeId)
}

/// A socket address as the compact form carries it (no IPv6 flow or scope), port not 0.
fn addr(v6: bool) -> BoxedStrategy<SocketAddr> {
    if v6 {
        (any::<[u8; 16]>(), 1..=u16::MAX)
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port))
            .boxed()
    } else {
        (any::<[u8; 4]>(), 1..=u16::MAX)
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port))
            .boxed()
    }
}

fn any_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![addr(false), addr(true)]
}

fn nodes(v6: bool) -> impl Strategy<Value = Vec<NodeInfo>> {
    prop::collection::vec(
        (node_id(), addr(v6)).prop_map(|(id, addr)| NodeInfo { id, addr }),
        0..9,
    )
}

/// Whether every dictionary in `v` has strictly increasing keys (the canonical order).
fn sorted(v: &Value<'_>) -> bool {
    match v {
        Value::Int(_) | Value::Bytes(_) => true,
        Value::List(l) => l.iter().all(sorted),
        Value::Dict(d) => d.windows(2).all(|w| w[0].0 < w[1].0) && d.iter().all(|(_, v)| sorted(v)),
    }
}

proptest! {
    #[test]
    fn bencode_round_trips(t in tree()) {
        let v = t.value();
        let bytes = v.encode();
        let back = Value::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &v);
        prop_assert_eq!(back.encode(), bytes);
    }

    /// Whatever decodes re-encodes to the same bytes when its keys are in order (bencode is
    /// canonical); nothing panics.
    #[test]
    fn bencode_decoding_of_arbitrary_bytes_never_panics(
        b in prop::collection::vec(
            prop_oneof![
                3 => prop::sample::select(b"ilde0123456789:-".to_vec()),
                1 => any::<u8>(),
            ],
            0..60,
        ),
    ) {
        if let Ok(v) = Value::decode(&b)
            && sorted(&v)
        {
            prop_assert_eq!(v.encode(), b.clone());
        }
        let _ = Message::parse(&b);
    }

    #[test]
    fn compact_addresses_round_trip(a in any_addr()) {
        let mut b = Vec::new();
        compact::encode_addr(&a, &mut b);
        prop_assert_eq!(b.len(), if a.is_ipv6() { 18 } else { 6 });
        prop_assert_eq!(compact::decode_addr(&b), Some(a));
    }

    #[test]
    fn compact_node_lists_round_trip(v4 in nodes(false), v6 in nodes(true)) {
        prop_assert_eq!(compact::decode_nodes(&compact::encode_nodes(&v4), false), Some(v4));
        prop_assert_eq!(compact::decode_nodes(&compact::encode_nodes(&v6), true), Some(v6));
    }

    #[test]
    fn compact_decoding_of_arbitrary_bytes_never_panics(
        b in prop::collection::vec(any::<u8>(), 0..120),
        v6 in any::<bool>(),
    ) {
        let _ = compact::decode_addr(&b);
        if let Some(list) = compact::decode_nodes(&b, v6) {
            prop_assert!(list.len() <= b.len() / 26);
        }
    }

    #[test]
    fn node_ids_round_trip_through_hex(id in node_id()) {
        prop_assert_eq!(NodeId::from_hex(&id.to_hex()), Some(id));
        prop_assert_eq!(NodeId::from_slice(&id.0), Some(id));
    }

    #[test]
    fn queries_round_trip(
        tid in prop::collection::vec(any::<u8>(), 0..=16),
        method in prop::collection::vec(any::<u8>(), 0..=32),
        id in node_id(),
        target in prop::option::of(node_id()),
        info_hash in prop::option::of(node_id()),
        token in prop::option::of(prop::collection::vec(any::<u8>(), 0..20)),
        port in prop::option::of(any::<u16>()),
        implied_port in any::<bool>(),
        want in (any::<bool>(), any::<bool>()),
    ) {
        let mut args: Vec<(&[u8], Value<'_>)> = Vec::new();
        if let Some(t) = &target {
            args.push((b"target", Value::Bytes(&t.0)));
        }
        if let Some(h) = &info_hash {
            args.push((b"info_hash", Value::Bytes(&h.0)));
        }
        if let Some(t) = &token {
            args.push((b"token", Value::Bytes(t)));
        }
        if let Some(p) = port {
            args.push((b"port", Value::Int(i64::from(p))));
        }
        if implied_port {
            args.push((b"implied_port", Value::Int(1)));
        }
        let mut wanted = Vec::new();
        if want.0 {
            wanted.push(Value::Bytes(b"n4"));
        }
        if want.1 {
            wanted.push(Value::Bytes(b"n6"));
        }
        if !wanted.is_empty() {
            args.push((b"want", Value::List(wanted)));
        }
        let bytes = krpc::encode_query(&tid, &method, args, &id);
        let m = Message::parse(&bytes).unwrap();
        prop_assert_eq!(m.tid, &tid[..]);
        prop_assert!(m.ip.is_none() && !m.read_only);
        let Kind::Query(q) = m.kind else { panic!("not a query") };
        prop_assert_eq!(q.method, &method[..]);
        prop_assert_eq!(q.id, id);
        prop_assert_eq!(q.target, target);
        prop_assert_eq!(q.info_hash, info_hash);
        prop_assert_eq!(q.token, token.as_deref());
        prop_assert_eq!(q.port, port);
        prop_assert_eq!(q.implied_port, implied_port);
        prop_assert_eq!(q.want, want);
        prop_assert!(!q.bad_args);
    }

    #[test]
    fn responses_round_trip(
        tid in prop::collection::vec(any::<u8>(), 0..=16),
        id in node_id(),
        v4 in prop::option::of(nodes(false)),
        v6 in prop::option::of(nodes(true)),
        values in prop::option::of(prop::collection::vec(any_addr(), 0..10)),
        token in prop::option::of(prop::collection::vec(any::<u8>(), 0..20)),
        requester in any_addr(),
    ) {
        let n4 = v4.as_deref().map(compact::encode_nodes);
        let n6 = v6.as_deref().map(compact::encode_nodes);
        let peers: Option<Vec<Vec<u8>>> = values.as_ref().map(|vs| {
            vs.iter()
                .map(|a| {
                    let mut b = Vec::new();
                    compact::encode_addr(a, &mut b);
                    b
                })
                .collect()
        });
        let mut body: Vec<(&[u8], Value<'_>)> = Vec::new();
        if let Some(n) = &n4 {
            body.push((b"nodes", Value::Bytes(n)));
        }
        if let Some(n) = &n6 {
            body.push((b"nodes6", Value::Bytes(n)));
        }
        if let Some(p) = &peers {
            body.push((b"values", Value::List(p.iter().map(|b| Value::Bytes(b)).collect())));
        }
        if let Some(t) = &token {
            body.push((b"token", Value::Bytes(t)));
        }
        let bytes = krpc::encode_response(&tid, &id, body, &requester);
        let m = Message::parse(&bytes).unwrap();
        prop_assert_eq!(m.tid, &tid[..]);
        prop_assert_eq!(m.ip, Some(requester));
        let Kind::Response(r) = m.kind else { panic!("not a response") };
        prop_assert_eq!(r.id, Some(id));
        prop_assert_eq!(r.nodes, v4.unwrap_or_default());
        prop_assert_eq!(r.nodes6, v6.unwrap_or_default());
        prop_assert_eq!(r.values, values.unwrap_or_default());
        prop_assert_eq!(r.token, token.as_deref());
    }

    #[test]
    fn errors_round_trip(
        tid in prop::collection::vec(any::<u8>(), 0..=16),
        code in any::<i64>(),
        message in ".{0,50}",
    ) {
        prop_assume!(message.len() <= 200);
        let bytes = krpc::encode_error(&tid, code, &message);
        let m = Message::parse(&bytes).unwrap();
        prop_assert_eq!(m.tid, &tid[..]);
        let Kind::Error { code: c, message: text } = m.kind else { panic!("not an error") };
        prop_assert_eq!(c, code);
        prop_assert_eq!(text, message);
    }
}

proptest! {
    // Each case writes a file.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn saved_node_files_round_trip(
        id in node_id(),
        v6 in any::<bool>(),
        list in prop::collection::vec((node_id(), any_addr()), 0..20),
    ) {
        let list: Vec<NodeInfo> = list.into_iter().map(|(id, addr)| NodeInfo { id, addr }).collect();
        let dir = std::env::temp_dir().join(format!("rats-rt-dht-{}", rand::random::<u64>()));
        let path = saved::path(&dir, v6);
        saved::store(&path, id, &list).unwrap();
        let back = saved::load(&path);
        let _ = std::fs::remove_dir_all(&dir);
        prop_assert_eq!(back.id, Some(id));
        prop_assert_eq!(back.nodes, list);
    }
}

/// Found by `bencode_round_trips`: the encoder wrote `i64::MIN`, the decoder summed its digits
/// as a positive number, overflowed and refused it.
#[test]
fn the_smallest_integer_round_trips() {
    let bytes = Value::Int(i64::MIN).encode();
    assert_eq!(bytes, b"i-9223372036854775808e");
    assert_eq!(Value::decode(&bytes), Ok(Value::Int(i64::MIN)));
    assert!(Value::decode(b"i-9223372036854775809e").is_err());
    assert!(Value::decode(b"i9223372036854775808e").is_err());
    assert_eq!(
        Value::decode(b"i9223372036854775807e"),
        Ok(Value::Int(i64::MAX))
    );
}
