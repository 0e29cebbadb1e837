//! Flood limits: what one peer can make us do per heartbeat (IHAVE taken, ids asked,
//! peers dialed from peer exchange), what we offer, how many topics we track for it, and
//! when a peer that cannot keep up is let go.

use super::*;
use crate::message::MessageId;
use crate::wire::{MAX_PX_ADDRS, MAX_PX_PEERS, PxPeer};

fn ids(from: u8, n: u8) -> Vec<MessageId> {
    (from..from + n).map(|i| MessageId([i; 40])).collect()
}

#[test]
fn ihave_messages_taken_per_peer_and_heartbeat_are_capped() {
    let mut h = Harness::new(GossipsubConfig {
        max_ihave_messages: 2,
        ..small_config()
    });
    h.subscribe(T);
    let p = h.connect(&[T]);
    for (n, id) in ids(1, 3).into_iter().enumerate() {
        h.router.on_ihave(h.now, p, T.into(), vec![id]);
        let want = if n < 2 {
            vec![Rpc::IWant(vec![id])]
        } else {
            vec![]
        };
        let out = h.out();
        let got: Vec<Rpc> = out.to(&p).into_iter().cloned().collect();
        assert_eq!(got, want, "IHAVE {}", n + 1);
    }
    // Another peer has its own allowance; the heartbeat renews both.
    let q = h.connect(&[T]);
    h.router.on_ihave(h.now, q, T.into(), ids(10, 1));
    assert_eq!(h.out().to(&q).len(), 1);
    h.heartbeat();
    h.router.on_ihave(h.now, p, T.into(), ids(20, 1));
    assert_eq!(h.out().to(&p).len(), 1);
}

#[test]
fn ids_asked_per_peer_and_heartbeat_are_capped() {
    let mut h = Harness::new(GossipsubConfig {
        max_iwant_ids: 3,
        ..small_config()
    });
    h.subscribe(T);
    let p = h.connect(&[T]);
    h.router.on_ihave(h.now, p, T.into(), ids(1, 5));
    assert_eq!(h.out().to(&p), [&Rpc::IWant(ids(1, 3))]);
    h.router.on_ihave(h.now, p, T.into(), ids(10, 2));
    assert!(h.out().sent.is_empty(), "no room left");
    h.heartbeat();
    h.router.on_ihave(h.now, p, T.into(), ids(10, 2));
    assert_eq!(h.out().to(&p), [&Rpc::IWant(ids(10, 2))]);
}

/// `n` offered peers, each with one dialable address.
fn offered(n: usize) -> Vec<PxPeer> {
    (0..n)
        .map(|i| PxPeer {
            peer: Identity::generate().peer_id(),
            addrs: vec![format!("tcp:127.0.0.1:{}", 7100 + i)],
        })
        .collect()
}

#[test]
fn peer_exchange_dials_a_limited_number_per_heartbeat() {
    let mut h = Harness::new(GossipsubConfig {
        px_connect_max: 3,
        ..small_config()
    });
    h.subscribe(T);
    let [a, b] = [h.connect(&[T]), h.connect(&[T])];
    let known = h.connect(&["other"]);
    let mut list = offered(4);
    // Ourselves, a connected peer and an address that does not parse are never dialed.
    list.insert(
        0,
        PxPeer {
            peer: h.router.local,
            addrs: vec!["tcp:127.0.0.1:7200".into()],
        },
    );
    list.insert(
        1,
        PxPeer {
            peer: known,
            addrs: vec!["tcp:127.0.0.1:7201".into()],
        },
    );
    list.insert(
        2,
        PxPeer {
            peer: Identity::generate().peer_id(),
            addrs: vec!["not an address".into()],
        },
    );
    h.router.on_prune(h.now, a, T.into(), 60, list);
    // Only the first px_connect_max entries of a list are looked at: none usable here...
    assert!(h.out().dials.is_empty());
    h.router.on_prune(h.now, b, T.into(), 60, offered(5));
    assert_eq!(
        h.out().dials.len(),
        3,
        "...so the next PRUNE may use all three"
    );
}

