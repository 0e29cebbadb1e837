//! One iterative Kademlia lookup (find_node or get_peers): which nodes to ask next, what they
//! answered, when it is done. The node actor drives it; this holds no sockets or timers.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::compact::NodeInfo;
use crate::id::{NodeId, is_local};
use crate::routing::K;

/// Queries in flight per lookup (BEP 5 / Kademlia alpha, a little wider for latency).
pub const ALPHA: usize = 4;
/// Candidates kept per lookup (the closest ones).
const MAX_CANDIDATES: usize = 64;
/// Distinct peers kept per lookup.
const MAX_PEERS: usize = 1024;
/// Queries one lookup sends at most (with at most 2K nodes taken per answer, this also bounds
/// the addresses it remembers).
const MAX_QUERIES: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Fresh,
    InFlight { counted: bool },
    Responded,
    Failed,
}

#[derive(Debug)]
struct Candidate {
    id: Option<NodeId>,
    addr: SocketAddr,
    state: State,
    token: Option<Vec<u8>>,
    /// How many answers away from our own knowledge: a seed is hop 1, a node named in a
    /// hop-h node's answer is hop h + 1 (the first answer that names it).
    hop: u8,
}

/// What a finished lookup found.
#[derive(Clone, Debug, Default)]
pub struct LookupSummary {
    /// Distinct peers found (get_peers).
    pub peers: Vec<SocketAddr>,
    /// The closest nodes that answered, closest first.
    pub closest: Vec<NodeInfo>,
    /// Nodes that answered.
    pub responses: usize,
    /// Queries sent.
    pub queries: usize,
    /// How long it took.
    pub duration: Duration,
    /// Time to the first peer, if any.
    pub first_peer: Option<Duration>,
    /// Nodes that accepted our announce (when announcing).
    pub announced_to: usize,
    /// Hops to the closest nodes that answered: the largest hop among them (a seed is 1).
    pub hops: u8,
    /// The hop of the node whose answer gave the first peer (0: our own store).
    pub first_peer_hops: Option<u8>,
}

/// An iterative lookup.
#[derive(Debug)]
pub struct Lookup {
    /// The id or info-hash looked up.
    pub target: NodeId,
    /// get_peers (true) or find_node.
    pub get_peers: bool,
    candidates: Vec<Candidate>,
    seen: HashSet<SocketAddr>,
    /// Public IPs with a candidate already: one node per host, so one host with many ports
    /// cannot take over the lookup.
    hosts: HashSet<std::net::IpAddr>,
    in_flight: usize,
    peers: HashSet<SocketAddr>,
    peer_order: Vec<SocketAddr>,
    started: Instant,
    first_peer: Option<Duration>,
    first_peer_hops: Option<u8>,
    responses: usize,
    queries: usize,
}

impl Lookup {
    /// A lookup starting from `seeds` (known nodes) and `unknown` (addresses without an id,
    /// such as bootstrap routers).
    pub fn new(
        target: NodeId,
        get_peers: bool,
        seeds: &[NodeInfo],
        unknown: &[SocketAddr],
        now: Instant,
    ) -> Self {
        let mut l = Lookup {
            target,
            get_peers,
            candidates: Vec::new(),
            seen: HashSet::new(),
            hosts: HashSet::new(),
            in_flight: 0,
            peers: HashSet::new(),
            peer_order: Vec::new(),
            started: now,
            first_peer: None,
            first_peer_hops: None,
            responses: 0,
            queries: 0,
        };
        l.add_nodes(seeds);
        for a in unknown {
            if l.seen.insert(*a) {
                l.candidates.push(Candidate {
                    id: None,
                    addr: *a,
                    state: State::Fresh,
                    token: None,
                    hop: 1,
                });
            }
        }
        l
    }

    /// Adds known nodes (seeds: hop 1), keeping the closest [`MAX_CANDIDATES`].
    pub fn add_nodes(&mut self, nodes: &[NodeInfo]) {
        self.add_nodes_at(nodes, 1);
    }

