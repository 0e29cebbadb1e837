//! Round-trip properties of rats-nat's encodings: STUN messages (attributes, plain and XOR
//! addresses, MESSAGE-INTEGRITY, FINGERPRINT), what a TURN server sends (answers, Data
//! indications, ChannelData, connection attempts), hole-punch signals and ICE offers. An
//! arbitrary valid value encodes to bytes that decode to the same value, and decoding
//! arbitrary bytes never panics.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;

use crate::stun::message::{Class, Message, MessageBuilder, attr, message_len, method};
use crate::turn::client::{ConnectionAttempt, tcp};
use crate::turn::inbound::{self, Inbound};

fn class() -> impl Strategy<Value = Class> {
    prop_oneof![
        Just(Class::Request),
        Just(Class::Indication),
        Just(Class::Success),
        Just(Class::Error),
    ]
}

/// An address as STUN carries it (no IPv6 flow or scope).
fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port)),
    ]
}

/// An attribute the builder adds as it is (not the two it writes itself).
fn attribute() -> impl Strategy<Value = (u16, Vec<u8>)> {
    (
        any::<u16>().prop_filter("written by build", |t| {
            *t != attr::MESSAGE_INTEGRITY && *t != attr::FINGERPRINT
        }),
        prop::collection::vec(any::<u8>(), 0..40),
    )
}

