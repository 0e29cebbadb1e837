//! Peer scoring and its thresholds: what a low score costs a peer.

use super::*;

#[test]
fn time_in_mesh_and_first_deliveries_raise_the_score() {
    let mut h = Harness::small();
    h.subscribe(T);
    let p = h.connect(&[T]);
    assert!(h.mesh(T).contains(&p));
    h.advance(secs(100));
    // P1: 0.01 per second in the mesh.
    assert!((h.score(&p) - 1.0).abs() < 1e-9, "{}", h.score(&p));
    let origin = Identity::generate();
    h.receive(p, message(&origin, T, 1));
    // P2: 1 per first delivery.
    assert!((h.score(&p) - 2.0).abs() < 1e-9, "{}", h.score(&p));
    // A duplicate is no first delivery.
    h.receive(p, message(&origin, T, 1));
    assert!((h.score(&p) - 2.0).abs() < 1e-9, "{}", h.score(&p));
}

#[test]
fn invalid_messages_lower_the_score_until_the_peer_is_graylisted() {
    let mut h = Harness::small();
    h.subscribe(T);
    let p = h.connect(&[T]);
    let mut last = h.score(&p);
    for n in 1..=2 {
        h.router.on_invalid(h.now, p, T, None);
        let s = h.score(&p);
        assert!(s < last, "invalid message {n}");
        last = s;
        assert!(!h.router.graylisted(h.now, &p));
    }
    // -10 × 3² = -90 < -80.
    h.router.on_invalid(h.now, p, T, None);
    assert!(h.router.graylisted(h.now, &p));
    assert_eq!(h.router.stats.rejected, 3);
    assert_eq!(h.router.stats.graylisted, 1);
    // A rejected message's id is remembered, so its copies are not checked again.
    let msg = message(&Identity::generate(), T, 1);
    let id = msg.id();
    h.router.on_invalid(h.now, p, T, Some(id));
    assert_eq!(h.router.screen(&msg), None);
}

#[test]
fn a_negative_peer_is_pruned_at_the_heartbeat_and_not_grafted_again() {
    let mut h = Harness::small();
    h.subscribe(T);
    let peers = h.connect_many(3, &[T]);
    let bad = peers[0];
    assert!(h.mesh(T).contains(&bad));
    h.router.on_invalid(h.now, bad, T, None);
    let spare = h.connect(&[T]);
    let out = h.heartbeat();
    // Told with a PRUNE without peers; 2 = D_low are left, so no one is grafted.
    assert_eq!(
        out.to(&bad),
        [&Rpc::Prune {
            topic: T.into(),
            backoff_secs: 60,
            peers: vec![],
        }]
    );
    assert!(!h.mesh(T).contains(&bad));
    assert!(out.grafted(T).is_empty());
    // Below D_low (and its backoff gone), the mesh is refilled, but never with it.
    h.router.mesh.get_mut(T).unwrap().remove(&peers[1]);
    h.router.backoff.clear();
    let grafted = h.heartbeat().grafted(T);
    assert_eq!(grafted, HashSet::from([spare, peers[1]]));
    assert!(!grafted.contains(&bad));
}

#[test]
fn a_negative_peer_s_graft_is_refused_without_peers_to_try() {
    let mut h = Harness::small();
    h.subscribe(T);
    let other = h.connect(&[T]);
    h.host
        .addrs
        .insert(other, vec!["tcp:127.0.0.1:7003".into()]);
    let bad = h.connect(&[T]);
    h.router.mesh.get_mut(T).unwrap().remove(&bad);
    h.router.on_invalid(h.now, bad, T, None);
    let out = h.graft_from(bad, T);
    assert_eq!(
        out.to(&bad),
        [&Rpc::Prune {
            topic: T.into(),
            backoff_secs: 60,
            peers: vec![],
        }]
    );
    assert!(!h.mesh(T).contains(&bad));
}

#[test]
fn our_messages_skip_peers_below_the_publish_threshold() {
    let mut h = Harness::small();
    h.subscribe(T);
    let good = h.connect(&[T]);
    let bad = h.connect(&[T]);
    // -10 × 3² = -90 < -50.
    for _ in 0..3 {
        h.router.on_invalid(h.now, bad, T, None);
    }
    h.router
        .publish(h.now, &h.host, T, Bytes::from_static(b"x"))
        .unwrap();
    assert_eq!(h.out().copies(), [good]);
}

#[test]
fn no_gossip_with_peers_below_the_gossip_threshold() {
    let mut h = Harness::small();
    h.subscribe(T);
    let bad = h.connect(&[T]);
    let origin = Identity::generate();
    let sender = h.connect(&[T]);
    let msg = message(&origin, T, 1);
    let id = msg.id();
    h.receive(sender, msg);
    // -10 × 2² = -40 < -10.
    h.router.score.invalid_message(bad, T);
    h.router.score.invalid_message(bad, T);
    h.router.mesh.get_mut(T).unwrap().remove(&bad);
    h.router.on_iwant(h.now, &h.host, bad, vec![id]);
    assert!(h.out().sent.is_empty(), "its IWANT is not answered");
    h.router.on_ihave(
        h.now,
        bad,
        T.into(),
        vec![crate::message::MessageId([0xee; 40])],
    );
    assert!(h.out().sent.is_empty(), "its IHAVE is not asked for");
    let out = h.heartbeat();
    assert!(out.to(&bad).is_empty(), "it gets no IHAVE");
}