    /// Adds nodes learned at `hop`, keeping the closest [`MAX_CANDIDATES`].
    fn add_nodes_at(&mut self, nodes: &[NodeInfo], hop: u8) {
        for n in nodes {
            if !self.seen.insert(n.addr) {
                continue;
            }
            if !is_local(n.addr.ip()) && !self.hosts.insert(n.addr.ip()) {
                continue;
            }
            self.candidates.push(Candidate {
                id: Some(n.id),
                addr: n.addr,
                state: State::Fresh,
                token: None,
                hop,
            });
        }
        let target = self.target;
        // Unknown ids (bootstrap addresses) sort first: they are where we start.
        self.candidates
            .sort_by_key(|c| c.id.map(|id| id.distance(&target)));
        if self.candidates.len() > MAX_CANDIDATES {
            let mut kept = 0;
            self.candidates.retain(|c| {
                kept += 1;
                kept <= MAX_CANDIDATES || matches!(c.state, State::InFlight { .. })
            });
        }
    }

    /// The next address to query, if the lookup may send one now (marks it in flight).
    pub fn next_query(&mut self) -> Option<(SocketAddr, Option<NodeId>)> {
        if self.in_flight >= ALPHA || self.queries >= MAX_QUERIES {
            return None;
        }
        let c = self
            .candidates
            .iter_mut()
            .filter(|c| c.state != State::Failed)
            .take(K)
            .find(|c| c.state == State::Fresh)?;
        c.state = State::InFlight { counted: true };
        self.in_flight += 1;
        self.queries += 1;
        Some((c.addr, c.id))
    }

    fn find(&mut self, addr: SocketAddr) -> Option<&mut Candidate> {
        self.candidates.iter_mut().find(|c| c.addr == addr)
    }

    fn settle(&mut self, addr: SocketAddr, state: State) -> Option<&mut Candidate> {
        let mut released = false;
        let c = self.candidates.iter_mut().find(|c| c.addr == addr)?;
        if let State::InFlight { counted } = c.state {
            released = counted;
        }
        c.state = state;
        if released {
            self.in_flight -= 1;
        }
        self.find(addr)
    }

    /// A node answered. Returns the peers not seen before in this lookup.
    pub fn on_response(
        &mut self,
        addr: SocketAddr,
        id: NodeId,
        token: Option<&[u8]>,
        nodes: &[NodeInfo],
        values: &[SocketAddr],
        now: Instant,
    ) -> Vec<SocketAddr> {
        self.responses += 1;
        let mut hop = 1;
        if let Some(c) = self.settle(addr, State::Responded) {
            c.id = Some(id);
            c.token = token.filter(|t| t.len() <= 64).map(<[u8]>::to_vec);
            hop = c.hop;
        }
        let target = self.target;
        self.candidates
            .sort_by_key(|c| c.id.map(|id| id.distance(&target)));
        self.add_nodes_at(nodes, hop.saturating_add(1));
        let had_peers = !self.peers.is_empty();
        let new = self.add_local_peers(values, now);
        if !had_peers && !new.is_empty() {
            self.first_peer_hops = Some(hop);
        }
        new
    }

    /// Peers known without asking (our own announce store). Returns the new ones.
    pub fn add_local_peers(&mut self, peers: &[SocketAddr], now: Instant) -> Vec<SocketAddr> {
        let mut new = Vec::new();
        for p in peers {
            if self.peers.len() < MAX_PEERS && self.peers.insert(*p) {
                self.peer_order.push(*p);
                new.push(*p);
            }
        }
        if !new.is_empty() && self.first_peer.is_none() {
            self.first_peer = Some(now.duration_since(self.started));
            // From our own store unless an answer brought them (on_response says its hop).
            self.first_peer_hops = Some(0);
        }
        new
    }

    /// A query timed out or got an error.
    pub fn on_failure(&mut self, addr: SocketAddr) {
        self.settle(addr, State::Failed);
    }

    /// A query is slow: let another one go out in its place (it may still answer).
    pub fn on_slow(&mut self, addr: SocketAddr) {
        if let Some(c) = self.find(addr)
            && c.state == (State::InFlight { counted: true })
        {
            c.state = State::InFlight { counted: false };
            self.in_flight -= 1;
        }
    }

    /// Done when the K closest live candidates have all answered, or nothing is left to ask
    /// and nothing is in flight.
    pub fn is_done(&self) -> bool {
        let mut window = self
            .candidates
            .iter()
            .filter(|c| c.state != State::Failed)
            .take(K)
            .peekable();
        if window.peek().is_none() {
            return !self
                .candidates
                .iter()
                .any(|c| matches!(c.state, State::InFlight { .. }));
        }
        let mut all_answered = true;
        let mut any_fresh = false;
        for c in window {
            match c.state {
                State::Responded => {}
                State::Fresh => {
                    any_fresh = true;
                    all_answered = false;
                }
                _ => all_answered = false,
            }
        }
        let any_in_flight = self
            .candidates
            .iter()
            .any(|c| matches!(c.state, State::InFlight { .. }));
        let exhausted = self.queries >= MAX_QUERIES;
        all_answered || ((!any_fresh || exhausted) && !any_in_flight)
    }

