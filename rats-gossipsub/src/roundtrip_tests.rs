//! Round-trip properties of the gossipsub wire format: every valid RPC (topics and addresses
//! of 1 to 256 bytes, as the service allows) encodes to bytes that decode to the same RPC,
//! lists past the wire limits are cut by the encoder, a signed publish still verifies after
//! the trip, and decoding arbitrary bytes never panics.

use std::sync::OnceLock;

use bytes::Bytes;
use proptest::prelude::*;
use rats_core::Identity;

use crate::message::{MessageId, SignedMessage, signing_bytes};
use crate::wire::{MAX_IDS, MAX_PX_ADDRS, MAX_PX_PEERS, MAX_SUBSCRIPTIONS, PxPeer, Rpc};

/// The topic limit of the default configuration.
const MAX_TOPIC: usize = 256;

fn identity() -> impl Strategy<Value = Identity> {
    static POOL: OnceLock<Vec<Identity>> = OnceLock::new();
    prop::sample::select(
        POOL.get_or_init(|| (0..8).map(|_| Identity::generate()).collect())
            .as_slice(),
    )
}

/// A topic (or address) of 1 to 256 bytes.
fn topic() -> impl Strategy<Value = String> {
    prop_oneof![".{1,20}", ".{60,64}"]
        .prop_filter("1 to 256 bytes", |t| (1..=MAX_TOPIC).contains(&t.len()))
}

fn message_ids(max: usize) -> impl Strategy<Value = Vec<MessageId>> {
    prop_oneof![
        8 => prop::collection::vec(any::<[u8; 40]>().prop_map(MessageId), 0..10),
        1 => (0..=max).prop_map(|n| (0..n).map(|i| MessageId([i as u8; 40])).collect()),
    ]
}

fn signed_message() -> impl Strategy<Value = SignedMessage> {
    (
        identity(),
        any::<u64>(),
        topic(),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(id, seqno, topic, data)| SignedMessage {
            from: id.peer_id(),
            seqno,
            signature: id.sign(&signing_bytes(&topic, &id.peer_id(), seqno, &data)),
            topic,
            data: Bytes::from(data),
        })
}

fn px_peer(addrs: usize) -> impl Strategy<Value = PxPeer> {
    (identity(), prop::collection::vec(topic(), 0..=addrs)).prop_map(|(id, addrs)| PxPeer {
        peer: id.peer_id(),
        addrs,
    })
}

/// Any RPC the service can build; `over` lets lists pass the wire limits.
fn rpc(over: usize) -> impl Strategy<Value = Rpc> {
    prop_oneof![
        prop_oneof![
            4 => prop::collection::vec((any::<bool>(), topic()), 0..10),
            1 => (0..=MAX_SUBSCRIPTIONS + over)
                .prop_map(|n| (0..n).map(|i| (i % 3 == 0, format!("t{i}"))).collect()),
        ]
        .prop_map(Rpc::Subscriptions),
        signed_message().prop_map(Rpc::Publish),
        topic().prop_map(Rpc::Graft),
        (
            topic(),
            any::<u32>(),
            prop::collection::vec(
                px_peer(MAX_PX_ADDRS + over.min(2)),
                0..=MAX_PX_PEERS + over.min(3)
            ),
        )
            .prop_map(|(topic, backoff_secs, peers)| Rpc::Prune {
                topic,
                backoff_secs,
                peers
            }),
        (topic(), message_ids(MAX_IDS + over)).prop_map(|(topic, ids)| Rpc::IHave { topic, ids }),
        message_ids(MAX_IDS + over).prop_map(Rpc::IWant),
    ]
}

/// What an RPC is after the trip: the encoder cuts lists to the wire limits.
fn cut(rpc: &Rpc) -> Rpc {
    match rpc.clone() {
        Rpc::Subscriptions(mut s) => {
            s.truncate(MAX_SUBSCRIPTIONS);
            Rpc::Subscriptions(s)
        }
        Rpc::Prune {
            topic,
            backoff_secs,
            mut peers,
        } => {
            peers.truncate(MAX_PX_PEERS);
            peers
                .iter_mut()
                .for_each(|p| p.addrs.truncate(MAX_PX_ADDRS));
            Rpc::Prune {
                topic,
                backoff_secs,
                peers,
            }
        }
        Rpc::IHave { topic, mut ids } => {
            ids.truncate(MAX_IDS);
            Rpc::IHave { topic, ids }
        }
        Rpc::IWant(mut ids) => {
            ids.truncate(MAX_IDS);
            Rpc::IWant(ids)
        }
        other => other,
    }
}

proptest! {
    #[test]
    fn rpcs_round_trip(m in rpc(0)) {
        let wire = m.encode();
        let back = Rpc::decode(wire.clone(), MAX_TOPIC).unwrap();
        prop_assert_eq!(&back, &m);
        // The encoding is canonical: the decoded RPC encodes to the same bytes.
        prop_assert_eq!(back.encode(), wire);
    }

    #[test]
    fn lists_past_the_limits_are_cut_by_the_encoder(m in rpc(40)) {
        prop_assert_eq!(Rpc::decode(m.encode(), MAX_TOPIC).unwrap(), cut(&m));
    }

    #[test]
    fn a_signed_publish_still_verifies_after_the_trip(m in signed_message()) {
        prop_assert!(m.verify());
        let Rpc::Publish(back) = Rpc::decode(Rpc::Publish(m.clone()).encode(), MAX_TOPIC).unwrap()
        else {
            panic!("not a publish");
        };
        prop_assert!(back.verify());
        prop_assert_eq!(back.id(), m.id());
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        kind in 0..8u8,
        rest in prop::collection::vec(any::<u8>(), 0..300),
        max_topic in 0..300usize,
    ) {
        let mut b = vec![kind];
        b.extend_from_slice(&rest);
        if let Ok(m) = Rpc::decode(Bytes::from(b), max_topic) {
            // Whatever decodes, encodes to bytes that decode to it again.
            prop_assert_eq!(Rpc::decode(m.encode(), max_topic).unwrap(), m);
        }
    }
}
