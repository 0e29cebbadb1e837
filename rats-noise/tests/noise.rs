//! Noise plugin tests over in-memory streams: identities, protocol binding, hostile handshakes,
//! record round trips.

use bytes::BytesMut;
use rats_core::encryption::{EncryptionError, HandshakeParams, Role, SecureConnection};
use rats_core::record::{RecordReader, write_record};
use rats_core::transport::{RawConnection, Transport};
use rats_core::{Encryption, Identity, MemoryTransport, ProtocolId};
use rats_noise::{NOISE_PARAMS, Noise};

/// A plain snow handshake state with rats' parameters, prologue and identity-derived key.
fn raw_snow(id: &Identity, protocol: &ProtocolId, initiator: bool) -> snow::HandshakeState {
    let secret = id.x25519_private();
    let prologue = protocol.prologue();
    let builder = snow::Builder::new(NOISE_PARAMS.parse().expect("params"))
        .local_private_key(&secret)
        .expect("key")
        .prologue(&prologue)
        .expect("prologue");
    if initiator {
        builder.build_initiator().expect("initiator")
    } else {
        builder.build_responder().expect("responder")
    }
}

async fn pair() -> (RawConnection, RawConnection) {
    let mem = MemoryTransport;
    let mut l = mem
        .listen(&"mem:0".parse().expect("addr"))
        .await
        .expect("listen");
    let addr = l.local_addrs()[0].clone();
    let (d, a) = tokio::join!(mem.dial(&addr), l.accept());
    (d.expect("dial"), a.expect("accept"))
}

async fn handshake(
    pa: &ProtocolId,
    pb: &ProtocolId,
) -> (
    Result<SecureConnection, EncryptionError>,
    Result<SecureConnection, EncryptionError>,
    Identity,
    Identity,
) {
    let (d, a) = pair().await;
    let (ia, ib) = (Identity::generate(), Identity::generate());
    let params_a = HandshakeParams {
        identity: &ia,
        protocol: pa,
        role: Role::Initiator,
        early_data: b"hello from a",
    };
    let params_b = HandshakeParams {
        identity: &ib,
        protocol: pb,
        role: Role::Responder,
        early_data: b"hello from b",
    };
    let (ra, rb) = tokio::join!(Noise.upgrade(d, params_a), Noise.upgrade(a, params_b));
    (ra, rb, ia, ib)
}

#[tokio::test]
async fn handshake_authenticates_both_sides_and_carries_early_data() {
    let p = ProtocolId::new("app", "1");
    let (ra, rb, ia, ib) = handshake(&p, &p).await;
    let (mut ca, mut cb) = (ra.expect("a"), rb.expect("b"));
    assert_eq!(ca.remote_peer, ib.peer_id());
    assert_eq!(cb.remote_peer, ia.peer_id());
    assert_eq!(&ca.remote_early_data[..], b"hello from b");
    assert_eq!(&cb.remote_early_data[..], b"hello from a");
    assert!(ca.encrypted && cb.encrypted);
    // Records both ways, including a multi-record payload.
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
    let writer = tokio::spawn(async move {
        ca.writer.write(&[b"small"]).await.expect("w");
        ca.writer.write(&[&big]).await.expect("w big");
        ca.writer.close().await.expect("close");
        big
    });
    let mut got = BytesMut::new();
    while cb.reader.read_into(&mut got).await.expect("read") {}
    let big = writer.await.expect("join");
    assert_eq!(&got[..5], b"small");
    assert_eq!(&got[5..], &big[..]);
}

#[tokio::test]
async fn different_protocols_are_refused_with_a_clear_reason() {
    for (a, b) in [
        (ProtocolId::new("app", "1"), ProtocolId::new("other", "1")),
        (ProtocolId::new("app", "1"), ProtocolId::new("app", "2")),
    ] {
        let (ra, rb, _, _) = handshake(&a, &b).await;
        match ra {
            Err(EncryptionError::Rejected(reason)) => {
                assert!(reason.contains("protocol mismatch"), "{reason}");
                assert!(reason.contains(&b.to_string()), "{reason}");
            }
            other => panic!("initiator: {:?}", other.err()),
        }
        assert!(matches!(rb, Err(EncryptionError::ProtocolMismatch { .. })));
    }
}

