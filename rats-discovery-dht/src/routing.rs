//! The Kademlia routing table: 160 buckets of K nodes by shared-prefix length with our id.
//!
//! Old nodes that keep answering are kept over new ones (they are the most likely to stay);
//! newcomers for a full bucket wait in a small replacement list and take the place of a node
//! that stops answering. Nodes that only queried us (their source address may be spoofed) are
//! kept but never handed to others until they answer a query of ours, and a verified newcomer
//! takes the place of such a node in a full bucket. At most one node per IP address (per /64
//! for IPv6) per bucket, except for local addresses, so one host cannot fill a bucket.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::compact::NodeInfo;
use crate::id::{NodeId, is_local};

/// Nodes per bucket.
pub const K: usize = 8;
/// A node that has not been heard from for this long is questionable and gets pinged.
pub const QUESTIONABLE_AFTER: Duration = Duration::from_secs(15 * 60);
/// Failed queries in a row after which a node is bad and replaceable.
const BAD_AFTER_FAILURES: u8 = 2;
/// Failed queries in a row after which a node is dropped even with no replacement.
const DROP_AFTER_FAILURES: u8 = 4;
/// A questionable node is pinged at most this often.
const PING_EVERY: Duration = Duration::from_secs(60);

/// A node in the table.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Its id.
    pub id: NodeId,
    /// Its address.
    pub addr: SocketAddr,
    /// When it last answered us or queried us.
    pub last_seen: Instant,
    /// Failed queries in a row.
    pub failures: u8,
    /// It has answered one of our queries.
    pub verified: bool,
    /// When we last pinged it because it was questionable.
    pub last_pinged: Option<Instant>,
}

impl Entry {
    fn is_bad(&self) -> bool {
        self.failures >= BAD_AFTER_FAILURES
    }
}

#[derive(Debug, Default)]
struct Bucket {
    nodes: Vec<Entry>,
    replacements: VecDeque<Entry>,
    last_changed: Option<Instant>,
}

/// The routing table.
#[derive(Debug)]
pub struct RoutingTable {
    own: NodeId,
    buckets: Vec<Bucket>,
    restrict_ips: bool,
}

impl RoutingTable {
    /// An empty table around `own`.
    pub fn new(own: NodeId, restrict_ips: bool) -> Self {
        RoutingTable {
            own,
            buckets: (0..160).map(|_| Bucket::default()).collect(),
            restrict_ips,
        }
    }

    /// Our id.
    pub fn own_id(&self) -> NodeId {
        self.own
    }

    /// Rebuilds the table around a new id (after learning our public address, BEP 42).
    pub fn rekey(&mut self, own: NodeId) {
        let old: Vec<Entry> = self.entries().cloned().collect();
        *self = RoutingTable::new(own, self.restrict_ips);
        for e in old {
            self.insert(e);
        }
    }

    fn bucket_of(&self, id: &NodeId) -> Option<usize> {
        let p = self.own.common_prefix_len(id);
        (p < 160).then_some(p)
    }

    /// Notes that `id` at `addr` answered a query of ours (`verified`) or queried us.
    /// Returns true if the node is (now) in the table.
    pub fn heard_from(
        &mut self,
        id: NodeId,
        addr: SocketAddr,
        verified: bool,
        now: Instant,
    ) -> bool {
        let Some(b) = self.bucket_of(&id) else {
            return false;
        };
        let bucket = &mut self.buckets[b];
        if let Some(e) = bucket.nodes.iter_mut().find(|e| e.id == id) {
            if e.addr != addr {
                // Someone else claims a known id: keep the node we know.
                return false;
            }
            e.last_seen = now;
            if verified {
                e.failures = 0;
                e.verified = true;
            }
            return true;
        }
        self.insert(Entry {
            id,
            addr,
            last_seen: now,
            failures: 0,
            verified,
            last_pinged: None,
        })
    }

