//! Round-trip properties of every encoder/decoder pair of rats-core: an arbitrary valid value
//! encodes to bytes that decode to the same value, and decoding arbitrary bytes never panics.
//! Test code only: declared `#[cfg(test)]` in lib.rs (which also keeps it out of the layering
//! check in `tests/layers.rs`, though it reaches into `node`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

use crate::address::{Address, MAX_ADDRESS_LEN};
use crate::config::{ConnectStrategy, MAX_EXCHANGE_PEERS, NodeConfig};
use crate::encryption::{MAX_EARLY_DATA, ProtocolId, identity_payload, split_identity_payload};
use crate::event::MessageBody;
use crate::frame::{
    FLAG_CONT, FLAG_END, FLAG_START, Frame, FrameCodec, MAX_FRAME_PAYLOAD, Reassembler,
};
use crate::identity::{Identity, PeerId};
use crate::messaging::codec::{self, MAX_TYPE_LEN, TAG_BINARY, TAG_TEXT};
use crate::nat::{MAX_SIGNAL_NAME, MAX_SIGNAL_PAYLOAD};
use crate::node::control::{Control, ExchangedPeer};
use crate::node::hello::{Hello, MAX_HELLO_ADDRS, MAX_HELLO_SERVICES, ServiceAd};
use crate::outbound::{CloseMode, OutboundQueue, Outgoing, Priority, Take};
use crate::reachability::NatType;
use crate::record::{RecordReader, for_each_record, put_record_header};

/// Identities made once: deriving a key costs a scalar multiplication, too much per case.
fn identities() -> &'static [Identity] {
    static POOL: OnceLock<Vec<Identity>> = OnceLock::new();
    POOL.get_or_init(|| (0..16).map(|_| Identity::generate()).collect())
}

fn identity() -> impl Strategy<Value = Identity> {
    prop::sample::select(identities())
}

fn peer_id() -> impl Strategy<Value = PeerId> {
    identity().prop_map(|i| i.peer_id())
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)),
        (any::<[u8; 16]>(), any::<u16>(), any::<u32>()).prop_map(|(ip, port, scope)| {
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, 0, scope))
        }),
    ]
}

/// Valid addresses of every shape `Address` takes: TCP socket addresses, other schemes with
/// socket-address bodies, host names with ports, and opaque bodies.
fn address() -> impl Strategy<Value = Address> {
    prop_oneof![
        socket_addr().prop_map(Address::tcp),
        ("[a-z0-9-]{1,8}", socket_addr()).prop_map(|(scheme, sa)| Address::new(
            &scheme,
            &sa.to_string()
        )
        .unwrap()),
        ("[a-z][a-z0-9-]{0,30}", any::<u16>())
            .prop_map(|(host, port)| format!("{host}:{port}").parse().unwrap()),
        any::<u16>().prop_map(|n| Address::new("mem", &n.to_string()).unwrap()),
        ("[a-z][a-z0-9-]{0,7}", "[^\\s\\p{Cc}]{1,40}").prop_filter_map(
            "not an address",
            |(scheme, body)| Address::new(&scheme, &body).ok()
        ),
    ]
}

fn nat_type() -> impl Strategy<Value = Option<NatType>> {
    prop::option::of(prop::sample::select(NatType::ALL.to_vec()))
}

fn exchanged_peer() -> impl Strategy<Value = ExchangedPeer> {
    (
        peer_id(),
        prop::collection::vec(address(), 0..=MAX_HELLO_ADDRS),
        nat_type(),
    )
        .prop_map(|(id, addrs, nat)| ExchangedPeer { id, addrs, nat })
}

fn control() -> impl Strategy<Value = Control> {
    prop_oneof![
        any::<u64>().prop_map(Control::Ping),
        any::<u64>().prop_map(Control::Pong),
        prop::collection::vec(exchanged_peer(), 0..=MAX_EXCHANGE_PEERS / 4)
            .prop_map(Control::Exchange),
        ".{0,300}".prop_map(Control::Goodbye),
        (
            peer_id(),
            ".{0,40}",
            prop::collection::vec(any::<u8>(), 0..2200)
        )
            .prop_map(|(to, name, payload)| Control::Forward { to, name, payload }),
        (
            peer_id(),
            ".{0,40}",
            prop::collection::vec(any::<u8>(), 0..2200)
        )
            .prop_map(|(from, name, payload)| Control::Signal {
                from,
                name,
                payload
            }),
    ]
}

