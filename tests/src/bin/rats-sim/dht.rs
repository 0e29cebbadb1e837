//! The DHT scenario: N nodes running the real DHT node (routing table, iterative lookups,
//! the KRPC server with its rate limits, the announce store) over simulated UDP. Nodes join
//! one after another, each bootstrapping from three that joined before it; a tenth announce
//! info-hashes; then random nodes look them up while a share of the nodes leave and come
//! back. Reported: lookups' success, time to the first peer and to completion, queries and
//! hops per lookup, and the routing tables' health.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use rand::Rng;
use rats_discovery_dht::__sim::{SimDht, TICK_INTERVAL};
use rats_discovery_dht::{LookupSummary, NodeId};
use serde_json::json;

use crate::link::{LinkModel, Links};
use crate::rng;
use crate::sched::{Micros, Scheduler};

/// Time over which the nodes join.
const JOIN_US: Micros = 20_000_000;
/// Time after the last join before the announces.
const SETTLE_US: Micros = 10_000_000;
/// Time for the announces before the lookups.
const ANNOUNCE_US: Micros = 10_000_000;
/// Info-hashes announced.
const HASHES: usize = 50;
/// A lookup still running this long after it started counts as failed.
const LOOKUP_LIMIT_US: Micros = 60_000_000;

/// What to simulate.
#[derive(Clone, Debug)]
pub struct Params {
    /// Nodes.
    pub nodes: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Lookups measured.
    pub lookups: usize,
    /// Lookups started per second.
    pub rate: f64,
    /// Share of nodes that leave and come back during the lookups.
    pub churn: f64,
    /// The links (datagrams: a lost one is gone).
    pub link: LinkModel,
    /// The link preset's name.
    pub link_name: String,
}

enum Event {
    Datagram {
        to: u32,
        from: u32,
        epoch: u32,
        data: Vec<u8>,
    },
    /// Every online node's timer.
    TickAll,
    Join(u32),
    Leave(u32),
    Announce(u32),
    Lookup(u32),
    /// The routing tables' health is taken (halfway through the lookups, churn under way).
    Health,
}

struct Node {
    id: NodeId,
    addr: SocketAddr,
    dht: Option<SimDht>,
    /// Bumped at every leave: datagrams to an earlier life are dropped.
    epoch: u32,
}

struct Measured {
    started: Micros,
    hash: usize,
    summary: Option<LookupSummary>,
}

struct Sim {
    p: Params,
    base: Instant,
    sched: Scheduler<Event>,
    links: Links,
    nodes: Vec<Node>,
    by_addr: HashMap<SocketAddr, u32>,
    hashes: Vec<NodeId>,
    /// Who announced each hash (their address with the announced port).
    holders: Vec<Vec<SocketAddr>>,
    lookups: Vec<Measured>,
    joined: Vec<u32>,
    rng: rand::rngs::StdRng,
    events: u64,
    datagrams: u64,
    /// (median table size, share of entries pointing at departed nodes), when taken.
    health: Option<(f64, f64)>,
}

/// A public-looking IPv4 address per node (11.0.0.0/8 onwards: no private, loopback or
/// reserved range, so the node's filters treat it as on the Internet). Only a label: nothing
/// is sent to it.
fn address(i: usize) -> SocketAddr {
    let ip = Ipv4Addr::from(0x0B00_0001u32 + i as u32);
    SocketAddr::from((ip, 6881))
}

