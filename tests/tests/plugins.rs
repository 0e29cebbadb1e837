//! The plugin registry: a transport from a crate outside the rats plugin crates is picked up
//! by the node through `inventory`, with no change to `rats`; config can switch plugins off.

use rats_tests::{client_with, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_party_transport_is_used_without_changes_to_rats() {
    let ptcp = |c: &mut rats::NodeConfig| c.listen = vec!["ptcp:127.0.0.1:0".parse().expect("a")];
    let a = client_with(ptcp).await;
    let b = client_with(ptcp).await;
    let b_addr = b.listen_addrs()[0].clone();
    assert_eq!(b_addr.scheme(), "ptcp");
    let (dials, accepts) = (rats_echo_transport::dials(), rats_echo_transport::accepts());
    let id = a
        .connect(&b_addr.to_string())
        .await
        .expect("connect over ptcp");
    assert_eq!(id, b.local_peer_id());
    assert!(rats_echo_transport::dials() > dials);
    wait_until(5, "accepted", || rats_echo_transport::accepts() > accepts).await;
    assert_eq!(a.is_peer_encrypted(&id), Some(true));
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_plugin_can_be_switched_off_by_config() {
    let r = rats::RatsClient::builder()
        .local_only()
        .configure(|c| {
            c.listen = vec!["ptcp:127.0.0.1:0".parse().expect("a")];
            c.disabled_plugins.insert("ptcp".into());
        })
        .start()
        .await;
    let err = r
        .expect_err("no transport for ptcp once disabled")
        .to_string();
    assert!(err.contains("ptcp"), "{err}");
}
