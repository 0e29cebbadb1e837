//! STUN on loopback: a hostile server whose garbage is ignored, error answers, timeouts, and a
//! real coturn (on 127.0.0.1 with 127.0.0.2 as its RFC 5780 alternate address) telling a rats
//! node its address and that there is no NAT.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use rats_nat::NatType;
use rats_nat::stun::message::{attr, method};
use rats_nat::stun::{
    ChangeRequest, Class, Message, MessageBuilder, Retransmit, StunError, binding,
};
use rats_tests::client_with;
use tokio::net::UdpSocket;

const FAST: Retransmit = Retransmit {
    rto: Duration::from_millis(100),
    tries: 3,
};

/// Receives one STUN request on `server`; returns its transaction id and sender.
async fn request(server: &UdpSocket) -> ([u8; 12], SocketAddr) {
    let mut buf = [0u8; 1500];
    let (n, from) = tokio::time::timeout(Duration::from_secs(5), server.recv_from(&mut buf))
        .await
        .expect("request in time")
        .expect("recv");
    let m = Message::decode(&buf[..n]).expect("our request is valid STUN");
    assert_eq!((m.method, m.class), (method::BINDING, Class::Request));
    (m.tid, from)
}

#[tokio::test]
async fn garbage_from_a_hostile_server_is_ignored() {
    let server = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let server_addr = server.local_addr().expect("addr");
    let client = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let ask =
        tokio::spawn(
            async move { binding(&client, server_addr, ChangeRequest::default(), FAST).await },
        );
    let (tid, from) = request(&server).await;
    let good = MessageBuilder::with_tid(method::BINDING, Class::Success, tid)
        .xor_address(attr::XOR_MAPPED_ADDRESS, &from)
        .build(None);
    let mut bad_fingerprint = good.clone();
    let n = bad_fingerprint.len();
    bad_fingerprint[n - 1] ^= 0xff;
    let mut overrun = good[..20].to_vec();
    overrun[2..4].copy_from_slice(&8u16.to_be_bytes());
    overrun.extend_from_slice(&[0x00, 0x20, 0xff, 0xff, 0, 0, 0, 0]);
    let mut wrong_len = good.clone();
    wrong_len[3] = wrong_len[3].wrapping_add(4);
    let other_tid = MessageBuilder::new(method::BINDING, Class::Success)
        .xor_address(
            attr::XOR_MAPPED_ADDRESS,
            &"1.2.3.4:5".parse().expect("addr"),
        )
        .build(None);
    let no_cookie = {
        let mut b = good.clone();
        b[4] ^= 0xff;
        b
    };
    let garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x01],
        good[..19].to_vec(),
        bad_fingerprint,
        overrun,
        wrong_len,
        other_tid,
        no_cookie,
        vec![0xff; 1400],
    ];
    for g in &garbage {
        server.send_to(g, from).await.expect("send");
    }
    server.send_to(&good, from).await.expect("send");
    let r = ask.await.expect("task").expect("the good answer is taken");
    assert_eq!(r.mapped, from);
}