fn node_id(seed: u64, name: &str, i: u64) -> NodeId {
    let mut id = [0u8; 20];
    for (k, chunk) in id.chunks_mut(8).enumerate() {
        let v = rng::derive(seed, name, i * 3 + k as u64).to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
    NodeId(id)
}

impl Sim {
    fn new(p: Params) -> Sim {
        let nodes: Vec<Node> = (0..p.nodes)
            .map(|i| Node {
                id: node_id(p.seed, "dht-id", i as u64),
                addr: address(i),
                dht: None,
                epoch: 0,
            })
            .collect();
        let by_addr = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.addr, i as u32))
            .collect();
        Sim {
            links: Links::new(p.link.clone(), p.seed, p.nodes),
            hashes: (0..HASHES)
                .map(|k| node_id(p.seed, "hash", k as u64))
                .collect(),
            holders: vec![Vec::new(); HASHES],
            rng: rng::stream(p.seed, "dht", 0),
            p,
            base: Instant::now(),
            sched: Scheduler::new(),
            nodes,
            by_addr,
            lookups: Vec::new(),
            joined: Vec::new(),
            events: 0,
            datagrams: 0,
            health: None,
        }
    }

    fn instant(&self) -> Instant {
        self.base + Duration::from_micros(self.sched.now())
    }

    /// Node `i` starts, bootstrapping from three nodes online that joined before.
    fn join(&mut self, i: u32) {
        let now = self.instant();
        let mut boot = Vec::new();
        let online: Vec<u32> = self
            .joined
            .iter()
            .copied()
            .filter(|&j| j != i && self.nodes[j as usize].dht.is_some())
            .collect();
        for _ in 0..3 {
            if online.is_empty() {
                break;
            }
            let j = online[self.rng.gen_range(0..online.len())];
            boot.push(self.nodes[j as usize].addr);
        }
        let node = &mut self.nodes[i as usize];
        let seed = rng::derive(
            self.p.seed,
            "dht-node",
            (u64::from(i) << 32) | u64::from(node.epoch),
        );
        let mut dht = SimDht::new(node.id, node.addr, boot, seed, now);
        dht.bootstrap(now);
        node.dht = Some(dht);
        if !self.joined.contains(&i) {
            self.joined.push(i);
        }
        self.flush(i);
    }

    /// Sends what node `i` queued.
    fn flush(&mut self, i: u32) {
        let mut out = Vec::new();
        if let Some(d) = self.nodes[i as usize].dht.as_mut() {
            d.take_outbox(&mut out);
        }
        // In order of destination, so the upload queue does not depend on a map's order.
        out.sort_by_key(|(to, _)| *to);
        let now = self.sched.now();
        for (to, data) in out {
            let Some(&j) = self.by_addr.get(&to) else {
                continue;
            };
            self.datagrams += 1;
            if let Some(at) = self.links.datagram(i, j, data.len(), now) {
                let epoch = self.nodes[j as usize].epoch;
                self.sched.at(
                    at,
                    Event::Datagram {
                        to: j,
                        from: i,
                        epoch,
                        data,
                    },
                );
            }
        }
    }

    fn collect(&mut self, i: u32) {
        let Some(d) = self.nodes[i as usize].dht.as_mut() else {
            return;
        };
        for (key, summary) in d.finished() {
            if let Some(m) = self.lookups.get_mut(key as usize) {
                m.summary = Some(summary);
            }
        }
    }

    fn handle(&mut self, e: Event) {
        self.events += 1;
        let now = self.instant();
        match e {
            Event::Datagram {
                to,
                from,
                epoch,
                data,
            } => {
                if self.nodes[to as usize].epoch != epoch {
                    return;
                }
                let from_addr = self.nodes[from as usize].addr;
                if let Some(d) = self.nodes[to as usize].dht.as_mut() {
                    d.datagram(&data, from_addr, now);
                    self.flush(to);
                    self.collect(to);
                }
            }
            Event::TickAll => {
                for i in 0..self.nodes.len() as u32 {
                    if let Some(d) = self.nodes[i as usize].dht.as_mut() {
                        d.tick(now);
                        self.flush(i);
                        self.collect(i);
                    }
                }
                let next = self.sched.now() + TICK_INTERVAL.as_micros() as Micros;
                self.sched.at(next, Event::TickAll);
            }
            Event::Health => self.health = Some(self.table_health()),
            Event::Join(i) => self.join(i),
            Event::Leave(i) => {
                let node = &mut self.nodes[i as usize];
                node.dht = None;
                node.epoch += 1;
                let back = self.sched.now() + self.rng.gen_range(5_000_000..30_000_000);
                self.sched.at(back, Event::Join(i));
            }
            Event::Announce(k) => {
                let k = k as usize;
                let n = self.nodes.len() as u32;
                let i = self.rng.gen_range(0..n);
                let hash = self.hashes[k % HASHES];
                if let Some(d) = self.nodes[i as usize].dht.as_mut() {
                    // Keys past the measured lookups: announces are not measured.
                    d.lookup(u64::MAX - k as u64, hash, true, Some(7000), now);
                    let mut holder = self.nodes[i as usize].addr;
                    holder.set_port(7000);
                    self.holders[k % HASHES].push(holder);
                    self.flush(i);
                }
            }
            Event::Lookup(m) => {
                let n = self.nodes.len() as u32;
                let mut i = self.rng.gen_range(0..n);
                while self.nodes[i as usize].dht.is_none() {
                    i = (i + 1) % n;
                }
                let hash_index = self.rng.gen_range(0..HASHES);
                let hash = self.hashes[hash_index];
                self.lookups[m as usize].started = self.sched.now();
                self.lookups[m as usize].hash = hash_index;
                if let Some(d) = self.nodes[i as usize].dht.as_mut() {
                    d.lookup(u64::from(m), hash, true, None, now);
                    self.flush(i);
                }
            }
        }
    }

    fn run(mut self) -> serde_json::Value {
        let wall = Instant::now();
        let n = self.p.nodes;
        let join_gap = JOIN_US / n.max(1) as Micros;
        for i in 0..n {
            self.sched.at(i as Micros * join_gap, Event::Join(i as u32));
        }
        self.sched.at(0, Event::TickAll);
        let announce_at = JOIN_US + SETTLE_US;
        // Each hash announced by two nodes.
        for k in 0..2 * HASHES {
            let at = announce_at + k as Micros * ANNOUNCE_US / (2 * HASHES) as Micros;
            self.sched.at(at, Event::Announce(k as u32));
        }
        let lookups_at = announce_at + ANNOUNCE_US;
        let gap = (1e6 / self.p.rate.max(1e-3)) as Micros;
        for m in 0..self.p.lookups {
            self.lookups.push(Measured {
                started: 0,
                hash: 0,
                summary: None,
            });
            self.sched
                .at(lookups_at + m as Micros * gap, Event::Lookup(m as u32));
        }
        let lookups_end = lookups_at + self.p.lookups as Micros * gap;
        // Churn during the lookups: each churning node leaves once at a random moment.
        for i in 0..n as u32 {
            if rng::unit(rng::derive(self.p.seed, "dht-churner", u64::from(i))) < self.p.churn {
                let at = self
                    .rng
                    .gen_range(lookups_at..lookups_end.max(lookups_at + 1));
                self.sched.at(at, Event::Leave(i));
            }
        }
        self.sched
            .at(lookups_at + (lookups_end - lookups_at) / 2, Event::Health);
        let end = lookups_end + LOOKUP_LIMIT_US;
        while let Some(e) = self.sched.next_until(end) {
            self.handle(e);
            if self.lookups.iter().all(|m| m.summary.is_some()) && !self.lookups.is_empty() {
                break;
            }
        }
        self.report(wall.elapsed())
    }

    /// The online nodes' routing tables: median size, and the share of entries that point at
    /// nodes that are gone.
    fn table_health(&self) -> (f64, f64) {
        let (mut sizes, mut entries, mut dead) = (Vec::new(), 0usize, 0usize);
        for nd in &self.nodes {
            let Some(d) = &nd.dht else { continue };
            let table = d.table();
            sizes.push(table.len() as f64);
            for (_, addr, _) in &table {
                entries += 1;
                if self
                    .by_addr
                    .get(addr)
                    .is_none_or(|&j| self.nodes[j as usize].dht.is_none())
                {
                    dead += 1;
                }
            }
        }
        (pct(&mut sizes, 0.5), dead as f64 / entries.max(1) as f64)
    }

    fn report(&self, wall: Duration) -> serde_json::Value {
        let mut first = Vec::new();
        let mut done = Vec::new();
        let mut queries = Vec::new();
        let mut hops = Vec::new();
        let mut first_hops = Vec::new();
        let mut found = 0usize;
        for m in &self.lookups {
            let Some(s) = &m.summary else { continue };
            done.push(s.duration.as_secs_f64() * 1000.0);
            queries.push(s.queries as f64);
            hops.push(f64::from(s.hops));
            first_hops.extend(s.first_peer_hops.map(f64::from));
            if let Some(f) = s.first_peer {
                first.push(f.as_secs_f64() * 1000.0);
            }
            if s.peers.iter().any(|p| self.holders[m.hash].contains(p)) {
                found += 1;
            }
        }
        let (table_p50, dead_share) = self.health.unwrap_or_else(|| self.table_health());
        let total = self.lookups.len().max(1);
        json!({
            "scenario": "dht",
            "nodes": self.p.nodes,
            "seed": self.p.seed,
            "link": self.p.link_name,
            "lookups": self.lookups.len(),
            "churn": self.p.churn,
            "success": ((found as f64 / total as f64) * 1000.0).round() / 1000.0,
            "first_peer_p50_ms": pct(&mut first.clone(), 0.5),
            "first_peer_p90_ms": pct(&mut first, 0.9),
            "done_p50_ms": pct(&mut done.clone(), 0.5),
            "done_p90_ms": pct(&mut done, 0.9),
            "queries_p50": pct(&mut queries.clone(), 0.5),
            "queries_p90": pct(&mut queries, 0.9),
            "hops_p50": pct(&mut hops.clone(), 0.5),
            "hops_p90": pct(&mut hops, 0.9),
            "first_peer_hops_p50": pct(&mut first_hops.clone(), 0.5),
            "first_peer_hops_p90": pct(&mut first_hops, 0.9),
            "table_size_p50": table_p50,
            "dead_entry_share": (dead_share * 1000.0).round() / 1000.0,
            "datagrams": self.datagrams,
            "events": self.events,
            "sim_secs": (self.sched.now() as f64 / 1e5).round() / 10.0,
            "wall_secs": (wall.as_secs_f64() * 10.0).round() / 10.0,
        })
    }
}

/// The `q` quantile of `v` (sorted here), to one decimal.
fn pct(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let k = ((v.len() - 1) as f64 * q).round() as usize;
    (v[k] * 10.0).round() / 10.0
}

/// Runs the scenario; its figures as one JSON object.
pub fn run(p: Params) -> serde_json::Value {
    Sim::new(p).run()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_in_a_small_network_find_the_announcers() {
        let r = run(Params {
            nodes: 60,
            seed: 4,
            lookups: 20,
            rate: 5.0,
            churn: 0.0,
            link: LinkModel::wan(),
            link_name: "wan".into(),
        });
        assert!(r["success"].as_f64().unwrap_or(0.0) >= 0.9, "{r}");
        assert!(r["table_size_p50"].as_f64().unwrap_or(0.0) >= 20.0, "{r}");
    }
}
