//! A plugin crate that submits itself with `inventory` is used once the program references it
//! (`use … as _;`, as the docs say): a transport from outside the rats crates, with no change
//! to `rats`; config can switch it off.

// The rule under test: without this line the linker drops the crate and `ptcp` is unknown
// (plugins_unreferenced.rs shows that).
use rats_ptcp_transport as _;

use rats_tests::client_with;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referenced_inventory_plugin_carries_a_connection() {
    let ptcp = |c: &mut rats::NodeConfig| c.listen = vec!["ptcp:127.0.0.1:0".parse().expect("a")];
    let a = client_with(ptcp).await;
    let b = client_with(ptcp).await;
    let b_addr = b.listen_addrs()[0].clone();
    assert_eq!(b_addr.scheme(), "ptcp");
    let id = a
        .connect(&b_addr.to_string())
        .await
        .expect("connect over ptcp");
    assert_eq!(id, b.local_peer_id());
    let info = a.peer_info(&id).expect("connected");
    assert_eq!(info.transport, "ptcp");
    assert_eq!(info.remote_addr.scheme(), "ptcp");
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
