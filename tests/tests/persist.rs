//! Persistence with real nodes: identity and peers across restarts, corrupt files, a dropped
//! connection redialed. (Crash safety under `kill -9`: faults_disk.rs.)

use std::path::{Path, PathBuf};
use std::time::Duration;

use rats::RatsClient;
use rats_persist::{PEERS_EVER_FILE, PEERS_FILE, PeersEverFile, PeersFile, parse_peer_file};
use rats_tests::{addr_of, client, local_builder, next_matching, test_config, wait_until};

fn temp_dir(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "rats-persist-{tag}-{}-{}",
        std::process::id(),
        rand_u32()
    ))
}

fn rand_u32() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A client on `dir`, listening on 127.0.0.1:`port`, reconnecting quickly.
async fn persistent(dir: &Path, port: u16) -> RatsClient {
    let mut cfg = test_config();
    cfg.listen = vec![format!("tcp:127.0.0.1:{port}").parse().expect("addr")];
    cfg.plugins.insert(
        "persist".into(),
        serde_json::json!({"reconnect": {"base_ms": 100, "max_ms": 400, "max_attempts": 20}}),
    );
    RatsClient::builder()
        .data_dir(dir)
        .configure(|c| *c = cfg)
        .start()
        .await
        .expect("start")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_identity_and_reconnects_even_after_a_port_change() {
    let (da, db) = (temp_dir("a"), temp_dir("b"));
    let (pa, pb) = (free_port(), free_port());
    let a = persistent(&da, pa).await;
    let b = persistent(&db, pb).await;
    let (ida, idb) = (a.local_peer_id(), b.local_peer_id());
    a.connect(&addr_of(&b)).await.expect("connect");
    wait_until(5, "connected", || b.peer_count() == 1).await;
    a.shutdown().await;
    b.shutdown().await;
    drop((a, b));
    let saved: PeersFile =
        parse_peer_file(&std::fs::read(da.join(PEERS_FILE)).expect("peers.rats")).expect("parse");
    assert_eq!(saved.peers.len(), 1);
    assert_eq!(saved.peers[0].id, idb);

    // Same ports: both remember each other and reconnect by themselves.
    let a = persistent(&da, pa).await;
    let b = persistent(&db, pb).await;
    assert_eq!(
        (a.local_peer_id(), b.local_peer_id()),
        (ida, idb),
        "same identities"
    );
    wait_until(15, "reconnected", || {
        a.node().is_connected(&idb) && b.node().is_connected(&ida)
    })
    .await;
    a.shutdown().await;
    b.shutdown().await;
    drop((a, b));

    // B comes back on another port: A cannot find it, but B reaches A and A learns the new port.
    let a = persistent(&da, pa).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pb2 = free_port();
    let b = persistent(&db, pb2).await;
    assert_eq!(b.local_peer_id(), idb);
    wait_until(15, "reconnected after port change", || {
        a.node().is_connected(&idb)
    })
    .await;
    let info = a.node().peer_info(&idb).expect("info");
    assert!(
        info.listen_addrs
            .iter()
            .any(|x| x.to_string() == format!("tcp:127.0.0.1:{pb2}")),
        "{:?}",
        info.listen_addrs
    );
    a.shutdown().await;
    b.shutdown().await;
    let ever: PeersEverFile =
        parse_peer_file(&std::fs::read(da.join(PEERS_EVER_FILE)).expect("ever")).expect("parse");
    let entry = ever.peers.iter().find(|p| p.id == idb).expect("b known");
    assert!(entry.successes >= 2, "{entry:?}");
    assert!(
        entry
            .addrs
            .iter()
            .any(|x| x.to_string().ends_with(&format!(":{pb2}")))
    );
    let _ = std::fs::remove_dir_all(da);
    let _ = std::fs::remove_dir_all(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_data_directories_give_two_identities() {
    let (d1, d2) = (temp_dir("id1"), temp_dir("id2"));
    let a = persistent(&d1, 0).await;
    let b = persistent(&d2, 0).await;
    assert_ne!(a.local_peer_id(), b.local_peer_id());
    a.shutdown().await;
    b.shutdown().await;
    let _ = std::fs::remove_dir_all(d1);
    let _ = std::fs::remove_dir_all(d2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_config_and_peer_files_warn_and_the_node_works() {
    let dir = temp_dir("corrupt");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("config.json"), "{\"max_peers\": 4,,,").expect("write");
    std::fs::write(dir.join(PEERS_FILE), "\u{0}\u{1}garbage").expect("write");
    let node = local_builder()
        .data_dir(&dir)
        .start()
        .await
        .expect("starts despite corrupt files");
    let warnings = node.config_warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("config.json") && w.contains("corrupt")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(PEERS_FILE) && w.contains("corrupt")),
        "{warnings:?}"
    );
    let kept_aside = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .count();
    assert_eq!(kept_aside, 2, "both bad files kept aside");
    // It works: a peer connects and talks to it.
    let other = client().await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    node.on_string(move |_, t| {
        let _ = tx.try_send(t.to_string());
    });
    let id = other.connect(&addr_of(&node)).await.expect("connect");
    other.send_string(&id, "still works").await.expect("send");
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
    assert_eq!(got.expect("in time").as_deref(), Some("still works"));
    node.shutdown().await;
    other.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_value_in_a_plugin_section_names_its_key_and_file() {
    let dir = temp_dir("plugin-key");
    std::fs::create_dir_all(&dir).expect("dir");
    let file = std::path::absolute(dir.join("config.json")).expect("absolute");
    for (json, key) in [
        (r#"{"transfer": {"window": "big"}}"#, "transfer.window"),
        (r#"{"log": {"level": 5}}"#, "log.level"),
    ] {
        std::fs::write(&file, json).expect("write");
        let err = local_builder()
            .data_dir(&dir)
            .start()
            .await
            .expect_err("refused");
        let msg = err.to_string();
        assert!(msg.contains(key), "{msg}");
        assert!(msg.contains(&format!("(from {})", file.display())), "{msg}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A TCP relay between two local addresses whose connections can be cut at once (both ends
/// see the socket close without a goodbye, as when a NAT or a link drops the connection).
struct CuttableRelay {
    addr: std::net::SocketAddr,
    cut: tokio_util::sync::CancellationToken,
}

impl CuttableRelay {
    async fn to(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let cut = tokio_util::sync::CancellationToken::new();
        let stop = cut.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                    continue;
                };
                let stop = stop.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
        });
        CuttableRelay { addr, cut }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_redialed_and_a_goodbye_is_not() {
    let edit = |c: &mut rats_core::NodeConfig| {
        c.plugins.insert(
            "persist".into(),
            serde_json::json!({"reconnect": {"base_ms": 100, "max_ms": 400, "max_attempts": 20}}),
        );
    };
    let a = rats_tests::client_with(edit).await;
    let b = rats_tests::client_with(edit).await;
    let b_addr: std::net::SocketAddr = addr_of(&b)
        .trim_start_matches("tcp:")
        .parse()
        .expect("socket address");
    let relay = CuttableRelay::to(b_addr).await;
    let mut events = a.events();
    a.connect(format!("tcp:{}", relay.addr))
        .await
        .expect("connect through the relay");
    wait_until(5, "connected", || b.peer_count() == 1).await;
    // The relay drops the connection: no goodbye, the sockets just close.
    relay.cut.cancel();
    let dropped = next_matching(&mut events, 10, |e| match e {
        rats::Event::PeerDisconnected { reason, .. } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(
        matches!(
            dropped,
            rats::DisconnectReason::RemoteClosed(None) | rats::DisconnectReason::Io(_)
        ),
        "{dropped:?}"
    );
    // A dials B again by itself, at the address B announced (not through the relay).
    next_matching(&mut events, 10, |e| match e {
        rats::Event::PeerConnected { .. } => Some(()),
        _ => None,
    })
    .await;
    wait_until(5, "reconnected", || {
        a.peer_count() == 1 && b.peer_count() == 1
    })
    .await;
    // A peer that says goodbye is not redialed.
    b.shutdown().await;
    wait_until(5, "gone", || a.peer_count() == 0).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(a.peer_count(), 0);
    a.shutdown().await;
}
