//! Node identity: an Ed25519 key pair and the [`PeerId`] derived from it.
//!
//! The same key is used for Noise: its X25519 form (the birational map used by libsodium's
//! `crypto_sign_ed25519_sk_to_curve25519`) is the Noise static key, so a peer proves its
//! `PeerId` simply by completing the Noise XX handshake; no extra signature round is needed.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand::rngs::OsRng;

/// Length in bytes of a [`PeerId`].
pub const PEER_ID_LEN: usize = 32;

/// The identifier of a peer: its Ed25519 public key. Shown as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId([u8; PEER_ID_LEN]);

/// Errors about identities and peer ids.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A peer id string or byte string was malformed.
    #[error("invalid peer id: {0}")]
    InvalidPeerId(String),
    /// The bytes are not a valid Ed25519 public key.
    #[error("peer id is not a valid Ed25519 public key")]
    NotAKey,
    /// The bytes decode to a key, but are not its one canonical encoding (the sign bit is
    /// set, or the y coordinate is not reduced): one key must not have two ids.
    #[error("peer id is not the canonical encoding of its key")]
    NonCanonical,
    /// The key is a point of small order (signatures "by" it can be made without a key), or
    /// has a small-order component (the owner of the plain key could claim it too).
    #[error("peer id is a weak key (small order, or a small-order component)")]
    WeakKey,
    /// The key file could not be read or written.
    #[error("identity key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The key file exists but does not hold a key.
    #[error("identity key file {path} is corrupt: {why}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
}

impl PeerId {
    /// Builds a peer id from raw key bytes. Every id a peer hands us comes through here, so
    /// the rules are checked once for all: the bytes are a valid Ed25519 point in the
    /// prime-order subgroup (no small-order component: X25519's clamping would let the owner
    /// of `A` also claim `A + T` for a torsion point `T`), in its one canonical encoding (y
    /// reduced modulo p, and the sign bit of x clear: see [`is_canonical`](Self::is_canonical)).
    /// The subgroup check costs a scalar multiplication, so ids that passed are remembered.
    pub fn from_bytes(bytes: [u8; PEER_ID_LEN]) -> Result<Self, IdentityError> {
        let id = PeerId(bytes);
        if !id.is_canonical() {
            return Err(IdentityError::NonCanonical);
        }
        if VALID_IDS.lock().contains(&bytes) {
            return Ok(id);
        }
        let point = curve25519_dalek::edwards::CompressedEdwardsY(bytes)
            .decompress()
            .ok_or(IdentityError::NotAKey)?;
        if point.compress().to_bytes() != bytes {
            return Err(IdentityError::NonCanonical);
        }
        if point.is_small_order() || !point.is_torsion_free() {
            return Err(IdentityError::WeakKey);
        }
        let mut valid = VALID_IDS.lock();
        if valid.len() >= VALID_IDS_KEPT {
            valid.clear();
        }
        valid.insert(bytes);
        Ok(id)
    }

    /// Builds a peer id from a byte slice (must be 32 bytes and a valid key).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, IdentityError> {
        let arr: [u8; PEER_ID_LEN] = bytes
            .try_into()
            .map_err(|_| IdentityError::InvalidPeerId(format!("{} bytes, want 32", bytes.len())))?;
        Self::from_bytes(arr)
    }

    /// The raw public key bytes.
    pub fn as_bytes(&self) -> &[u8; PEER_ID_LEN] {
        &self.0
    }

    /// Full lowercase hex form (64 characters).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 8 hex characters, for logs and chat lines.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }

    /// Canonical ids have the sign bit of the Edwards x coordinate clear. The X25519 form of a
    /// key does not carry that bit, so without this rule one Noise key could claim two ids.
    pub fn is_canonical(&self) -> bool {
        self.0[31] & 0x80 == 0
    }

    /// The X25519 public key that this peer must use as its Noise static key.
    pub fn x25519_public(&self) -> Option<[u8; 32]> {
        VerifyingKey::from_bytes(&self.0)
            .ok()
            .map(|k| k.to_montgomery().to_bytes())
    }

    /// Verifies an Ed25519 signature made by this peer's identity key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.public_key()
            .is_some_and(|key| key.verify(message, signature))
    }

    /// The decoded public key, for verifying many signatures of this peer (decoding the key
    /// costs about as much as a verification; keep it).
    pub fn public_key(&self) -> Option<PeerPublicKey> {
        VerifyingKey::from_bytes(&self.0).ok().map(PeerPublicKey)
    }
}

/// Ids that passed [`PeerId::from_bytes`] (gossip decodes an origin per message).
static VALID_IDS: std::sync::LazyLock<parking_lot::Mutex<std::collections::HashSet<[u8; 32]>>> =
    std::sync::LazyLock::new(Default::default);
