//! Publish/subscribe between real nodes on loopback.

use std::sync::Arc;
use std::time::Duration;

use counts::Counts;
use rats::RatsClient;
use rats_core::{Event, PeerId};
use rats_gossipsub::{GossipEvent, GossipsubService};
use rats_tests::{addr_of, client_with, wait_until};

mod counts {
    //! Delivery counts per node, filled from the event bus.
    use std::collections::HashMap;
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct Counts(Mutex<HashMap<(usize, Vec<u8>), usize>>);

    impl Counts {
        pub fn add(&self, node: usize, data: Vec<u8>) {
            if let Ok(mut m) = self.0.lock() {
                *m.entry((node, data)).or_insert(0) += 1;
            }
        }
        pub fn get(&self, node: usize, data: &[u8]) -> usize {
            self.0
                .lock()
                .map(|m| m.get(&(node, data.to_vec())).copied().unwrap_or(0))
                .unwrap_or(0)
        }
    }
}

async fn gossip_node() -> RatsClient {
    client_with(|c| {
        c.plugins
            .insert("gossipsub".into(), serde_json::json!({"heartbeat_ms": 100}));
        // Only the links the test makes.
        c.peer_exchange = false;
    })
    .await
}

fn gossip(c: &RatsClient) -> Arc<GossipsubService> {
    c.gossip().expect("gossipsub linked")
}

/// Counts every topic message each node receives.
fn record(nodes: &[RatsClient], counts: &Arc<Counts>) {
    for (i, n) in nodes.iter().enumerate() {
        let mut events = n.events();
        let counts = counts.clone();
        tokio::spawn(async move {
            while let Some(Ok(e)) = events.recv().await {
                if let Event::Service { service, event } = &e
                    && *service == rats_gossipsub::SERVICE_NAME
                    && let Some(GossipEvent::Message { data, .. }) = event.downcast_ref()
                {
                    counts.add(i, data.to_vec());
                }
            }
        });
    }
}

/// Three nodes subscribed to "t" in a line A-B-C, `middle` applied to B before linking; waits
/// until B has both neighbours in its mesh and A knows B. Delivery counts are recorded.
async fn line_of_three(middle: impl FnOnce(&GossipsubService)) -> (Vec<RatsClient>, Arc<Counts>) {
    let nodes = vec![
        gossip_node().await,
        gossip_node().await,
        gossip_node().await,
    ];
    for n in &nodes {
        gossip(n).subscribe("t").unwrap();
    }
    middle(&gossip(&nodes[1]));
    link(&nodes[0], &nodes[1]).await;
    link(&nodes[1], &nodes[2]).await;
    let b_id = nodes[1].local_peer_id();
    wait_until(10, "line meshes", || {
        gossip(&nodes[1]).topic_mesh_peers("t").len() == 2
            && gossip(&nodes[0]).topic_peers("t").contains(&b_id)
    })
    .await;
    let counts = Arc::new(Counts::default());
    record(&nodes, &counts);
    (nodes, counts)
}

