//! Keys (the node's identity), the data directory, its `config.json` and the peer store
//! (rats-persist), and the connection statistics.

use std::path::Path;

use rats_engine::rats_persist::{
    self, CONFIG_FILE, KnownPeer, PEERS_EVER_FILE, PEERS_FILE, PeersFile,
};
use rats_engine::{DataDirLock, Identity, RatsClient};

use super::Settings;

/// Lower-case hex.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 64 hex characters to 32 bytes.
pub(crate) fn from_hex32(s: &str) -> Option<[u8; 32]> {
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks(2).enumerate() {
        let (hi, lo) = (digit(pair[0])?, digit(pair[1])?);
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// The identity's secret key (the Ed25519 seed; Noise's static key is derived from it) in
/// hex.
pub(crate) fn secret_hex(id: &Identity) -> String {
    to_hex(&id.secret_bytes())
}

/// An identity from its secret key in hex; `None` for malformed hex or a key whose public
/// key is not canonical (peers would refuse it).
pub(crate) fn identity_from_hex(s: &str) -> Option<Identity> {
    let id = Identity::from_secret(from_hex32(s)?);
    id.peer_id().is_canonical().then_some(id)
}

/// A fresh identity.
pub(crate) fn generate() -> Identity {
    Identity::generate()
}

/// Creates (if needed) and locks `dir` for a moment to read (or create) its identity; fails
/// when another process or client holds it.
pub(crate) fn data_dir_identity(dir: &Path) -> Result<Identity, String> {
    let lock = DataDirLock::acquire(dir).map_err(|e| e.to_string())?;
    let id = lock.identity().map_err(|e| e.to_string())?.0;
    Ok(id)
}

/// Checks the data directory's `config.json` (created with the defaults when missing, as
/// rats does at start) with the settings' keys over it.
pub(crate) fn load_configuration(dir: &Path, settings: &Settings) -> Result<(), String> {
    rats_persist::load_config(dir, &settings.config, rats_engine::KNOWN_SECTIONS)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Writes the settings into the data directory's `config.json` (other keys of the file
/// kept).
pub(crate) fn save_configuration(dir: &Path, settings: &Settings) -> Result<(), String> {
    let path = dir.join(CONFIG_FILE);
    let mut obj = match std::fs::read(&path) {
        Ok(b) => match serde_json::from_slice::<serde_json::Value>(&b) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => return Err(format!("{} is not a JSON object", path.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Map::new(),
        Err(e) => return Err(e.to_string()),
    };
    obj.insert(
        "protocol_name".into(),
        settings.protocol_name.clone().into(),
    );
    obj.insert(
        "protocol_version".into(),
        settings.protocol_version.clone().into(),
    );
    if let Some(n) = settings.max_peers {
        obj.insert("max_peers".into(), n.into());
    }
    for (k, v) in &settings.config {
        obj.insert(k.clone(), v.clone());
    }
    let text =
        serde_json::to_vec_pretty(&serde_json::Value::Object(obj)).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    rats_persist::write_atomic(&path, &text).map_err(|e| e.to_string())
}

/// The peers of the data directory's `peers.rats` (the peers connected when it was last
/// saved).
pub(crate) fn historical_peers(dir: &Path) -> Vec<String> {
    let path = dir.join(PEERS_FILE);
    let Ok(bytes) = std::fs::read(&path) else {
        return Vec::new();
    };
    rats_persist::parse_peer_file::<PeersFile>(&bytes)
        .map(|f| f.peers.iter().map(|p| p.id.to_string()).collect())
        .unwrap_or_default()
}

/// Whether the client runs with a peer store that keeps files.
pub(crate) fn has_store(rc: &RatsClient) -> bool {
    rc.peer_store().is_some() && rc.data_dir().is_some()
}

/// Saves the connected peers (and the known-peer table) to the data directory now.
pub(crate) async fn save_peers(rc: &RatsClient) -> bool {
    let Some(store) = rc.peer_store() else {
        return false;
    };
    if rc.data_dir().is_none() {
        return false;
    }
    let connected: Vec<KnownPeer> = rc
        .peers()
        .into_iter()
        .filter(|p| !p.listen_addrs.is_empty())
        .map(|p| KnownPeer {
            id: p.peer_id,
            addrs: p.listen_addrs,
        })
        .collect();
    store.save(connected).await.is_ok()
}

/// Dials the remembered peers in the background; how many.
pub(crate) fn reconnect(rc: &RatsClient) -> usize {
    rc.load_and_reconnect_peers()
}

/// Empties `peers.rats`: running, through the store (written empty); stopped, the files are
/// removed.
pub(crate) async fn clear_peers(rc: Option<&RatsClient>, dir: &Path) {
    if let Some(store) = rc.and_then(RatsClient::peer_store) {
        let _ = store.save(Vec::new()).await;
        return;
    }
    for f in [PEERS_FILE, PEERS_EVER_FILE] {
        let _ = std::fs::remove_file(dir.join(f));
    }
}

/// Whether `peers.rats` is present and well-formed.
pub(crate) fn peers_file_ok(dir: &Path) -> bool {
    std::fs::read(dir.join(PEERS_FILE))
        .is_ok_and(|b| rats_persist::parse_peer_file::<PeersFile>(&b).is_ok())
}

/// librats' connection statistics keys (`total_peers`, `validated_peers`, `max_peers`,
/// `running`, `listen_port`, `our_peer_id`, `encryption_enabled`, `dht_running`,
/// `dht_routing_table_size`, `mdns_running`) plus rats' `peers_by_method` and
/// `gossipsub_running`, `transfers_active`.
pub(crate) fn connection_statistics(
    rc: Option<&RatsClient>,
    settings: &Settings,
    peer_id: &str,
) -> String {
    let mut by_method = serde_json::Map::new();
    if let Some(rc) = rc {
        for p in rc.peers() {
            let k = p.method.to_string();
            let n = by_method
                .get(&k)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            by_method.insert(k, (n + 1).into());
        }
    }
    let peers = rc.map_or(0, RatsClient::peer_count);
    let v = serde_json::json!({
        "total_peers": peers,
        "validated_peers": peers,
        "max_peers": settings.effective_max_peers(),
        "running": rc.is_some(),
        "listen_port": rc.and_then(super::listen_port).unwrap_or(settings.port),
        "our_peer_id": peer_id,
        "encryption_enabled": !settings.plaintext,
        "dht_running": rc.is_some_and(RatsClient::is_dht_running),
        "dht_routing_table_size": rc.map_or(0, RatsClient::dht_routing_table_size),
        "mdns_running": rc.is_some_and(RatsClient::is_mdns_running),
        "gossipsub_running": rc.is_some_and(|r| r.gossip().is_some()),
        "transfers_active": rc.and_then(RatsClient::transfers).map_or(0, |t| t.stats().active),
        "peers_by_method": by_method,
    });
    v.to_string()
}
