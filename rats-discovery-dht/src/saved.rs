//! Good nodes and our node id saved in the data directory (`dht/nodes-v4.json`,
//! `dht/nodes-v6.json`) so a restart finds the network without the bootstrap routers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing::debug;

use crate::compact::NodeInfo;
use crate::id::NodeId;

/// Most nodes saved.
const MAX_SAVED: usize = 200;
/// Largest file we read back.
const MAX_FILE: u64 = 256 * 1024;

#[derive(Serialize, Deserialize, Default)]
struct File {
    id: String,
    nodes: Vec<(String, SocketAddr)>,
}

/// What an earlier run left.
#[derive(Default)]
pub struct Saved {
    /// Our id then.
    pub id: Option<NodeId>,
    /// Nodes that were good then.
    pub nodes: Vec<NodeInfo>,
}

/// The file for one address family.
pub fn path(data_dir: &Path, v6: bool) -> PathBuf {
    data_dir
        .join("dht")
        .join(if v6 { "nodes-v6.json" } else { "nodes-v4.json" })
}

/// Reads the file; anything missing or malformed yields an empty result.
pub fn load(path: &Path) -> Saved {
    let Ok(meta) = std::fs::metadata(path) else {
        return Saved::default();
    };
    if meta.len() > MAX_FILE {
        return Saved::default();
    }
    let parsed = std::fs::read(path).ok().and_then(|b| parse(&b));
    parsed.unwrap_or_else(|| {
        debug!(path = %path.display(), "ignoring unreadable DHT node file");
        Saved::default()
    })
}

/// Parses a saved node file's bytes (`None` when they are not one).
pub fn parse(bytes: &[u8]) -> Option<Saved> {
    let f: File = serde_json::from_slice(bytes).ok()?;
    Some(Saved {
        id: NodeId::from_hex(&f.id),
        nodes: f
            .nodes
            .iter()
            .take(MAX_SAVED)
            .filter_map(|(id, addr)| {
                Some(NodeInfo {
                    id: NodeId::from_hex(id)?,
                    addr: *addr,
                })
            })
            .collect(),
    })
}

/// Writes the file atomically (temporary file, then rename).
pub fn store(path: &Path, id: NodeId, nodes: &[NodeInfo]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, encode(id, nodes))?;
    std::fs::rename(&tmp, path)
}

/// The file's bytes for our id and (up to 200 of) these nodes.
pub fn encode(id: NodeId, nodes: &[NodeInfo]) -> Vec<u8> {
    let f = File {
        id: id.to_hex(),
        nodes: nodes
            .iter()
            .take(MAX_SAVED)
            .map(|n| (n.id.to_hex(), n.addr))
            .collect(),
    };
    // Serializing strings and socket addresses cannot fail.
    serde_json::to_vec_pretty(&f).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let dir = std::env::temp_dir().join(format!("rats-dht-saved-{}", rand::random::<u64>()));
        let p = path(&dir, false);
        let id = NodeId::random();
        let n = NodeInfo {
            id: NodeId::random(),
            addr: "127.0.0.1:6881".parse().expect("addr"),
        };
        store(&p, id, &[n]).expect("store");
        let back = load(&p);
        assert_eq!(back.id, Some(id));
        assert_eq!(back.nodes, vec![n]);
        std::fs::write(&p, b"{not json").expect("write");
        assert!(load(&p).nodes.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