async fn link(a: &RatsClient, b: &RatsClient) -> PeerId {
    let id = a.connect(&addr_of(b)).await.expect("connect");
    let a_id = a.local_peer_id();
    wait_until(5, "both sides connected", || b.node().is_connected(&a_id)).await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_before_or_after_connecting_both_deliver() {
    for subscribe_first in [true, false] {
        let nodes = vec![gossip_node().await, gossip_node().await];
        let counts = Arc::new(Counts::default());
        record(&nodes, &counts);
        if subscribe_first {
            gossip(&nodes[0]).subscribe("t").unwrap();
            gossip(&nodes[1]).subscribe("t").unwrap();
            link(&nodes[0], &nodes[1]).await;
        } else {
            link(&nodes[0], &nodes[1]).await;
            gossip(&nodes[0]).subscribe("t").unwrap();
            gossip(&nodes[1]).subscribe("t").unwrap();
        }
        let b_id = nodes[1].local_peer_id();
        wait_until(5, "a knows b subscribes", || {
            gossip(&nodes[0]).topic_peers("t").contains(&b_id)
        })
        .await;
        gossip(&nodes[0]).publish("t", b"hello".to_vec()).unwrap();
        wait_until(5, "b receives", || counts.get(1, b"hello") == 1).await;
        // The publisher does not deliver to itself.
        assert_eq!(counts.get(0, b"hello"), 0);
        for n in &nodes {
            n.shutdown().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_crosses_a_line_of_five_exactly_once() {
    let mut nodes = Vec::new();
    for _ in 0..5 {
        nodes.push(gossip_node().await);
    }
    for n in &nodes {
        gossip(n).subscribe("line").unwrap();
    }
    for i in 0..4 {
        link(&nodes[i], &nodes[i + 1]).await;
    }
    // Every inner node has its two neighbours in its mesh (the heartbeat grafts them).
    wait_until(10, "meshes formed", || {
        (1..4).all(|i| gossip(&nodes[i]).topic_mesh_peers("line").len() == 2)
    })
    .await;
    let counts = Arc::new(Counts::default());
    record(&nodes, &counts);
    gossip(&nodes[0])
        .publish("line", b"end to end".to_vec())
        .unwrap();
    wait_until(10, "E receives", || counts.get(4, b"end to end") == 1).await;
    // A duplicate would be a copy sent again over one of the line's links while its sender
    // handled the message. Later messages from both ends cross every link in both directions
    // after that, in order: once they have arrived everywhere, any duplicate has too.
    gossip(&nodes[0])
        .publish("line", b"from A".to_vec())
        .unwrap();
    gossip(&nodes[4])
        .publish("line", b"from E".to_vec())
        .unwrap();
    wait_until(10, "both markers everywhere", || {
        (1..5).all(|i| counts.get(i, b"from A") == 1)
            && (0..4).all(|i| counts.get(i, b"from E") == 1)
    })
    .await;
    for i in 1..5 {
        assert_eq!(counts.get(i, b"end to end"), 1, "node {i} got it once");
    }
    for n in &nodes {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_random_graph_every_subscriber_gets_every_message_once() {
    const N: usize = 30;
    let mut nodes = Vec::new();
    for _ in 0..N {
        nodes.push(gossip_node().await);
    }
    for n in &nodes {
        gossip(n).subscribe("room").unwrap();
    }
    // A ring (connected) plus random chords.
    let mut edges = std::collections::HashSet::new();
    for i in 0..N {
        edges.insert((i, (i + 1) % N));
    }
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..N * 2 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let (a, b) = ((rng % N as u64) as usize, ((rng >> 20) % N as u64) as usize);
        if a != b && !edges.contains(&(b, a)) {
            edges.insert((a, b));
        }
    }
    for &(a, b) in &edges {
        link(&nodes[a], &nodes[b]).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let counts = Arc::new(Counts::default());
    record(&nodes, &counts);
    let mut sent = Vec::new();
    for k in 0..20 {
        let from = (k * 7) % N;
        let data = format!("message {k}").into_bytes();
        gossip(&nodes[from]).publish("room", data.clone()).unwrap();
        sent.push((from, data));
    }
    wait_until(20, "every message everywhere", || {
        sent.iter()
            .all(|(from, d)| (0..N).all(|i| i == *from || counts.get(i, d) >= 1))
    })
    .await;
    // Every node has handled every message, so any duplicate it sends is on its links already.
    // Now each publishes a marker (flooded to all its peers, forwarded along the mesh like the
    // messages): a link delivers in order, so once every marker arrived everywhere, a
    // duplicate sent over any link has arrived before it.
    for (i, n) in nodes.iter().enumerate() {
        gossip(n)
            .publish("room", format!("marker {i}").into_bytes())
            .unwrap();
    }
    wait_until(20, "every marker everywhere", || {
        (0..N).all(|from| {
            let d = format!("marker {from}").into_bytes();
            (0..N).all(|i| i == from || counts.get(i, &d) >= 1)
        })
    })
    .await;
    for (from, d) in &sent {
        for i in 0..N {
            let expected = usize::from(i != *from);
            assert_eq!(
                counts.get(i, d),
                expected,
                "node {i}, {:?}",
                String::from_utf8_lossy(d)
            );
        }
    }
    for n in &nodes {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribing_prunes_and_leaves_the_mesh() {
    let a = gossip_node().await;
    let b = gossip_node().await;
    gossip(&a).subscribe("t").unwrap();
    gossip(&b).subscribe("t").unwrap();
    link(&a, &b).await;
    let (a_id, b_id) = (a.local_peer_id(), b.local_peer_id());
    wait_until(5, "mesh both ways", || {
        gossip(&a).topic_mesh_peers("t").contains(&b_id)
            && gossip(&b).topic_mesh_peers("t").contains(&a_id)
    })
    .await;
    assert!(gossip(&b).unsubscribe("t").unwrap());
    wait_until(5, "a drops b from its mesh and its topic peers", || {
        !gossip(&a).topic_mesh_peers("t").contains(&b_id)
            && !gossip(&a).topic_peers("t").contains(&b_id)
    })
    .await;
    assert!(!gossip(&b).is_subscribed("t"));
    assert!(gossip(&b).topic_mesh_peers("t").is_empty());
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_origin_is_refused_and_not_forwarded() {
    use rats_core::frame::put_whole;
    use rats_gossipsub::SignedMessage;
    use rats_gossipsub::wire::{CHANNEL, Rpc};

    let victim = gossip_node().await;
    let other = gossip_node().await;
    let third = gossip_node().await;
    for n in [&victim, &other, &third] {
        gossip(n).subscribe("t").unwrap();
    }
    link(&victim, &other).await;
    link(&victim, &third).await;
    let third_id = third.local_peer_id();
    wait_until(10, "third in the victim's mesh", || {
        gossip(&victim).topic_mesh_peers("t").contains(&third_id)
    })
    .await;
    let counts = Arc::new(Counts::default());
    record(&[victim.clone(), other.clone(), third.clone()], &counts);
    let (hostile, mut conn) = rats_tests::raw_noise_client(
        &victim.listen_addrs()[0],
        &rats_core::ProtocolId::new("rats", "1.0"),
    )
    .await;
    let hostile_id = hostile.peer_id();
    wait_until(5, "hostile peer registered", || {
        victim.node().is_connected(&hostile_id)
    })
    .await;
    // Claims to be `other`, signed with the hostile key.
    let claimed = other.local_peer_id();
    let data = b"forged".to_vec();
    let signature = hostile.sign(&rats_gossipsub::signing_bytes("t", &claimed, 1, &data));
    let forged = Rpc::Publish(SignedMessage {
        from: claimed,
        seqno: 1,
        topic: "t".into(),
        data: data.clone().into(),
        signature,
    });
    let mut frame = bytes::BytesMut::new();
    put_whole(&mut frame, CHANNEL, &[], &forged.encode());
    conn.writer.write(&[&frame]).await.expect("write");
    wait_until(5, "refused", || gossip(&victim).stats().rejected == 1).await;
    // A genuine message still gets through, the forged one never does.
    gossip(&other).publish("t", b"genuine".to_vec()).unwrap();
    wait_until(5, "genuine delivered", || counts.get(0, b"genuine") == 1).await;
    wait_until(5, "genuine forwarded to the third", || {
        counts.get(2, b"genuine") == 1
    })
    .await;
    assert_eq!(counts.get(0, b"forged"), 0);
    assert_eq!(counts.get(2, b"forged"), 0, "not forwarded");
    assert!(victim.node().is_connected(&hostile_id));
    victim.shutdown().await;
    other.shutdown().await;
    third.shutdown().await;
}

/// A hand-driven peer: reads and writes gossipsub messages on a raw Noise connection.
struct RawPeer {
    id: rats_core::Identity,
    conn: rats_core::encryption::SecureConnection,
    pending: bytes::BytesMut,
}

impl RawPeer {
    async fn connect(node: &RatsClient) -> RawPeer {
        let (id, conn) = rats_tests::raw_noise_client(
            &node.listen_addrs()[0],
            &rats_core::ProtocolId::new("rats", "1.0"),
        )
        .await;
        let peer = id.peer_id();
        wait_until(5, "raw peer registered", || node.node().is_connected(&peer)).await;
        RawPeer {
            id,
            conn,
            pending: bytes::BytesMut::new(),
        }
    }

    async fn send(&mut self, rpc: &rats_gossipsub::wire::Rpc) {
        let mut frame = bytes::BytesMut::new();
        rats_core::frame::put_whole(
            &mut frame,
            rats_gossipsub::wire::CHANNEL,
            &[],
            &rpc.encode(),
        );
        self.conn.writer.write(&[&frame]).await.expect("write");
    }

    /// The next gossipsub message matching `pick`, within 10 s.
    async fn next<T>(&mut self, mut pick: impl FnMut(rats_gossipsub::wire::Rpc) -> Option<T>) -> T {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let (channel, payload) =
                    rats_tests::next_raw_frame(&mut self.conn, &mut self.pending)
                        .await
                        .expect("node closed the connection");
                if channel == rats_gossipsub::wire::CHANNEL
                    && let Ok(rpc) = rats_gossipsub::wire::Rpc::decode(payload, 256)
                    && let Some(t) = pick(rpc)
                {
                    return t;
                }
            }
        })
        .await
        .expect("a gossipsub message in time")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_outside_the_mesh_gets_missed_messages_through_ihave_and_iwant() {
    use rats_gossipsub::wire::Rpc;
    let a = gossip_node().await;
    let p = gossip_node().await;
    gossip(&a).subscribe("t").unwrap();
    gossip(&p).subscribe("t").unwrap();
    let mut h = RawPeer::connect(&a).await;
    h.send(&Rpc::Subscriptions(vec![(true, "t".into())])).await;
    // A grafts the raw peer; it refuses, so it is a topic peer outside A's mesh.
    h.next(|r| matches!(r, Rpc::Graft(_)).then_some(())).await;
    h.send(&Rpc::Prune {
        topic: "t".into(),
        backoff_secs: 60,
        peers: vec![],
    })
    .await;
    let h_id = h.id.peer_id();
    wait_until(5, "raw peer out of A's mesh", || {
        !gossip(&a).topic_mesh_peers("t").contains(&h_id)
    })
    .await;
    link(&p, &a).await;
    let a_id = a.local_peer_id();
    wait_until(5, "p knows a subscribes", || {
        gossip(&p).topic_peers("t").contains(&a_id)
    })
    .await;
    let id = gossip(&p).publish("t", b"missed".to_vec()).unwrap();
    // Not forwarded to the raw peer (not in the mesh): it only hears of it at a heartbeat.
    let advertised = h
        .next(|r| match r {
            Rpc::Publish(m) => panic!("pushed to a non-mesh peer: {m:?}"),
            Rpc::IHave { ids, .. } if ids.contains(&id) => Some(ids),
            _ => None,
        })
        .await;
    assert!(advertised.contains(&id));
    h.send(&Rpc::IWant(vec![id])).await;
    let got = h
        .next(|r| match r {
            Rpc::Publish(m) if m.id() == id => Some(m),
            _ => None,
        })
        .await;
    assert_eq!(&got.data[..], b"missed");
    assert!(got.verify(), "the origin's signature travels with it");
    a.shutdown().await;
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_message_is_not_forwarded_and_counts_against_its_sender() {
    // The middle node's validator refuses anything containing "bad", ignores "meh".
    let (nodes, counts) = line_of_three(|g| {
        g.set_validator("t", |_origin, _via, data| {
            if data.windows(3).any(|w| w == b"bad") {
                rats_gossipsub::Validation::Reject
            } else if data == b"meh" {
                rats_gossipsub::Validation::Ignore
            } else {
                rats_gossipsub::Validation::Accept
            }
        })
    })
    .await;
    for data in [&b"a bad one"[..], b"meh", b"good"] {
        gossip(&nodes[0]).publish("t", data.to_vec()).unwrap();
    }
    // "good" was published last: B validated, delivered and forwarded it after the other two,
    // over the same link to C, so a wrongly delivered or forwarded one has arrived by now.
    wait_until(10, "the good one crosses", || {
        counts.get(1, b"good") == 1 && counts.get(2, b"good") == 1
    })
    .await;
    for data in [&b"a bad one"[..], b"meh"] {
        assert_eq!(counts.get(1, data), 0, "not delivered at the validator");
        assert_eq!(counts.get(2, data), 0, "not forwarded");
    }
    let stats = gossip(&nodes[1]).stats();
    assert_eq!((stats.rejected, stats.ignored), (1, 1));
    let a_id = nodes[0].local_peer_id();
    assert!(
        gossip(&nodes[1]).peer_score(&a_id) < 0.0,
        "a rejected message lowers the sender's score: {}",
        gossip(&nodes[1]).peer_score(&a_id)
    );
    for n in &nodes {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_without_subscribing_uses_a_fanout_that_expires() {
    let publisher = client_with(|c| {
        c.plugins.insert(
            "gossipsub".into(),
            serde_json::json!({"heartbeat_ms": 100, "flood_publish": false, "fanout_ttl_secs": 1}),
        );
        c.peer_exchange = false;
    })
    .await;
    let reader = gossip_node().await;
    gossip(&reader).subscribe("news").unwrap();
    link(&publisher, &reader).await;
    let r_id = reader.local_peer_id();
    wait_until(5, "publisher knows the reader", || {
        gossip(&publisher).topic_peers("news").contains(&r_id)
    })
    .await;
    let counts = Arc::new(Counts::default());
    record(std::slice::from_ref(&reader), &counts);
    gossip(&publisher)
        .publish("news", b"extra".to_vec())
        .unwrap();
    assert_eq!(gossip(&publisher).topic_fanout_peers("news"), vec![r_id]);
    wait_until(5, "delivered through the fanout", || {
        counts.get(0, b"extra") == 1
    })
    .await;
    assert!(!gossip(&publisher).is_subscribed("news"));
    wait_until(5, "the fanout expires after its TTL", || {
        gossip(&publisher).topic_fanout_peers("news").is_empty()
    })
    .await;
    publisher.shutdown().await;
    reader.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesh_sizes_stay_within_bounds_through_churn() {
    const N: usize = 16;
    let mut nodes = Vec::new();
    for _ in 0..N {
        let n = gossip_node().await;
        gossip(&n).subscribe("churn").unwrap();
        nodes.push(n);
    }
    // Every node dials the next 7 (mod N): 14 neighbours each.
    for i in 0..N {
        for k in 1..=7 {
            link(&nodes[i], &nodes[(i + k) % N]).await;
        }
    }
    let within = |nodes: &[RatsClient]| {
        nodes.iter().all(|n| {
            let g = gossip(n);
            let mesh = g.topic_mesh_peers("churn").len();
            let peers = g.topic_peers("churn").len();
            // D_low..D_high, or all topic peers when there are fewer than D_low.
            (5..=12).contains(&mesh) || (peers < 5 && mesh == peers)
        })
    };
    wait_until(10, "meshes within D_low..D_high", || within(&nodes)).await;
    // Five leave, five new ones join, each dialing six of the remaining.
    for n in nodes.drain(..5) {
        n.shutdown().await;
    }
    for k in 0..5 {
        let n = gossip_node().await;
        gossip(&n).subscribe("churn").unwrap();
        for j in 0..6 {
            let target = (k * 2 + j) % nodes.len();
            link(&n, &nodes[target]).await;
        }
        nodes.push(n);
    }
    wait_until(10, "meshes back within D_low..D_high", || within(&nodes)).await;
    // And the survivors still route: a message reaches every node.
    let counts = Arc::new(Counts::default());
    record(&nodes, &counts);
    gossip(&nodes[0])
        .publish("churn", b"after churn".to_vec())
        .unwrap();
    wait_until(10, "everyone receives", || {
        (1..nodes.len()).all(|i| counts.get(i, b"after churn") == 1)
    })
    .await;
    for n in &nodes {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_sending_invalid_messages_ends_graylisted_and_ignored() {
    use rats_gossipsub::wire::Rpc;
    use rats_gossipsub::{SignedMessage, signing_bytes};
    // No decay during the test: three invalid messages stay three.
    let victim = client_with(|c| {
        c.plugins.insert(
            "gossipsub".into(),
            serde_json::json!({"heartbeat_ms": 100, "score": {"invalid_decay": 1.0}}),
        );
        c.peer_exchange = false;
    })
    .await;
    gossip(&victim).subscribe("t").unwrap();
    let counts = Arc::new(Counts::default());
    record(std::slice::from_ref(&victim), &counts);
    let mut h = RawPeer::connect(&victim).await;
    let h_id = h.id.peer_id();
    // A well-behaved peer, for a marker message at the end.
    let mut fine = RawPeer::connect(&victim).await;
    let someone = rats_core::Identity::generate().peer_id();
    let message = |from: PeerId, seqno: u64, data: &[u8], key: &rats_core::Identity| {
        Rpc::Publish(SignedMessage {
            from,
            seqno,
            topic: "t".into(),
            data: data.to_vec().into(),
            signature: key.sign(&signing_bytes("t", &from, seqno, data)),
        })
    };
    // One forged origin: refused, and the score drops.
    h.send(&message(someone, 1, b"forged", &h.id)).await;
    wait_until(5, "first refusal", || gossip(&victim).stats().rejected == 1).await;
    assert!(gossip(&victim).peer_score(&h_id) < 0.0);
    // More of them: below the graylist threshold.
    for seqno in 2..=3 {
        h.send(&message(someone, seqno, b"forged", &h.id)).await;
    }
    wait_until(5, "all refused", || gossip(&victim).stats().rejected == 3).await;
    let threshold = rats_gossipsub::ScoreConfig::default().graylist_threshold;
    assert!(gossip(&victim).peer_score(&h_id) < threshold);
    // Now even a genuine message of its own is ignored.
    let genuine = message(h_id, 5, b"genuine but graylisted", &h.id);
    h.send(&genuine).await;
    wait_until(5, "ignored", || gossip(&victim).stats().graylisted >= 1).await;
    // The victim has handled the graylisted message; a message from a peer in good standing
    // sent now is delivered after it would have been (the bus keeps order).
    let fine_id = fine.id.peer_id();
    fine.send(&message(fine_id, 1, b"marker", &fine.id)).await;
    wait_until(5, "the marker arrives", || counts.get(0, b"marker") == 1).await;
    assert_eq!(counts.get(0, b"genuine but graylisted"), 0);
    victim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_cannot_keep_up_is_disconnected() {
    use rats_gossipsub::wire::Rpc;
    let node = client_with(|c| {
        c.send_queue_bytes = 64 * 1024;
        c.plugins
            .insert("gossipsub".into(), serde_json::json!({"heartbeat_ms": 100}));
    })
    .await;
    gossip(&node).subscribe("t").unwrap();
    let mut slow = RawPeer::connect(&node).await;
    let slow_id = slow.id.peer_id();
    slow.send(&Rpc::Subscriptions(vec![(true, "t".into())]))
        .await;
    wait_until(5, "the slow peer's subscription is known", || {
        gossip(&node).topic_peers("t").contains(&slow_id)
    })
    .await;
    let mut events = node.events();
    // The slow peer never reads: its queue fills, copies are refused, it is cut off.
    let payload = vec![0x55u8; 60 * 1024];
    let publisher = gossip(&node);
    let flood = tokio::spawn(async move {
        for _ in 0..2000 {
            let _ = publisher.publish("t", payload.clone());
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    let reason = rats_tests::next_matching(&mut events, 30, |e| match e {
        Event::PeerDisconnected { peer, reason } if *peer == slow_id => Some(reason.clone()),
        _ => None,
    })
    .await;
    flood.abort();
    assert_eq!(reason, rats::DisconnectReason::SlowPeer);
    assert!(gossip(&node).stats().dropped > 0);
    drop(slow);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asynchronous_validator_decides_before_forwarding() {
    let (nodes, counts) = line_of_three(|g| {
        g.set_async_validator("t", |_origin, _via, data| async move {
            // A slow check (a lookup elsewhere, say).
            tokio::time::sleep(Duration::from_millis(50)).await;
            if &data[..] == b"ok" {
                rats_gossipsub::Validation::Accept
            } else {
                rats_gossipsub::Validation::Reject
            }
        })
    })
    .await;
    gossip(&nodes[0]).publish("t", b"no".to_vec()).unwrap();
    gossip(&nodes[0]).publish("t", b"ok".to_vec()).unwrap();
    wait_until(10, "the accepted one crosses", || counts.get(2, b"ok") == 1).await;
    assert_eq!(counts.get(1, b"ok"), 1);
    // Validations run concurrently, so "no" may be decided after "ok". Once it is decided,
    // a later message passes B and reaches C after anything B did with "no".
    wait_until(10, "B decided on \"no\"", || {
        gossip(&nodes[1]).stats().rejected == 1
    })
    .await;
    gossip(&nodes[0]).publish("t", b"ok".to_vec()).unwrap();
    wait_until(10, "a later one crosses", || counts.get(2, b"ok") == 2).await;
    assert_eq!(counts.get(1, b"no"), 0);
    assert_eq!(counts.get(2, b"no"), 0);
    assert_eq!(gossip(&nodes[1]).stats().rejected, 1);
    for n in &nodes {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_mesh_prunes_with_other_peers_to_try() {
    // The hub takes at most two mesh peers; a third that grafts is pruned with a list of the
    // hub's other topic peers, and connects to them (peer exchange is off otherwise).
    let hub = client_with(|c| {
        c.plugins.insert(
            "gossipsub".into(),
            serde_json::json!({"heartbeat_ms": 100, "mesh_n": 1, "mesh_n_low": 1, "mesh_n_high": 2}),
        );
        c.peer_exchange = false;
    })
    .await;
    let others = vec![gossip_node().await, gossip_node().await];
    gossip(&hub).subscribe("t").unwrap();
    for o in &others {
        gossip(o).subscribe("t").unwrap();
        link(o, &hub).await;
    }
    wait_until(5, "hub mesh full", || {
        gossip(&hub).topic_mesh_peers("t").len() == 2
    })
    .await;
    let newcomer = gossip_node().await;
    gossip(&newcomer).subscribe("t").unwrap();
    link(&newcomer, &hub).await;
    let ids: Vec<PeerId> = others.iter().map(RatsClient::local_peer_id).collect();
    wait_until(
        10,
        "the newcomer connects to a peer the hub offered",
        || ids.iter().any(|id| newcomer.node().is_connected(id)),
    )
    .await;
    hub.shutdown().await;
    newcomer.shutdown().await;
    for o in &others {
        o.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_content_based_message_id_delivers_repeated_content_once() {
    let nodes = vec![gossip_node().await, gossip_node().await];
    for n in &nodes {
        gossip(n).subscribe("t").unwrap();
        // Same function everywhere: the id is the payload (up to 40 bytes).
        gossip(n)
            .set_message_id_fn(|m| {
                let mut id = [0u8; 40];
                let n = m.data.len().min(40);
                id[..n].copy_from_slice(&m.data[..n]);
                rats_gossipsub::MessageId(id)
            })
            .unwrap();
    }
    link(&nodes[0], &nodes[1]).await;
    let b_id = nodes[1].local_peer_id();
    wait_until(5, "a knows b subscribes", || {
        gossip(&nodes[0]).topic_peers("t").contains(&b_id)
    })
    .await;
    let counts = Arc::new(Counts::default());
    record(&nodes, &counts);
    gossip(&nodes[0]).publish("t", b"same".to_vec()).unwrap();
    gossip(&nodes[0])
        .publish("t", b"different".to_vec())
        .unwrap();
    gossip(&nodes[0]).publish("t", b"same".to_vec()).unwrap();
    // Published after the repeat over the same link: when it is here, so is a second "same".
    gossip(&nodes[0]).publish("t", b"last".to_vec()).unwrap();
    wait_until(5, "all contents arrive", || {
        counts.get(1, b"different") == 1 && counts.get(1, b"last") == 1
    })
    .await;
    assert_eq!(counts.get(1, b"same"), 1, "repeated content is one message");
    for n in &nodes {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_messages_arrive_as_json() {
    let nodes = vec![gossip_node().await, gossip_node().await];
    for n in &nodes {
        gossip(n).subscribe("j").unwrap();
    }
    link(&nodes[0], &nodes[1]).await;
    let b_id = nodes[1].local_peer_id();
    wait_until(5, "a knows b subscribes", || {
        gossip(&nodes[0]).topic_peers("j").contains(&b_id)
    })
    .await;
    let mut events = nodes[1].events();
    let value = serde_json::json!({"kind": "note", "n": 7});
    gossip(&nodes[0]).publish_json("j", &value).unwrap();
    let got = rats_tests::next_matching(&mut events, 5, |e| match e {
        Event::Service { service, event } if *service == rats_gossipsub::SERVICE_NAME => event
            .downcast_ref::<GossipEvent>()
            .and_then(GossipEvent::json),
        _ => None,
    })
    .await;
    assert_eq!(got, value);
    for n in &nodes {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsolicited_prune_cannot_make_a_node_dial() {
    use rats_gossipsub::wire::{PxPeer, Rpc};
    let victim = gossip_node().await;
    gossip(&victim).subscribe("t").unwrap();
    let mut h = RawPeer::connect(&victim).await;
    // A listener the victim must not be pushed into dialing.
    let trap = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let trap_addr = format!("tcp:{}", trap.local_addr().unwrap());
    let decoy = rats_core::Identity::generate().peer_id();
    // The raw peer is not in the victim's mesh (it never subscribed): its PRUNE is ignored.
    h.send(&Rpc::Prune {
        topic: "t".into(),
        backoff_secs: 3600,
        peers: vec![PxPeer {
            peer: decoy,
            addrs: vec![trap_addr],
        }],
    })
    .await;
    let dialed = tokio::time::timeout(Duration::from_millis(800), trap.accept()).await;
    assert!(
        dialed.is_err(),
        "the victim dialed an address from an unsolicited prune"
    );
    victim.shutdown().await;
}