proptest! {
    #[test]
    fn stun_messages_round_trip(
        method_bits in 0..0x1000u16,
        class in class(),
        tid in any::<[u8; 12]>(),
        attrs in prop::collection::vec(attribute(), 0..12),
        key in prop::option::of(prop::collection::vec(any::<u8>(), 0..32)),
    ) {
        let builder = attrs
            .iter()
            .fold(MessageBuilder::with_tid(method_bits, class, tid), |b, (t, v)| b.attr(*t, v));
        let bytes = builder.build(key.as_deref());
        prop_assert_eq!(message_len(&bytes), Some(bytes.len()));
        let m = Message::decode(&bytes).unwrap();
        prop_assert_eq!((m.method, m.class, m.tid), (method_bits, class, tid));
        let got: Vec<(u16, Vec<u8>)> = m
            .attrs
            .iter()
            .filter(|(t, _, _)| *t != attr::MESSAGE_INTEGRITY && *t != attr::FINGERPRINT)
            .map(|(t, v, _)| (*t, v.to_vec()))
            .collect();
        prop_assert_eq!(got, attrs);
        prop_assert!(m.attr(attr::FINGERPRINT).is_some());
        match &key {
            Some(k) => {
                prop_assert!(m.check_integrity(k));
                let mut other = k.clone();
                other.push(1);
                prop_assert!(!m.check_integrity(&other));
            }
            None => prop_assert!(!m.check_integrity(b"")),
        }
    }

    #[test]
    fn stun_addresses_round_trip(
        tid in any::<[u8; 12]>(),
        xor in socket_addr(),
        plain in socket_addr(),
    ) {
        let bytes = MessageBuilder::with_tid(method::BINDING, Class::Success, tid)
            .xor_address(attr::XOR_MAPPED_ADDRESS, &xor)
            .address(attr::OTHER_ADDRESS, &plain)
            .address(attr::MAPPED_ADDRESS, &plain)
            .build(None);
        let m = Message::decode(&bytes).unwrap();
        prop_assert_eq!(m.xor_address(attr::XOR_MAPPED_ADDRESS), Some(xor));
        prop_assert_eq!(m.address(attr::OTHER_ADDRESS), Some(plain));
        prop_assert_eq!(m.mapped_address(), Some(xor));
    }

    #[test]
    fn stun_decoding_of_arbitrary_bytes_never_panics(
        body in prop::collection::vec(any::<u8>(), 0..120),
        tid in any::<[u8; 12]>(),
        raw in prop::collection::vec(any::<u8>(), 0..60),
    ) {
        // A valid header in front of arbitrary attributes reaches the attribute parser.
        let mut b = vec![0x01, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        b.extend_from_slice(&tid);
        let len = body.len() / 4 * 4;
        b[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        b.extend_from_slice(&body[..len]);
        for packet in [&b[..], &raw[..]] {
            let _ = message_len(packet);
            let _ = inbound::datagram(packet);
            let _ = inbound::control_message(packet);
            if let Ok(m) = Message::decode(packet) {
                let _ = (m.mapped_address(), m.error_code(), m.check_integrity(b"key"));
                let _ = (m.xor_address(attr::XOR_RELAYED_ADDRESS), m.address(attr::OTHER_ADDRESS));
            }
        }
    }

    /// A Data indication as the server sends it, and ChannelData (with the padding a stream
    /// adds, RFC 8656 §12.5) as `TurnClient::send_to` writes it, come back as the client reads
    /// them.
    #[test]
    fn turn_data_round_trips(
        peer in socket_addr(),
        data in prop::collection::vec(any::<u8>(), 0..1300),
        number in 0x4000..=0x4fffu16,
        padded in any::<bool>(),
    ) {
        let indication = MessageBuilder::new(method::DATA, Class::Indication)
            .xor_address(attr::XOR_PEER_ADDRESS, &peer)
            .attr(attr::DATA, &data)
            .build(None);
        prop_assert_eq!(
            inbound::datagram(&indication),
            Inbound::Data { peer, data: &data }
        );
        let mut channel_data = number.to_be_bytes().to_vec();
        channel_data.extend_from_slice(&(data.len() as u16).to_be_bytes());
        channel_data.extend_from_slice(&data);
        while padded && !channel_data.len().is_multiple_of(4) {
            channel_data.push(0);
        }
        prop_assert_eq!(
            inbound::datagram(&channel_data),
            Inbound::ChannelData { number, data: &data }
        );
    }

    #[test]
    fn turn_answers_and_connection_attempts_round_trip(
        tid in any::<[u8; 12]>(),
        method_bits in 0..0x1000u16,
        success in any::<bool>(),
        id in any::<u32>(),
        peer in socket_addr(),
    ) {
        let class = if success { Class::Success } else { Class::Error };
        let answer = MessageBuilder::with_tid(method_bits, class, tid).build(Some(b"key"));
        prop_assert_eq!(inbound::control_message(&answer), Inbound::Answer { tid });
        prop_assert_eq!(inbound::datagram(&answer), Inbound::Answer { tid });
        let attempt = MessageBuilder::with_tid(tcp::CONNECTION_ATTEMPT, Class::Indication, tid)
            .attr(tcp::CONNECTION_ID, &id.to_be_bytes())
            .xor_address(attr::XOR_PEER_ADDRESS, &peer)
            .build(None);
        prop_assert_eq!(
            inbound::control_message(&attempt),
            Inbound::ConnectionAttempt(ConnectionAttempt { id, peer })
        );
    }
}

proptest! {
    /// A default route written as Linux writes `/proc/net/route` (little-endian hex fields)
    /// reads back as its gateway, whatever routes come before it.
    #[test]
    fn default_gateways_round_trip_through_the_route_table(
        gateway in any::<[u8; 4]>().prop_filter("a gateway", |g| *g != [0; 4]),
        others in prop::collection::vec((any::<u32>().prop_filter("not default", |d| *d != 0), any::<u32>()), 0..4),
    ) {
        let gateway = Ipv4Addr::from(gateway);
        let mut table = String::from("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n");
        for (dest, gw) in others {
            table += &format!("eth0\t{dest:08X}\t{gw:08X}\t0001\t0\t0\t0\t00FFFFFF\n");
        }
        let hex = u32::from(gateway).swap_bytes();
        table += &format!("eth0\t00000000\t{hex:08X}\t0003\t0\t0\t0\t00000000\n");
        prop_assert_eq!(crate::portmap::gateway::parse_route_table(&table), Some(gateway));
    }
}

#[cfg(feature = "holepunch")]
mod punch {
    use super::*;
    use crate::holepunch::wire::{MAX_ADDRS, PunchMessage, punchable};

    fn punchable_addr() -> impl Strategy<Value = SocketAddr> {
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port))
            .prop_filter("punchable", punchable)
    }

    fn punch_message(addr: BoxedStrategy<SocketAddr>) -> impl Strategy<Value = PunchMessage> {
        let addrs = prop::collection::vec(addr.clone(), 1..=MAX_ADDRS);
        prop_oneof![
            (
                any::<u64>(),
                addrs.clone(),
                any::<bool>(),
                prop::option::of(addr.clone())
            )
                .prop_map(|(id, addrs, varies, tcp)| PunchMessage::Connect {
                    id,
                    addrs,
                    varies,
                    tcp
                }),
            (
                any::<u64>(),
                addrs,
                any::<bool>(),
                any::<u64>(),
                prop::option::of(addr)
            )
                .prop_map(|(id, addrs, varies, hold_ms, tcp)| PunchMessage::Accept {
                    id,
                    addrs,
                    varies,
                    hold_ms,
                    tcp
                }),
            any::<u64>().prop_map(|id| PunchMessage::Sync { id }),
            any::<u64>().prop_map(|id| PunchMessage::Cancel { id }),
        ]
    }

    proptest! {
        #[test]
        fn punch_messages_round_trip(m in punch_message(punchable_addr().boxed())) {
            prop_assert_eq!(PunchMessage::decode(&m.encode()), Some(m));
        }

        /// Messages offering any address decode to themselves or are refused, never changed.
        #[test]
        fn punch_messages_with_any_address_are_kept_or_refused(
            m in punch_message(
                prop_oneof![punchable_addr(), socket_addr()].boxed()
            ),
            raw in prop::collection::vec(any::<u8>(), 0..80),
        ) {
            if let Some(back) = PunchMessage::decode(&m.encode()) {
                prop_assert_eq!(back, m);
            }
            let _ = PunchMessage::decode(&raw);
        }
    }
}

