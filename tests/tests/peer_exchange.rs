//! A node that joins one member of a group meets the rest through peer exchange.

use rats_tests::{addr_of, client_with, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_node_meets_the_group_through_one_member() {
    let a = client_with(|_| {}).await;
    let b = client_with(|_| {}).await;
    let c = client_with(|_| {}).await;
    b.connect(&addr_of(&a)).await.expect("b -> a");
    wait_until(5, "a and b connected", || {
        a.peer_count() == 1 && b.peer_count() == 1
    })
    .await;
    // C only knows B; B tells C where A listens (its real listen port), and C dials A.
    c.connect(&addr_of(&b)).await.expect("c -> b");
    wait_until(10, "c connected to a via exchange", || {
        c.node().is_connected(&a.local_peer_id()) && a.node().is_connected(&c.local_peer_id())
    })
    .await;
    // Exactly one connection per pair everywhere.
    for n in [&a, &b, &c] {
        wait_until(5, "two peers each", || n.peer_count() == 2).await;
    }
    let c_view_of_a = c.node().peer_info(&a.local_peer_id()).expect("info");
    assert_eq!(
        c_view_of_a.remote_addr.to_string(),
        addr_of(&a),
        "dialed A's listen port"
    );
    for n in [a, b, c] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_exchange_can_be_switched_off() {
    let a = client_with(|_| {}).await;
    let b = client_with(|_| {}).await;
    let c = client_with(|cfg| cfg.peer_exchange = false).await;
    b.connect(&addr_of(&a)).await.expect("b -> a");
    c.connect(&addr_of(&b)).await.expect("c -> b");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!c.node().is_connected(&a.local_peer_id()));
    assert_eq!(c.peer_count(), 1);
    for n in [a, b, c] {
        n.shutdown().await;
    }
}
