//! The node actor: owns all state; reacts to datagrams, commands and a tick, each with the
//! time it happens, and queues what it sends in `outbox`. [`Actor::run`] drives it with a UDP
//! socket and the clock; the simulator (`crate::__sim`) drives it without either.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, trace};

use super::{Command, NodeSettings, Shared};
use crate::bencode::Value;
use crate::compact::NodeInfo;
use crate::id::{NodeId, is_local};
use crate::krpc::{self, Kind, Message};
use crate::lookup::{Lookup, LookupSummary};
use crate::ratelimit::{InboundLimiter, TokenBucket};
use crate::routing::{K, RoutingTable};
use crate::stats::DhtStats;
use crate::store::PeerStore;
use crate::token::TokenIssuer;

/// How often timeouts and stalled lookups are looked at.
pub(crate) const TICK: Duration = Duration::from_millis(50);
/// How often the table is maintained (pings, refreshes, token rotation).
const MAINTENANCE_EVERY: Duration = Duration::from_secs(1);
/// A bucket untouched this long is refreshed with a lookup.
const REFRESH_AFTER: Duration = Duration::from_secs(15 * 60);
/// Longest a lookup may run.
const LOOKUP_DEADLINE: Duration = Duration::from_secs(30);
/// Most queries of ours awaiting an answer.
const MAX_PENDING: usize = 1024;
/// Most lookups at once (user lookups beyond it wait in the command queue).
const MAX_LOOKUPS: usize = 32;
/// Largest datagram we read (KRPC messages are far smaller).
const MAX_DATAGRAM: usize = 4096;
/// BEP 42: distinct nodes that must agree on our public address before we trust it.
const IP_VOTES_NEEDED: usize = 5;
/// Our node id changes for BEP 42 at most this often.
const REKEY_EVERY: Duration = Duration::from_secs(30 * 60);
/// Lookups waiting for a free slot at most (more are answered at once with nothing found).
const MAX_WAITING_LOOKUPS: usize = 64;
/// Bootstrap addresses kept at most.
const MAX_BOOTSTRAP: usize = 64;
/// Peers taken from one node's answer at most.
const MAX_VALUES_PER_ANSWER: usize = 100;

/// A query argument.
pub(super) enum Arg {
    Bytes(Vec<u8>),
    Int(i64),
}

enum Purpose {
    Lookup(u64),
    Announce(u64),
    Ping(Option<oneshot::Sender<Option<NodeId>>>),
}

struct Pending {
    addr: SocketAddr,
    id: Option<NodeId>,
    purpose: Purpose,
    sent: Instant,
    slow: bool,
}

#[derive(PartialEq, Eq)]
enum Origin {
    User,
    Bootstrap,
    Refresh,
}

enum Phase {
    Searching,
    Announcing {
        waiting: usize,
        ok: usize,
        until: Instant,
    },
}

struct Running {
    lookup: Lookup,
    origin: Origin,
    announce: Option<Option<u16>>,
    results: Option<mpsc::Sender<SocketAddr>>,
    done: Option<oneshot::Sender<LookupSummary>>,
    phase: Phase,
}

pub(crate) struct Actor {
    pub(super) local: SocketAddr,
    v6: bool,
    settings: NodeSettings,
    pub(super) table: RoutingTable,
    pub(super) tokens: TokenIssuer,
    pub(super) store: PeerStore,
    pending: HashMap<u16, Pending>,
    waiting_lookups: VecDeque<Command>,
    lookups: HashMap<u64, Running>,
    next_lookup: u64,

    out_budget: TokenBucket,
    pub(super) in_budget: InboundLimiter,
    /// Claimed public address -> the distinct nodes that reported it.
    votes: HashMap<IpAddr, HashSet<IpAddr>>,
    last_rekey: Option<Instant>,
    pub(super) out_bytes: TokenBucket,
    pub(super) stats: DhtStats,
    shared: Arc<Shared>,
    bootstrapped: watch::Sender<bool>,
    pub(crate) outbox: Vec<(SocketAddr, Vec<u8>)>,
    /// Transaction ids and bucket-refresh targets: from entropy, or from a seed in the
    /// simulator, where a run must be reproducible.
    rng: rand::rngs::StdRng,
    rx: mpsc::Receiver<Command>,
    last_maintenance: Instant,
    last_bootstrap: Option<Instant>,
    bootstrap_backoff: Duration,
}

