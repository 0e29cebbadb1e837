//! X25519 for snow, tuned for the handshake's critical path: the static key's public half is
//! computed once (it is the node's identity, the same in every handshake) and ephemeral key
//! pairs are computed ahead of time, off the path, by [`refill_ephemeral_pool`]. The
//! Diffie-Hellman itself is curve25519-dalek's (see [`x25519`]: through the Edwards form, which
//! has a vectorised scalar multiplication, when the peer's key is on the curve), plus a check
//! that refuses an all-zero shared secret (a low-order public key).

use std::sync::Mutex;

use curve25519_dalek::MontgomeryPoint;
use rand::RngCore;
use snow::params::{CipherChoice, DHChoice, HashChoice};
use snow::resolvers::{CryptoResolver, DefaultResolver, FallbackResolver, RingResolver};
use snow::types::{Cipher, Dh, Hash, Random};

/// Static key pairs remembered (a process normally has one identity).
const STATIC_CACHE: usize = 8;
/// Ephemeral key pairs kept ready.
pub(crate) const EPHEMERAL_POOL: usize = 8;

type KeyPair = ([u8; 32], [u8; 32]);

static STATIC_KEYS: Mutex<Vec<KeyPair>> = Mutex::new(Vec::new());
static EPHEMERAL_KEYS: Mutex<Vec<KeyPair>> = Mutex::new(Vec::new());

/// X25519 (RFC 7748) of our `private` scalar and their public `u`, the same result as
/// curve25519-dalek's Montgomery ladder: a `u` on the curve is mapped to the birationally
/// equivalent Edwards point (either sign: the two points share their `u`) and multiplied by
/// the clamped, unreduced scalar there, which uses dalek's AVX2 backend where the CPU has one
/// (~39 µs instead of ~57 µs for the serial ladder on the development VM; five of these sit on
/// a handshake's critical path). Without AVX2 (other CPUs, other architectures) the Edwards
/// route is slower than the ladder (63 against 52 µs with dalek's serial backend), so the
/// ladder is used; a `u` on the twist (not a curve point) takes the ladder too. Constant time
/// in the secret scalar either way; which way is taken depends only on the CPU and the peer's
/// public key.
fn x25519(private: [u8; 32], theirs: [u8; 32]) -> [u8; 32] {
    let u = MontgomeryPoint(theirs);
    match u.to_edwards(0).filter(|_| vectorised_edwards()) {
        Some(point) => point.mul_clamped(private).to_montgomery().to_bytes(),
        None => u.mul_clamped(private).to_bytes(),
    }
}

/// Whether curve25519-dalek's Edwards arithmetic runs on its AVX2 backend here (it picks it at
/// run time when the CPU has AVX2).
fn vectorised_edwards() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn public_of(private: [u8; 32]) -> [u8; 32] {
    MontgomeryPoint::mul_base_clamped(private).to_bytes()
}

/// Number of ready ephemeral key pairs.
pub(crate) fn ephemeral_pool_len() -> usize {
    EPHEMERAL_KEYS.lock().map(|p| p.len()).unwrap_or(0)
}

/// Computes ephemeral key pairs until the pool is full (run it off the handshake's path).
pub(crate) fn refill_ephemeral_pool() {
    while ephemeral_pool_len() < EPHEMERAL_POOL {
        let mut private = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut private);
        let pair = (private, public_of(private));
        match EPHEMERAL_KEYS.lock() {
            Ok(mut p) => p.push(pair),
            Err(_) => return,
        }
    }
}

/// Snow's resolvers (ring first, then the defaults) with our X25519.
pub(crate) struct RatsResolver(FallbackResolver);

impl RatsResolver {
    pub(crate) fn new() -> Self {
        RatsResolver(FallbackResolver::new(
            Box::new(RingResolver),
            Box::new(DefaultResolver),
        ))
    }
}

impl CryptoResolver for RatsResolver {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        self.0.resolve_rng()
    }

    fn resolve_dh(&self, choice: &DHChoice) -> Option<Box<dyn Dh>> {
        match choice {
            DHChoice::Curve25519 => Some(Box::new(X25519::default())),
            other => self.0.resolve_dh(other),
        }
    }

    fn resolve_hash(&self, choice: &HashChoice) -> Option<Box<dyn Hash>> {
        self.0.resolve_hash(choice)
    }

    fn resolve_cipher(&self, choice: &CipherChoice) -> Option<Box<dyn Cipher>> {
        self.0.resolve_cipher(choice)
    }
}

#[derive(Default)]
struct X25519 {
    private: [u8; 32],
    public: [u8; 32],
}

