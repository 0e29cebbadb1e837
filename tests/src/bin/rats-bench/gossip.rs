//! `gossip`: N nodes in this process on loopback, each dialing 6–8 random others (plus a ring,
//! so the graph is connected), all subscribed to one topic; messages of 256 bytes published
//! from random nodes at a fixed rate. Measures delivery ratio, publish-to-delivery latency at
//! every node, copies received per delivery and CPU per delivery.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rats::RatsClient;
use rats_core::Event;
use rats_gossipsub::GossipEvent;
use serde::Serialize;

use crate::common::{BenchResult, emit, fail, round1, shutdown_all};

const TOPIC: &str = "bench";
const SIZE: usize = 256;

#[derive(Serialize)]
struct Line {
    scenario: &'static str,
    nodes: usize,
    messages: usize,
    rate_per_s: f64,
    delivery: f64,
    p50_ms: f64,
    p99_ms: f64,
    dup_per_msg: f64,
    bytes_per_delivered_byte: f64,
    cpu_us_per_delivery: f64,
    /// Median size of the nodes' meshes for the topic at the end (`rats-sim` prints the same).
    mesh_p50: usize,
}

/// What to run.
pub struct Params {
    pub nodes: usize,
    pub messages: usize,
    pub rate: f64,
}

pub async fn run(p: Params) -> BenchResult {
    if p.nodes < 2 || p.messages == 0 {
        return Err("--nodes must be at least 2 and --messages at least 1".into());
    }
    let mut nodes = Vec::with_capacity(p.nodes);
    for _ in 0..p.nodes {
        match start().await {
            Ok(n) => nodes.push(n),
            Err(e) => {
                shutdown_all(&nodes).await;
                return Err(e);
            }
        }
    }
    let result = measure(&nodes, &p).await;
    shutdown_all(&nodes).await;
    emit(&result?);
    Ok(())
}

async fn start() -> BenchResult<RatsClient> {
    RatsClient::builder()
        .local_only()
        .listen("tcp:127.0.0.1:0")
        .map_err(fail("listen address"))?
        .configure(|c| {
            c.peer_exchange = false;
            c.max_connections_per_ip = 4096;
            c.max_pending_per_ip = 1024;
            c.max_pending_handshakes = 1024;
            c.max_peers = 256;
        })
        .start()
        .await
        .map_err(fail("start node"))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

async fn measure(nodes: &[RatsClient], p: &Params) -> BenchResult<Line> {
    let n = nodes.len();
    let gossip: Vec<_> = nodes
        .iter()
        .map(|c| c.gossip().ok_or("gossipsub not linked"))
        .collect::<Result<_, _>>()?;
    for g in &gossip {
        g.subscribe(TOPIC).map_err(fail("subscribe"))?;
    }
    // A ring plus 6-8 random dials per node.
    let mut rng = Xorshift(0x9E37_79B9_7F4A_7C15);
    let mut edges = std::collections::HashSet::new();
    for i in 0..n {
        edges.insert((i, (i + 1) % n));
        let extra = 5 + rng.below(3);
        for _ in 0..extra {
            let j = rng.below(n);
            if j != i && !edges.contains(&(j, i)) {
                edges.insert((i, j));
            }
        }
    }
    for &(a, b) in &edges {
        let addr = nodes[b]
            .listen_addrs()
            .first()
            .map(ToString::to_string)
            .ok_or("no listen address")?;
        // A duplicate or refused dial is fine: the graph stays connected through the ring.
        let _ = tokio::time::timeout(Duration::from_secs(10), nodes[a].connect(&addr)).await;
    }
    // Let subscriptions spread and the meshes form (a few heartbeats).
    tokio::time::sleep(Duration::from_secs(3)).await;

    let base = Instant::now();
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(p.messages * n)));
    let delivered = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for node in nodes {
        let mut events = node.events();
        let (lat, del) = (latencies.clone(), delivered.clone());
        readers.push(tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                let Ok(Event::Service { service, event }) = e else {
                    continue;
                };
                if service != rats_gossipsub::SERVICE_NAME {
                    continue;
                }
                if let Some(GossipEvent::Message { data, .. }) = event.downcast_ref() {
                    let mut ts = [0u8; 8];
                    ts.copy_from_slice(&data[..8]);
                    let sent = Duration::from_nanos(u64::from_le_bytes(ts));
                    let took = base.elapsed().saturating_sub(sent);
                    lat.lock().push(took);
                    del.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let cpu_before = rats_tests::cpu_ticks(std::process::id()).unwrap_or(0);
    let every = Duration::from_secs_f64(1.0 / p.rate.max(0.001));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for k in 0..p.messages {
        tick.tick().await;
        let from = rng.below(n);
        let mut payload = vec![0u8; SIZE];
        payload[..8].copy_from_slice(&(base.elapsed().as_nanos() as u64).to_le_bytes());
        payload[8..16].copy_from_slice(&(k as u64).to_le_bytes());
        gossip[from]
            .publish(TOPIC, payload)
            .map_err(fail("publish"))?;
    }
    let expected = (p.messages * (n - 1)) as u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cpu_after = rats_tests::cpu_ticks(std::process::id()).unwrap_or(0);
    for r in readers {
        r.abort();
    }
    let got = delivered.load(Ordering::Relaxed);
    let mut lat = std::mem::take(&mut *latencies.lock());
    lat.sort_unstable();
    let pct = |q: f64| {
        lat.get(((q * lat.len() as f64).ceil() as usize).saturating_sub(1))
            .map_or(0.0, |d| round1(d.as_secs_f64() * 1000.0))
    };
    let stats: Vec<_> = gossip.iter().map(|g| g.stats()).collect();
    let delivered_total: u64 = stats.iter().map(|s| s.delivered).sum();
    let duplicates: u64 = stats.iter().map(|s| s.duplicates).sum();
    let copies: u64 = stats.iter().map(|s| s.copies_sent).sum();
    // A publish on the wire: type, topic, origin, seqno, signature, payload; plus the frame
    // header and the record's share of the AEAD tag.
    let wire = (1 + 2 + TOPIC.len() + 32 + 8 + 64 + SIZE + 7 + 16) as f64;
    let ticks_per_s = 100.0;
    let cpu_us = (cpu_after.saturating_sub(cpu_before)) as f64 / ticks_per_s * 1e6;
    Ok(Line {
        scenario: "gossip",
        nodes: n,
        messages: p.messages,
        rate_per_s: p.rate,
        delivery: (got as f64 / expected as f64 * 10_000.0).round() / 10_000.0,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        dup_per_msg: round2(duplicates as f64 / delivered_total.max(1) as f64),
        bytes_per_delivered_byte: round2(
            copies as f64 * wire / (delivered_total.max(1) as f64 * SIZE as f64),
        ),
        cpu_us_per_delivery: round1(cpu_us / got.max(1) as f64),
        mesh_p50: {
            let mut m: Vec<usize> = stats
                .iter()
                .map(|s| s.mesh_sizes.get(TOPIC).copied().unwrap_or(0))
                .collect();
            m.sort_unstable();
            m.get(m.len() / 2).copied().unwrap_or(0)
        },
    })
}
