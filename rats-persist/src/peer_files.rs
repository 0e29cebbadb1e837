//! `peers.rats` (peers connected at the last stop) and `peers_ever.rats` (every peer seen,
//! bounded), as JSON.

use std::collections::HashMap;

use rats_core::{Address, PeerId};
use serde::{Deserialize, Serialize};

/// File of the peers connected at the last stop.
pub const PEERS_FILE: &str = "peers.rats";
/// File of every peer ever seen.
pub const PEERS_EVER_FILE: &str = "peers_ever.rats";
/// Format version written in both files.
pub const FORMAT_VERSION: u32 = 1;
/// Most addresses kept per peer.
pub const MAX_ADDRS: usize = 16;

/// A peer and where it listens.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct KnownPeer {
    /// The peer.
    pub id: PeerId,
    /// Its listen addresses.
    pub addrs: Vec<Address>,
}

/// `peers.rats`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PeersFile {
    /// Format version.
    pub version: u32,
    /// When it was written (Unix seconds).
    pub saved_at: u64,
    /// The peers.
    pub peers: Vec<KnownPeer>,
}

/// One entry of `peers_ever.rats`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EverPeer {
    /// The peer.
    pub id: PeerId,
    /// Its last known listen addresses.
    pub addrs: Vec<Address>,
    /// First time seen (Unix seconds).
    pub first_seen: u64,
    /// Last time seen connected (Unix seconds).
    pub last_seen: u64,
    /// Successful connections.
    pub successes: u32,
    /// Failed reconnection attempts.
    pub failures: u32,
}

/// `peers_ever.rats`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PeersEverFile {
    /// Format version.
    pub version: u32,
    /// The peers.
    pub peers: Vec<EverPeer>,
}

/// Parses either file, checking the version.
pub fn parse<T: for<'de> Deserialize<'de> + Versioned>(bytes: &[u8]) -> Result<T, PeerFileError> {
    let v: T = serde_json::from_slice(bytes)?;
    if v.version() != FORMAT_VERSION {
        return Err(PeerFileError::UnsupportedVersion(v.version()));
    }
    Ok(v)
}

/// Why `peers.rats` or `peers_ever.rats` did not parse ([`parse`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerFileError {
    /// Not JSON of the file's shape (torn, edited badly, another file).
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A format version this build does not read (it writes [`FORMAT_VERSION`]).
    #[error("unsupported format version {0} (this build reads version {FORMAT_VERSION})")]
    UnsupportedVersion(u32),
}

/// Files with a format version.
pub trait Versioned {
    /// The file's version.
    fn version(&self) -> u32;
}

impl Versioned for PeersFile {
    fn version(&self) -> u32 {
        self.version
    }
}

impl Versioned for PeersEverFile {
    fn version(&self) -> u32 {
        self.version
    }
}

/// The in-memory table of every peer seen, bounded: when full, the peer seen longest ago goes.
#[derive(Debug, Default)]
pub struct EverTable {
    peers: HashMap<PeerId, EverPeer>,
    max: usize,
}

impl EverTable {
    /// A table of at most `max` peers, filled from a file's contents.
    pub fn new(max: usize, from: Vec<EverPeer>) -> Self {
        let mut t = EverTable {
            peers: HashMap::new(),
            max: max.max(1),
        };
        for p in from {
            t.insert(p);
        }
        t
    }

    fn insert(&mut self, mut p: EverPeer) {
        p.addrs.truncate(MAX_ADDRS);
        if !self.peers.contains_key(&p.id) && self.peers.len() >= self.max {
            let oldest = self
                .peers
                .values()
                .min_by_key(|e| e.last_seen)
                .map(|e| e.id);
            if let Some(id) = oldest {
                self.peers.remove(&id);
            }
        }
        self.peers.insert(p.id, p);
    }

    /// Records a connection to `id` now.
    pub fn seen(&mut self, id: PeerId, addrs: &[Address], now: u64) {
        match self.peers.get_mut(&id) {
            Some(e) => {
                e.last_seen = now;
                e.successes = e.successes.saturating_add(1);
                if !addrs.is_empty() {
                    e.addrs = addrs.iter().take(MAX_ADDRS).cloned().collect();
                }
            }
            None => self.insert(EverPeer {
                id,
                addrs: addrs.to_vec(),
                first_seen: now,
                last_seen: now,
                successes: 1,
                failures: 0,
            }),
        }
    }

    /// Where `id` listened when last seen (empty if unknown).
    pub fn addrs_of(&self, id: &PeerId) -> Vec<Address> {
        self.peers
            .get(id)
            .map(|e| e.addrs.clone())
            .unwrap_or_default()
    }

    /// Records a failed attempt to reach `id`.
    pub fn failed(&mut self, id: &PeerId) {
        if let Some(e) = self.peers.get_mut(id) {
            e.failures = e.failures.saturating_add(1);
        }
    }

    /// The best peers to try, most reliable and most recent first.
    pub fn best(&self) -> Vec<EverPeer> {
        let mut v: Vec<EverPeer> = self.peers.values().cloned().collect();
        v.sort_by(|a, b| {
            let score = |p: &EverPeer| i64::from(p.successes) - 2 * i64::from(p.failures);
            score(b).cmp(&score(a)).then(b.last_seen.cmp(&a.last_seen))
        });
        v
    }

    /// The file contents.
    pub fn to_file(&self) -> PeersEverFile {
        let mut peers: Vec<EverPeer> = self.peers.values().cloned().collect();
        peers.sort_by_key(|p| std::cmp::Reverse(p.last_seen));
        PeersEverFile {
            version: FORMAT_VERSION,
            peers,
        }
    }

    /// Number of peers.
    pub fn len(&self) -> usize {
        self.peers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rats_core::Identity;

    #[test]
    fn ever_table_is_bounded_and_ranks_reliable_peers_first() {
        let mut t = EverTable::new(2, Vec::new());
        let (a, b, c) = (
            Identity::generate().peer_id(),
            Identity::generate().peer_id(),
            Identity::generate().peer_id(),
        );
        t.seen(a, &[], 10);
        t.seen(b, &[], 20);
        t.seen(b, &[], 21);
        t.seen(c, &[], 30);
        assert_eq!(t.len(), 2, "oldest (a) evicted");
        assert_eq!(t.best()[0].id, b);
        t.failed(&b);
        t.failed(&b);
        assert_eq!(t.best()[0].id, c);
        let file = t.to_file();
        let back: PeersEverFile = parse(&serde_json::to_vec(&file).expect("json")).expect("parse");
        assert_eq!(back, file);
        assert!(matches!(
            parse::<PeersFile>(br#"{"version":9,"saved_at":0,"peers":[]}"#),
            Err(PeerFileError::UnsupportedVersion(9))
        ));
        assert!(matches!(
            parse::<PeersFile>(br#"{"version":1,"saved_at":0,"peers":"#),
            Err(PeerFileError::Json(e)) if e.is_eof()
        ));
    }
}