impl Dh for X25519 {
    fn name(&self) -> &'static str {
        "25519"
    }

    fn pub_len(&self) -> usize {
        32
    }

    fn priv_len(&self) -> usize {
        32
    }

    fn set(&mut self, privkey: &[u8]) {
        let mut private = [0u8; 32];
        let n = privkey.len().min(32);
        private[..n].copy_from_slice(&privkey[..n]);
        self.private = private;
        let cached = STATIC_KEYS
            .lock()
            .ok()
            .and_then(|c| c.iter().find(|(p, _)| *p == private).map(|(_, q)| *q));
        self.public = match cached {
            Some(public) => public,
            None => {
                let public = public_of(private);
                if let Ok(mut c) = STATIC_KEYS.lock() {
                    if c.len() >= STATIC_CACHE {
                        c.remove(0);
                    }
                    c.push((private, public));
                }
                public
            }
        };
    }

    fn generate(&mut self, rng: &mut dyn Random) -> Result<(), snow::Error> {
        if let Some((private, public)) = EPHEMERAL_KEYS.lock().ok().and_then(|mut p| p.pop()) {
            self.private = private;
            self.public = public;
            return Ok(());
        }
        let mut private = [0u8; 32];
        rng.try_fill_bytes(&mut private)?;
        self.private = private;
        self.public = public_of(private);
        Ok(())
    }

    fn pubkey(&self) -> &[u8] {
        &self.public
    }

    fn privkey(&self) -> &[u8] {
        &self.private
    }

    fn dh(&self, pubkey: &[u8], out: &mut [u8]) -> Result<(), snow::Error> {
        let theirs: [u8; 32] = pubkey
            .get(..32)
            .and_then(|p| p.try_into().ok())
            .ok_or(snow::Error::Dh)?;
        let shared = x25519(self.private, theirs);
        if shared == [0u8; 32] {
            return Err(snow::Error::Dh);
        }
        out.get_mut(..32)
            .ok_or(snow::Error::Dh)?
            .copy_from_slice(&shared);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_itself_and_refuses_low_order_keys() {
        refill_ephemeral_pool();
        assert_eq!(ephemeral_pool_len(), EPHEMERAL_POOL);
        let mut a = X25519::default();
        let mut b = X25519::default();
        a.set(&[7u8; 32]);
        a.set(&[7u8; 32]); // cached
        assert_eq!(a.pubkey(), public_of([7u8; 32]));
        b.generate(&mut FixedRng).expect("generate");
        let (mut ab, mut ba) = ([0u8; 32], [0u8; 32]);
        a.dh(b.pubkey(), &mut ab).expect("a");
        b.dh(a.pubkey(), &mut ba).expect("b");
        assert_eq!(ab, ba);
        assert!(a.dh(&[0u8; 32], &mut ab).is_err(), "zero point refused");
        assert!(a.dh(&[1u8; 5], &mut ab).is_err(), "short key refused");
    }

    /// The Edwards route gives the ladder's answer for curve points, twist points, low-order
    /// points and non-canonical encodings, and RFC 7748's test vectors.
    #[test]
    fn x25519_through_edwards_matches_the_ladder() {
        let ladder = |k: [u8; 32], u: [u8; 32]| MontgomeryPoint(u).mul_clamped(k).to_bytes();
        let hex32 = |s: &str| -> [u8; 32] {
            let v: Vec<u8> = (0..32)
                .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
                .collect();
            v.try_into().expect("32 bytes")
        };
        // RFC 7748 section 5.2.
        let k = hex32("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
        let u = hex32("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
        let want = hex32("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
        assert_eq!(x25519(k, u), want);
        let k = hex32("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d");
        let u = hex32("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493");
        let want = hex32("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
        assert_eq!(x25519(k, u), want);
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            let mut b = [0u8; 32];
            for chunk in b.chunks_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                chunk.copy_from_slice(&state.to_le_bytes());
            }
            b
        };
        let (mut on_curve, mut twist) = (0, 0);
        for _ in 0..300 {
            let (k, u) = (next(), next());
            if MontgomeryPoint(u).to_edwards(0).is_some() {
                on_curve += 1;
            } else {
                twist += 1;
            }
            assert_eq!(x25519(k, u), ladder(k, u), "u = {u:?}");
        }
        assert!(on_curve > 50 && twist > 50, "{on_curve} / {twist}");
        // Low-order points, u = p - 1 (no Edwards image), u >= p, the top bit set.
        let mut special = vec![[0u8; 32], [1u8; 32], [0xff; 32]];
        let mut one = [0u8; 32];
        one[0] = 1;
        special.push(one);
        let mut p_minus_1 = [0xff; 32];
        p_minus_1[0] = 0xec;
        p_minus_1[31] = 0x7f;
        special.push(p_minus_1);
        let mut p_plus_1 = p_minus_1;
        p_plus_1[0] = 0xee;
        special.push(p_plus_1);
        // A point of order 8 (RFC 7748 list used by libsodium).
        special.push(hex32(
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        ));
        for u in special {
            for _ in 0..4 {
                let k = next();
                assert_eq!(x25519(k, u), ladder(k, u), "u = {u:?}");
            }
        }
    }

    struct FixedRng;
    impl Random for FixedRng {
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
            dest.fill(9);
            Ok(())
        }
    }
}
