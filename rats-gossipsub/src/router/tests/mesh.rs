//! Mesh maintenance: joining, the heartbeat's D_low / D_high bounds, GRAFT and PRUNE.

use super::*;
use crate::router::Purpose;
use crate::wire::PxPeer;

#[test]
fn subscribing_grafts_d_of_the_topic_s_peers() {
    let mut h = Harness::small();
    let peers = h.connect_many(5, &[T]);
    let other = h.connect(&["other"]);
    let out = h.subscribe(T);
    // Every peer is told; D of the topic's peers are grafted, no one else.
    for p in peers.iter().chain([&other]) {
        assert!(
            out.to(p)
                .contains(&&Rpc::Subscriptions(vec![(true, T.into())]))
        );
    }
    let grafted = out.grafted(T);
    assert_eq!(grafted.len(), 3);
    assert!(grafted.iter().all(|p| peers.contains(p)));
    assert_eq!(h.mesh(T), grafted);
}

#[test]
fn heartbeat_grafts_up_to_d_only_below_d_low() {
    let mut h = Harness::small();
    h.subscribe(T);
    let peers = h.connect_many(6, &[T]);
    let mesh = h.mesh(T);
    assert_eq!(mesh.len(), 3, "joining peers fill the mesh to D");
    // One mesh peer leaves: 2 = D_low, nothing to do.
    let mut members = mesh.iter().copied();
    let gone = members.next().unwrap();
    h.router.peer_disconnected(h.now, &gone);
    h.out();
    assert!(h.heartbeat().grafted(T).is_empty());
    assert_eq!(h.mesh(T).len(), 2);
    // Another: 1 < D_low, grafted back up to D from peers outside the mesh.
    let gone2 = members.next().unwrap();
    h.router.peer_disconnected(h.now, &gone2);
    h.out();
    let before = h.mesh(T);
    let grafted = h.heartbeat().grafted(T);
    assert_eq!(grafted.len(), 2);
    assert!(grafted.is_disjoint(&before));
    assert!(
        grafted
            .iter()
            .all(|p| peers.contains(p) && *p != gone && *p != gone2)
    );
    assert_eq!(h.mesh(T).len(), 3);
}

#[test]
fn heartbeat_prunes_down_to_d_above_d_high_offering_other_peers() {
    let mut h = Harness::small();
    h.subscribe(T);
    let peers = h.connect_many(6, &[T]);
    for p in &peers {
        h.host.addrs.insert(*p, vec!["tcp:127.0.0.1:7000".into()]);
    }
    // Six in the mesh (> D_high = 4).
    h.router
        .mesh
        .insert(T.into(), peers.iter().copied().collect());
    let out = h.heartbeat();
    let pruned = out.pruned(T);
    assert_eq!(pruned.len(), 3, "trimmed to D");
    assert_eq!(h.mesh(T).len(), 3);
    assert!(h.mesh(T).is_disjoint(&pruned));
    for p in &pruned {
        let [
            Rpc::Prune {
                backoff_secs,
                peers: offered,
                ..
            },
        ] = out.to(p)[..]
        else {
            panic!("one PRUNE to {p:?}");
        };
        assert_eq!(*backoff_secs, 60);
        // The other five topic peers, never the pruned one itself.
        assert_eq!(offered.len(), 5);
        assert!(offered.iter().all(|x| x.peer != *p));
        assert!(h.router.in_backoff(T, p, h.now));
    }
}

#[test]
fn a_graft_to_a_full_mesh_is_refused_with_other_peers_to_try() {
    let mut h = Harness::small();
    h.subscribe(T);
    let members = h.connect_many(4, &[T]);
    // The fourth joins the mesh by grafting us (we stopped at D = 3).
    let fourth = members[3];
    assert!(!h.mesh(T).contains(&fourth));
    assert!(h.graft_from(fourth, T).sent.is_empty(), "accepted quietly");
    assert_eq!(h.mesh(T).len(), 4);
    h.host
        .addrs
        .insert(members[0], vec!["tcp:127.0.0.1:7001".into()]);
    let late = h.connect(&[T]);
    let out = h.graft_from(late, T);
    assert_eq!(
        out.to(&late),
        [&Rpc::Prune {
            topic: T.into(),
            backoff_secs: 60,
            peers: vec![PxPeer {
                peer: members[0],
                addrs: vec!["tcp:127.0.0.1:7001".into()],
            }],
        }]
    );
    assert!(!h.mesh(T).contains(&late));
}