#[tokio::test]
async fn error_answers_and_silence_are_reported() {
    let server = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let server_addr = server.local_addr().expect("addr");
    let client = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let ask = tokio::spawn(async move {
        binding(
            &client,
            server_addr,
            ChangeRequest {
                ip: true,
                port: true,
            },
            FAST,
        )
        .await
    });
    let (tid, from) = request(&server).await;
    let mut code = vec![0, 0, 4, 20];
    code.extend_from_slice(b"Unknown Attribute");
    let err = MessageBuilder::with_tid(method::BINDING, Class::Error, tid)
        .attr(attr::ERROR_CODE, &code)
        .build(None);
    server.send_to(&err, from).await.expect("send");
    match ask.await.expect("task") {
        Err(StunError::ErrorResponse { code, .. }) => assert_eq!(code, 420),
        other => panic!("expected an error answer, got {other:?}"),
    }
    // Nobody answers: a timeout after the retransmissions, not a hang.
    let client = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let started = std::time::Instant::now();
    let r = binding(&client, server_addr, ChangeRequest::default(), FAST).await;
    assert!(matches!(r, Err(StunError::Timeout(_))), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// coturn as a STUN server on 127.0.0.1 with 127.0.0.2 as its alternate address; killed (and
/// its files removed) when dropped.
struct Coturn {
    _child: tokio::process::Child,
    _dir: rats_tests::TempDir,
}

/// Whether UDP and TCP `port` are free on 127.0.0.1 and 127.0.0.2.
fn free_on_both(port: u16) -> bool {
    ["127.0.0.1", "127.0.0.2"].iter().all(|ip| {
        std::net::UdpSocket::bind((*ip, port)).is_ok()
            && std::net::TcpListener::bind((*ip, port)).is_ok()
    })
}

/// Starts coturn on a free port pair below the ephemeral range (tried a few times: a port can
/// be taken between the check and coturn's bind); returns it and its port.
async fn coturn_on_loopback() -> (Coturn, u16) {
    if std::process::Command::new("turnserver")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        panic!(
            "coturn (turnserver) is not installed (apt-get install coturn); this test needs it \
             (it is #[ignore]d by default)"
        );
    }
    for _ in 0..8 {
        let port = 20_000 + (rand::random::<u16>() % 5_000) * 2;
        if !free_on_both(port) || !free_on_both(port + 1) {
            continue;
        }
        let dir = rats_tests::TempDir::new("coturn");
        let conf = dir.path().join("turnserver.conf");
        // No trailing comments on config lines: coturn would read them as values.
        let text = format!(
            "listening-ip=127.0.0.1\nlistening-ip=127.0.0.2\nlistening-port={port}\nalt-listening-port={alt}\nrelay-ip=127.0.0.1\nno-cli\nno-tls\nno-dtls\nfingerprint\nstun-only\nno-multicast-peers\npidfile={pid}\nlog-file=stdout\nsimple-log\n",
            alt = port + 1,
            pid = dir.path().join("turnserver.pid").display()
        );
        std::fs::write(&conf, text).expect("write config");
        let mut child = tokio::process::Command::new("turnserver")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start turnserver");
        // Wait until it answers (or exits: then another port).
        let probe = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let server: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        for _ in 0..15 {
            if matches!(child.try_wait(), Ok(Some(_))) {
                break;
            }
            if binding(&probe, server, ChangeRequest::default(), FAST)
                .await
                .is_ok()
            {
                return (
                    Coturn {
                        _child: child,
                        _dir: dir,
                    },
                    port,
                );
            }
        }
        let _ = child.kill().await;
    }
    panic!("coturn did not come up on loopback after 8 tries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs coturn (CI runs it with --include-ignored)"]
async fn coturn_tells_a_node_its_address_and_that_there_is_no_nat() {
    let (_coturn, port) = coturn_on_loopback().await;
    let server = format!("127.0.0.1:{port}");
    let node = client_with(move |c| {
        c.disabled_plugins.remove("stun");
        c.plugins.insert(
            "stun".into(),
            serde_json::json!({"servers": [server], "rto_ms": 100, "tries": 4}),
        );
    })
    .await;
    let public = node.get_public_address().await.expect("public address");
    assert_eq!(public.ip().to_string(), "127.0.0.1");
    let kind = node.detect_nat_type().await.expect("NAT check");
    let b = node.nat_characteristics().expect("characteristics");
    assert_eq!(kind, NatType::Open, "{b:?}");
    assert!(!b.nat);
    assert_eq!(b.mapping, Some(rats_nat::Mapping::EndpointIndependent));
    assert_eq!(b.filtering, Some(rats_nat::Filtering::EndpointIndependent));
    node.shutdown().await;
}