/// Most ids remembered; the set starts over beyond.
const VALID_IDS_KEPT: usize = 4096;

/// A peer's decoded Ed25519 public key (see [`PeerId::public_key`]).
#[derive(Clone, Copy, Debug)]
pub struct PeerPublicKey(VerifyingKey);

impl PeerPublicKey {
    /// Verifies an Ed25519 signature made by this key, strictly: a non-canonical or
    /// small-order R, or a signature that would also verify for another key, is refused
    /// (`verify_strict`).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.0.verify_strict(message, &sig).is_ok()
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({})", self.short())
    }
}

impl FromStr for PeerId {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; PEER_ID_LEN];
        hex::decode_to_slice(s.trim(), &mut out)
            .map_err(|e| IdentityError::InvalidPeerId(format!("{s:?}: {e}")))?;
        Self::from_bytes(out)
    }
}

impl serde::Serialize for PeerId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for PeerId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A node's key pair. Cheap to clone.
#[derive(Clone)]
pub struct Identity {
    key: SigningKey,
    peer_id: PeerId,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("peer_id", &self.peer_id)
            .finish_non_exhaustive()
    }
}

/// Marker at the start of an identity key file, so a wrong file is recognised.
const KEY_FILE_TAG: &str = "rats-ed25519-secret-v1:";

impl Identity {
    /// A fresh random identity with a canonical peer id (see [`PeerId::is_canonical`]; about
    /// two key generations on average).
    pub fn generate() -> Self {
        loop {
            let id = Self::from_secret(SigningKey::generate(&mut OsRng).to_bytes());
            if id.peer_id.is_canonical() {
                return id;
            }
        }
    }