#[test]
fn a_graft_for_a_topic_we_or_the_peer_do_not_have_is_refused() {
    let mut h = Harness::small();
    h.subscribe(T);
    let outsider = h.connect(&["other"]);
    let out = h.graft_from(outsider, T);
    assert_eq!(out.pruned(T), HashSet::from([outsider]));
    let member = h.connect(&["other"]);
    let out = h.graft_from(member, "other");
    assert_eq!(out.pruned("other"), HashSet::from([member]));
    assert!(!h.router.mesh.contains_key("other"));
}

#[test]
fn a_graft_that_cannot_be_sent_takes_the_peer_out_again() {
    let mut h = Harness::small();
    let slow = h.connect(&[T]);
    let fine = h.connect(&[T]);
    h.full.insert(slow);
    let out = h.subscribe(T);
    assert_eq!(out.grafted(T), HashSet::from([slow, fine]), "both tried");
    assert_eq!(h.mesh(T), HashSet::from([fine]));
    // Its subscription announcement and its GRAFT were refused.
    assert_eq!(h.router.stats.dropped, 2);
    assert!(h.router.refused.contains(&slow));
    // A control message that fails only counts as a drop.
    h.router
        .on_send_result(fine, Purpose::Control, SendOutcome::Failed);
    assert_eq!(h.mesh(T), HashSet::from([fine]));
    assert_eq!(h.router.stats.dropped, 3);
}

#[test]
fn a_peer_leaving_the_topic_leaves_the_mesh_and_is_reported() {
    let mut h = Harness::small();
    h.subscribe(T);
    let p = h.connect(&[T]);
    assert!(h.mesh(T).contains(&p));
    h.router.on_subscriptions(h.now, p, vec![(false, T.into())]);
    let out = h.out();
    assert!(!h.mesh(T).contains(&p));
    assert!(matches!(
        &out.events[..],
        [GossipEvent::PeerLeft { peer, topic }] if *peer == p && topic == T
    ));
    // A frame that joins and leaves again is no change at all.
    h.router
        .on_subscriptions(h.now, p, vec![(true, "x".into()), (false, "x".into())]);
    assert!(h.out().events.is_empty());
}

#[test]
fn unsubscribing_prunes_the_mesh_and_tells_every_peer() {
    let mut h = Harness::small();
    h.subscribe(T);
    let peers = h.connect_many(4, &[T]);
    let mesh = h.mesh(T);
    assert!(h.router.unsubscribe(h.now, T));
    let out = h.out();
    assert_eq!(out.pruned(T), mesh);
    for p in &peers {
        assert!(
            out.to(p)
                .contains(&&Rpc::Subscriptions(vec![(false, T.into())]))
        );
    }
    assert!(!h.router.mesh.contains_key(T));
    assert!(!h.router.unsubscribe(h.now, T));
}

#[test]
fn opportunistic_grafting_adds_better_peers_when_the_median_is_low() {
    let mut config = small_config();
    // First deliveries do not fade, so the better peers stay better.
    config.score.first_delivery_decay = 1.0;
    let mut h = Harness::new(config);
    h.subscribe(T);
    let poor = h.connect_many(2, &[T]);
    assert_eq!(h.mesh(T), poor.iter().copied().collect());
    let better = h.connect_many(3, &[T]);
    // Mesh of the two poor peers only (D_low = 2, so the heartbeat leaves it).
    for b in &better {
        h.router.mesh.get_mut(T).unwrap().remove(b);
        h.router.score.prune(*b, T);
        for _ in 0..5 {
            h.router.score.first_delivery(*b, T);
        }
    }
    for beat in 1..=60 {
        h.advance(secs(1));
        let grafted = h.heartbeat().grafted(T);
        if beat < 60 {
            assert!(grafted.is_empty(), "beat {beat}");
        } else {
            assert_eq!(grafted.len(), 2, "two per round");
            assert!(grafted.iter().all(|p| better.contains(p)));
        }
    }
    assert_eq!(h.mesh(T).len(), 4);
}
