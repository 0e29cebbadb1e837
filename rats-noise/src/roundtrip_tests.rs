//! Round-trip properties of rats-noise: the handshake payloads (protocol id, identities,
//! early data) arrive as sent; what `seal_records` writes, a receiver with the same key opens
//! back to the plaintext, record by record in order; a flipped bit is refused, never a panic.

use proptest::prelude::*;

use crate::cipher::{DirectionCipher, MAX_PLAINTEXT, TAG_LEN};

/// Splits `len:u16 | body` records.
fn records(mut wire: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !wire.is_empty() {
        let len = usize::from(u16::from_be_bytes([wire[0], wire[1]]));
        out.push(wire[2..2 + len].to_vec());
        wire = &wire[2 + len..];
    }
    out
}

proptest! {
    #[test]
    fn sealed_records_open_to_the_plaintext(
        key in any::<[u8; 32]>(),
        messages in prop::collection::vec(
            prop::collection::vec(
                prop_oneof![
                    8 => prop::collection::vec(any::<u8>(), 0..300),
                    1 => prop::collection::vec(any::<u8>(), 0..150_000),
                ],
                0..4,
            ),
            1..4,
        ),
    ) {
        let mut sender = DirectionCipher::new(&key);
        let mut receiver = DirectionCipher::new(&key);
        for parts in &messages {
            let slices: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            let mut wire = Vec::new();
            sender.seal_records(&slices, &mut wire).unwrap();
            let mut plain = Vec::new();
            let recs = records(&wire);
            let total: usize = parts.iter().map(Vec::len).sum();
            prop_assert_eq!(recs.len(), total.div_ceil(MAX_PLAINTEXT).max(1));
            for mut rec in recs {
                prop_assert!(rec.len() >= TAG_LEN && rec.len() - TAG_LEN <= MAX_PLAINTEXT);
                let n = receiver.open_in_place(&mut rec).unwrap();
                plain.extend_from_slice(&rec[..n]);
            }
            prop_assert_eq!(plain, parts.concat());
        }
    }

    #[test]
    fn a_changed_record_is_refused(
        key in any::<[u8; 32]>(),
        data in prop::collection::vec(any::<u8>(), 0..200),
        flip in any::<prop::sample::Index>(),
        bit in 0..8u8,
    ) {
        let mut wire = Vec::new();
        DirectionCipher::new(&key).seal_records(&[&data], &mut wire).unwrap();
        let mut rec = wire[2..].to_vec();
        let at = flip.index(rec.len());
        rec[at] ^= 1 << bit;
        prop_assert!(DirectionCipher::new(&key).open_in_place(&mut rec).is_err());
    }

    #[test]
    fn opening_arbitrary_bytes_never_panics(
        key in any::<[u8; 32]>(),
        mut rec in prop::collection::vec(any::<u8>(), 0..100),
    ) {
        prop_assert!(DirectionCipher::new(&key).open_in_place(&mut rec).is_err());
    }
}

/// Runs a whole handshake over the in-memory transport, then sends `data` both ways.
async fn handshake_and_echo(
    proto: &rats_core::ProtocolId,
    early: (&[u8], &[u8]),
    data: &[Vec<u8>],
) -> (
    rats_core::encryption::SecureConnection,
    rats_core::encryption::SecureConnection,
    Vec<u8>,
) {
    use rats_core::encryption::{Encryption, HandshakeParams, Role};
    use rats_core::{MemoryTransport, Transport};
    let mem = MemoryTransport;
    let mut listener = mem.listen(&"mem:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addrs()[0].clone();
    let (a, b) = identities();
    let (dialed, accepted) = tokio::join!(mem.dial(&addr), listener.accept());
    let pa = HandshakeParams {
        identity: a,
        protocol: proto,
        role: Role::Initiator,
        early_data: early.0,
    };
    let pb = HandshakeParams {
        identity: b,
        protocol: proto,
        role: Role::Responder,
        early_data: early.1,
    };
    let (ca, cb) = tokio::join!(
        crate::Noise.upgrade(dialed.unwrap(), pa),
        crate::Noise.upgrade(accepted.unwrap(), pb)
    );
    let (mut ca, mut cb) = (ca.unwrap(), cb.unwrap());
    let parts: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let send = async {
        ca.writer.write(&parts).await.unwrap();
        ca.writer.close().await.unwrap();
    };
    let receive = async {
        let mut got = bytes::BytesMut::new();
        while got.len() < total && cb.reader.read_into(&mut got).await.unwrap() {}
        got.to_vec()
    };
    let ((), got) = tokio::join!(send, receive);
    (ca, cb, got)
}

/// Two identities made once (key generation is not what is under test).
fn identities() -> (&'static rats_core::Identity, &'static rats_core::Identity) {
    static PAIR: std::sync::OnceLock<(rats_core::Identity, rats_core::Identity)> =
        std::sync::OnceLock::new();
    let (a, b) = PAIR.get_or_init(|| {
        (
            rats_core::Identity::generate(),
            rats_core::Identity::generate(),
        )
    });
    (a, b)
}

proptest! {
    // Each case runs a whole handshake.
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The handshake payloads (protocol id, identities, early data) arrive as sent, both sides
    /// agree on the session, and what is written after it is read back.
    #[test]
    fn handshake_payloads_and_data_round_trip(
        name in "[^\\x00]{1,12}",
        version in "[^\\x00]{0,8}",
        early_a in prop_oneof![
            4 => prop::collection::vec(any::<u8>(), 0..300),
            1 => prop::collection::vec(any::<u8>(), rats_core::encryption::MAX_EARLY_DATA - 4..=rats_core::encryption::MAX_EARLY_DATA),
        ],
        early_b in prop::collection::vec(any::<u8>(), 0..300),
        data in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..70_000), 0..3),
    ) {
        let proto = rats_core::ProtocolId::new(name, version);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (ca, cb, got) = rt.block_on(handshake_and_echo(&proto, (&early_a, &early_b), &data));
        let (a, b) = identities();
        prop_assert_eq!(ca.remote_peer, b.peer_id());
        prop_assert_eq!(cb.remote_peer, a.peer_id());
        prop_assert_eq!(&ca.remote_early_data[..], &early_b[..]);
        prop_assert_eq!(&cb.remote_early_data[..], &early_a[..]);
        prop_assert_eq!(ca.session_id, cb.session_id);
        prop_assert!(ca.encrypted && cb.encrypted);
        prop_assert_eq!(got, data.concat());
    }
}
