//! The Kademlia routing table: 160 buckets of K nodes by shared-prefix length with our id.
//!
//! Old nodes that keep answering are kept over new ones (they are the most likely to stay);
//! newcomers for a full bucket wait in a small replacement list and take the place of a node
//! that stops answering. At most one node per IP address per bucket, except for local
//! addresses, so one host cannot fill a bucket.

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
        })
    }

    fn insert(&mut self, entry: Entry) -> bool {
        let Some(b) = self.bucket_of(&entry.id) else {
            return false;
        };
        let restrict = self.restrict_ips && !is_local(entry.addr.ip());
        let bucket = &mut self.buckets[b];
        if restrict && bucket.nodes.iter().any(|e| e.addr.ip() == entry.addr.ip()) {
            return false;
        }
        if bucket.nodes.iter().any(|e| e.addr == entry.addr) {
            return false;
        }
        let now = entry.last_seen;
        if bucket.nodes.len() < K {
            bucket.nodes.push(entry);
            bucket.last_changed = Some(now);
            return true;
        }
        if let Some(bad) = bucket.nodes.iter().position(Entry::is_bad) {
            bucket.nodes[bad] = entry;
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
        let b = match id.and_then(|id| self.bucket_of(&id)) {
            Some(b) => b,
            None => match self
                .buckets
                .iter()
                .position(|b| b.nodes.iter().any(|e| e.addr == addr))
            {
                Some(b) => b,
                None => return,
            },
        };
        let bucket = &mut self.buckets[b];
        let Some(i) = bucket.nodes.iter().position(|e| e.addr == addr) else {
            return;
        };
        bucket.nodes[i].failures = bucket.nodes[i].failures.saturating_add(1);
        if bucket.nodes[i].is_bad()
            && let Some(r) = bucket.replacements.pop_back()
        {
            bucket.nodes[i] = r;
            bucket.last_changed = Some(now);
        }
    }

    /// Removes `addr` (it told us something impossible, or was a bootstrap alias of us).
    pub fn remove(&mut self, addr: SocketAddr) {
        for b in &mut self.buckets {
            b.nodes.retain(|e| e.addr != addr);
        }
    }

    /// The `n` good nodes closest to `target`, closest first.
    pub fn closest(&self, target: &NodeId, n: usize) -> Vec<NodeInfo> {
        let mut all: Vec<&Entry> = self.entries().filter(|e| !e.is_bad()).collect();
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

    /// Nodes not heard from for [`QUESTIONABLE_AFTER`] (to ping), at most `n`.
    pub fn questionable(&self, now: Instant, n: usize) -> Vec<NodeInfo> {
        self.entries()
            .filter(|e| now.duration_since(e.last_seen) >= QUESTIONABLE_AFTER)
            .take(n)
            .map(|e| NodeInfo {
                id: e.id,
                addr: e.addr,
            })
            .collect()
    }

    /// A bucket that has not changed for `age` (and is not beyond the deepest used bucket):
    /// returns a random id in it to look up, and marks it refreshed.
    pub fn stale_bucket(&mut self, now: Instant, age: Duration) -> Option<NodeId> {
        let deepest = self.buckets.iter().rposition(|b| !b.nodes.is_empty())?;
        for (i, b) in self.buckets.iter_mut().enumerate().take(deepest + 1) {
            let stale = b.last_changed.is_none_or(|t| now.duration_since(t) >= age);
            if stale {
                b.last_changed = Some(now);
                return Some(self.own.random_with_prefix(i));
            }
        }
        None
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
