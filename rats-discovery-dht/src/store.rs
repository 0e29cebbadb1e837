//! Peers announced to us (announce_peer), kept 30 minutes, with bounds on info-hashes and on
//! peers per info-hash so a flood of announces cannot grow memory.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;

use crate::id::NodeId;

/// How long an announce is kept (BEP 5 clients re-announce about every 15-30 minutes).
pub const PEER_TTL: Duration = Duration::from_secs(30 * 60);

/// The announce store.
#[derive(Debug)]
pub struct PeerStore {
    map: HashMap<NodeId, Vec<(SocketAddr, Instant)>>,
    max_hashes: usize,
    max_peers_per_hash: usize,
}

impl PeerStore {
    /// A store with the given bounds.
    pub fn new(max_hashes: usize, max_peers_per_hash: usize) -> Self {
        PeerStore {
            map: HashMap::new(),
            max_hashes,
            max_peers_per_hash,
        }
    }

    /// Stores `peer` for `hash`. When every slot is taken, the info-hash whose latest announce
    /// is the oldest makes room (so a flood of announces cannot lock out new ones for 30
    /// minutes); false only if `hash` itself cannot be stored.
    pub fn add(&mut self, hash: NodeId, peer: SocketAddr, now: Instant) -> bool {
        if !self.map.contains_key(&hash) && self.map.len() >= self.max_hashes {
            self.expire(now);
            if self.map.len() >= self.max_hashes {
                let stalest = self
                    .map
                    .iter()
                    .min_by_key(|(_, peers)| peers.iter().map(|(_, t)| *t).max())
                    .map(|(h, _)| *h);
                match stalest {
                    Some(h) => {
                        self.map.remove(&h);
                    }
                    None => return false,
                }
            }
        }
        let peers = self.map.entry(hash).or_default();
        if let Some(p) = peers.iter_mut().find(|(a, _)| *a == peer) {
            p.1 = now;
            return true;
        }
        if peers.len() >= self.max_peers_per_hash {
            // Replace the oldest announce: fresh peers are the useful ones.
            if let Some(oldest) = peers.iter_mut().min_by_key(|(_, t)| *t) {
                *oldest = (peer, now);
            }
            return true;
        }
        peers.push((peer, now));
        true
    }

    /// Up to `n` live peers for `hash` of the same family as `v6`, in random order.
    pub fn get(&self, hash: &NodeId, n: usize, v6: bool, now: Instant) -> Vec<SocketAddr> {
        let Some(peers) = self.map.get(hash) else {
            return Vec::new();
        };
        let mut live: Vec<SocketAddr> = peers
            .iter()
            .filter(|(a, t)| a.is_ipv6() == v6 && now.duration_since(*t) < PEER_TTL)
            .map(|(a, _)| *a)
            .collect();
        live.shuffle(&mut rand::thread_rng());
        live.truncate(n);
        live
    }

    /// Drops expired announces.
    pub fn expire(&mut self, now: Instant) {
        self.map.retain(|_, peers| {
            peers.retain(|(_, t)| now.duration_since(*t) < PEER_TTL);
            !peers.is_empty()
        });
    }

    /// Info-hashes stored.
    pub fn hashes(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_expiring() {
        let now = Instant::now();
        let mut s = PeerStore::new(2, 3);
        let (h1, h2, h3) = (NodeId::random(), NodeId::random(), NodeId::random());
        for p in 0..10u16 {
            assert!(s.add(h1, SocketAddr::from(([127, 0, 0, 1], p + 1)), now));
        }
        assert_eq!(s.get(&h1, 50, false, now).len(), 3);
        let soon = now + Duration::from_secs(1);
        assert!(s.add(h2, "127.0.0.1:1".parse().expect("a"), soon));
        // Full: the hash announced longest ago (h1) makes room.
        assert!(s.add(h3, "127.0.0.1:1".parse().expect("a"), soon));
        assert!(s.get(&h1, 50, false, soon).is_empty());
        assert_eq!(s.get(&h2, 50, false, soon).len(), 1);
        assert!(s.get(&h1, 50, true, now).is_empty());
        let later = soon + PEER_TTL;
        assert!(s.get(&h2, 50, false, later).is_empty());
        assert!(s.add(h1, "127.0.0.1:1".parse().expect("a"), later));
        assert_eq!(s.hashes(), 1);
    }
}