    /// The identity whose Ed25519 secret seed is `secret`.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(&secret);
        let peer_id = PeerId(key.verifying_key().to_bytes());
        Identity { key, peer_id }
    }

    /// The Ed25519 secret seed (keep it secret).
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The X25519 private scalar used as the Noise static key.
    pub fn x25519_private(&self) -> [u8; 32] {
        self.key.to_scalar_bytes()
    }

    /// Signs a message with the identity key.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Loads the identity stored at `path`, or creates one and stores it there with
    /// owner-only permissions. Returns the identity and whether it was newly created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), IdentityError> {
        let io_err = |source| IdentityError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((Self::decode_key_file(path, &text)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let id = Self::generate();
                id.save(path).map_err(io_err)?;
                Ok((id, true))
            }
            Err(e) => Err(io_err(e)),
        }
    }

    pub(crate) fn decode_key_file(path: &Path, text: &str) -> Result<Self, IdentityError> {
        let corrupt = |why: &str| IdentityError::Corrupt {
            path: path.display().to_string(),
            why: why.to_string(),
        };
        let hex_part = text
            .trim()
            .strip_prefix(KEY_FILE_TAG)
            .ok_or_else(|| corrupt("missing header"))?;
        let mut secret = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut secret).map_err(|_| corrupt("bad key hex"))?;
        let id = Self::from_secret(secret);
        if !id.peer_id.is_canonical() {
            return Err(corrupt("non-canonical key (peers would refuse it)"));
        }
        Ok(id)
    }

    /// The key file's text for a secret (without the trailing newline).
    pub(crate) fn key_file_text(secret: &[u8; 32]) -> String {
        format!("{KEY_FILE_TAG}{}", hex::encode(secret))
    }

    /// Writes the key file atomically (temporary file, fsync, rename) with mode 0600. When
    /// that fails (a full disk), the temporary file is removed: no stray copy of a key.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("tmp");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts.open(&tmp)?;
        let written = writeln!(file, "{}", Self::key_file_text(&self.secret_bytes()))
            .and_then(|()| file.sync_all())
            .and_then(|()| {
                drop(file);
                std::fs::rename(&tmp, path)
            });
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x25519_form_matches_public_key() {
        let id = Identity::generate();
        // X25519(private, basepoint) must equal the Montgomery form of the Ed25519 key.
        let public = curve25519_dalek::MontgomeryPoint::mul_base_clamped(id.x25519_private());
        assert_eq!(Some(public.to_bytes()), id.peer_id().x25519_public());
    }

    #[test]
    fn peer_id_round_trips_through_hex() {
        let id = Identity::generate().peer_id();
        let parsed: PeerId = id.to_hex().parse().expect("parse");
        assert_eq!(id, parsed);
        assert!("zz".parse::<PeerId>().is_err());
        assert!("00".repeat(31).parse::<PeerId>().is_err());
    }

    #[test]
    fn a_failed_save_leaves_no_temporary_key_file() {
        let dir = std::env::temp_dir().join(format!("rats-id-{}", rand::random::<u64>()));
        // A non-empty directory where the key file should go: the rename fails.
        let path = dir.join("identity.key");
        std::fs::create_dir_all(path.join("in-the-way")).expect("dir");
        assert!(Identity::generate().save(&path).is_err());
        assert!(
            !dir.join("identity.tmp").exists(),
            "no stray copy of the key"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn key_file_round_trip_and_corruption() {
        let dir = std::env::temp_dir().join(format!("rats-id-{}", rand::random::<u64>()));
        let path = dir.join("identity.key");
        let (a, created) = Identity::load_or_create(&path).expect("create");
        assert!(created);
        let (b, created) = Identity::load_or_create(&path).expect("load");
        assert!(!created);
        assert_eq!(a.peer_id(), b.peer_id());
        std::fs::write(&path, "garbage").expect("write");
        assert!(matches!(
            Identity::load_or_create(&path),
            Err(IdentityError::Corrupt { .. })
        ));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn generated_ids_are_canonical() {
        assert!((0..64).all(|_| Identity::generate().peer_id().is_canonical()));
    }

    #[test]
    fn ids_that_are_not_one_key_s_canonical_encoding_are_refused() {
        // The identity point (0, 1): small order, and any "signature" (R = identity, s = 0)
        // verifies under the lax rules.
        let mut identity_point = [0u8; 32];
        identity_point[0] = 1;
        assert!(matches!(
            PeerId::from_bytes(identity_point),
            Err(IdentityError::WeakKey)
        ));
        // Every small-order point is refused (the 8 torsion points).
        for t in curve25519_dalek::constants::EIGHT_TORSION {
            let b = t.compress().to_bytes();
            assert!(PeerId::from_bytes(b).is_err(), "{}", hex::encode(b));
        }
        // The key plus a torsion point: X25519 clamping cancels the torsion, so the owner of
        // the key could complete a handshake as it.
        let good = Identity::generate().peer_id();
        let point = curve25519_dalek::edwards::CompressedEdwardsY(*good.as_bytes())
            .decompress()
            .expect("point");
        for t in &curve25519_dalek::constants::EIGHT_TORSION[1..] {
            let b = (point + t).compress().to_bytes();
            assert!(PeerId::from_bytes(b).is_err(), "{}", hex::encode(b));
        }
        // The same key with the sign bit set: one key, a second id.
        let mut flipped = *good.as_bytes();
        flipped[31] |= 0x80;
        assert!(matches!(
            PeerId::from_bytes(flipped),
            Err(IdentityError::NonCanonical)
        ));
        // y = p + 1 (not reduced) encodes the same point as y = 1.
        let mut unreduced = [0xffu8; 32];
        unreduced[0] = 0xee;
        unreduced[31] = 0x7f;
        assert!(PeerId::from_bytes(unreduced).is_err());
        // And from text too.
        assert!(hex::encode(flipped).parse::<PeerId>().is_err());
        assert!(hex::encode(identity_point).parse::<PeerId>().is_err());
        assert_eq!(PeerId::from_bytes(*good.as_bytes()).ok(), Some(good));
    }

    #[test]
    fn text_forms() {
        let id = Identity::generate();
        let hex = id.peer_id().to_hex();
        assert_eq!(hex.len(), 64);
        assert_eq!(id.peer_id().to_string(), hex);
        assert_eq!(id.peer_id().short(), hex[..8]);
        assert_eq!(
            format!("{:?}", id.peer_id()),
            format!("PeerId({})", &hex[..8])
        );
        // The secret never shows in debug output.
        let debug = format!("{id:?}");
        assert!(debug.contains(&hex[..8]), "{debug}");
        assert!(!debug.contains(&hex::encode(id.secret_bytes())), "{debug}");
    }

    #[test]
    fn an_unreadable_key_file_is_an_error_not_a_new_identity() {
        // A directory where the key file should be: reading fails, and nothing is replaced.
        let dir = std::env::temp_dir().join(format!("rats-id-dir-{}", rand::random::<u64>()));
        std::fs::create_dir_all(dir.join("identity.key")).expect("dir");
        assert!(matches!(
            Identity::load_or_create(&dir.join("identity.key")),
            Err(IdentityError::Io { .. })
        ));
        assert!(dir.join("identity.key").is_dir());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_signature_anyone_can_make_does_not_verify() {
        // R = the identity point, s = 0: valid for the identity key under lax verification.
        let mut sig = [0u8; 64];
        sig[0] = 1;
        let key = Identity::generate().peer_id();
        assert!(!key.verify(b"anything", &sig));
    }

    #[test]
    fn signatures_verify() {
        let id = Identity::generate();
        let sig = id.sign(b"hello");
        assert!(id.peer_id().verify(b"hello", &sig));
        assert!(!id.peer_id().verify(b"hellO", &sig));
    }
}
