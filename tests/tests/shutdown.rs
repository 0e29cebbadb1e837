//! Shutdown stops every task a node started.

use std::time::Duration;

use rats_tests::{addr_of, client, client_with, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_and_stopping_a_hundred_nodes_leaves_nothing_running() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    let mut nodes = Vec::new();
    for _ in 0..100 {
        // No peer exchange: a ring, not a full mesh of 4950 handshakes.
        nodes.push(client_with(|c| c.peer_exchange = false).await);
    }
    // Connect them in a ring so connection tasks exist too.
    for i in 0..nodes.len() {
        let next = addr_of(&nodes[(i + 1) % nodes.len()]);
        nodes[i].connect(&next).await.expect("ring connect");
    }
    assert!(metrics.num_alive_tasks() > baseline + 100);
    let addrs: Vec<String> = nodes.iter().map(addr_of).collect();
    for n in &nodes {
        n.shutdown().await;
    }
    drop(nodes);
    wait_until(5, "all node tasks finished", || {
        metrics.num_alive_tasks() <= baseline
    })
    .await;
    // Listeners are closed too.
    for a in addrs.iter().take(5) {
        let sa = a.trim_start_matches("tcp:").to_string();
        let r =
            tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(sa)).await;
        assert!(matches!(r, Ok(Err(_))), "listener {a} still open");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_handle_stops_the_node() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    let a = client().await;
    let b = client().await;
    a.connect(&addr_of(&b)).await.expect("connect");
    drop(a);
    drop(b);
    wait_until(5, "tasks end after drop", || {
        metrics.num_alive_tasks() <= baseline
    })
    .await;
}
