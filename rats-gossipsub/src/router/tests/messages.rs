//! Messages: delivery once (the seen cache), forwarding, publishing (flood, mesh, fanout).

use super::*;
use crate::router::Purpose;
use crate::router::messages::PublishError;

#[test]
fn a_message_is_delivered_once_and_forwarded_to_the_mesh_but_its_sender_and_origin() {
    let mut h = Harness::new(GossipsubConfig {
        mesh_n: 4,
        mesh_n_low: 3,
        mesh_n_high: 6,
        ..GossipsubConfig::default()
    });
    h.subscribe(T);
    let origin_id = Identity::generate();
    let peers = h.connect_many(3, &[T]);
    // The origin itself is a mesh peer too.
    let origin = {
        let o = origin_id.peer_id();
        h.router.peer_connected(o);
        h.router.on_subscriptions(h.now, o, vec![(true, T.into())]);
        h.out();
        o
    };
    assert_eq!(h.mesh(T).len(), 4);
    let msg = message(&origin_id, T, 1);
    let out = h.receive(peers[0], msg.clone());
    let delivered = out.delivered();
    assert!(matches!(
        delivered[..],
        [GossipEvent::Message { via, origin: o, .. }] if *via == peers[0] && *o == origin
    ));
    let mut forwarded = out.copies();
    forwarded.sort();
    let mut want = vec![peers[1], peers[2]];
    want.sort();
    assert_eq!(forwarded, want);
    assert_eq!(h.router.stats.forwarded, 2);
    assert_eq!(h.router.stats.delivered, 1);
    // The copy from another peer is a duplicate: neither delivered nor forwarded.
    let out = h.receive(peers[1], msg.clone());
    assert!(out.events.is_empty() && out.sent.is_empty());
    assert_eq!(h.router.stats.duplicates, 1);
    // And screening stops a third copy before its signature is checked.
    assert_eq!(h.router.screen(&msg), None);
    assert_eq!(h.router.stats.duplicates, 2);
}

#[test]
fn screening_lets_through_only_new_messages_of_our_topics_from_others() {
    let mut h = Harness::small();
    h.subscribe(T);
    let other = Identity::generate();
    let fresh = message(&other, T, 1);
    assert_eq!(h.router.screen(&fresh), Some(fresh.id()));
    assert_eq!(h.router.screen(&message(&other, "other", 1)), None);
    assert_eq!(h.router.screen(&message(&h.host.identity, T, 1)), None);
    // Screening remembers nothing.
    assert_eq!(h.router.screen(&fresh), Some(fresh.id()));
    assert_eq!(h.router.stats.duplicates, 0);
}

#[test]
fn seen_ids_are_forgotten_after_seen_ttl() {
    let mut h = Harness::new(GossipsubConfig {
        seen_ttl_secs: 10,
        ..small_config()
    });
    h.subscribe(T);
    let p = h.connect(&[T]);
    let msg = message(&Identity::generate(), T, 1);
    assert_eq!(h.receive(p, msg.clone()).delivered().len(), 1);
    h.advance(secs(9));
    h.heartbeat();
    assert!(h.receive(p, msg.clone()).delivered().is_empty());
    h.advance(secs(1));
    h.heartbeat();
    assert_eq!(h.receive(p, msg).delivered().len(), 1);
}

#[test]
fn flood_publishing_sends_to_every_topic_peer() {
    let mut h = Harness::small();
    h.subscribe(T);
    let peers = h.connect_many(6, &[T]);
    h.connect(&["other"]);
    let id = h
        .router
        .publish(h.now, &h.host, T, Bytes::from_static(b"x"))
        .unwrap();
    let out = h.out();
    let mut got = out.copies();
    got.sort();
    let mut want = peers.clone();
    want.sort();
    assert_eq!(got, want, "all six, not only the mesh of three");
    assert_eq!(h.router.stats.copies_sent, 6);
    assert_eq!(h.router.stats.published, 1);
    let Rpc::Publish(sent) = out.to(&peers[0])[0] else {
        panic!("a copy");
    };
    assert_eq!(sent.id(), id);
    assert!(sent.verify(), "signed with our key");
    // Our own message coming back is not delivered to us.
    assert!(h.receive(peers[0], sent.clone()).events.is_empty());
}

