//! Noise transport-phase encryption (ChaChaPoly, empty associated data, 64-bit little-endian
//! counter nonce), done with `ring` in place on our own buffers: no extra copy, no zeroing.
//! Byte-for-byte the same as snow's transport mode (a test checks both directions).

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, Tag, UnboundKey};

use rats_core::record::{MAX_RECORD_LEN, for_each_record};

/// Bytes of the authentication tag.
pub(crate) const TAG_LEN: usize = 16;
/// Most plaintext in one record.
pub(crate) const MAX_PLAINTEXT: usize = MAX_RECORD_LEN - TAG_LEN;

/// One direction's cipher state.
pub(crate) struct DirectionCipher {
    key: LessSafeKey,
    nonce: u64,
}

/// The counter would wrap: the connection must end (after 2^64 - 1 records, i.e. never).
#[derive(Debug)]
pub(crate) struct NonceExhausted;

impl DirectionCipher {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        // A 32-byte key is always valid for ChaCha20-Poly1305.
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, key)
            .unwrap_or_else(|_| unreachable!("32-byte key"));
        DirectionCipher {
            key: LessSafeKey::new(unbound),
            nonce: 0,
        }
    }

    fn next_nonce(&mut self) -> Result<Nonce, NonceExhausted> {
        // Noise reserves 2^64 - 1.
        if self.nonce == u64::MAX {
            return Err(NonceExhausted);
        }
        let mut n = [0u8; 12];
        n[4..].copy_from_slice(&self.nonce.to_le_bytes());
        self.nonce += 1;
        Ok(Nonce::assume_unique_for_key(n))
    }

    /// Appends `len:u16 | ciphertext | tag` records for the concatenation of `parts` to `out`
    /// (one copy of the plaintext, encrypted in place).
    pub(crate) fn seal_records(
        &mut self,
        parts: &[&[u8]],
        out: &mut Vec<u8>,
    ) -> Result<(), NonceExhausted> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let records = total.div_ceil(MAX_PLAINTEXT).max(1);
        out.reserve(total + records * (2 + TAG_LEN));
        let mut result = Ok(());
        for_each_record(parts, MAX_PLAINTEXT, |chunk_parts, len| {
            if result.is_err() {
                return;
            }
            out.extend_from_slice(&((len + TAG_LEN) as u16).to_be_bytes());
            let start = out.len();
            chunk_parts.iter().for_each(|c| out.extend_from_slice(c));
            result = self.next_nonce().and_then(|nonce| {
                let tag: Tag = self
                    .key
                    .seal_in_place_separate_tag(nonce, Aad::empty(), &mut out[start..])
                    .map_err(|_| NonceExhausted)?;
                out.extend_from_slice(tag.as_ref());
                Ok(())
            });
        });
        result
    }

    /// Decrypts one record body in place; returns the plaintext length.
    pub(crate) fn open_in_place(&mut self, record: &mut [u8]) -> Result<usize, &'static str> {
        if record.len() < TAG_LEN {
            return Err("record shorter than its tag");
        }
        let nonce = self.next_nonce().map_err(|_| "nonce exhausted")?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), record)
            .map_err(|_| "bad record MAC")?;
        Ok(plain.len())
    }
}
