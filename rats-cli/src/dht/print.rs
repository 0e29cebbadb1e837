//! What the tool prints about the DHT: human lines, or one JSON object per line with `--json`.

use std::net::SocketAddr;
use std::time::SystemTime;

use rats::rats_discovery_dht::{DhtStatus, LastLookup};
use serde_json::{Value, json};

use crate::output::{Output, line, say};

/// Seconds since `at` (0 if the clock went backwards).
fn secs_ago(at: SystemTime) -> u64 {
    SystemTime::now()
        .duration_since(at)
        .map_or(0, |d| d.as_secs())
}

/// The last lookup for JSON, with `at` as seconds ago.
fn last_lookup_json(l: &LastLookup) -> Value {
    json!({
        "secs_ago": secs_ago(l.at), "duration_ms": l.duration_ms, "peers": l.peers,
        "responses": l.responses, "announced_to": l.announced_to,
    })
}

impl Output {
    /// The answer to `dht`; `None` when the plugin is disabled.
    pub fn dht_status(&self, status: Option<&DhtStatus>) {
        let Some(s) = status else {
            if self.json {
                line(json!({"event": "dht", "running": false}));
            } else {
                say!("DHT is off");
            }
            return;
        };
        if self.json {
            line(json!({
                "event": "dht", "running": s.running, "discovery_hash": s.discovery_hash,
                "routing_table_size": s.routing_table_size, "peers_found": s.peers_found,
                "last_lookup": s.last_lookup.as_ref().map(last_lookup_json),
                "nodes": s.nodes,
            }));
            return;
        }
        if !s.running {
            say!("DHT stopped (`dht start` starts it)");
            return;
        }
        say!("DHT running, discovery hash {}", s.discovery_hash);
        say!(
            "  routing table {} node(s), {} peer(s) found",
            s.routing_table_size,
            s.peers_found
        );
        match &s.last_lookup {
            Some(l) => say!(
                "  last lookup {} s ago: {} ms, {} peer(s), {} response(s), announced to {} node(s)",
                secs_ago(l.at),
                l.duration_ms,
                l.peers,
                l.responses,
                l.announced_to
            ),
            None => say!("  no lookup yet"),
        }
        for n in &s.nodes {
            // A node publishes its statistics once its task has run.
            if n.node_id.is_empty() {
                say!("  node starting");
                continue;
            }
            let addr = n
                .local_addr
                .map_or_else(|| "?".to_string(), |a| a.to_string());
            let state = if n.bootstrapped {
                "bootstrapped"
            } else {
                "not bootstrapped"
            };
            say!(
                "  node {addr}  id {}  {} in table, {state}",
                n.node_id,
                n.routing_table_size
            );
        }
    }

    /// The answer to `dht start` / `dht stop`.
    pub fn dht_switched(&self, running: bool) {
        if self.json {
            let event = if running {
                "dht_started"
            } else {
                "dht_stopped"
            };
            line(json!({"event": event}));
        } else if running {
            say!("* DHT started");
        } else {
            say!("* DHT stopped");
        }
    }

    /// The answer to `find`: the peers found under `hash`.
    pub fn found(&self, hash: &str, peers: &[SocketAddr]) {
        if self.json {
            line(json!({"event": "found", "hash": hash, "peers": peers}));
            return;
        }
        if peers.is_empty() {
            say!("* {hash}: no peers found");
            return;
        }
        say!("* {hash}: {} peer(s)", peers.len());
        for p in peers {
            say!("  {p}");
        }
    }

    /// The answer to `announce`: `nodes` DHT nodes took our announce of `hash`.
    pub fn announced(&self, hash: &str, nodes: usize) {
        if self.json {
            line(json!({"event": "announced", "hash": hash, "nodes": nodes}));
        } else {
            say!("* announced {hash} to {nodes} DHT node(s)");
        }
    }
}