/// What a control message is after a round trip: the encoder cuts reasons, names and
/// payloads to their limits (on character boundaries) and the decoder keeps the cut values.
fn clipped(m: &Control) -> Control {
    let cut = |s: &str, max: usize| s[..s.floor_char_boundary(max)].to_string();
    match m.clone() {
        Control::Goodbye(r) => Control::Goodbye(cut(&r, 256)),
        Control::Forward { to, name, payload } => Control::Forward {
            to,
            name: cut(&name, MAX_SIGNAL_NAME),
            payload: payload[..payload.len().min(MAX_SIGNAL_PAYLOAD)].to_vec(),
        },
        Control::Signal {
            from,
            name,
            payload,
        } => Control::Signal {
            from,
            name: cut(&name, MAX_SIGNAL_NAME),
            payload: payload[..payload.len().min(MAX_SIGNAL_PAYLOAD)].to_vec(),
        },
        other => other,
    }
}

fn hello() -> impl Strategy<Value = Hello> {
    (
        ".{0,200}",
        prop::collection::vec(address(), 0..=MAX_HELLO_ADDRS),
        prop::collection::vec(
            (".{0,20}", any::<u16>()).prop_map(|(name, channel)| ServiceAd { name, channel }),
            0..=MAX_HELLO_SERVICES / 4,
        ),
        prop::option::of(address()),
        nat_type(),
    )
        .prop_map(|(agent, listen, services, observed, nat)| Hello {
            agent,
            listen,
            services,
            observed,
            nat,
        })
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(".{0,10}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Feeds `bytes` to the frame decoder in pieces cut at `cuts`, as a stream would arrive.
fn decode_frames(bytes: &[u8], cuts: &[usize]) -> Result<Vec<Frame>, crate::frame::FrameError> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.push(bytes.len());
    cuts.sort_unstable();
    let mut codec = FrameCodec;
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut at = 0;
    for cut in cuts {
        buf.extend_from_slice(&bytes[at..cut]);
        at = cut;
        while let Some(f) = codec.decode(&mut buf)? {
            frames.push(f);
        }
    }
    assert!(buf.is_empty(), "bytes left after the last frame");
    Ok(frames)
}

fn frame() -> impl Strategy<Value = Frame> {
    (
        any::<u16>(),
        prop::sample::select(vec![0, FLAG_START, FLAG_CONT, FLAG_CONT | FLAG_END, 0xff]),
        0..=MAX_FRAME_PAYLOAD,
    )
        .prop_flat_map(|(channel, flags, max)| {
            // Mostly small payloads, sometimes up to the limit (a START carries 4 more bytes).
            let limit = if flags == FLAG_START { max + 4 } else { max };
            let len = prop_oneof![4 => 0..64usize, 1 => 0..=limit];
            (Just(channel), Just(flags), len)
        })
        .prop_map(|(channel, flags, len)| Frame {
            channel,
            flags,
            payload: Bytes::from((0..len).map(|i| i as u8).collect::<Vec<u8>>()),
        })
}

proptest! {
    #[test]
    fn frames_round_trip_through_the_codec(
        frames in prop::collection::vec(frame(), 0..6),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let mut wire = BytesMut::new();
        for f in &frames {
            FrameCodec.encode(f.clone(), &mut wire).unwrap();
        }
        prop_assert_eq!(decode_frames(&wire, &cuts).unwrap(), frames);
    }

    #[test]
    fn frame_decoding_of_arbitrary_bytes_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut r = Reassembler::new(1 << 20);
        let mut codec = FrameCodec;
        let mut buf = BytesMut::from(&bytes[..]);
        let mut again = BytesMut::new();
        while let Ok(Some(f)) = codec.decode(&mut buf) {
            // The frame format is canonical: what decodes encodes to the bytes it came from.
            FrameCodec.encode(f.clone(), &mut again).unwrap();
            prop_assert_eq!(&again[..], &bytes[..again.len()]);
            if r.push(f).is_err() {
                break;
            }
        }
    }

    /// The send queue's framing (whole messages and fragments) reassembles to the messages
    /// queued, in order per priority class.
    #[test]
    fn messages_round_trip_through_queue_frames_and_reassembly(
        msgs in prop::collection::vec(
            (1..8u16, prop_oneof![8 => 0..2000usize, 1 => 0..200_000usize], any::<u8>()),
            1..8,
        ),
        head_len in 0..3usize,
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let q = OutboundQueue::new(1 << 24, 1 << 20);
        let mut want = Vec::new();
        for (channel, len, seed) in &msgs {
            let body: Vec<u8> = (0..*len).map(|i| (i as u8).wrapping_add(*seed)).collect();
            let head = vec![*seed; head_len.min(body.len())];
            q.try_push(*channel, Priority::Normal, &Outgoing {
                head: &head,
                body: crate::outbound::Body::Slice(&body),
            }).unwrap();
            let mut whole = head.clone();
            whole.extend_from_slice(&body);
            want.push((*channel, whole));
        }
        q.close(CloseMode::Graceful);
        let mut wire = BytesMut::new();
        while let Take::Data(parts) = futures::executor::block_on(q.take(256 * 1024)) {
            parts.iter().for_each(|p| wire.extend_from_slice(p));
        }
        let mut r = Reassembler::new(1 << 20);
        let mut got = Vec::new();
        for f in decode_frames(&wire, &cuts).unwrap() {
            let channel = f.channel;
            if let Some(m) = r.push(f).unwrap() {
                got.push((channel, m.to_vec()));
            }
        }
        prop_assert_eq!(got, want);
    }

    #[test]
    fn records_round_trip(
        parts in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..3000), 0..5),
        max in 1..4096usize,
    ) {
        let slices: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let mut wire = Vec::new();
        let mut count = 0;
        for_each_record(&slices, max, |chunk, len| {
            assert!(len <= max);
            put_record_header(&mut wire, len);
            chunk.iter().for_each(|c| wire.extend_from_slice(c));
            count += 1;
        });
        let total: usize = parts.iter().map(Vec::len).sum();
        prop_assert_eq!(count, total.div_ceil(max).max(1));
        let mut reader = RecordReader::new(Box::new(std::io::Cursor::new(wire)));
        let mut back = Vec::new();
        while let Some(rec) = futures::executor::block_on(reader.read_record()).unwrap() {
            back.extend_from_slice(&rec);
        }
        prop_assert_eq!(back, parts.concat());
    }

    #[test]
    fn control_messages_round_trip(m in control()) {
        prop_assert_eq!(Control::decode(&m.encode()).unwrap(), clipped(&m));
    }

    #[test]
    fn control_decoding_of_arbitrary_bytes_never_panics(
        tag in 0..8u8,
        rest in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut b = vec![tag];
        b.extend_from_slice(&rest);
        // Except for the JSON of an exchange, the format is canonical.
        match Control::decode(&b) {
            Ok(Control::Exchange(_)) | Err(_) => {}
            Ok(Control::Goodbye(r)) if r.contains('\u{fffd}') => {}
            Ok(m) => prop_assert_eq!(m.encode(), b),
        }
    }

    #[test]
    fn hellos_round_trip_through_json(h in hello()) {
        let bytes = serde_json::to_vec(&h).unwrap();
        let mut want = h.clone();
        want.agent.truncate(want.agent.floor_char_boundary(128));
        prop_assert_eq!(Hello::decode(&bytes).unwrap(), want);
    }

    #[test]
    fn hello_decoding_of_arbitrary_bytes_never_panics(
        b in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let _ = Hello::decode(&b);
    }

    #[test]
    fn binary_and_text_messages_round_trip(
        data in prop::collection::vec(any::<u8>(), 0..300),
        text in ".{0,100}",
    ) {
        let mut b = vec![TAG_BINARY];
        b.extend_from_slice(&data);
        prop_assert_eq!(
            codec::decode(Bytes::from(b)).unwrap(),
            MessageBody::Binary(Bytes::from(data))
        );
        let mut t = vec![TAG_TEXT];
        t.extend_from_slice(text.as_bytes());
        prop_assert_eq!(codec::decode(Bytes::from(t)).unwrap(), MessageBody::Text(text));
    }

    #[test]
    fn json_messages_round_trip(kind in ".{0,80}", data in json_value()) {
        prop_assume!(kind.len() <= MAX_TYPE_LEN);
        let mut b = Vec::new();
        codec::json_head(&kind, &mut b).unwrap();
        serde_json::to_writer(&mut b, &data).unwrap();
        prop_assert_eq!(codec::json_kind(&b), Some(kind.as_str()));
        prop_assert_eq!(
            codec::decode(Bytes::from(b)).unwrap(),
            MessageBody::Json { kind, data }
        );
    }

    #[test]
    fn message_decoding_of_arbitrary_bytes_never_panics(
        b in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let _ = codec::json_kind(&b);
        let _ = codec::decode(Bytes::from(b));
    }

    #[test]
    fn addresses_round_trip_through_text_and_json(a in address()) {
        let text = a.to_string();
        let back: Address = text.parse().unwrap();
        prop_assert_eq!(&back, &a);
        prop_assert_eq!((back.scheme(), back.body()), (a.scheme(), a.body()));
        let json = serde_json::to_string(&a).unwrap();
        prop_assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), a);
    }

    /// Whatever text parses, its display parses back to the same address (the display is
    /// canonical), and nothing panics.
    #[test]
    fn parsed_addresses_display_canonically(
        s in "[ -~]{0,20}|[a-z]{1,4}:[^\\s]{0,260}|[a-z]{240,256}:[0-9]{1,5}|\\[[^\\s]{250,256}",
    ) {
        if let Ok(a) = s.parse::<Address>() {
            let text = a.to_string();
            prop_assert!(text.len() <= MAX_ADDRESS_LEN, "{} bytes", text.len());
            let back: Address = text.parse().unwrap();
            prop_assert_eq!(back.to_string(), text);
            prop_assert_eq!(back, a);
        }
    }

    /// An address with another socket address put in (a peer's unspecified listen IP
    /// replaced by the one we see it at) is still an address: its text parses back.
    #[test]
    fn addresses_with_a_socket_address_put_in_parse_back(
        scheme in "[a-z][a-z0-9-]{0,250}",
        port in any::<u16>(),
        sa in socket_addr(),
    ) {
        if let Ok(a) = Address::new(&scheme, &format!("0.0.0.0:{port}")) {
            let b = a.with_socket_addr(sa);
            prop_assert_eq!(b.socket_addr(), Some(sa));
            prop_assert_eq!(b.as_str().parse::<Address>().unwrap(), b);
        }
    }

    #[test]
    fn peer_ids_round_trip_through_hex_and_json(id in peer_id()) {
        prop_assert_eq!(id.to_hex().parse::<PeerId>().unwrap(), id);
        prop_assert_eq!(id.to_hex().to_uppercase().parse::<PeerId>().unwrap(), id);
        prop_assert_eq!(PeerId::from_bytes(*id.as_bytes()).unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        prop_assert_eq!(serde_json::from_str::<PeerId>(&json).unwrap(), id);
    }

    #[test]
    fn peer_id_parsing_of_arbitrary_text_never_panics(s in ".{0,70}", b in any::<[u8; 32]>()) {
        let _ = s.parse::<PeerId>();
        if let Ok(id) = PeerId::from_bytes(b) {
            prop_assert_eq!(id.as_bytes(), &b);
        }
    }

    #[test]
    fn protocol_ids_round_trip(name in "[^\\x00]{0,20}", version in "[^\\x00]{0,20}") {
        let p = ProtocolId::new(name, version);
        prop_assert_eq!(ProtocolId::from_bytes(&p.to_bytes()), Some(p));
    }

    #[test]
    fn protocol_id_parsing_of_arbitrary_bytes_never_panics(
        b in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        if let Some(p) = ProtocolId::from_bytes(&b) {
            prop_assert_eq!(p.to_bytes(), b);
        }
    }

    #[test]
    fn identity_payloads_round_trip(
        id in identity(),
        early in prop_oneof![
            4 => prop::collection::vec(any::<u8>(), 0..200),
            1 => prop::collection::vec(any::<u8>(), MAX_EARLY_DATA - 8..=MAX_EARLY_DATA),
        ],
    ) {
        let payload = identity_payload(&id, &early).unwrap();
        let (peer, back) = split_identity_payload(&payload).unwrap();
        prop_assert_eq!(peer, id.peer_id());
        prop_assert_eq!(&back[..], &early[..]);
    }

    #[test]
    fn identity_payload_splitting_of_arbitrary_bytes_never_panics(
        b in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        let _ = split_identity_payload(&b);
    }
}