impl Actor {
    pub(crate) fn new(
        local: SocketAddr,
        settings: NodeSettings,
        rx: mpsc::Receiver<Command>,
        bootstrapped: watch::Sender<bool>,
        shared: Arc<Shared>,
        now: Instant,
    ) -> Self {
        let id = settings.id.unwrap_or_else(NodeId::random);
        let stats = DhtStats {
            node_id: id.to_hex(),
            local_addr: Some(local),
            ..DhtStats::default()
        };
        // Visible from the first moment, not only after the first tick.
        *shared.stats.lock() = stats.clone();
        Actor {
            local,
            v6: local.is_ipv6(),
            table: RoutingTable::new(id, settings.restrict_routing_ips),
            tokens: TokenIssuer::new(now),
            store: PeerStore::new(settings.max_stored_hashes, settings.max_peers_per_hash),
            pending: HashMap::new(),
            waiting_lookups: VecDeque::new(),
            lookups: HashMap::new(),
            next_lookup: 0,

            out_budget: TokenBucket::new(settings.max_queries_per_sec, now),
            in_budget: InboundLimiter::new(
                settings.max_inbound_per_ip_per_sec,
                settings.max_inbound_per_sec,
                now,
            ),
            votes: HashMap::new(),
            last_rekey: None,
            out_bytes: TokenBucket::new(settings.max_reply_bytes_per_sec, now),
            stats,
            shared,
            bootstrapped,
            outbox: Vec::new(),
            rx,
            last_maintenance: now,
            last_bootstrap: None,
            bootstrap_backoff: Duration::from_secs(5),
            rng: rand::SeedableRng::from_entropy(),
            settings,
        }
    }

