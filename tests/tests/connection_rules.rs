//! One connection per peer pair, no self-connections, `max_peers` under load.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rats::Event;
use rats_tests::{addr_of, client, client_with, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_dials_end_with_one_connection_on_each_side() {
    for round in 0..3 {
        let a = client().await;
        let b = client().await;
        let (mut ea, mut eb) = (a.events(), b.events());
        let (to_b, to_a) = (addr_of(&b), addr_of(&a));
        let (ra, rb) = tokio::join!(a.connect(&to_b), b.connect(&to_a));
        assert_eq!(ra.expect("a dials b"), b.local_peer_id());
        assert_eq!(rb.expect("b dials a"), a.local_peer_id());
        // Both handshakes may still be finishing; after the retirement grace period (3 s) the
        // losing connection is gone on both sides.
        tokio::time::sleep(Duration::from_millis(3500)).await;
        wait_until(10, "one connection each", || {
            a.node().connection_count() == 1 && b.node().connection_count() == 1
        })
        .await;
        assert_eq!(a.peer_count(), 1, "round {round}");
        assert_eq!(b.peer_count(), 1, "round {round}");
        let a_view = a.node().peer_info(&b.local_peer_id()).expect("a knows b");
        let b_view = b.node().peer_info(&a.local_peer_id()).expect("b knows a");
        assert_ne!(
            a_view.outbound, b_view.outbound,
            "both kept the same connection"
        );
        // Messages still flow on the survivor.
        assert_eq!(a.broadcast_string("still here").expect("send"), 1);
        a.shutdown().await;
        b.shutdown().await;
        // Exactly one PeerConnected on each side, no flapping.
        for events in [&mut ea, &mut eb] {
            let mut connected = 0;
            while let Ok(Some(Ok(e))) =
                tokio::time::timeout(Duration::from_millis(50), events.recv()).await
            {
                if matches!(e, Event::PeerConnected { .. }) {
                    connected += 1;
                }
            }
            assert_eq!(connected, 1, "round {round}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_dial_is_refused() {
    let a = client_with(|c| c.listen = vec!["tcp:[::]:0".parse().expect("addr")]).await;
    let port = a.listen_addrs()[0].socket_addr().expect("sa").port();
    for target in [
        a.listen_addrs()[0].to_string(),
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let err = a.connect(&target).await.expect_err("self dial must fail");
        assert!(err.to_string().contains("ourselves"), "{target}: {err}");
    }
    assert_eq!(a.peer_count(), 0);
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_peers_holds_under_fifty_concurrent_dials() {
    const MAX: usize = 10;
    let server = client_with(|c| c.max_peers = MAX).await;
    let over = Arc::new(AtomicUsize::new(0));
    let watcher = {
        let (server, over) = (server.clone(), over.clone());
        tokio::spawn(async move {
            loop {
                if server.peer_count() > MAX {
                    over.fetch_add(1, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let mut clients = Vec::new();
    for _ in 0..50 {
        clients.push(client_with(|c| c.listen.clear()).await);
    }
    let target = addr_of(&server);
    let results = futures::future::join_all(clients.iter().map(|c| c.connect(&target))).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let refused: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    assert_eq!(ok, MAX, "refusals: {refused:?}");
    assert!(
        refused.iter().all(|e| e.contains("too many peers")),
        "{refused:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.peer_count(), MAX);
    assert_eq!(over.load(Ordering::SeqCst), 0, "never above max_peers");
    watcher.abort();
    for c in clients {
        c.shutdown().await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_ip_are_limited() {
    let server = client_with(|c| c.max_connections_per_ip = 3).await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(client_with(|c| c.listen.clear()).await);
    }
    let target = addr_of(&server);
    let mut ok = 0;
    let mut refused = Vec::new();
    for c in &clients {
        match c.connect(&target).await {
            Ok(_) => ok += 1,
            Err(e) => refused.push(e.to_string()),
        }
    }
    assert_eq!(ok, 3, "{refused:?}");
    assert!(
        refused
            .iter()
            .all(|e| e.contains("too many connections from this address")),
        "{refused:?}"
    );
    // A slot frees when a connection ends.
    clients[0].shutdown().await;
    wait_until(5, "server sees the departure", || server.peer_count() == 2).await;
    clients[4].connect(&target).await.expect("slot freed");
    for c in clients {
        c.shutdown().await;
    }
    server.shutdown().await;
}