/// A duration as the configuration's millisecond fields carry it: whole milliseconds, at
/// most `u64::MAX` of them (longer ones are written as that).
fn in_millis(d: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn duration() -> impl Strategy<Value = std::time::Duration> {
    prop_oneof![
        any::<u64>().prop_map(std::time::Duration::from_millis),
        (any::<u64>(), 0..1_000_000_000u32).prop_map(|(s, n)| std::time::Duration::new(s, n)),
        Just(std::time::Duration::MAX),
    ]
}

fn node_config() -> impl Strategy<Value = NodeConfig> {
    let sizes = prop::collection::vec(any::<usize>(), 11);
    let durations = prop::collection::vec(duration(), 6);
    let strategy = prop_oneof![
        Just(ConnectStrategy::Auto),
        Just(ConnectStrategy::DirectOnly),
        Just(ConnectStrategy::RelayOnly),
    ];
    let names = NodeConfig::field_names();
    let plugins = prop::collection::btree_map("[a-z][a-z0-9_-]{0,10}", json_value(), 0..4)
        .prop_map(move |m| {
            m.into_iter()
                .filter(|(k, _)| !names.contains(k))
                .collect::<serde_json::Map<_, _>>()
        });
    (
        (".{0,20}", ".{0,20}", ".{0,30}", "[a-z]{0,10}"),
        prop::collection::vec(address(), 0..4),
        sizes,
        durations,
        (any::<bool>(), strategy),
        prop::collection::btree_set("[a-z-]{1,10}", 0..4),
        plugins,
    )
        .prop_map(
            |(
                (name, version, agent, encryption),
                listen,
                n,
                d,
                (px, strategy),
                disabled,
                plugins,
            )| {
                NodeConfig {
                    protocol_name: name,
                    protocol_version: version,
                    listen,
                    max_peers: n[0],
                    max_pending_handshakes: n[1],
                    max_pending_per_ip: n[2],
                    max_connections_per_ip: n[3],
                    handshake_timeout: d[0],
                    dial_timeout: d[1],
                    keepalive_interval: d[2],
                    idle_timeout: d[3],
                    write_timeout: d[4],
                    relay_head_start: d[5],
                    send_queue_bytes: n[4],
                    max_message_size: n[5],
                    memory_budget: n[6],
                    memory_per_connection: n[7],
                    memory_per_ip: n[8],
                    peer_exchange: px,
                    connect_strategy: strategy,
                    max_exchange_peers: n[9],
                    event_capacity: n[10],
                    agent,
                    encryption,
                    disabled_plugins: disabled,
                    plugins,
                }
            },
        )
}

proptest! {
    /// A configuration written as JSON (a configuration file) reads back the same, durations
    /// in whole milliseconds.
    #[test]
    fn node_configs_round_trip_through_json(c in node_config()) {
        let json = serde_json::to_vec_pretty(&c).unwrap();
        let back: NodeConfig = serde_json::from_slice(&json).unwrap();
        let mut want = c.clone();
        for d in [
            &mut want.handshake_timeout,
            &mut want.dial_timeout,
            &mut want.keepalive_interval,
            &mut want.idle_timeout,
            &mut want.write_timeout,
            &mut want.relay_head_start,
        ] {
            *d = in_millis(*d);
        }
        prop_assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&want).unwrap()
        );
        prop_assert_eq!(back.handshake_timeout, want.handshake_timeout);
        prop_assert_eq!(back.write_timeout, want.write_timeout);
        prop_assert_eq!(&back.listen, &want.listen);
    }
}