    fn insert(&mut self, entry: Entry) -> bool {
        let Some(b) = self.bucket_of(&entry.id) else {
            return false;
        };
        let restrict = self.restrict_ips && !is_local(entry.addr.ip());
        let now = entry.last_seen;
        let bucket = &mut self.buckets[b];
        if bucket.nodes.iter().any(|e| e.addr == entry.addr) {
            return false;
        }
        if restrict {
            let key = ip_key(entry.addr.ip());
            if let Some(i) = bucket.nodes.iter().position(|e| ip_key(e.addr.ip()) == key) {
                // The same host again: a verified newcomer replaces a bad or unverified entry
                // (the host moved to another port); otherwise the first one stays.
                let old = &bucket.nodes[i];
                if entry.verified && (old.is_bad() || !old.verified) {
                    bucket.nodes[i] = entry;
                    bucket.last_changed = Some(now);
                    return true;
                }
                return false;
            }
        }
        if bucket.nodes.len() < K {
            bucket.nodes.push(entry);
            bucket.last_changed = Some(now);
            return true;
        }
        let replaceable = bucket.nodes.iter().position(Entry::is_bad).or_else(|| {
            entry
                .verified
                .then(|| bucket.nodes.iter().position(|e| !e.verified))
                .flatten()
        });
        if let Some(i) = replaceable {
            bucket.nodes[i] = entry;
            bucket.last_changed = Some(now);
            return true;
        }
        if entry.verified {
            bucket.replacements.retain(|e| e.id != entry.id);
            if bucket.replacements.len() >= K {
                bucket.replacements.pop_front();
            }
            bucket.replacements.push_back(entry);
        }
        false
    }

    /// Notes a failed query to `addr`; a node that fails twice in a row gives its place to
    /// the freshest replacement.
    pub fn failed(&mut self, addr: SocketAddr, id: Option<NodeId>, now: Instant) {
        let has = |b: &Bucket| b.nodes.iter().any(|e| e.addr == addr);
        // The expected id's bucket first; the table may know the address under another id.
        let b = match id.and_then(|id| self.bucket_of(&id)) {
            Some(b) if has(&self.buckets[b]) => b,
            _ => match self.buckets.iter().position(has) {
                Some(b) => b,
                None => return,
            },
        };
        let bucket = &mut self.buckets[b];
        let Some(i) = bucket.nodes.iter().position(|e| e.addr == addr) else {
            return;
        };
        bucket.nodes[i].failures = bucket.nodes[i].failures.saturating_add(1);
        if bucket.nodes[i].is_bad() {
            if let Some(r) = bucket.replacements.pop_back() {
                bucket.nodes[i] = r;
                bucket.last_changed = Some(now);
            } else if bucket.nodes[i].failures >= DROP_AFTER_FAILURES {
                bucket.nodes.swap_remove(i);
            }
        }
    }

    /// Removes `addr` (it told us something impossible, or was a bootstrap alias of us).
    pub fn remove(&mut self, addr: SocketAddr) {
        for b in &mut self.buckets {
            b.nodes.retain(|e| e.addr != addr);
        }
    }

    /// The `n` good, verified nodes closest to `target`, closest first (what we tell others).
    pub fn closest(&self, target: &NodeId, n: usize) -> Vec<NodeInfo> {
        self.closest_where(target, n, |e| e.verified)
    }

    /// The `n` good nodes closest to `target`, verified ones first (to start our own lookups:
    /// an unverified node costs us one query at most).
    pub fn closest_for_lookup(&self, target: &NodeId, n: usize) -> Vec<NodeInfo> {
        let mut v = self.closest(target, n);
        if v.len() < n {
            v.extend(self.closest_where(target, n - v.len(), |e| !e.verified));
        }
        v
    }

    fn closest_where(
        &self,
        target: &NodeId,
        n: usize,
        keep: impl Fn(&Entry) -> bool,
    ) -> Vec<NodeInfo> {
        let mut all: Vec<&Entry> = self.entries().filter(|e| !e.is_bad() && keep(e)).collect();
        all.sort_by_key(|e| e.id.distance(target));
        all.into_iter()
            .take(n)
            .map(|e| NodeInfo {
                id: e.id,
                addr: e.addr,
            })
            .collect()
    }