#[cfg(feature = "ice")]
mod ice {
    use super::*;
    use crate::ice::offer::{
        IceOffer, MAX_CANDIDATE_LEN, MAX_CANDIDATES, MAX_CREDENTIAL_LEN, MIN_PWD_LEN,
        MIN_UFRAG_LEN, strip_prefix,
    };

    fn credential(min: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(0x21u8..=0x7e, min..=MAX_CREDENTIAL_LEN.min(min + 40))
            .prop_map(|b| String::from_utf8(b).unwrap())
    }

    fn ice_offer() -> impl Strategy<Value = IceOffer> {
        (
            credential(MIN_UFRAG_LEN),
            credential(MIN_PWD_LEN),
            prop::collection::vec(".{0,80}", 0..=MAX_CANDIDATES),
        )
            .prop_map(|(ufrag, pwd, candidates)| IceOffer {
                ufrag,
                pwd,
                candidates,
            })
    }

    proptest! {
        #[test]
        fn ice_offers_round_trip_through_json(offer in ice_offer()) {
            prop_assert_eq!(offer.validate(), Ok(()));
            let json = serde_json::to_vec(&offer).unwrap();
            let back: IceOffer = serde_json::from_slice(&json).unwrap();
            prop_assert_eq!(back.validate(), Ok(()));
            prop_assert_eq!(back, offer);
        }

        #[test]
        fn ice_offer_checking_of_arbitrary_offers_never_panics(
            ufrag in ".{0,30}",
            pwd in ".{0,30}",
            candidates in prop::collection::vec(".{0,10}", 0..40),
            long in prop::option::of(Just("x".repeat(MAX_CANDIDATE_LEN + 1))),
        ) {
            let mut offer = IceOffer { ufrag, pwd, candidates };
            offer.candidates.extend(long);
            let _ = offer.validate();
        }

        /// A candidate line in SDP form, with either prefix or none, parses back to itself
        /// through webrtc-ice after `strip_prefix`.
        #[test]
        fn ice_candidate_lines_round_trip(
            ip in any::<[u8; 4]>(),
            port in 1..=u16::MAX,
            component in 1..=2u16,
            priority in any::<u32>(),
            foundation in "[0-9]{1,10}",
            prefix in prop::sample::select(vec!["", "candidate:", "a=candidate:"]),
        ) {
            use webrtc_ice::candidate::Candidate;
            use webrtc_ice::candidate::candidate_base::{CandidateBaseConfig, unmarshal_candidate};
            use webrtc_ice::candidate::candidate_host::CandidateHostConfig;
            let host = CandidateHostConfig {
                base_config: CandidateBaseConfig {
                    network: "udp".into(),
                    address: Ipv4Addr::from(ip).to_string(),
                    port,
                    component,
                    priority,
                    foundation,
                    ..Default::default()
                },
                ..Default::default()
            }
            .new_candidate_host()
            .unwrap();
            let line = host.marshal();
            let parsed = unmarshal_candidate(strip_prefix(&format!("{prefix}{line}"))).unwrap();
            prop_assert_eq!(parsed.marshal(), line);
        }
    }
}