    pub(crate) async fn run(
        mut self,
        socket: UdpSocket,
        cancel: CancellationToken,
    ) -> Vec<NodeInfo> {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.bootstrap(Instant::now());
        self.flush(&socket).await;
        loop {
            // The timer first, so a flood of datagrams cannot starve timeouts.
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break,
                _ = tick.tick() => self.tick(Instant::now()),
                cmd = self.rx.recv() => match cmd {
                    Some(c) => self.command(c, Instant::now()),
                    None => break,
                },
                r = socket.recv_from(&mut buf) => match r {
                    Ok((n, from)) => self.datagram(&buf[..n], from, Instant::now()),
                    // ICMP errors surface here on some systems; the query times out anyway.
                    Err(e) => trace!(error = %e, "dht recv error"),
                },
            }
            self.flush(&socket).await;
        }
        for (_, r) in self.lookups.drain() {
            if let Some(done) = r.done {
                let _ = done.send(r.lookup.summary(Instant::now()));
            }
        }
        self.good_nodes()
    }

    fn good_nodes(&self) -> Vec<NodeInfo> {
        self.table
            .entries()
            .filter(|e| e.verified && e.failures < 2)
            .map(|e| NodeInfo {
                id: e.id,
                addr: e.addr,
            })
            .collect()
    }

    async fn flush(&mut self, socket: &UdpSocket) {
        for (to, bytes) in self.outbox.drain(..) {
            if let Err(e) = socket.send_to(&bytes, to).await {
                trace!(%to, error = %e, "dht send failed");
            }
        }
    }

    /// Makes transaction ids and refresh targets follow `seed` (the simulator).
    pub(crate) fn seed_rng(&mut self, seed: u64) {
        self.rng = rand::SeedableRng::seed_from_u64(seed);
    }

    /// The routing table (read by the simulator).
    pub(crate) fn table(&self) -> &RoutingTable {
        &self.table
    }

    pub(super) fn own_id(&self) -> NodeId {
        self.table.own_id()
    }

    // ---- commands ----

    pub(crate) fn command(&mut self, c: Command, now: Instant) {
        match c {
            Command::Lookup {
                target,
                get_peers,
                announce,
                results,
                done,
            } => {
                if self.lookups.len() >= MAX_LOOKUPS {
                    if self.waiting_lookups.len() >= MAX_WAITING_LOOKUPS {
                        // Overloaded: answer at once, with nothing found.
                        let _ = done.send(LookupSummary::default());
                        return;
                    }
                    self.waiting_lookups.push_back(Command::Lookup {
                        target,
                        get_peers,
                        announce,
                        results,
                        done,
                    });
                    return;
                }
                self.start_lookup(
                    target,
                    get_peers,
                    Origin::User,
                    announce,
                    results,
                    Some(done),
                    now,
                );
            }
            Command::Ping { addr, done } => {
                if !self.send_query(
                    addr,
                    None,
                    b"ping",
                    Vec::new(),
                    Purpose::Ping(Some(done)),
                    now,
                ) {
                    // Out of budget: the caller gets "no answer" rather than waiting.
                }
            }
            Command::AddBootstrap(addrs) => {
                for a in addrs {
                    if a.is_ipv6() == self.v6
                        && a != self.local
                        && !self.settings.bootstrap.contains(&a)
                        && self.settings.bootstrap.len() < MAX_BOOTSTRAP
                    {
                        self.settings.bootstrap.push(a);
                    }
                }
                self.bootstrap(now);
            }
            Command::Nodes { good_only, reply } => {
                let nodes = if good_only {
                    self.good_nodes()
                } else {
                    self.table
                        .entries()
                        .map(|e| NodeInfo {
                            id: e.id,
                            addr: e.addr,
                        })
                        .collect()
                };
                let _ = reply.send(nodes);
            }
        }
    }

    pub(crate) fn bootstrap(&mut self, now: Instant) {
        if self.lookups.values().any(|r| r.origin == Origin::Bootstrap) {
            return;
        }
        self.last_bootstrap = Some(now);
        let own = self.own_id();
        self.start_lookup(own, false, Origin::Bootstrap, None, None, None, now);
    }

    #[allow(clippy::too_many_arguments)]
    fn start_lookup(
        &mut self,
        target: NodeId,
        get_peers: bool,
        origin: Origin,
        announce: Option<Option<u16>>,
        results: Option<mpsc::Sender<SocketAddr>>,
        done: Option<oneshot::Sender<LookupSummary>>,
        now: Instant,
    ) {
        let seeds = self.table.closest_for_lookup(&target, K);
        let mut unknown: Vec<SocketAddr> = Vec::new();
        let mut known: Vec<NodeInfo> = seeds;
        if known.len() < K {
            known.extend(
                self.settings
                    .saved
                    .iter()
                    .filter(|n| n.addr.is_ipv6() == self.v6),
            );
            unknown.extend(self.settings.bootstrap.iter().copied());
        }
        let mut lookup = Lookup::new(target, get_peers, &known, &unknown, now);
        if get_peers {
            // Announces stored here count too: in a small network we may be the closest node.
            let local = self.store.get(&target, 64, self.v6, now);
            let new = lookup.add_local_peers(&local, now);
            if let Some(tx) = &results {
                for p in new {
                    let _ = tx.try_send(p);
                }
            }
        }
        let id = self.next_lookup;
        self.next_lookup += 1;
        self.lookups.insert(
            id,
            Running {
                lookup,
                origin,
                announce,
                results,
                done,
                phase: Phase::Searching,
            },
        );
        self.advance(id, now);
    }

    /// Sends what the lookup may send now; finishes it when done.
    fn advance(&mut self, id: u64, now: Instant) {
        loop {
            let Some(r) = self.lookups.get_mut(&id) else {
                return;
            };
            if !matches!(r.phase, Phase::Searching) {
                return;
            }
            if r.lookup.is_done() || now.duration_since(r.lookup.started()) >= LOOKUP_DEADLINE {
                self.search_finished(id, now);
                return;
            }
            if self.pending.len() >= MAX_PENDING || !self.out_budget.take(now) {
                return;
            }
            let Some((addr, node)) = r.lookup.next_query() else {
                // Put back the budget token we did not use.
                self.out_budget.refund();
                return;
            };
            let target = r.lookup.target;
            let method: &'static [u8] = if r.lookup.get_peers {
                b"get_peers"
            } else {
                b"find_node"
            };
            let key: &'static [u8] = if r.lookup.get_peers {
                b"info_hash"
            } else {
                b"target"
            };
            let args = vec![(key, Arg::Bytes(target.0.to_vec()))];
            self.send_query_unmetered(addr, node, method, args, Purpose::Lookup(id), now);
        }
    }

    fn search_finished(&mut self, id: u64, now: Instant) {
        let Some(r) = self.lookups.get_mut(&id) else {
            return;
        };
        if let Some(port) = r.announce {
            let targets = r.lookup.announce_targets();
            let hash = r.lookup.target;
            // Like libtorrent, keep our own announce too: a lookup through us finds it.
            let me = SocketAddr::new(self.local.ip(), port.unwrap_or(self.local.port()));
            if !self.local.ip().is_unspecified() {
                self.store.add(hash, me, now);
            }
            r.phase = Phase::Announcing {
                waiting: 0,
                ok: 0,
                until: now + self.settings.request_timeout,
            };
            let mut sent = 0;
            for (addr, token) in targets {
                let (port_value, implied) = match port {
                    Some(p) => (p, 0),
                    None => (self.local.port(), 1),
                };
                let args = vec![
                    (&b"info_hash"[..], Arg::Bytes(hash.0.to_vec())),
                    (&b"token"[..], Arg::Bytes(token)),
                    (&b"port"[..], Arg::Int(i64::from(port_value))),
                    (&b"implied_port"[..], Arg::Int(implied)),
                ];
                if self.send_query(
                    addr,
                    None,
                    b"announce_peer",
                    args,
                    Purpose::Announce(id),
                    now,
                ) {
                    sent += 1;
                }
            }
            if let Some(r) = self.lookups.get_mut(&id)
                && let Phase::Announcing { waiting, .. } = &mut r.phase
            {
                *waiting = sent;
            }
            if sent > 0 {
                return;
            }
        }
        self.finish(id, now);
    }

    fn finish(&mut self, id: u64, now: Instant) {
        let Some(r) = self.lookups.remove(&id) else {
            return;
        };
        let mut summary = r.lookup.summary(now);
        if let Phase::Announcing { ok, .. } = r.phase {
            summary.announced_to = ok;
        }
        self.stats.lookups_done += 1;
        let bootstrapped = r.origin == Origin::Bootstrap && summary.responses > 0;
        if bootstrapped {
            self.stats.bootstrapped = true;
            self.bootstrap_backoff = Duration::from_secs(5);
        } else if r.origin == Origin::Bootstrap {
            self.bootstrap_backoff = (self.bootstrap_backoff * 2).min(Duration::from_secs(120));
        }
        // Statistics first: whoever is woken next reads them.
        self.publish();
        if bootstrapped {
            self.bootstrapped.send_replace(true);
        }
        debug!(
            target = %r.lookup.target,
            responses = summary.responses,
            peers = summary.peers.len(),
            ms = summary.duration.as_millis() as u64,
            "dht lookup finished"
        );
        if let Some(done) = r.done {
            let _ = done.send(summary);
        }
        // Answers still pending for this lookup will feed the routing table only.
        if let Some(c) = self.waiting_lookups.pop_front() {
            self.command(c, now);
        }
    }

    // ---- sending ----

    /// Sends a query if the outbound budget allows.
    fn send_query(
        &mut self,
        addr: SocketAddr,
        id: Option<NodeId>,
        method: &'static [u8],
        args: Vec<(&'static [u8], Arg)>,
        purpose: Purpose,
        now: Instant,
    ) -> bool {
        if self.pending.len() >= MAX_PENDING || !self.out_budget.take(now) {
            if let Purpose::Ping(Some(done)) = purpose {
                let _ = done.send(None);
            }
            return false;
        }
        self.send_query_unmetered(addr, id, method, args, purpose, now);
        true
    }

    fn send_query_unmetered(
        &mut self,
        addr: SocketAddr,
        id: Option<NodeId>,
        method: &'static [u8],
        args: Vec<(&'static [u8], Arg)>,
        purpose: Purpose,
        now: Instant,
    ) {
        // Random transaction ids: a node that saw one of ours cannot predict the next.
        let mut tid: u16 = rand::Rng::r#gen(&mut self.rng);
        while self.pending.contains_key(&tid) {
            tid = rand::Rng::r#gen(&mut self.rng);
        }
        let tid_bytes = tid.to_be_bytes();
        let own = self.own_id();
        let want: &'static [u8] = if self.v6 { b"n6" } else { b"n4" };
        let mut values: Vec<(&[u8], Value<'_>)> = args
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Arg::Bytes(b) => Value::Bytes(b),
                    Arg::Int(i) => Value::Int(*i),
                };
                (*k, value)
            })
            .collect();
        if method != b"ping" && method != b"announce_peer" {
            values.push((b"want", Value::List(vec![Value::Bytes(want)])));
        }
        let bytes = krpc::encode_query(&tid_bytes, method, values, &own);
        self.outbox.push((addr, bytes));
        self.pending.insert(
            tid,
            Pending {
                addr,
                id,
                purpose,
                sent: now,
                slow: false,
            },
        );
        self.stats.queries_sent += 1;
    }

    // ---- receiving ----

    pub(crate) fn datagram(&mut self, data: &[u8], from: SocketAddr, now: Instant) {
        let msg = match Message::parse(data) {
            Ok(m) => m,
            Err(e) => {
                self.stats.malformed_dropped += 1;
                trace!(%from, error = %e, "malformed dht datagram");
                return;
            }
        };
        match msg.kind {
            Kind::Query(ref q) => {
                if q.id == self.own_id() {
                    // Our own query came back to us (we are in our bootstrap list).
                    return;
                }
                self.stats.queries_received += 1;
                // A query's source may be spoofed: the node enters the table unverified (not
                // handed to others; pinged by maintenance), and only if we answered it.
                if self.answer(&msg, q, from, now) && !msg.read_only {
                    self.table.heard_from(q.id, from, false, now);
                }
            }
            Kind::Response(ref r) => {
                let Some(p) = self.take_pending(msg.tid, from) else {
                    return;
                };
                let Some(id) = r.id else { return };
                self.stats.responses_received += 1;
                if id != self.own_id() && !msg.read_only {
                    self.table.heard_from(id, from, true, now);
                }
                if let Some(ip) = msg.ip {
                    self.vote_external(ip, from, now);
                }
                match p.purpose {
                    Purpose::Ping(done) => {
                        if let Some(done) = done {
                            let _ = done.send(Some(id));
                        }
                    }
                    Purpose::Lookup(l) => {
                        let nodes = if self.v6 { &r.nodes6 } else { &r.nodes };
                        let own = self.own_id();
                        // At most 2K nodes from one answer: a hostile node cannot flood the
                        // lookup with candidates of its choosing.
                        let nodes: Vec<NodeInfo> = nodes
                            .iter()
                            .filter(|n| n.id != own && n.addr != self.local)
                            .take(2 * K)
                            .copied()
                            .collect();
                        let values: Vec<SocketAddr> = r
                            .values
                            .iter()
                            .filter(|v| acceptable_peer(v, from))
                            .take(MAX_VALUES_PER_ANSWER)
                            .copied()
                            .collect();
                        if let Some(run) = self.lookups.get_mut(&l) {
                            let new = run
                                .lookup
                                .on_response(from, id, r.token, &nodes, &values, now);
                            if let Some(tx) = &run.results {
                                for peer in new {
                                    // A reader that stopped reading loses peers, never the node.
                                    let _ = tx.try_send(peer);
                                }
                            }
                            self.advance(l, now);
                        }
                    }
                    Purpose::Announce(l) => self.announce_answered(l, true, now),
                }
            }
            Kind::Error { code, ref message } => {
                let Some(p) = self.take_pending(msg.tid, from) else {
                    return;
                };
                debug!(%from, code, message, "dht error response");
                match p.purpose {
                    Purpose::Ping(done) => {
                        if let Some(done) = done {
                            let _ = done.send(None);
                        }
                    }
                    Purpose::Lookup(l) => {
                        if let Some(run) = self.lookups.get_mut(&l) {
                            run.lookup.on_failure(from);
                            self.advance(l, now);
                        }
                    }
                    Purpose::Announce(l) => self.announce_answered(l, false, now),
                }
            }
        }
    }

    /// The pending query a response answers: same transaction id and same address.
    fn take_pending(&mut self, tid: &[u8], from: SocketAddr) -> Option<Pending> {
        let key = <[u8; 2]>::try_from(tid).ok().map(u16::from_be_bytes);
        match key.and_then(|k| self.pending.get(&k).map(|p| (k, p.addr))) {
            Some((k, addr)) if addr == from => self.pending.remove(&k),
            _ => {
                self.stats.unexpected_responses += 1;
                None
            }
        }
    }

    fn announce_answered(&mut self, id: u64, accepted: bool, now: Instant) {
        let Some(r) = self.lookups.get_mut(&id) else {
            return;
        };
        if let Phase::Announcing { waiting, ok, .. } = &mut r.phase {
            *waiting = waiting.saturating_sub(1);
            if accepted {
                *ok += 1;
            }
            if *waiting == 0 {
                self.finish(id, now);
            }
        }
    }

    /// BEP 42: once enough nodes agree on our public IP, take an id valid for it.
    fn vote_external(&mut self, ip: SocketAddr, from: SocketAddr, now: Instant) {
        if is_local(ip.ip()) || is_local(from.ip()) || ip.is_ipv6() != self.v6 {
            return;
        }
        if self.votes.len() >= 16 && !self.votes.contains_key(&ip.ip()) {
            // Many different claims: keep the best-supported one only.
            let best = self
                .votes
                .iter()
                .max_by_key(|(_, v)| v.len())
                .map(|(k, v)| (*k, v.clone()));
            self.votes.clear();
            self.votes.extend(best);
        }
        let voters = self.votes.entry(ip.ip()).or_default();
        if voters.len() < IP_VOTES_NEEDED {
            // One vote per voting host.
            voters.insert(from.ip());
        }
        if voters.len() < IP_VOTES_NEEDED {
            return;
        }
        self.votes.clear();
        self.stats.external_addr = Some(ip);
        let may_rekey = self
            .last_rekey
            .is_none_or(|t| now.duration_since(t) >= REKEY_EVERY);
        if self.settings.secure_node_id && may_rekey && !self.own_id().is_secure_for(ip.ip()) {
            self.last_rekey = Some(now);
            let new = NodeId::secure_for(ip.ip());
            debug!(ip = %ip.ip(), id = %new, "dht: switching to a BEP 42 node id");
            self.table.rekey(new);
            self.stats.node_id = new.to_hex();
            self.bootstrap(now);
        }
    }

    // ---- time ----

    pub(crate) fn tick(&mut self, now: Instant) {
        let timeout = self.settings.request_timeout;
        let slow_after = (timeout / 2).min(Duration::from_millis(500));
        let mut expired = Vec::new();
        let mut slow = Vec::new();
        for (tid, p) in &mut self.pending {
            let age = now.duration_since(p.sent);
            if age >= timeout {
                expired.push(*tid);
            } else if !p.slow && age >= slow_after {
                p.slow = true;
                if let Purpose::Lookup(l) = p.purpose {
                    slow.push((l, p.addr));
                }
            }
        }
        for (l, addr) in slow {
            if let Some(r) = self.lookups.get_mut(&l) {
                r.lookup.on_slow(addr);
            }
        }
        // In id order, not the map's: the same inputs give the same queries next.
        expired.sort_unstable();
        for tid in expired {
            let Some(p) = self.pending.remove(&tid) else {
                continue;
            };
            self.stats.timeouts += 1;
            self.table.failed(p.addr, p.id, now);
            match p.purpose {
                Purpose::Ping(done) => {
                    if let Some(done) = done {
                        let _ = done.send(None);
                    }
                }
                Purpose::Lookup(l) => {
                    if let Some(r) = self.lookups.get_mut(&l) {
                        r.lookup.on_failure(p.addr);
                    }
                }
                Purpose::Announce(l) => self.announce_answered(l, false, now),
            }
        }
        let mut ids: Vec<u64> = self.lookups.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let announce_over = matches!(
                self.lookups.get(&id).map(|r| &r.phase),
                Some(Phase::Announcing { until, .. }) if now >= *until
            );
            if announce_over {
                self.finish(id, now);
            } else {
                self.advance(id, now);
            }
        }
        while self.lookups.len() < MAX_LOOKUPS
            && let Some(c) = self.waiting_lookups.pop_front()
        {
            self.command(c, now);
        }
        if now.duration_since(self.last_maintenance) >= MAINTENANCE_EVERY {
            self.last_maintenance = now;
            self.maintain(now);
        }
        self.publish();
    }

    fn maintain(&mut self, now: Instant) {
        self.tokens.maybe_rotate(now);
        self.store.expire(now);
        for n in self.table.to_ping(now, 4) {
            self.send_query(
                n.addr,
                Some(n.id),
                b"ping",
                Vec::new(),
                Purpose::Ping(None),
                now,
            );
        }
        let busy = self.lookups.values().any(|r| r.origin != Origin::User);
        if busy {
            return;
        }
        let due = self
            .last_bootstrap
            .is_none_or(|t| now.duration_since(t) >= self.bootstrap_backoff);
        if (self.table.is_empty() || !self.stats.bootstrapped) && due {
            self.bootstrap(now);
        } else if let Some(target) = self.table.stale_bucket(now, REFRESH_AFTER, &mut self.rng) {
            self.start_lookup(target, false, Origin::Refresh, None, None, None, now);
        }
    }

    fn publish(&mut self) {
        self.stats.routing_table_size = self.table.len();
        self.stats.stored_hashes = self.store.hashes();
        self.stats.lookups_running = self.lookups.len();
        *self.shared.stats.lock() = self.stats.clone();
    }
}

