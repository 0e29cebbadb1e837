//! Round-trip properties of the Noise transport records: what `seal_records` writes, a
//! receiver with the same key opens back to the plaintext, record by record in order; a
//! flipped bit is refused, never a panic.

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
