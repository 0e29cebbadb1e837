//! rats connections over QUIC on loopback: messages and a file between two nodes listening on
//! `quic:` addresses, and a QUIC endpoint made on an existing UDP socket (as after a punch).

use std::time::Duration;

use rats_core::Transport;
use rats_core::transport::DatagramPath;
use rats_tests::{TempDir, client_with, wait_until};
use rats_transport::QuicTransport;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_talk_and_move_a_file_over_quic() {
    let quic =
        |c: &mut rats::NodeConfig| c.listen = vec!["quic:127.0.0.1:0".parse().expect("addr")];
    let a = client_with(quic).await;
    let b = client_with(quic).await;
    let a_addr = a.listen_addrs()[0].to_string();
    assert!(a_addr.starts_with("quic:127.0.0.1:"), "{a_addr}");
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    a.on_string(move |_, t| {
        let _ = tx.try_send(t.to_string());
    });
    let peer = b.connect(&a_addr).await.expect("connect over QUIC");
    assert_eq!(b.is_peer_encrypted(&peer), Some(true));
    assert_eq!(
        b.connection_method(&peer),
        Some(rats::ConnectionMethod::Direct)
    );
    let info = b.node().peer_info(&peer).expect("info");
    assert_eq!(info.remote_addr.scheme(), "quic");
    b.send_string(&peer, "hello over quic").await.expect("send");
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("in time");
    assert_eq!(got.as_deref(), Some("hello over quic"));

    // A file, through the transfer service, over the same QUIC connection.
    let dir = TempDir::new("quic-transfer");
    let src = dir.path().join("src.bin");
    let data: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(31) >> 3) as u8)
        .collect();
    std::fs::write(&src, &data).expect("write");
    let dest = dir.path().join("dest.bin");
    let into = dest.clone();
    a.transfers()
        .expect("transfers")
        .set_accept_callback(move |_| {
            let into = into.clone();
            async move { rats::rats_transfer::AcceptDecision::Accept(into) }
        });
    let transfers = b.transfers().expect("transfers");
    let id = transfers
        .send_file(&peer, &src, None)
        .await
        .expect("send file");
    let done = transfers
        .wait(id, Duration::from_secs(60))
        .await
        .expect("finished");
    assert_eq!(done.state.to_string(), "completed");
    wait_until(10, "file in place", || dest.exists()).await;
    assert_eq!(std::fs::read(&dest).expect("read"), data);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_on_an_existing_udp_socket_accepts_and_dials() {
    // A socket as hole punching leaves it: already bound, then handed to QUIC.
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = sock.local_addr().expect("addr");
    let ep = QuicTransport::default()
        .bind_path(DatagramPath::Socket(sock), true)
        .expect("endpoint");
    let mut listener = ep.listen().expect("listener");
    let other = QuicTransport::default();
    let target: rats_core::Address = format!("quic:{addr}").parse().expect("address");
    // A QUIC stream shows up at the other end with its first bytes: the dialer writes first
    // (as the rats handshake's initiator does).
    let (dialed, accepted) = tokio::join!(
        async {
            let mut d = other.dial(&target).await.expect("dial");
            d.writer.write_all(b"ping").await.expect("write");
            d
        },
        async { tokio::time::timeout(Duration::from_secs(10), listener.accept()).await }
    );
    let mut dialed = dialed;
    let mut accepted = accepted.expect("in time").expect("accept");
    let mut buf = [0u8; 4];
    accepted.reader.read_exact(&mut buf).await.expect("read");
    assert_eq!(&buf, b"ping");
    accepted.writer.write_all(b"pong").await.expect("write");
    dialed.reader.read_exact(&mut buf).await.expect("read");
    assert_eq!(&buf, b"pong");
    other.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_reason_arrives_over_quic() {
    // The responder writes its reason and drops the connection at once: the reason must still
    // get there (the writer lingers until the peer has it).
    let quic =
        |c: &mut rats::NodeConfig| c.listen = vec!["quic:127.0.0.1:0".parse().expect("addr")];
    let base = client_with(quic).await;
    let other = client_with(|c| {
        quic(c);
        c.protocol_name = "otherapp".into();
    })
    .await;
    let err = other
        .connect(&base.listen_addrs()[0].to_string())
        .await
        .expect_err("must refuse");
    assert!(err.to_string().contains("protocol mismatch"), "{err}");
    base.shutdown().await;
    other.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_connections_outlive_their_listener() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = sock.local_addr().expect("addr");
    let quic = QuicTransport::default();
    let ep = quic
        .bind_path(DatagramPath::Socket(sock), true)
        .expect("endpoint");
    let mut listener = ep.listen().expect("listener");
    let dialer_sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let dialer_ep = quic
        .bind_path(DatagramPath::Socket(dialer_sock), false)
        .expect("endpoint");
    let (dialed, accepted) = tokio::join!(
        async {
            let mut d = dialer_ep.dial(addr).await.expect("dial");
            d.writer.write_all(b"one").await.expect("write");
            d
        },
        async { tokio::time::timeout(Duration::from_secs(10), listener.accept()).await }
    );
    let mut dialed = dialed;
    let mut accepted = accepted.expect("in time").expect("accept");
    drop(listener);
    let mut buf = [0u8; 3];
    tokio::time::timeout(Duration::from_secs(5), accepted.reader.read_exact(&mut buf))
        .await
        .expect("in time")
        .expect("read");
    assert_eq!(&buf, b"one");
    accepted
        .writer
        .write_all(b"two")
        .await
        .expect("write after the listener is gone");
    tokio::time::timeout(Duration::from_secs(5), dialed.reader.read_exact(&mut buf))
        .await
        .expect("in time")
        .expect("read");
    assert_eq!(&buf, b"two");
}
