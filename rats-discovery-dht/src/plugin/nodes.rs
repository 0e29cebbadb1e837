//! Starting the plugin's DHT nodes: where to bind, what to bootstrap from, each node's task
//! (with its periodic and final save of good nodes).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rats_core::Address;
use rats_core::DiscoveryContext;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::compact::NodeInfo;
use crate::config::DhtConfig;
use crate::id::NodeId;
use crate::node::{DhtError, DhtNode, NodeSettings};
use crate::saved;

/// How often the routing table is saved while running.
const SAVE_EVERY: Duration = Duration::from_secs(5 * 60);
/// Longest wait for a name lookup of a bootstrap host.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Fewer good nodes than this and the saved file keeps its older ones too.
const MIN_FRESH_NODES: usize = 8;

/// Running nodes and the signals that their tasks have finished (after the final save).
pub(super) struct Started {
    pub nodes: Vec<DhtNode>,
    pub finished: Vec<oneshot::Receiver<()>>,
}

/// Binds the configured nodes (IPv4, IPv6) and spawns their tasks on the node's task set.
pub(super) async fn start_nodes(
    cfg: &DhtConfig,
    data_dir: Option<&Path>,
    ctx: &DiscoveryContext,
    cancel: &CancellationToken,
) -> Result<Started, DhtError> {
    let (mut literal, mut names) = split_bootstrap(&cfg.bootstrap_nodes());
    let (mut bind_v4, mut bind_v6) = (IpAddr::V4(cfg.bind_v4), IpAddr::V6(cfg.bind_v6));
    // A node that only listens on loopback cannot be reached from the internet: its DHT stays
    // on loopback too and never contacts outside bootstrap nodes.
    let listen = ctx.listen_addrs();
    if !listen.is_empty() && listen.iter().all(Address::is_loopback) {
        if bind_v4.is_unspecified() {
            bind_v4 = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
        }
        if bind_v6.is_unspecified() {
            bind_v6 = IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);
        }
        literal.retain(|a| a.ip().is_loopback());
        names.clear();
        debug!("node listens on loopback only: DHT kept on loopback");
    }
    let mut binds: Vec<SocketAddr> = Vec::new();
    if cfg.ipv4 {
        binds.push(SocketAddr::new(bind_v4, cfg.port));
    }
    if cfg.ipv6 {
        binds.push(SocketAddr::new(bind_v6, cfg.port));
    }
    let mut started = Started {
        nodes: Vec::new(),
        finished: Vec::new(),
    };
    let mut first_err = None;
    let mut port = cfg.port;
    for bind in binds {
        let v6 = bind.is_ipv6();
        let file = data_dir.map(|d| saved::path(d, v6));
        let old = file.as_deref().map(saved::load).unwrap_or_default();
        let mut settings = settings_from(
            cfg,
            SocketAddr::new(bind.ip(), port),
            literal
                .iter()
                .filter(|a| a.is_ipv6() == v6)
                .copied()
                .collect(),
        );
        settings.id = old.id;
        settings.saved = old.nodes;
        let bound = match DhtNode::bind(settings.clone()).await {
            Ok(b) => Ok(b),
            // The IPv4 node's port may be taken on IPv6: take any there.
            Err(_) if port != 0 && !started.nodes.is_empty() => {
                settings.bind.set_port(0);
                DhtNode::bind(settings).await
            }
            Err(e) => Err(e),
        };
        match bound {
            Ok((node, task)) => {
                port = node.local_addr().port();
                let (done_tx, done_rx) = oneshot::channel();
                let save_to = if cfg.save_nodes { file } else { None };
                let handle = node.clone();
                let cancel = cancel.clone();
                ctx.spawn(async move {
                    let saver = save_periodically(handle.clone(), save_to.clone(), cancel.clone());
                    let (good, ()) = tokio::join!(task.run(cancel), saver);
                    if let Some(path) = save_to {
                        save(&handle, &path, good).await;
                    }
                    let _ = done_tx.send(());
                });
                started.nodes.push(node);
                started.finished.push(done_rx);
            }
            Err(e) if v6 && !started.nodes.is_empty() => {
                warn!(error = %e, "DHT: no IPv6 node (IPv4 only)");
            }
            Err(e) => first_err = Some(e),
        }
    }
    if started.nodes.is_empty() {
        return Err(first_err.unwrap_or(DhtError::Stopped));
    }
    if !names.is_empty() {
        ctx.spawn(resolve_bootstrap(
            names,
            started.nodes.clone(),
            cancel.clone(),
        ));
    }
    Ok(started)
}

