//! A hostile TURN server (by hand, on loopback) cannot crash or fool the TURN client:
//! oversized or malformed messages, an unauthenticated 401, answers with a wrong
//! MESSAGE-INTEGRITY or without a relayed address all end in clear errors.

use std::time::Duration;

use rats_nat::stun::message::{attr, method};
use rats_nat::stun::{Class, Message, MessageBuilder};
use rats_nat::turn::{Credentials, TurnClient, TurnError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn creds() -> Credentials {
    Credentials {
        username: "rats".into(),
        password: "secret".into(),
    }
}

/// Reads one request from the client; returns its transaction id.
async fn request(s: &mut TcpStream) -> [u8; 12] {
    let mut head = [0u8; 20];
    s.read_exact(&mut head).await.expect("header");
    let len = u16::from_be_bytes([head[2], head[3]]) as usize;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.expect("body");
    let mut all = head.to_vec();
    all.extend_from_slice(&body);
    let m = Message::decode(&all).expect("the client sends valid STUN");
    assert_eq!(m.class, Class::Request);
    m.tid
}

/// A 401 with realm `lab` and a nonce, as a server asks for credentials.
fn unauthorized(tid: [u8; 12]) -> Vec<u8> {
    let mut code = vec![0, 0, 4, 1];
    code.extend_from_slice(b"Unauthorized");
    MessageBuilder::with_tid(method::ALLOCATE, Class::Error, tid)
        .attr(attr::ERROR_CODE, &code)
        .attr(attr::REALM, b"lab")
        .attr(attr::NONCE, b"n0nce")
        .build(None)
}

/// Runs `serve` as the server for one client connection and returns the client's error.
async fn against<F, Fut>(serve: F) -> TurnError
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (s, _) = listener.accept().await.expect("accept");
        serve(s).await;
    });
    let (client, _attempts) = TurnClient::connect(addr, creds()).await.expect("connect");
    match tokio::time::timeout(Duration::from_secs(15), client.allocate_tcp()).await {
        Ok(Ok(r)) => panic!("a hostile server got an allocation accepted: {r:?}"),
        Ok(Err(e)) => e,
        Err(_) => panic!("the client hung"),
    }
}

#[tokio::test]
async fn oversized_message_ends_the_connection() {
    let e = against(|mut s| async move {
        let _ = request(&mut s).await;
        // A header announcing 65535 bytes: more than a TURN message may be.
        let mut h =
            MessageBuilder::new(method::ALLOCATE, Class::Success).build(None)[..20].to_vec();
        h[2] = 0xff;
        h[3] = 0xfc;
        let _ = s.write_all(&h).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    })
    .await;
    assert!(matches!(e, TurnError::NoAnswer), "{e:?}");
}

#[tokio::test]
async fn garbage_then_a_401_without_realm_is_an_error() {
    let e = against(|mut s| async move {
        let tid = request(&mut s).await;
        // Not STUN (no cookie) but framed: dropped.
        let mut junk = MessageBuilder::with_tid(method::ALLOCATE, Class::Error, tid).build(None);
        junk[4] ^= 0xff;
        let _ = s.write_all(&junk).await;
        // An attribute running past the end: dropped.
        let mut overrun = MessageBuilder::with_tid(method::ALLOCATE, Class::Error, tid).build(None)
            [..20]
            .to_vec();
        overrun[2..4].copy_from_slice(&8u16.to_be_bytes());
        overrun.extend_from_slice(&[0x00, 0x09, 0x00, 0xff, 0, 0, 4, 1]);
        let _ = s.write_all(&overrun).await;
        // A 401 that gives no realm or nonce.
        let mut code = vec![0, 0, 4, 1];
        code.extend_from_slice(b"Unauthorized");
        let e401 = MessageBuilder::with_tid(method::ALLOCATE, Class::Error, tid)
            .attr(attr::ERROR_CODE, &code)
            .build(None);
        let _ = s.write_all(&e401).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    })
    .await;
    assert!(matches!(e, TurnError::BadAnswer(_)), "{e:?}");
}

#[tokio::test]
async fn a_success_with_a_wrong_integrity_is_refused() {
    let e = against(|mut s| async move {
        let tid = request(&mut s).await;
        let _ = s.write_all(&unauthorized(tid)).await;
        // The authenticated retry gets a success signed with the wrong key.
        let tid = request(&mut s).await;
        let ok = MessageBuilder::with_tid(method::ALLOCATE, Class::Success, tid)
            .xor_address(
                attr::XOR_RELAYED_ADDRESS,
                &"127.0.0.1:5000".parse().expect("addr"),
            )
            .build(Some(b"not the key"));
        let _ = s.write_all(&ok).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    })
    .await;
    assert!(matches!(e, TurnError::BadAnswer("integrity")), "{e:?}");
}

#[tokio::test]
async fn a_success_without_integrity_after_authentication_is_refused() {
    let e = against(|mut s| async move {
        let tid = request(&mut s).await;
        let _ = s.write_all(&unauthorized(tid)).await;
        // A forger (say, on the path) answers the authenticated retry without signing it.
        let tid = request(&mut s).await;
        let ok = MessageBuilder::with_tid(method::ALLOCATE, Class::Success, tid)
            .xor_address(
                attr::XOR_RELAYED_ADDRESS,
                &"127.0.0.1:5000".parse().expect("addr"),
            )
            .build(None);
        let _ = s.write_all(&ok).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    })
    .await;
    assert!(matches!(e, TurnError::BadAnswer("integrity")), "{e:?}");
}