#[tokio::test]
async fn garbage_instead_of_a_handshake_fails_cleanly() {
    let (mut d, a) = pair().await;
    let ib = Identity::generate();
    let p = ProtocolId::new("app", "1");
    let responder = tokio::spawn(async move {
        let params = HandshakeParams {
            identity: &ib,
            protocol: &p,
            role: Role::Responder,
            early_data: b"",
        };
        Noise.upgrade(a, params).await.err()
    });
    write_record(&mut d.writer, &[0xAB; 7])
        .await
        .expect("write");
    let err = responder.await.expect("join");
    assert!(
        matches!(err, Some(EncryptionError::Handshake(_))),
        "{err:?}"
    );
}

/// A peer proves one key but claims another peer's id: refused.
#[tokio::test]
async fn claiming_someone_elses_id_is_refused() {
    let (mut d, a) = pair().await;
    let victim = Identity::generate();
    let attacker = Identity::generate();
    let ib = Identity::generate();
    let p = ProtocolId::new("app", "1");
    let p2 = p.clone();
    let responder = tokio::spawn(async move {
        let params = HandshakeParams {
            identity: &ib,
            protocol: &p2,
            role: Role::Responder,
            early_data: b"",
        };
        Noise.upgrade(a, params).await.err()
    });
    let mut hs = raw_snow(&attacker, &p, true);
    let mut buf = vec![0u8; 65535];
    let mut payload = vec![0u8; 65535];
    let n = hs.write_message(&p.to_bytes(), &mut buf).expect("m1");
    write_record(&mut d.writer, &buf[..n]).await.expect("w1");
    let mut reader = RecordReader::new(d.reader);
    let m2 = reader.read_record().await.expect("r2").expect("m2");
    hs.read_message(&m2, &mut payload).expect("m2 ok");
    let mut forged = victim.peer_id().as_bytes().to_vec();
    forged.extend_from_slice(b"{}");
    let n = hs.write_message(&forged, &mut buf).expect("m3");
    write_record(&mut d.writer, &buf[..n]).await.expect("w3");
    let err = responder.await.expect("join");
    assert!(
        matches!(err, Some(EncryptionError::IdentityMismatch)),
        "{err:?}"
    );
}

/// Our ring-based records are byte-compatible with snow's own transport mode.
#[tokio::test]
async fn records_interoperate_with_snow_transport_mode() {
    let (d, a) = pair().await;
    let p = ProtocolId::new("app", "1");
    let ia = Identity::generate();
    let ib = Identity::generate();
    // B runs a plain snow responder and keeps snow's transport state.
    let (p2, ib2) = (p.clone(), ib.clone());
    let snow_side = tokio::spawn(async move {
        let mut w = a.writer;
        let mut r = RecordReader::new(a.reader);
        let mut hs = raw_snow(&ib2, &p2, false);
        let mut buf = vec![0u8; 65535];
        let mut payload = vec![0u8; 65535];
        let m1 = r.read_record().await.expect("r").expect("m1");
        hs.read_message(&m1, &mut payload).expect("m1");
        let mut ours = ib2.peer_id().as_bytes().to_vec();
        ours.extend_from_slice(b"{}");
        let n = hs.write_message(&ours, &mut buf).expect("m2");
        write_record(&mut w, &buf[..n]).await.expect("w2");
        let m3 = r.read_record().await.expect("r").expect("m3");
        hs.read_message(&m3, &mut payload).expect("m3");
        let mut t = hs.into_transport_mode().expect("transport");
        // Read one record from the rats side, then answer with one.
        let rec = r.read_record().await.expect("r").expect("rec");
        let n = t
            .read_message(&rec, &mut payload)
            .expect("snow decrypts rats record");
        let got = payload[..n].to_vec();
        let n = t.write_message(b"from snow", &mut buf).expect("enc");
        write_record(&mut w, &buf[..n]).await.expect("w");
        got
    });
    let params = HandshakeParams {
        identity: &ia,
        protocol: &p,
        role: Role::Initiator,
        early_data: b"{}",
    };
    let mut conn = Noise.upgrade(d, params).await.expect("upgrade");
    assert_eq!(conn.remote_peer, ib.peer_id());
    conn.writer.write(&[b"from rats"]).await.expect("write");
    let mut got = BytesMut::new();
    assert!(conn.reader.read_into(&mut got).await.expect("read"));
    assert_eq!(&got[..], b"from snow");
    assert_eq!(snow_side.await.expect("join"), b"from rats");
}

#[test]
fn the_plugin_is_named_noise_and_encrypts() {
    // The name is what `encryption = "noise"` in a configuration selects.
    assert_eq!(Noise.name(), "noise");
    assert!(Noise.is_encrypted());
}
