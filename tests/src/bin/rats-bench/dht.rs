//! `dht`: a local testnet of N DHT nodes on 127.0.0.1 (bootstrapped from node 0, inbound limits
//! raised since every node shares one IP). Ten addresses are announced under one info-hash;
//! then `lookups` get_peers lookups from random nodes measure the time from `find_peers` to the
//! first peer (and to the end of the lookup, `complete_*`). Finally a rats node with its DHT bootstrapping from the testnet starts while
//! another rats node has announced itself: `first_peer_ms` is the time from starting it to its
//! first `PeerDiscovered` from the DHT.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rats::{Event, RatsClient};
use rats_discovery_dht::{DhtNode, NodeId, NodeSettings};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::common::{BenchResult, emit, fail, round1, shutdown_all};

#[derive(Serialize)]
struct Line {
    scenario: &'static str,
    nodes: usize,
    lookups: usize,
    median_ms: f64,
    p95_ms: f64,
    max_ms: f64,
    complete_median_ms: f64,
    complete_p95_ms: f64,
    first_peer_ms: f64,
    bootstrap_ms: f64,
    avg_routing_table: f64,
}

/// What to run.
pub struct Params {
    pub nodes: usize,
    pub lookups: usize,
}

fn settings(bootstrap: Vec<SocketAddr>) -> NodeSettings {
    let mut s = NodeSettings::new(SocketAddr::from(([127, 0, 0, 1], 0)), bootstrap);
    s.max_inbound_per_ip_per_sec = 1_000_000;
    s.max_inbound_per_sec = 1_000_000;
    s.max_reply_bytes_per_sec = u32::MAX;
    s.max_queries_per_sec = 10_000;
    s
}

pub async fn run(p: Params) -> BenchResult {
    if p.nodes < 2 || p.lookups == 0 {
        return Err("--nodes must be at least 2 and --lookups at least 1".into());
    }
    let stop = CancellationToken::new();
    let result = measure(&p, &stop).await;
    stop.cancel();
    emit(&result?);
    Ok(())
}

async fn measure(p: &Params, stop: &CancellationToken) -> BenchResult<Line> {
    let mut nodes: Vec<DhtNode> = Vec::with_capacity(p.nodes);
    let started = Instant::now();
    for _ in 0..p.nodes {
        let boot = nodes
            .first()
            .map(|n: &DhtNode| vec![n.local_addr()])
            .unwrap_or_default();
        let (node, task) = DhtNode::bind(settings(boot)).await.map_err(fail("bind"))?;
        tokio::spawn(task.run(stop.clone()));
        nodes.push(node);
    }
    for n in &nodes[1..] {
        if !n.wait_bootstrapped(Duration::from_secs(10)).await {
            return Err("a testnet node did not bootstrap".into());
        }
    }
    let bootstrap_ms = round1(started.elapsed().as_secs_f64() * 1e3);
    // Warm up: every node looks up a few random ids so routing tables fill as on a live node.
    for _ in 0..3 {
        let all = nodes.iter().map(|n| n.find_node(NodeId::random()));
        for r in futures::future::join_all(all).await {
            r.map_err(fail("warm-up lookup"))?;
        }
    }
    let avg_routing_table = round1(
        nodes.iter().map(DhtNode::routing_table_size).sum::<usize>() as f64 / nodes.len() as f64,
    );

    let hash = NodeId::random();
    let mut rng = rand::rngs::StdRng::from_entropy();
    for i in 0..10u16 {
        let n = &nodes[rng.gen_range(0..nodes.len())];
        let a = n
            .announce(hash, Some(20_000 + i))
            .await
            .map_err(fail("announce"))?;
        a.finish().await.map_err(fail("announce"))?;
    }
    let mut samples = Vec::with_capacity(p.lookups);
    let mut complete = Vec::with_capacity(p.lookups);
    for _ in 0..p.lookups {
        let n = &nodes[rng.gen_range(0..nodes.len())];
        let t = Instant::now();
        let mut lookup = n.find_peers(hash).await.map_err(fail("lookup"))?;
        let first = tokio::time::timeout(Duration::from_secs(10), lookup.next_peer())
            .await
            .map_err(fail("first peer"))?;
        if first.is_none() {
            return Err("a lookup found no peer".into());
        }
        samples.push(t.elapsed());
        lookup.finish().await.map_err(fail("lookup"))?;
        complete.push(t.elapsed());
    }
    let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    let rank = |v: &mut Vec<Duration>, q: f64| {
        v.sort_unstable();
        v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
    };

    let first_peer_ms = first_peer(&nodes).await?;
    Ok(Line {
        scenario: "dht",
        nodes: p.nodes,
        lookups: p.lookups,
        median_ms: ms(rank(&mut samples, 0.5)),
        p95_ms: ms(rank(&mut samples, 0.95)),
        max_ms: ms(rank(&mut samples, 1.0)),
        complete_median_ms: ms(rank(&mut complete, 0.5)),
        complete_p95_ms: ms(rank(&mut complete, 0.95)),
        first_peer_ms,
        bootstrap_ms,
        avg_routing_table,
    })
}

async fn rats_node(bootstrap: SocketAddr) -> BenchResult<RatsClient> {
    RatsClient::builder()
        .local_only()
        .listen("tcp:127.0.0.1:0")
        .map_err(fail("listen address"))?
        .configure(move |c| {
            // The DHT, bootstrapped from this benchmark's own node on loopback.
            c.disabled_plugins.remove("dht");
            c.plugins.insert(
                "dht".into(),
                serde_json::json!({
                    "bootstrap": [bootstrap.to_string()],
                    "ipv6": false,
                    "save_nodes": false,
                    "fast_interval_secs": 1,
                    "max_inbound_per_ip_per_sec": 1_000_000,
                }),
            );
        })
        .start()
        .await
        .map_err(fail("start rats node"))
}

/// Time from starting a rats node to its first peer found through the DHT.
async fn first_peer(nodes: &[DhtNode]) -> BenchResult<f64> {
    let announcer = rats_node(nodes[1].local_addr()).await?;
    let dht = announcer.dht().ok_or("no dht plugin")?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while dht.status().last_lookup.is_none_or(|l| l.announced_to == 0) {
        if Instant::now() > deadline {
            shutdown_all(&[announcer]).await;
            return Err("the announcing rats node never announced".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let t = Instant::now();
    let fresh = rats_node(nodes[nodes.len() - 1].local_addr()).await?;
    let mut events = fresh.events();
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(e) = events.recv().await {
            if let Ok(Event::PeerDiscovered { source, .. }) = e
                && source == "dht"
            {
                return Some(t.elapsed());
            }
        }
        None
    })
    .await;
    shutdown_all(&[announcer, fresh]).await;
    match found {
        Ok(Some(d)) => Ok(round1(d.as_secs_f64() * 1e3)),
        _ => Err("the fresh rats node found no peer through the DHT".into()),
    }
}
