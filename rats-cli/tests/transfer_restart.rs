//! Resume across a process kill: a `rats` tool receiving a 50 MiB file is killed (SIGKILL)
//! half way and started again on the same data directory; the transfer continues from what
//! reached the receiver's disk, not from zero, and the file arrives identical.
#![cfg(feature = "transfer")]

mod common;

use std::time::Duration;

use common::{Rats, free_port};
use rats::RatsClient;
use rats::rats_transfer::TransferState;

const SIZE: u64 = 50 << 20;
const CHUNK: u64 = 64 * 1024;
const WINDOW: u64 = 8;

async fn connect_with_retry(client: &RatsClient, addr: &str) -> rats::PeerId {
    for _ in 0..200 {
        if let Ok(id) = client.connect(addr).await {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("could not connect to {addr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_receiver_continues_after_restart() {
    let base = std::env::temp_dir().join(format!("rats-transfer-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("temp dir");
    let inbox = base.join("inbox");
    let source = base.join("big.bin");
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let data: Vec<u8> = (0..SIZE / 8)
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()
        })
        .collect();
    std::fs::write(&source, &data).expect("write source");

    let port = free_port().to_string();
    let rx_dir = base.join("receiver");
    let inbox_arg = inbox.display().to_string();
    let args = [
        "--port",
        port.as_str(),
        "--accept-dir",
        inbox_arg.as_str(),
        "--no-peer-exchange",
    ];
    let mut receiver = Rats::spawn(&rx_dir, &args);
    receiver.expect("started").await;

    let tmp = base.join("sender-tmp");
    // Nothing beyond this machine (no DHT routers, STUN servers, gateway or multicast).
    let sender = RatsClient::builder()
        .local_only()
        .listen("tcp:127.0.0.1:0")
        .expect("listen")
        .configure(move |c| {
            c.plugins.insert(
                "transfer".into(),
                serde_json::json!({
                    "temp_dir": tmp,
                    "chunk_size": CHUNK,
                    "window": WINDOW,
                    "progress_interval_ms": 0,
                }),
            );
        })
        .start()
        .await
        .expect("sender starts");
    let addr = format!("127.0.0.1:{port}");
    let peer = connect_with_retry(&sender, &addr).await;
    let t = sender.transfers().expect("transfer service");
    let id = t.send_file(&peer, &source, None).await.expect("send");

    // Kill the receiver once about half is acknowledged.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let done = t.transfer(id).map_or(0, |i| i.progress.bytes_done);
        if done >= SIZE / 2 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no progress");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    receiver.child.start_kill().expect("kill");
    let _ = receiver.child.wait().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while t.transfer(id).map(|i| i.state) != Some(TransferState::WaitingForPeer) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "sender never noticed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let acked = t.transfer(id).expect("info").progress.bytes_done;
    let sent_before = t.stats().bytes_sent;
    assert!(acked < SIZE, "killed before the end");

    // Same data directory: same identity, the saved transfer state and the partial file.
    let mut receiver = Rats::spawn(&rx_dir, &args);
    receiver.expect("started").await;
    connect_with_retry(&sender, &addr).await;
    let done = t.wait(id, Duration::from_secs(60)).await.expect("finished");
    assert_eq!(done.state, TransferState::Completed);
    let arrived = std::fs::read(inbox.join("big.bin")).expect("file in the accept dir");
    assert!(arrived == data, "content differs");
    let sent_again = t.stats().bytes_sent - sent_before;
    assert!(
        sent_again <= SIZE - acked + WINDOW * CHUNK,
        "sent {sent_again} bytes again; only {} were left",
        SIZE - acked
    );
    // The receiver's temporary data is gone once the file is in place.
    let tmp_left: Vec<_> = std::fs::read_dir(rx_dir.join("transfers"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(tmp_left.is_empty(), "{tmp_left:?}");

    receiver.send("quit").await;
    let _ = receiver.child.wait().await;
    sender.shutdown().await;
    let _ = std::fs::remove_dir_all(&base);
}
