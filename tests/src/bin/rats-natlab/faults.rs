//! Programs for the fault tests (`tests/tests/faults_*.rs`), run inside a lab namespace; each
//! prints JSON lines.
//!
//! ```text
//! dht-serve <ip> [bootstrap...]   a DHT node on <ip> bootstrapping from (and pinging) the
//!                                 given nodes; prints {"event":"ready","addr":..}; stdin:
//!                                 `ping <addr>` (so that node counts as verified and is handed
//!                                 out), `announce` (FAULT_HASH with port 7777), `quit`
//! dht-lookup <ip> <bootstrap> <n> a DHT node on <ip> bootstrapping from <bootstrap>; prints
//!                                 {"event":"bootstrapped","ms":..}, then <n> get_peers lookups
//!                                 of FAULT_HASH, one line each {"event":"lookup","found":..,
//!                                 "ms":..}, then {"event":"done"}
//! stun-bind <server> <n>          a rats node with the stun plugin (default timing) asking
//!                                 <server> for its public address <n> times: one line each
//!                                 {"event":"binding","addr":..,"error":..,"ms":..}; then one
//!                                 NAT type detection {"event":"nat_type",...}
//! ```

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rats_discovery_dht::{DhtNode, NodeId, NodeSettings};
use serde_json::json;
use tokio::io::AsyncBufReadExt;
use tokio_util::sync::CancellationToken;

/// The info-hash the DHT fault test announces and looks up ("rats-fault-test" in hex, padded).
const FAULT_HASH: &str = "726174732d6661756c742d7465737400000000ff";
/// The port announced for [`FAULT_HASH`].
const ANNOUNCED_PORT: u16 = 7777;

fn say(v: serde_json::Value) {
    println!("{v}");
}

fn ms(t: Instant) -> u64 {
    t.elapsed().as_millis() as u64
}

pub(crate) async fn run(mode: &str, args: &[String]) -> i32 {
    let r = match mode {
        "dht-serve" => dht_serve(args).await,
        "dht-lookup" => dht_lookup(args).await,
        "stun-bind" => stun_bind(args).await,
        _ => Err(format!("unknown mode {mode}")),
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            say(json!({"event": "error", "error": e}));
            1
        }
    }
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Result<T, String> {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("argument {} must be {what}", i + 1))
}

fn hash() -> Result<NodeId, String> {
    NodeId::from_hex(FAULT_HASH).ok_or_else(|| "bad FAULT_HASH".to_string())
}

/// A DHT node on `ip` (any port) bootstrapping from `bootstrap`, running until `stop`.
async fn dht_node(
    ip: std::net::IpAddr,
    bootstrap: Vec<SocketAddr>,
    stop: &CancellationToken,
) -> Result<DhtNode, String> {
    let settings = NodeSettings::new(SocketAddr::new(ip, 0), bootstrap);
    let (node, task) = DhtNode::bind(settings)
        .await
        .map_err(|e| format!("bind: {e}"))?;
    tokio::spawn(task.run(stop.clone()));
    Ok(node)
}

async fn dht_serve(args: &[String]) -> Result<(), String> {
    let ip = arg(args, 0, "an IP address")?;
    let bootstrap = args[1..]
        .iter()
        .map(|a| a.parse().map_err(|_| format!("{a} is not an address")))
        .collect::<Result<Vec<SocketAddr>, String>>()?;
    let stop = CancellationToken::new();
    // network: binds only the lab host's own address; bootstraps from the lab's swarm.
    let node = dht_node(ip, bootstrap.clone(), &stop).await?;
    for b in &bootstrap {
        ping(&node, *b).await?;
    }
    say(json!({"event": "ready", "addr": node.local_addr()}));
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["ping", addr] => {
                let addr = addr
                    .parse()
                    .map_err(|_| format!("{addr} is not an address"))?;
                ping(&node, addr).await?;
                say(json!({"event": "pinged", "addr": addr}));
            }
            ["announce"] => {
                let summary = node
                    .announce(hash()?, Some(ANNOUNCED_PORT))
                    .await
                    .map_err(|e| e.to_string())?
                    .finish()
                    .await
                    .map_err(|e| e.to_string())?;
                say(json!({"event": "announced", "to": summary.announced_to}));
            }
            ["quit"] => break,
            _ => say(json!({"event": "error", "error": format!("unknown command {line:?}")})),
        }
    }
    stop.cancel();
    Ok(())
}

/// Pings `addr` from `node`: a node that only queried us stays unverified (not handed out to
/// others) until it answers one of our queries.
async fn ping(node: &DhtNode, addr: SocketAddr) -> Result<(), String> {
    match node.ping(addr).await.map_err(|e| e.to_string())? {
        Some(_) => Ok(()),
        None => Err(format!("{addr} did not answer a ping")),
    }
}

async fn dht_lookup(args: &[String]) -> Result<(), String> {
    let ip = arg(args, 0, "an IP address")?;
    let bootstrap: SocketAddr = arg(args, 1, "the bootstrap node's address")?;
    let count: usize = arg(args, 2, "a number of lookups")?;
    let stop = CancellationToken::new();
    let t = Instant::now();
    // network: binds only the lab host's own address; bootstraps from the lab's swarm.
    let node = dht_node(ip, vec![bootstrap], &stop).await?;
    let bootstrapped = node.wait_bootstrapped(Duration::from_secs(60)).await;
    let known = node.nodes().await.map(|n| n.len()).unwrap_or_default();
    say(json!({"event": "bootstrapped", "ok": bootstrapped, "nodes": known, "ms": ms(t)}));
    for i in 0..count {
        let t = Instant::now();
        let mut lookup = node.find_peers(hash()?).await.map_err(|e| e.to_string())?;
        let mut found = false;
        while let Some(peer) = lookup.next_peer().await {
            found |= peer.port() == ANNOUNCED_PORT;
        }
        let summary = lookup.finish().await.map_err(|e| e.to_string())?;
        say(
            json!({"event": "lookup", "i": i, "found": found, "ms": ms(t), "summary": format!("{summary:?}")}),
        );
    }
    say(json!({"event": "done"}));
    stop.cancel();
    Ok(())
}

async fn stun_bind(args: &[String]) -> Result<(), String> {
    let server: String = arg(args, 0, "a STUN server host:port")?;
    let count: usize = arg(args, 1, "a number of bindings")?;
    // network: runs only inside the lab's namespaces; its STUN server is the lab's own.
    let mut b = rats::RatsClient::builder()
        .listen("tcp:0.0.0.0:0")
        .map_err(|e| e.to_string())?;
    for d in ["dht", "mdns", "portmap", "holepunch"] {
        b = b.disable_plugin(d);
    }
    let stun = json!({"servers": [server], "auto": false});
    let n = b
        .configure(move |c| {
            c.plugins.insert("stun".into(), stun);
        })
        .start()
        .await
        .map_err(|e| e.to_string())?;
    for i in 0..count {
        let t = Instant::now();
        match n.get_public_address().await {
            Ok(addr) => say(json!({"event": "binding", "i": i, "addr": addr, "ms": ms(t)})),
            Err(e) => say(json!({"event": "binding", "i": i, "error": e.to_string(), "ms": ms(t)})),
        }
    }
    let t = Instant::now();
    match n.detect_nat_type().await {
        Ok(kind) => say(json!({"event": "nat_type", "nat_type": kind.to_string(), "ms": ms(t)})),
        Err(e) => say(json!({"event": "nat_type", "error": e.to_string(), "ms": ms(t)})),
    }
    n.shutdown().await;
    say(json!({"event": "done"}));
    Ok(())
}