#[test]
fn peer_exchange_budget_is_shared_and_renewed_at_the_heartbeat() {
    let mut h = Harness::new(GossipsubConfig {
        px_connect_max: 3,
        ..small_config()
    });
    h.subscribe(T);
    let [a, b] = [h.connect(&[T]), h.connect(&[T])];
    h.router.on_prune(h.now, a, T.into(), 60, offered(2));
    assert_eq!(h.out().dials.len(), 2);
    h.router.on_prune(h.now, b, T.into(), 60, offered(5));
    assert_eq!(h.out().dials.len(), 1, "what is left of the budget");
    h.heartbeat();
    // Back in the mesh, so that a PRUNE from them counts again.
    h.router.mesh.get_mut(T).unwrap().extend([a, b]);
    h.router.on_prune(h.now, a, T.into(), 60, offered(5));
    assert_eq!(h.out().dials.len(), 3);
}

#[test]
fn peer_exchange_from_a_peer_below_the_threshold_is_not_used() {
    let mut h = Harness::new(GossipsubConfig {
        accept_px_threshold: 5.0,
        ..small_config()
    });
    h.subscribe(T);
    let p = h.connect(&[T]);
    h.router.on_prune(h.now, p, T.into(), 60, offered(2));
    assert!(h.out().dials.is_empty());
    let q = h.connect(&[T]);
    for _ in 0..5 {
        h.router.score.first_delivery(q, T);
    }
    h.router.on_prune(h.now, q, T.into(), 60, offered(2));
    assert_eq!(h.out().dials.len(), 2);
}

#[test]
fn a_prune_offers_at_most_prune_peers_with_at_most_four_addresses_each() {
    let mut h = Harness::new(GossipsubConfig {
        mesh_n: 1,
        mesh_n_low: 1,
        mesh_n_high: 1,
        prune_peers: 3,
        ..GossipsubConfig::default()
    });
    h.subscribe(T);
    let peers = h.connect_many(6, &[T]);
    for p in &peers {
        let addrs = (0..6)
            .map(|i| format!("tcp:127.0.0.1:{}", 7300 + i))
            .collect();
        h.host.addrs.insert(*p, addrs);
    }
    let late = h.connect(&[T]);
    let out = h.graft_from(late, T);
    let [Rpc::Prune { peers: px, .. }] = out.to(&late)[..] else {
        panic!("one PRUNE");
    };
    assert_eq!(px.len(), 3);
    assert!(px.iter().all(|x| x.addrs.len() == MAX_PX_ADDRS));
    // The configuration cannot raise the wire's limit.
    h.router.config.prune_peers = 100;
    let late2 = h.connect(&[T]);
    for _ in 0..20 {
        let p = h.connect(&[T]);
        h.host.addrs.insert(p, vec!["tcp:127.0.0.1:7400".into()]);
    }
    let out = h.graft_from(late2, T);
    let [Rpc::Prune { peers: px, .. }] = out.to(&late2)[..] else {
        panic!("one PRUNE");
    };
    assert_eq!(px.len(), MAX_PX_PEERS);
}

#[test]
fn a_peer_announces_at_most_max_peer_topics() {
    let mut h = Harness::new(GossipsubConfig {
        max_peer_topics: 2,
        ..small_config()
    });
    let p = h.connect(&[]);
    let subs = (0..5).map(|i| (true, format!("t{i}"))).collect();
    h.router.on_subscriptions(h.now, p, subs);
    let joined = h
        .out()
        .events
        .iter()
        .filter(|e| matches!(e, GossipEvent::PeerJoined { .. }))
        .count();
    assert_eq!(joined, 2);
    assert_eq!(h.router.peer_topics[&p].len(), 2);
}

#[test]
fn a_peer_whose_queue_refuses_copies_three_heartbeats_running_is_disconnected() {
    let mut h = Harness::small();
    h.subscribe(T);
    let slow = h.connect(&[T]);
    h.full.insert(slow);
    let publish = |h: &mut Harness| {
        h.router
            .publish(h.now, &h.host, T, Bytes::from_static(b"x"))
            .unwrap();
        h.out();
    };
    // Two heartbeats with refusals, one without: the count starts again.
    for _ in 0..2 {
        publish(&mut h);
        assert!(h.heartbeat().disconnects.is_empty());
    }
    assert!(h.heartbeat().disconnects.is_empty());
    for beat in 1..=3 {
        publish(&mut h);
        let out = h.heartbeat();
        if beat < 3 {
            assert!(out.disconnects.is_empty(), "beat {beat}");
        } else {
            assert_eq!(out.disconnects, [slow]);
        }
    }
    assert_eq!(h.router.stats.dropped, 5);
}