fn settings_from(cfg: &DhtConfig, bind: SocketAddr, bootstrap: Vec<SocketAddr>) -> NodeSettings {
    let mut s = NodeSettings::new(bind, bootstrap);
    s.request_timeout = cfg.request_timeout();
    s.max_queries_per_sec = cfg.max_queries_per_sec;
    s.max_inbound_per_ip_per_sec = cfg.max_inbound_per_ip_per_sec;
    s.max_inbound_per_sec = cfg.max_inbound_per_sec;
    s.max_reply_bytes_per_sec = cfg.max_reply_bytes_per_sec;
    s.restrict_routing_ips = cfg.restrict_routing_ips;
    s.secure_node_id = cfg.secure_node_id;
    s.max_stored_hashes = cfg.max_stored_hashes;
    s.max_peers_per_hash = cfg.max_peers_per_hash;
    s
}

/// Saves the good nodes every [`SAVE_EVERY`] until cancelled (a crash loses little).
async fn save_periodically(node: DhtNode, path: Option<PathBuf>, cancel: CancellationToken) {
    let Some(path) = path else {
        return;
    };
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(SAVE_EVERY) => {}
        }
        if let Ok(good) = node.good_nodes().await {
            save(&node, &path, good).await;
        }
    }
}

/// Writes our id and the good nodes; when few are good (say after a time offline), the nodes
/// saved before are kept as well rather than replaced by an empty list.
async fn save(node: &DhtNode, path: &Path, mut good: Vec<NodeInfo>) {
    let Some(id) = NodeId::from_hex(&node.stats().node_id) else {
        return;
    };
    let path = path.to_path_buf();
    let r = tokio::task::spawn_blocking(move || {
        if good.len() < MIN_FRESH_NODES {
            for old in saved::load(&path).nodes {
                if !good.iter().any(|n| n.addr == old.addr) {
                    good.push(old);
                }
            }
        }
        saved::store(&path, id, &good)
    })
    .await;
    if let Ok(Err(e)) = r {
        debug!(error = %e, "DHT: could not save nodes");
    }
}

/// Splits bootstrap entries into socket addresses and names to resolve.
fn split_bootstrap(list: &[String]) -> (Vec<SocketAddr>, Vec<String>) {
    let mut literal = Vec::new();
    let mut names = Vec::new();
    for s in list {
        match s.parse::<SocketAddr>() {
            Ok(a) => literal.push(a),
            Err(_) => names.push(s.clone()),
        }
    }
    (literal, names)
}

async fn resolve_bootstrap(names: Vec<String>, nodes: Vec<DhtNode>, cancel: CancellationToken) {
    for name in names {
        let lookup = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host(name.clone()));
        let addrs: Vec<SocketAddr> = tokio::select! {
            _ = cancel.cancelled() => return,
            r = lookup => match r {
                Ok(Ok(a)) => a.collect(),
                Ok(Err(e)) => { debug!(%name, error = %e, "DHT bootstrap name not resolved"); continue }
                Err(_) => { debug!(%name, "DHT bootstrap name lookup timed out"); continue }
            },
        };
        for n in &nodes {
            let v6 = n.local_addr().is_ipv6();
            let mine: Vec<SocketAddr> = addrs
                .iter()
                .filter(|a| a.is_ipv6() == v6)
                .copied()
                .collect();
            if !mine.is_empty() {
                let _ = n.add_bootstrap(mine).await;
            }
        }
    }
}