    /// The closest answering nodes with their tokens (to announce to), closest first.
    pub fn announce_targets(&self) -> Vec<(SocketAddr, Vec<u8>)> {
        self.candidates
            .iter()
            .filter(|c| c.state == State::Responded)
            .filter_map(|c| c.token.clone().map(|t| (c.addr, t)))
            .take(K)
            .collect()
    }

    /// The summary so far.
    pub fn summary(&self, now: Instant) -> LookupSummary {
        LookupSummary {
            peers: self.peer_order.clone(),
            closest: self
                .candidates
                .iter()
                .filter(|c| c.state == State::Responded)
                .filter_map(|c| c.id.map(|id| NodeInfo { id, addr: c.addr }))
                .take(K)
                .collect(),
            responses: self.responses,
            queries: self.queries,
            duration: now.duration_since(self.started),
            first_peer: self.first_peer,
            announced_to: 0,
            hops: self
                .candidates
                .iter()
                .filter(|c| c.state == State::Responded)
                .take(K)
                .map(|c| c.hop)
                .max()
                .unwrap_or(0),
            first_peer_hops: self.first_peer_hops,
        }
    }

    /// When it started.
    pub fn started(&self) -> Instant {
        self.started
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seed is hop 1, a node its answer names hop 2; the peer that hop-2 node returns is
    /// reported as found at hop 2, and the closest answering nodes are 2 hops away.
    #[test]
    fn hops_count_answers_from_the_seeds() {
        let now = Instant::now();
        let target = NodeId([0u8; 20]);
        let seed = NodeInfo {
            id: NodeId([0xF0; 20]),
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
        };
        let near = NodeInfo {
            id: NodeId([0x01; 20]),
            addr: SocketAddr::from(([127, 0, 0, 2], 3000)),
        };
        let peer = SocketAddr::from(([127, 0, 0, 9], 7000));
        let mut l = Lookup::new(target, true, &[seed], &[], now);
        assert_eq!(l.next_query(), Some((seed.addr, Some(seed.id))));
        l.on_response(seed.addr, seed.id, None, &[near], &[], now);
        assert_eq!(l.next_query(), Some((near.addr, Some(near.id))));
        l.on_response(near.addr, near.id, None, &[], &[peer], now);
        let s = l.summary(now);
        assert_eq!(s.first_peer_hops, Some(2));
        assert_eq!(s.hops, 2);
        assert_eq!(s.peers, vec![peer]);
    }

    #[test]
    fn converges_and_finishes() {
        let now = Instant::now();
        let target = NodeId::random();
        let nodes: Vec<NodeInfo> = (0..20u16)
            .map(|i| NodeInfo {
                id: NodeId::random(),
                addr: SocketAddr::from(([127, 0, 0, 1], 2000 + i)),
            })
            .collect();
        let boot: SocketAddr = "127.0.0.1:1999".parse().expect("addr");
        let mut l = Lookup::new(target, true, &[], &[boot], now);
        assert_eq!(l.next_query(), Some((boot, None)));
        assert_eq!(l.next_query(), None);
        assert!(!l.is_done());
        let peer: SocketAddr = "127.0.0.1:7000".parse().expect("addr");
        let new = l.on_response(boot, NodeId::random(), None, &nodes, &[peer, peer], now);
        assert_eq!(new, vec![peer]);
        let mut asked = 0;
        while !l.is_done() {
            let Some((a, id)) = l.next_query() else {
                panic!("stuck with nothing to ask")
            };
            asked += 1;
            if asked % 3 == 0 {
                l.on_failure(a);
            } else {
                l.on_response(a, id.expect("known id"), Some(b"tok"), &[], &[], now);
            }
        }
        assert!(asked >= K);
        let targets = l.announce_targets();
        assert!(!targets.is_empty() && targets.len() <= K);
        assert_eq!(l.summary(now).peers, vec![peer]);
    }

    #[test]
    fn empty_lookup_is_done() {
        let l = Lookup::new(NodeId::random(), false, &[], &[], Instant::now());
        assert!(l.is_done());
    }
}