    /// Every node in the table.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.buckets.iter().flat_map(|b| b.nodes.iter())
    }

    /// Nodes in the table.
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.nodes.len()).sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Up to `n` nodes to ping now: never verified, or not heard from for
    /// [`QUESTIONABLE_AFTER`]; not bad; not pinged in the last minute. They are marked pinged.
    pub fn to_ping(&mut self, now: Instant, n: usize) -> Vec<NodeInfo> {
        let mut out = Vec::new();
        for e in self.buckets.iter_mut().flat_map(|b| b.nodes.iter_mut()) {
            if out.len() >= n {
                break;
            }
            let stale = !e.verified || now.duration_since(e.last_seen) >= QUESTIONABLE_AFTER;
            let recently = e
                .last_pinged
                .is_some_and(|t| now.duration_since(t) < PING_EVERY);
            if stale && !recently && !e.is_bad() {
                e.last_pinged = Some(now);
                out.push(NodeInfo {
                    id: e.id,
                    addr: e.addr,
                });
            }
        }
        out
    }

    /// A bucket that has not changed for `age` (and is not beyond the deepest used bucket):
    /// returns a random id in it to look up, and marks it refreshed.
    pub fn stale_bucket(
        &mut self,
        now: Instant,
        age: Duration,
        rng: &mut impl rand::RngCore,
    ) -> Option<NodeId> {
        let deepest = self.buckets.iter().rposition(|b| !b.nodes.is_empty())?;
        for (i, b) in self.buckets.iter_mut().enumerate().take(deepest + 1) {
            let stale = b.last_changed.is_none_or(|t| now.duration_since(t) >= age);
            if stale {
                b.last_changed = Some(now);
                return Some(self.own.random_with_prefix(i, rng));
            }
        }
        None
    }
}

/// What "the same host" means for the one-node-per-IP rule: the IPv4 address, or the /64 of
/// an IPv6 address (one end site usually has a whole /64).
fn ip_key(ip: std::net::IpAddr) -> u128 {
    match ip {
        std::net::IpAddr::V4(v4) => u128::from(u32::from(v4)),
        std::net::IpAddr::V6(v6) => (u128::from(v6) >> 64) | (1 << 100),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 10000 + i))
    }

    #[test]
    fn full_bucket_keeps_old_nodes_and_replaces_bad_ones() {
        let own = NodeId([0u8; 20]);
        let mut t = RoutingTable::new(own, true);
        let now = Instant::now();
        // All ids with the top bit set land in bucket 0.
        let ids: Vec<NodeId> = (0..10u8)
            .map(|i| {
                let mut b = [0u8; 20];
                b[0] = 0x80;
                b[19] = i;
                NodeId(b)
            })
            .collect();
        for (i, id) in ids.iter().enumerate().take(K) {
            assert!(t.heard_from(*id, addr(i as u16), true, now));
        }
        // A newcomer does not push out a live node.
        assert!(!t.heard_from(ids[8], addr(8), true, now));
        assert_eq!(t.len(), K);
        assert!(t.entries().all(|e| e.id != ids[8]));
        // After two failures the old node gives its place to the replacement.
        t.failed(addr(0), Some(ids[0]), now);
        assert!(t.entries().any(|e| e.id == ids[0]));
        t.failed(addr(0), Some(ids[0]), now);
        assert!(t.entries().all(|e| e.id != ids[0]));
        assert!(t.entries().any(|e| e.id == ids[8]));
        // An id already known at another address is not moved.
        assert!(!t.heard_from(ids[1], addr(99), true, now));
        let closest = t.closest(&ids[3], 1);
        assert_eq!(closest[0].id, ids[3]);
    }

    #[test]
    fn unverified_nodes_are_not_handed_out_and_give_way() {
        let own = NodeId([0u8; 20]);
        let mut t = RoutingTable::new(own, true);
        let now = Instant::now();
        let id = |i: u8| {
            let mut b = [0u8; 20];
            b[0] = 0x80;
            b[19] = i;
            NodeId(b)
        };
        // Eight nodes that only queried us fill bucket 0.
        for i in 0..K as u8 {
            assert!(t.heard_from(id(i), addr(u16::from(i)), false, now));
        }
        assert!(t.closest(&id(0), K).is_empty(), "never told to others");
        assert_eq!(t.closest_for_lookup(&id(0), K).len(), K, "but usable by us");
        // A node that answered us takes the place of one that did not.
        assert!(t.heard_from(id(50), addr(50), true, now));
        assert_eq!(t.closest(&id(0), K).len(), 1);
        // Each node is pinged once, then not again within a minute.
        assert_eq!(t.to_ping(now, 100).len(), K - 1);
        assert!(t.to_ping(now, 100).is_empty());
        assert_eq!(t.to_ping(now + PING_EVERY, 100).len(), K - 1);
    }

    #[test]
    fn one_public_ip_per_bucket() {
        let mut t = RoutingTable::new(NodeId([0u8; 20]), true);
        let now = Instant::now();
        let mut a = [0u8; 20];
        a[0] = 0x80;
        let mut b = a;
        b[19] = 1;
        assert!(t.heard_from(NodeId(a), "8.8.8.8:1".parse().expect("a"), true, now));
        assert!(!t.heard_from(NodeId(b), "8.8.8.8:2".parse().expect("a"), true, now));
    }
}
