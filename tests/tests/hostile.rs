//! Hostile peers: each misbehaviour closes that one connection, with bounded memory, and the
//! node keeps serving everyone else.

use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use rats::{DisconnectReason, Event, RatsClient};
use rats_core::ProtocolId;
use rats_core::Transport;
use rats_core::frame::FLAG_START;
use rats_core::messaging::MESSAGES_CHANNEL;
use rats_tests::{addr_of, client, client_with, next_matching, raw_noise_client, rss_kib};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Tests that measure this process's memory run one at a time, so that one test's traffic
/// does not show up in another's figures.
static MEMORY_TESTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn proto() -> ProtocolId {
    ProtocolId::new("rats", "1.0")
}

/// The node still accepts a well-behaved peer and delivers its messages.
async fn still_serves(node: &RatsClient) {
    let good = client().await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    node.on_string(move |_, t| {
        let _ = tx.try_send(t.to_string());
    });
    let id = good
        .connect(&addr_of(node))
        .await
        .expect("good peer connects");
    good.send_string(&id, "ok?").await.expect("send");
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
    assert_eq!(got.expect("in time").as_deref(), Some("ok?"));
    good.shutdown().await;
}

async fn expect_closed(conn: &mut rats_core::encryption::SecureConnection) {
    let mut sink = BytesMut::new();
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match conn.reader.read_into(&mut sink).await {
                Ok(true) => sink.clear(),
                _ => return,
            }
        }
    })
    .await;
    assert!(end.is_ok(), "node closed the connection");
}

async fn violation_reason(node: &RatsClient, frame: &[u8]) -> String {
    let mut events = node.events();
    let (id, mut conn) = raw_noise_client(&node.listen_addrs()[0], &proto()).await;
    conn.writer.write(&[frame]).await.expect("write");
    expect_closed(&mut conn).await;
    next_matching(&mut events, 5, |e| match e {
        Event::PeerDisconnected {
            peer,
            reason: DisconnectReason::ProtocolViolation(r),
        } if *peer == id.peer_id() => Some(r.clone()),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_length_of_four_gib_closes_only_that_connection() {
    let _serial = MEMORY_TESTS.lock().await;
    let node = client().await;
    let before = rss_kib(std::process::id()).expect("rss");
    let mut frame = BytesMut::new();
    frame.put_u16(MESSAGES_CHANNEL);
    frame.put_u8(0);
    frame.put_u32(u32::MAX);
    let reason = violation_reason(&node, &frame).await;
    assert!(reason.contains("frame length"), "{reason}");
    // A fragmented message announcing 4 GiB is refused before any buffering too.
    let mut start = BytesMut::new();
    start.put_u16(MESSAGES_CHANNEL);
    start.put_u8(FLAG_START);
    start.put_u32(8);
    start.put_u32(u32::MAX);
    start.put_u32(0);
    let reason = violation_reason(&node, &start).await;
    assert!(reason.contains("maximum message size"), "{reason}");
    let after = rss_kib(std::process::id()).expect("rss");
    assert!(
        after < before + 32 * 1024,
        "memory rose from {before} to {after} KiB"
    );
    still_serves(&node).await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_instead_of_a_handshake_is_dropped() {
    let node = client().await;
    let raw = rats_transport::TcpTransport
        .dial(&node.listen_addrs()[0])
        .await
        .expect("dial");
    let (mut r, mut w) = (raw.reader, raw.writer);
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 31 + 7) as u8).collect();
    let _ = w.write_all(&garbage).await;
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "garbage connection closed");
    assert_eq!(node.peer_count(), 0);
    still_serves(&node).await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_socket_is_closed_within_the_handshake_timeout() {
    let node = client_with(|c| c.handshake_timeout = Duration::from_millis(800)).await;
    let raw = rats_transport::TcpTransport
        .dial(&node.listen_addrs()[0])
        .await
        .expect("dial");
    let mut r = raw.reader;
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let res = tokio::time::timeout(Duration::from_secs(5), r.read(&mut buf)).await;
    assert!(
        matches!(res, Ok(Ok(0)) | Ok(Err(_))),
        "closed, not data: {res:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(700),
        "closed too early: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(3),
        "closed too late: {waited:?}"
    );
    drop(raw.writer);
    still_serves(&node).await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_that_stops_reading_is_cut_off_with_bounded_memory() {
    let _serial = MEMORY_TESTS.lock().await;
    let node = client_with(|c| {
        c.write_timeout = Duration::from_secs(2);
        c.keepalive_interval = Duration::from_secs(1);
    })
    .await;
    let mut events = node.events();
    let (id, conn) = raw_noise_client(&node.listen_addrs()[0], &proto()).await;
    let peer = id.peer_id();
    rats_tests::wait_until(5, "hostile peer registered", || {
        node.node().is_connected(&peer)
    })
    .await;
    let before = rss_kib(std::process::id()).expect("rss");
    let chunk = Bytes::from(vec![0x5a; 1024 * 1024]);
    let mut sent_mib = 0;
    let mut peak = before;
    let outcome = tokio::time::timeout(Duration::from_secs(30), async {
        while sent_mib < 1024 {
            node.send_binary(&peer, chunk.clone()).await?;
            sent_mib += 1;
            peak = peak.max(rss_kib(std::process::id()).unwrap_or(0));
        }
        Ok::<(), rats::RatsError>(())
    })
    .await
    .expect("send loop ends in time");
    assert!(
        outcome.is_err(),
        "sending 1 GiB to a non-reader must fail, sent {sent_mib} MiB"
    );
    assert!(sent_mib < 1024);
    let reason = next_matching(&mut events, 5, |e| match e {
        Event::PeerDisconnected { peer: p, reason } if *p == peer => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert_eq!(reason, DisconnectReason::SlowPeer);
    assert!(
        peak < before + 64 * 1024,
        "memory rose from {before} to {peak} KiB"
    );
    still_serves(&node).await;
    // The hostile socket is still open and unread: shutdown must not wait for it.
    tokio::time::timeout(Duration::from_secs(5), node.shutdown())
        .await
        .expect("shutdown finishes while the peer still refuses to read");
    drop(conn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_flood_from_a_peer_that_does_not_read_stays_bounded() {
    let _serial = MEMORY_TESTS.lock().await;
    let node = client().await;
    let (_id, mut conn) = raw_noise_client(&node.listen_addrs()[0], &proto()).await;
    let before = rss_kib(std::process::id()).expect("rss");
    // 2 000 pings per write, 1 500 writes: 3 000 000 pongs (48 MB) would be owed.
    let mut batch = BytesMut::new();
    for n in 0..2000u64 {
        rats_core::frame::put_whole(
            &mut batch,
            rats_core::frame::CONTROL_CHANNEL,
            &rats_core::__wire::Control::Ping(n + 1).encode(),
            &[],
        );
    }
    let flood = async {
        for _ in 0..1500 {
            if conn.writer.write(&[&batch]).await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(20), flood).await;
    let after = rss_kib(std::process::id()).expect("rss");
    assert!(
        after < before + 32 * 1024,
        "memory rose from {before} to {after} KiB"
    );
    still_serves(&node).await;
    tokio::time::timeout(Duration::from_secs(5), node.shutdown())
        .await
        .expect("shutdown in time");
    drop(conn);
}
