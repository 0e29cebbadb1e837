//! X25519 for snow, tuned for the handshake's critical path: the static key's public half is
//! computed once (it is the node's identity, the same in every handshake) and ephemeral key
//! pairs are computed ahead of time, off the path, by [`refill_ephemeral_pool`]. The
//! Diffie-Hellman itself is curve25519-dalek's, as in snow's default resolver, plus a check
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
        let shared = MontgomeryPoint(theirs).mul_clamped(self.private).to_bytes();
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

    struct FixedRng;
    impl Random for FixedRng {
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
            dest.fill(9);
            Ok(())
        }
    }
}