proptest! {
    // Each case writes and syncs a file.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn identity_key_files_round_trip(secret in any::<[u8; 32]>()) {
        let id = Identity::from_secret(secret);
        prop_assume!(id.peer_id().is_canonical());
        let dir = std::env::temp_dir().join(format!("rats-roundtrip-{}", rand::random::<u64>()));
        let path = dir.join("identity.key");
        id.save(&path).unwrap();
        let (back, created) = Identity::load_or_create(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        prop_assert!(!created);
        prop_assert_eq!(back.peer_id(), id.peer_id());
        prop_assert_eq!(back.secret_bytes(), secret);
    }
}

/// Found by `json_messages_round_trip`: without serde_json's `float_roundtrip` feature this
/// float came back one unit in the last place off.
#[test]
fn a_json_float_survives_exactly() {
    let data = serde_json::json!([{ "": -1.3438981272792193e-114 }]);
    let mut b = Vec::new();
    codec::json_head("", &mut b).unwrap();
    serde_json::to_writer(&mut b, &data).unwrap();
    let back = codec::decode(Bytes::from(b)).unwrap();
    assert_eq!(
        back,
        MessageBody::Json {
            kind: String::new(),
            data
        }
    );
}

/// Found by `parsed_addresses_display_canonically`: a bare `host:port` of up to 256 bytes was
/// accepted, then displayed with `tcp:` in front, past the limit, so its own text (in a Hello,
/// a peer file) no longer parsed.
#[test]
fn a_bare_address_near_the_limit_parses_back_or_is_refused() {
    for host_len in 240..=256 {
        for s in [
            format!("{}:91", "a".repeat(host_len - 3)),
            format!("[{}", "a".repeat(host_len - 1)),
        ] {
            if let Ok(a) = s.parse::<Address>() {
                assert!(a.as_str().len() <= MAX_ADDRESS_LEN, "{s}");
                assert_eq!(a.as_str().parse::<Address>().unwrap(), a);
            }
        }
    }
    let near: Address = format!("{}:91", "a".repeat(MAX_ADDRESS_LEN - 7))
        .parse()
        .unwrap();
    assert_eq!(near.as_str().len(), MAX_ADDRESS_LEN);
}