/// Whether a peer address from `from`'s answer is worth dialing: a real unicast address with a
/// port, and not a loopback or private address handed out by a node on the public internet
/// (which would make us dial our own machine or LAN on a stranger's word).
fn acceptable_peer(peer: &SocketAddr, from: SocketAddr) -> bool {
    let ip = peer.ip();
    let mapped = matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
    if peer.port() == 0 || ip.is_unspecified() || ip.is_multicast() || mapped {
        return false;
    }
    if let IpAddr::V4(v4) = ip
        && v4.is_broadcast()
    {
        return false;
    }
    is_local(from.ip()) || !is_local(ip)
}

#[cfg(test)]
mod tests {
    use super::acceptable_peer;

    #[test]
    fn peers_from_public_nodes_must_be_public_unicast() {
        let public_node = "8.8.8.8:6881".parse().expect("addr");
        let local_node = "127.0.0.1:6881".parse().expect("addr");
        let ok = |p: &str, from| acceptable_peer(&p.parse().expect("addr"), from);
        assert!(ok("1.2.3.4:7878", public_node));
        assert!(!ok("127.0.0.1:22", public_node));
        assert!(!ok("192.168.1.1:80", public_node));
        assert!(!ok("0.0.0.0:80", local_node));
        assert!(!ok("224.0.0.1:80", local_node));
        assert!(!ok("255.255.255.255:80", local_node));
        assert!(!ok("[::ffff:1.2.3.4]:80", local_node));
        assert!(!ok("1.2.3.4:0", local_node));
        // A local node (our own test network, a LAN) may hand out local peers.
        assert!(ok("127.0.0.1:7878", local_node));
    }
}
