//! IHAVE / IWANT: gossip to peers outside the mesh, asking for what we missed, answering
//! from the message cache.

use super::*;
use crate::message::MessageId;

/// D = 2, D_low = 1, D_high = 3, and gossip to 2 peers per topic.
fn gossiping() -> Harness {
    Harness::new(GossipsubConfig {
        mesh_n: 2,
        mesh_n_low: 1,
        mesh_n_high: 3,
        gossip_lazy: 2,
        ..GossipsubConfig::default()
    })
}

/// The peers sent IHAVE for `topic`, with its ids.
fn ihaves(out: &Out, topic: &str) -> Vec<(PeerId, Vec<MessageId>)> {
    out.sent
        .iter()
        .filter_map(|(p, r)| match r {
            Rpc::IHave { topic: t, ids } if t == topic => Some((*p, ids.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn the_heartbeat_gossips_to_d_lazy_peers_outside_the_mesh() {
    let mut h = gossiping();
    h.subscribe(T);
    let peers = h.connect_many(5, &[T]);
    let id = h
        .router
        .publish(h.now, &h.host, T, Bytes::from_static(b"x"))
        .unwrap();
    h.out();
    let mesh = h.mesh(T);
    let out = h.heartbeat();
    let got = ihaves(&out, T);
    assert_eq!(got.len(), 2, "D_lazy peers");
    for (p, ids) in &got {
        assert!(!mesh.contains(p) && peers.contains(p));
        assert_eq!(ids, &[id]);
    }
    // With D_lazy above their number, every peer outside the mesh and no mesh peer.
    h.router.config.gossip_lazy = 10;
    let outside: HashSet<PeerId> = peers
        .iter()
        .filter(|p| !mesh.contains(p))
        .copied()
        .collect();
    let got: HashSet<PeerId> = ihaves(&h.heartbeat(), T)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(got, outside);
    // Nothing new in the gossip windows (history_gossip = 3): the same ids once more, then
    // no IHAVE at all.
    assert_eq!(ihaves(&h.heartbeat(), T).len(), 3);
    assert!(ihaves(&h.heartbeat(), T).is_empty());
}

#[test]
fn gossip_is_the_first_thing_a_peer_falling_behind_does_not_get() {
    let mut h = gossiping();
    h.subscribe(T);
    h.connect_many(2, &[T]);
    let behind = h.connect(&[T]);
    assert!(!h.mesh(T).contains(&behind));
    h.host.loads.insert(behind, 0.5);
    let origin = Identity::generate();
    let msg = message(&origin, T, 1);
    let id = msg.id();
    let sender = *h.mesh(T).iter().next().unwrap();
    h.receive(sender, msg);
    let dropped = h.router.stats.dropped;
    let out = h.heartbeat();
    assert!(out.to(&behind).is_empty());
    assert_eq!(h.router.stats.dropped, dropped + 1);
    h.router.on_iwant(h.now, &h.host, behind, vec![id]);
    assert!(h.out().sent.is_empty());
    assert_eq!(h.router.stats.dropped, dropped + 2);
    // Below half full it gets them.
    h.host.loads.insert(behind, 0.4);
    h.router.on_iwant(h.now, &h.host, behind, vec![id]);
    assert_eq!(h.out().copies(), [behind]);
}

#[test]
fn iwant_is_answered_from_the_cache_a_limited_number_of_times() {
    let mut h = gossiping();
    h.subscribe(T);
    let p = h.connect(&[T]);
    let origin = Identity::generate();
    let msg = message(&origin, T, 1);
    let id = msg.id();
    h.receive(p, msg.clone());
    // gossip_retransmission = 3 per heartbeat; unknown ids are skipped.
    let unknown = MessageId([0xee; 40]);
    for n in 1..=4 {
        h.router.on_iwant(h.now, &h.host, p, vec![id, unknown]);
        let out = h.out();
        if n <= 3 {
            assert_eq!(out.to(&p), [&Rpc::Publish(msg.clone())], "ask {n}");
        } else {
            assert!(out.sent.is_empty(), "ask {n}");
        }
    }
    assert_eq!(h.router.stats.copies_sent, 3);
    h.heartbeat();
    h.router.on_iwant(h.now, &h.host, p, vec![id]);
    assert_eq!(h.out().copies(), [p], "the limit is per heartbeat");
    // history_length = 5: gone from the cache after five heartbeats.
    for _ in 0..4 {
        h.heartbeat();
    }
    h.router.on_iwant(h.now, &h.host, p, vec![id]);
    assert!(h.out().sent.is_empty());
}

#[test]
fn ihave_asks_once_for_unseen_ids_only() {
    let mut h = gossiping();
    h.subscribe(T);
    let p = h.connect(&[T]);
    let seen = message(&Identity::generate(), T, 1);
    let seen_id = seen.id();
    h.receive(p, seen);
    let (a, b) = (MessageId([1; 40]), MessageId([2; 40]));
    h.router
        .on_ihave(h.now, p, T.into(), vec![seen_id, a, a, b]);
    assert_eq!(h.out().to(&p), [&Rpc::IWant(vec![a, b])]);
    // Another topic's IHAVE is not ours to ask for.
    h.router
        .on_ihave(h.now, p, "other".into(), vec![MessageId([3; 40])]);
    assert!(h.out().sent.is_empty());
}