/// Found by `node_configs_round_trip_through_json`: a duration of more than `u64::MAX`
/// milliseconds (`Duration::MAX`, "never") was written wrapped around, as a short one.
#[test]
fn a_very_long_timeout_is_written_as_the_longest_not_wrapped() {
    let c = NodeConfig {
        idle_timeout: std::time::Duration::MAX,
        ..NodeConfig::default()
    };
    let back: NodeConfig = serde_json::from_slice(&serde_json::to_vec(&c).unwrap()).unwrap();
    assert_eq!(
        back.idle_timeout,
        std::time::Duration::from_millis(u64::MAX)
    );
}

proptest! {
    // Each case runs a whole (plaintext) handshake.
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The plaintext handshake (tests' encryption) carries the protocol id, identities and
    /// early data as sent, and what is written after it is read back.
    #[test]
    fn plaintext_handshake_payloads_and_data_round_trip(
        name in "[^\\x00]{1,12}",
        version in "[^\\x00]{0,8}",
        (a, b) in (identity(), identity()),
        early_a in prop::collection::vec(any::<u8>(), 0..300),
        early_b in prop::collection::vec(any::<u8>(), 0..300),
        data in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..70_000), 0..3),
    ) {
        use crate::encryption::{Encryption, HandshakeParams, Role};
        use crate::{MemoryTransport, Plaintext, Transport};
        let proto = ProtocolId::new(name, version);
        let total: usize = data.iter().map(Vec::len).sum();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (ca, cb, got) = rt.block_on(async {
            let mut listener = MemoryTransport.listen(&"mem:0".parse().unwrap()).await.unwrap();
            let addr = listener.local_addrs()[0].clone();
            let (dialed, accepted) = tokio::join!(MemoryTransport.dial(&addr), listener.accept());
            let pa = HandshakeParams { identity: &a, protocol: &proto, role: Role::Initiator, early_data: &early_a };
            let pb = HandshakeParams { identity: &b, protocol: &proto, role: Role::Responder, early_data: &early_b };
            let (ca, cb) = tokio::join!(
                Plaintext.upgrade(dialed.unwrap(), pa),
                Plaintext.upgrade(accepted.unwrap(), pb)
            );
            let (mut ca, mut cb) = (ca.unwrap(), cb.unwrap());
            let parts: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
            let send = async {
                ca.writer.write(&parts).await.unwrap();
                ca.writer.close().await.unwrap();
            };
            let receive = async {
                let mut got = BytesMut::new();
                while got.len() < total && cb.reader.read_into(&mut got).await.unwrap() {}
                got.to_vec()
            };
            let ((), got) = tokio::join!(send, receive);
            (ca, cb, got)
        });
        prop_assert_eq!(ca.remote_peer, b.peer_id());
        prop_assert_eq!(cb.remote_peer, a.peer_id());
        prop_assert_eq!(&ca.remote_early_data[..], &early_b[..]);
        prop_assert_eq!(&cb.remote_early_data[..], &early_a[..]);
        prop_assert_eq!(ca.session_id, cb.session_id);
        prop_assert_eq!(got, data.concat());
    }
}

/// Found by `addresses_with_a_socket_address_put_in_parse_back`: a peer announcing
/// `<long scheme>:0.0.0.0:5` got its IP put in, past the length limit, and every peer-exchange
/// list or peer file holding that address was then refused whole.
#[test]
fn a_long_scheme_is_refused_so_a_socket_address_always_fits() {
    let long = format!(
        "{}:0.0.0.0:5",
        "a".repeat(crate::address::MAX_SCHEME_LEN + 1)
    );
    assert!(long.parse::<Address>().is_err());
    let longest = format!("{}:0.0.0.0:5", "a".repeat(crate::address::MAX_SCHEME_LEN));
    let a: Address = longest.parse().unwrap();
    let sa: SocketAddr = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535"
        .parse()
        .unwrap();
    let b = a.with_socket_addr(sa);
    assert_eq!(b.as_str().parse::<Address>().unwrap(), b);
}
