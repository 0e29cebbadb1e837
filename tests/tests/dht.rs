//! DHT discovery on loopback: rats nodes that share only a bootstrap node find and connect to
//! each other; other applications stay apart; hostile KRPC is dropped. Every node here binds
//! 127.0.0.1 and bootstraps from local nodes only.

use std::net::SocketAddr;
use std::time::Duration;

use rats::{Event, RatsClient};
use rats_discovery_dht::{DhtNode, NodeId, NodeSettings};
use rats_tests::{client_with, next_matching, wait_until};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

/// A bare DHT node on loopback to bootstrap from.
async fn bootstrap_node(stop: &CancellationToken) -> DhtNode {
    let (node, task) = DhtNode::bind(NodeSettings::new(
        "127.0.0.1:0".parse().expect("addr"),
        vec![],
    ))
    .await
    .expect("bind bootstrap node");
    tokio::spawn(task.run(stop.clone()));
    node
}

/// A client with the DHT on, bootstrapping from `bootstrap`, looking up every second.
async fn dht_client(protocol: &str, bootstrap: &[SocketAddr]) -> RatsClient {
    let boot: Vec<String> = bootstrap.iter().map(|a| a.to_string()).collect();
    let protocol = protocol.to_string();
    client_with(move |c| {
        c.disabled_plugins.remove("dht");
        c.protocol_name = protocol;
        c.plugins.insert(
            "dht".into(),
            serde_json::json!({"bootstrap": boot, "fast_interval_secs": 1, "ipv6": false}),
        );
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_meet_through_a_shared_bootstrap_node() {
    let stop = CancellationToken::new();
    let boot = bootstrap_node(&stop).await;
    let a = dht_client("rats", &[boot.local_addr()]).await;
    let mut a_events = a.events();
    let b = dht_client("rats", &[boot.local_addr()]).await;
    assert_eq!(a.discovery_hash(), b.discovery_hash());
    // A learns of B through the DHT (source "dht") and they connect.
    let b_addr = b.listen_addrs()[0].clone();
    let via = next_matching(&mut a_events, 20, |e| match e {
        Event::PeerDiscovered { addr, source, .. } if *addr == b_addr => Some(source.clone()),
        _ => None,
    });
    let b_events_connected = async {
        wait_until(20, "a and b connected", || {
            a.node().is_connected(&b.local_peer_id()) && b.node().is_connected(&a.local_peer_id())
        })
        .await
    };
    // Either side may find the other first; both must end up connected.
    let (source, ()) = tokio::join!(
        async {
            tokio::time::timeout(Duration::from_secs(20), via)
                .await
                .unwrap_or_else(|_| "b found a first".into())
        },
        b_events_connected
    );
    assert!(
        source == "dht" || source == "b found a first",
        "source {source}"
    );
    let status = a.dht_status().expect("dht status");
    assert!(
        status.running && status.routing_table_size >= 1,
        "{status:?}"
    );
    assert!(status.last_lookup.is_some());
    assert_eq!(a.peer_count(), 1, "no duplicate connections");
    a.shutdown().await;
    b.shutdown().await;
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_protocols_have_different_hashes_and_never_connect() {
    let stop = CancellationToken::new();
    let boot = bootstrap_node(&stop).await;
    let a = dht_client("rats", &[boot.local_addr()]).await;
    let other = dht_client("not-rats", &[boot.local_addr()]).await;
    assert_ne!(a.discovery_hash(), other.discovery_hash());
    // Positive control: a third node of A's protocol does find A, so the lookups are running.
    let c = dht_client("rats", &[boot.local_addr()]).await;
    wait_until(20, "a and c connected", || {
        a.node().is_connected(&c.local_peer_id())
    })
    .await;
    // What would make them meet is a lookup of one hash returning the other application's
    // address. Ask for that directly instead of letting discovery rounds run for a while
    // (they back off to minutes when they find nothing new): A's lookup of its hash finds C,
    // never the other application.
    let other_addr: SocketAddr = other.listen_addrs()[0].socket_addr().expect("addr");
    let c_addr: SocketAddr = c.listen_addrs()[0].socket_addr().expect("addr");
    let found = a.find_peers(&a.discovery_hash()).await.expect("lookup");
    assert!(found.contains(&c_addr), "positive control: {found:?}");
    assert!(!found.contains(&other_addr), "{found:?}");
    let found = c.find_peers(&c.discovery_hash()).await.expect("lookup");
    assert!(!found.contains(&other_addr), "{found:?}");
    for n in [&a, &c] {
        assert!(!n.node().is_connected(&other.local_peer_id()));
    }
    assert_eq!(other.peer_count(), 0);
    // The other application's lookup of its own hash finds only itself.
    let found = other
        .find_peers(&other.discovery_hash())
        .await
        .expect("lookup");
    assert_eq!(found, vec![other_addr]);
    for n in [a, other, c] {
        n.shutdown().await;
    }
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_hash_matches_the_librats_formula() {
    let c = dht_client("my_app", &[]).await;
    // printf 'my_app_peer_discovery_v1.0' | sha1sum
    let expected = {
        let d = ring_sha1(b"my_app_peer_discovery_v1.0");
        hex::encode(d)
    };
    assert_eq!(c.discovery_hash(), expected);
    assert_eq!(c.discovery_hash().len(), 40);
    c.shutdown().await;
}

fn ring_sha1(b: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, b)
        .as_ref()
        .to_vec()
}

/// Sends `packet` to `to` from `sock`.
async fn send(sock: &UdpSocket, to: SocketAddr, packet: &[u8]) {
    sock.send_to(packet, to).await.expect("send");
}

/// Waits for one datagram (with a deadline).
async fn recv(sock: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 65536];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
        .await
        .expect("datagram in time")
        .expect("recv");
    buf.truncate(n);
    buf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_krpc_is_dropped_without_harm() {
    let stop = CancellationToken::new();
    // The hostile side is a raw socket that the node takes as its bootstrap node, so the node
    // asks it things and gets poisoned answers back.
    let evil = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let evil_addr = evil.local_addr().expect("addr");
    let (node, task) = DhtNode::bind(NodeSettings::new(
        "127.0.0.1:0".parse().expect("a"),
        vec![evil_addr],
    ))
    .await
    .expect("bind");
    tokio::spawn(task.run(stop.clone()));
    let target = node.local_addr();

    // Garbage queries.
    let huge_list = format!(
        "d1:ad2:id20:abcdefghij01234567894:wantl{}ee1:q4:ping1:t2:aa1:y1:qe",
        "i1e".repeat(15000)
    );
    let long_string = b"d1:t999999999:x".to_vec();
    let deep = format!("{}{}", "l".repeat(5000), "e".repeat(5000));
    let garbage: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"not bencode at all".to_vec(),
        b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe".to_vec(), // short id
        b"d1:ai5e1:q4:ping1:t2:aa1:y1:qe".to_vec(),         // args not a dict
        b"d1:ad2:id20:abcdefghij0123456789e1:qi4e1:t2:aa1:y1:qe".to_vec(), // method not bytes
        huge_list.into_bytes(),
        long_string,
        deep.into_bytes(),
        vec![0xff; 1400],
    ];
    for g in &garbage {
        send(&evil, target, g).await;
    }

    // The node bootstraps from us: answer its find_node with poisoned responses (truncated
    // compact node info, wrong types, a huge values list) reusing its transaction id.
    let query = recv(&evil).await;
    let tid = {
        let v = rats_discovery_dht::bencode::Value::decode(&query).expect("node sends bencode");
        v.get(b"t")
            .and_then(|t| t.as_bytes())
            .expect("tid")
            .to_vec()
    };
    let t = |body: &str| -> Vec<u8> {
        let mut m =
            format!("d1:rd2:id20:abcdefghij0123456789{body}e1:t{}:", tid.len()).into_bytes();
        m.extend_from_slice(&tid);
        m.extend_from_slice(b"1:y1:re");
        m
    };
    let many_values = format!("6:valuesl{}e", "6:abcdef".repeat(3000));
    for body in [
        "5:nodes25:0123456789012345678901234",
        "5:nodesi7e",
        "6:valuesi3e",
        "6:valuesli3ee",
        &many_values,
    ] {
        send(&evil, target, &t(body)).await;
    }
    // Then a well-formed answer: the node takes it.
    let fake_id = NodeId::random();
    let mut ok = b"d1:rd2:id20:".to_vec();
    ok.extend_from_slice(&fake_id.0);
    ok.extend_from_slice(format!("5:nodes0:e1:t{}:", tid.len()).as_bytes());
    ok.extend_from_slice(&tid);
    ok.extend_from_slice(b"1:y1:re");
    send(&evil, target, &ok).await;

    // Still alive and answering; the garbage was counted, not acted on.
    let probe = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    send(
        &probe,
        target,
        b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:zz1:y1:qe",
    )
    .await;
    let pong = recv(&probe).await;
    // Bad arguments in a well-formed query get a protocol error back (203), not silence.
    send(
        &probe,
        target,
        b"d1:ad2:id20:abcdefghij01234567899:info_hash3:abc4:porti99999e5:token1:xe1:q13:announce_peer1:t2:bd1:y1:qe",
    )
    .await;
    let err = recv(&probe).await;
    let e = rats_discovery_dht::bencode::Value::decode(&err).expect("error reply");
    assert_eq!(e.get(b"y").and_then(|y| y.as_bytes()), Some(&b"e"[..]));
    assert_eq!(
        e.get(b"e")
            .and_then(|l| l.as_list())
            .and_then(|l| l[0].as_int()),
        Some(203)
    );
    let v = rats_discovery_dht::bencode::Value::decode(&pong).expect("pong");
    assert_eq!(v.get(b"y").and_then(|y| y.as_bytes()), Some(&b"r"[..]));
    assert_eq!(v.get(b"t").and_then(|y| y.as_bytes()), Some(&b"zz"[..]));
    wait_until(5, "garbage counted", || {
        node.stats().malformed_dropped >= garbage.len() as u64
    })
    .await;
    let stats = node.stats();
    assert!(
        stats.malformed_dropped as usize >= garbage.len() + 5,
        "{stats:?}"
    );
    // Only the well-formed answer and the probe's ping made it into the routing table.
    let mut ids: Vec<NodeId> = node
        .nodes()
        .await
        .expect("nodes")
        .iter()
        .map(|n| n.id)
        .collect();
    ids.sort();
    let probe_id = NodeId::from_slice(b"abcdefghij0123456789").expect("id");
    let mut expected = vec![fake_id, probe_id];
    expected.sort();
    assert_eq!(ids, expected);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announce_with_a_forged_token_is_refused() {
    let stop = CancellationToken::new();
    let node = bootstrap_node(&stop).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let hash = NodeId::random();
    let announce = |token: &[u8]| {
        let mut m = b"d1:ad2:id20:abcdefghij01234567899:info_hash20:".to_vec();
        m.extend_from_slice(&hash.0);
        m.extend_from_slice(format!("4:porti4242e5:token{}:", token.len()).as_bytes());
        m.extend_from_slice(token);
        m.extend_from_slice(b"e1:q13:announce_peer1:t2:an1:y1:qe");
        m
    };
    send(&sock, node.local_addr(), &announce(b"forged!!")).await;
    let reply = recv(&sock).await;
    let v = rats_discovery_dht::bencode::Value::decode(&reply).expect("reply");
    assert_eq!(v.get(b"y").and_then(|y| y.as_bytes()), Some(&b"e"[..]));
    // A real token (from get_peers) is accepted.
    let mut gp = b"d1:ad2:id20:abcdefghij01234567899:info_hash20:".to_vec();
    gp.extend_from_slice(&hash.0);
    gp.extend_from_slice(b"e1:q9:get_peers1:t2:gp1:y1:qe");
    send(&sock, node.local_addr(), &gp).await;
    let reply = recv(&sock).await;
    let v = rats_discovery_dht::bencode::Value::decode(&reply).expect("reply");
    let token = v
        .get(b"r")
        .and_then(|r| r.get(b"token"))
        .and_then(|t| t.as_bytes())
        .expect("token")
        .to_vec();
    send(&sock, node.local_addr(), &announce(&token)).await;
    let reply = recv(&sock).await;
    let v = rats_discovery_dht::bencode::Value::decode(&reply).expect("reply");
    assert_eq!(v.get(b"y").and_then(|y| y.as_bytes()), Some(&b"r"[..]));
    // (Statistics are published every 50 ms.)
    wait_until(5, "one refused, one stored", || {
        let s = node.stats();
        (s.announces_refused, s.announces_stored) == (1, 1)
    })
    .await;
    // And the stored peer is what a lookup finds.
    let found = node
        .find_peers(hash)
        .await
        .expect("lookup")
        .finish()
        .await
        .expect("done");
    assert_eq!(found.peers, vec!["127.0.0.1:4242".parse().expect("addr")]);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_bootstraps_from_saved_nodes() {
    let stop = CancellationToken::new();
    let boot = bootstrap_node(&stop).await;
    let dir = rats_tests::TempDir::new("dht-saved");
    let start = |bootstrap: Vec<String>| {
        let dir = dir.path().to_path_buf();
        async move {
            RatsClient::builder()
                .data_dir(dir)
                .configure(move |c| {
                    *c = rats_tests::test_config();
                    c.disabled_plugins.remove("dht");
                    c.plugins.insert(
                        "dht".into(),
                        serde_json::json!({"bootstrap": bootstrap, "ipv6": false}),
                    );
                })
                .start()
                .await
                .expect("start")
        }
    };
    let first = start(vec![boot.local_addr().to_string()]).await;
    let dht = first.dht().expect("dht");
    assert!(dht.wait_bootstrapped(Duration::from_secs(5)).await);
    let id = dht.status().nodes[0].node_id.clone();
    first.shutdown().await;
    drop((dht, first)); // releases the data directory lock
    assert!(dir.path().join("dht/nodes-v4.json").exists());
    // No bootstrap nodes at all this time: the saved ones are enough, and our id is kept.
    let second = start(vec![]).await;
    let dht = second.dht().expect("dht");
    assert!(dht.wait_bootstrapped(Duration::from_secs(5)).await);
    assert!(second.dht_routing_table_size() >= 1);
    assert_eq!(dht.status().nodes[0].node_id, id);
    second.shutdown().await;
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_nodes_meet_over_bep32() {
    // The suite needs an IPv6 loopback anyway (messaging over `tcp:[::1]`); say so plainly.
    if let Err(e) = std::net::UdpSocket::bind("[::1]:0") {
        panic!("this test needs an IPv6 loopback (::1): {e}");
    }
    let stop = CancellationToken::new();
    let (boot, task) = DhtNode::bind(NodeSettings::new("[::1]:0".parse().expect("addr"), vec![]))
        .await
        .expect("bind");
    tokio::spawn(task.run(stop.clone()));
    let boot_addr = boot.local_addr().to_string();
    let v6_client = || {
        let boot_addr = boot_addr.clone();
        client_with(move |c| {
            c.listen = vec!["tcp:[::1]:0".parse().expect("addr")];
            c.disabled_plugins.remove("dht");
            c.plugins.insert(
                "dht".into(),
                serde_json::json!({"bootstrap": [boot_addr], "fast_interval_secs": 1, "ipv4": false}),
            );
        })
    };
    let a = v6_client().await;
    let b = v6_client().await;
    wait_until(20, "a and b connected over IPv6", || {
        a.node().is_connected(&b.local_peer_id())
    })
    .await;
    let status = a.dht_status().expect("status");
    assert!(status.nodes[0].local_addr.expect("addr").is_ipv6());
    a.shutdown().await;
    b.shutdown().await;
    stop.cancel();
}
