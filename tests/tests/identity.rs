//! Peers are known only by their Noise-authenticated id: no impersonation, no cross-protocol
//! connections.

use std::time::Duration;

use rats::PeerId;
use rats_core::frame::put_whole;
use rats_core::messaging::MESSAGES_CHANNEL;
use rats_core::record::{RecordReader, write_record};
use rats_core::{ProtocolId, Transport};
use rats_tests::{addr_of, client, client_with, raw_noise_client, wait_until};
use serde_json::json;
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_see_the_authenticated_sender_not_a_claimed_one() {
    let victim = client().await;
    let target = client().await;
    let (tx, mut rx) = mpsc::channel::<(PeerId, serde_json::Value)>(4);
    target.on("chat", move |from, data| {
        let _ = tx.try_send((from, data.clone()));
    });
    let addr = target.listen_addrs()[0].clone();
    let proto = ProtocolId::new("rats", "1.0");
    let (attacker_id, mut conn) = raw_noise_client(&addr, &proto).await;
    // A message that claims, inside its data, to come from the victim.
    let mut body = vec![2u8, 4];
    body.extend_from_slice(b"chat");
    body.extend_from_slice(
        serde_json::to_string(&json!({"from": victim.local_peer_id(), "text": "trust me"}))
            .expect("json")
            .as_bytes(),
    );
    let mut frame = bytes::BytesMut::new();
    put_whole(&mut frame, MESSAGES_CHANNEL, &body, &[]);
    conn.writer.write(&[&frame]).await.expect("write");
    let (from, data) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("delivered")
        .expect("open");
    assert_eq!(from, attacker_id.peer_id());
    assert_ne!(from, victim.local_peer_id());
    assert_eq!(data["text"], "trust me");
    let table: Vec<PeerId> = target.peers().iter().map(|p| p.peer_id).collect();
    assert_eq!(table, vec![attacker_id.peer_id()]);
    victim.shutdown().await;
    target.shutdown().await;
}

/// A handshake that proves one key while claiming the victim's id never enters the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_identity_is_refused_by_the_node() {
    let victim = client().await;
    let target = client().await;
    let proto = ProtocolId::new("rats", "1.0");
    let raw = rats_transport::TcpTransport
        .dial(&target.listen_addrs()[0])
        .await
        .expect("dial");
    let attacker = rats_core::Identity::generate();
    let secret = attacker.x25519_private();
    let prologue = proto.prologue();
    let mut hs = snow::Builder::new(rats_noise::NOISE_PARAMS.parse().expect("params"))
        .local_private_key(&secret)
        .expect("key")
        .prologue(&prologue)
        .expect("prologue")
        .build_initiator()
        .expect("initiator");
    let (mut buf, mut payload) = (vec![0u8; 65535], vec![0u8; 65535]);
    let mut writer = raw.writer;
    let mut reader = RecordReader::new(raw.reader);
    let n = hs.write_message(&proto.to_bytes(), &mut buf).expect("m1");
    write_record(&mut writer, &buf[..n]).await.expect("w1");
    let m2 = reader.read_record().await.expect("read").expect("m2");
    hs.read_message(&m2, &mut payload).expect("m2");
    let mut claim = victim.local_peer_id().as_bytes().to_vec();
    claim.extend_from_slice(br#"{"agent":"x","listen":[],"services":[]}"#);
    let n = hs.write_message(&claim, &mut buf).expect("m3");
    write_record(&mut writer, &buf[..n]).await.expect("w3");
    // The node closes the connection and never lists the victim.
    let closed = tokio::time::timeout(Duration::from_secs(5), reader.read_record()).await;
    assert!(
        matches!(closed, Ok(Ok(None)) | Ok(Err(_))),
        "connection closed"
    );
    assert_eq!(target.peer_count(), 0);
    assert!(!target.node().is_connected(&victim.local_peer_id()));
    victim.shutdown().await;
    target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_protocol_names_or_versions_refuse_with_a_clear_reason() {
    let base = client().await;
    for (name, version) in [("otherapp", "1.0"), ("rats", "2.0")] {
        let other = client_with(|c| {
            c.protocol_name = name.into();
            c.protocol_version = version.into();
        })
        .await;
        let err = other
            .connect(&addr_of(&base))
            .await
            .expect_err("must refuse");
        let msg = err.to_string();
        assert!(msg.contains("protocol mismatch"), "{msg}");
        assert!(
            msg.contains("rats/1.0") && msg.contains(&format!("{name}/{version}")),
            "{msg}"
        );
        assert_eq!(other.peer_count(), 0);
        other.shutdown().await;
    }
    wait_until(2, "base has no peers", || base.peer_count() == 0).await;
    base.shutdown().await;
}