#[test]
fn without_flood_publishing_a_subscribed_topic_goes_to_the_mesh() {
    let mut h = Harness::new(GossipsubConfig {
        flood_publish: false,
        ..small_config()
    });
    h.subscribe(T);
    h.connect_many(6, &[T]);
    h.router
        .publish(h.now, &h.host, T, Bytes::from_static(b"x"))
        .unwrap();
    let got: HashSet<PeerId> = h.out().copies().into_iter().collect();
    assert_eq!(got, h.mesh(T));
}

#[test]
fn a_fanout_serves_a_topic_we_publish_to_and_expires_after_its_ttl() {
    let mut h = Harness::new(GossipsubConfig {
        flood_publish: false,
        fanout_ttl_secs: 60,
        ..small_config()
    });
    let peers = h.connect_many(5, &["f"]);
    let publish = |h: &mut Harness| {
        h.router
            .publish(h.now, &h.host, "f", Bytes::from_static(b"x"))
            .unwrap();
        h.out().copies().into_iter().collect::<HashSet<PeerId>>()
    };
    let first = publish(&mut h);
    assert_eq!(first.len(), 3, "D peers");
    assert!(first.iter().all(|p| peers.contains(p)));
    // The same peers while we keep publishing.
    h.advance(secs(30));
    assert_eq!(publish(&mut h), first);
    h.advance(secs(59));
    h.heartbeat();
    assert_eq!(h.router.fanout["f"].0, first);
    // 60 s after the last publish, forgotten.
    h.advance(secs(1));
    h.heartbeat();
    assert!(h.router.fanout.is_empty());
    // Subscribing takes the fanout's peers into the mesh first.
    publish(&mut h);
    let fanout = h.router.fanout["f"].0.clone();
    let out = h.subscribe("f");
    assert_eq!(out.grafted("f"), fanout);
    assert!(h.router.fanout.is_empty());
}

#[test]
fn a_peer_leaving_leaves_the_fanout() {
    let mut h = Harness::new(GossipsubConfig {
        flood_publish: false,
        ..small_config()
    });
    let peers = h.connect_many(2, &["f"]);
    h.router
        .publish(h.now, &h.host, "f", Bytes::from_static(b"x"))
        .unwrap();
    h.out();
    h.router.peer_disconnected(h.now, &peers[0]);
    let out = h.out();
    assert!(matches!(
        &out.events[..],
        [GossipEvent::PeerLeft { peer, .. }] if *peer == peers[0]
    ));
    assert_eq!(h.router.fanout["f"].0, HashSet::from([peers[1]]));
}

#[test]
fn publishing_refuses_what_breaks_the_limits() {
    let mut h = Harness::new(GossipsubConfig {
        max_message_size: 4,
        max_topic_len: 3,
        ..small_config()
    });
    let big = h
        .router
        .publish(h.now, &h.host, T, Bytes::from_static(b"12345"));
    assert!(matches!(
        big,
        Err(PublishError::TooLarge { size: 5, max: 4 })
    ));
    let long = h
        .router
        .publish(h.now, &h.host, "long", Bytes::from_static(b"1"));
    assert!(matches!(long, Err(PublishError::BadTopic)));
    assert_eq!(h.router.stats.published, 0);
    assert_eq!(h.router.seqno, 0, "no sequence number used");
}

#[test]
fn copies_count_once_sent_and_drops_once_refused() {
    let mut h = Harness::small();
    let p = Identity::generate().peer_id();
    let copy = Purpose::Copy { forwarded: true };
    h.router.on_send_result(p, copy.clone(), SendOutcome::Sent);
    h.router
        .on_send_result(p, copy.clone(), SendOutcome::Failed);
    let s = &h.router.stats;
    assert_eq!((s.copies_sent, s.forwarded, s.dropped), (1, 1, 1));
    assert!(h.router.refused.is_empty(), "a gone peer is no slow peer");
    h.router.on_send_result(p, copy, SendOutcome::QueueFull);
    assert!(h.router.refused.contains(&p));
}
