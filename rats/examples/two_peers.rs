//! Two peers on loopback: connect, exchange a typed JSON message and a text message, stop.
//!
//! `cargo run -p rats-p2p --example two_peers` (also builds with
//! `--no-default-features --features tcp,noise`).

use std::time::Duration;

use rats::RatsClient;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // local_only: no DHT, mDNS, STUN or port mapping; these two only talk to each other.
    let alice = RatsClient::builder()
        .local_only()
        .listen("tcp:127.0.0.1:0")?
        .start()
        .await?;
    let bob = RatsClient::builder()
        .local_only()
        .listen("tcp:127.0.0.1:0")?
        .start()
        .await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let tx2 = tx.clone();
    bob.on("greeting", move |from, data| {
        let _ = tx.try_send(format!("json from {}: {data}", from.short()));
    });
    bob.on_string(move |from, text| {
        let _ = tx2.try_send(format!("text from {}: {text}", from.short()));
    });
    let bob_id = alice.connect(&bob.listen_addrs()[0].to_string()).await?;
    println!(
        "alice {} connected to bob {}",
        alice.local_peer_id().short(),
        bob_id.short()
    );
    alice
        .send_to(&bob_id, "greeting", &json!({"text": "hello"}))
        .await?;
    alice.send_string(&bob_id, "how are you?").await?;
    for _ in 0..2 {
        let line = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await?
            .ok_or("channel closed")?;
        println!("bob got {line}");
    }
    println!(
        "encrypted: {:?}",
        bob.is_peer_encrypted(&alice.local_peer_id())
    );
    alice.shutdown().await;
    bob.shutdown().await;
    Ok(())
}
