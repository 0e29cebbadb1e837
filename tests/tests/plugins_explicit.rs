//! A plugin registered explicitly with `RatsClient::builder().plugin(&FACTORY)`: the factory
//! is not in the registry (`xtcp` is never submitted to `inventory`), yet it carries a
//! connection; disabling it by name still works.

use rats_ptcp_transport::XTCP;

fn xtcp_client() -> rats::RatsClientBuilder {
    rats::RatsClient::builder()
        .local_only()
        .plugin(&XTCP)
        .configure(|c| c.listen = vec!["xtcp:127.0.0.1:0".parse().expect("a")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_plugin_carries_a_connection() {
    assert!(
        !rats::core::registry::factories().any(|f| f.name == "xtcp"),
        "xtcp must come from the explicit registration only"
    );
    let a = xtcp_client().start().await.expect("a");
    let b = xtcp_client().start().await.expect("b");
    let b_addr = b.listen_addrs()[0].clone();
    assert_eq!(b_addr.scheme(), "xtcp");
    let id = a
        .connect(&b_addr.to_string())
        .await
        .expect("connect over xtcp");
    assert_eq!(id, b.local_peer_id());
    assert_eq!(a.peer_info(&id).expect("connected").transport, "xtcp");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_plugin_can_be_switched_off_by_config() {
    let err = xtcp_client()
        .disable_plugin("xtcp")
        .start()
        .await
        .expect_err("no transport for xtcp once disabled")
        .to_string();
    assert!(err.contains("xtcp"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_factory_that_makes_another_kind_than_it_declares_is_refused() {
    use rats::core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};
    fn make(_: &PluginConfig) -> Result<Plugin, PluginError> {
        Ok(Plugin::Transport(std::sync::Arc::new(
            rats::core::MemoryTransport,
        )))
    }
    static LIAR: PluginFactory = PluginFactory {
        name: "liar",
        kind: PluginKind::Service,
        create: make,
    };
    let err = rats::RatsClient::builder()
        .local_only()
        .plugin(&LIAR)
        .start()
        .await
        .expect_err("kind mismatch refused")
        .to_string();
    assert!(err.contains("liar") && err.contains("Service"), "{err}");
}
