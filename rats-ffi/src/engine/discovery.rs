//! DHT, automatic discovery and mDNS through `RatsClient` (`dht()`, `mdns()`), and the
//! settings `rats_start` builds them from.

use rats_engine::core::ProtocolId;
use rats_engine::rats_discovery_dht::{NodeId, discovery_hash};
use rats_engine::{NodeConfig, RatsClient};

use super::{Settings, merge_config};

/// Switches plugin `name` on or off in the settings `rats_start` will use.
pub(crate) fn set_plugin_enabled(settings: &mut Settings, name: &str, on: bool) {
    let mut list: Vec<String> = merge_config(&NodeConfig::default(), &settings.config)
        .map(|c| c.disabled_plugins.into_iter().collect())
        .unwrap_or_default();
    list.retain(|p| p != name);
    if !on {
        list.push(name.to_string());
    }
    settings
        .config
        .insert("disabled_plugins".into(), serde_json::json!(list));
}

/// Sets `section.key` in the settings (the section is created if needed).
pub(crate) fn set_section_key(
    settings: &mut Settings,
    section: &str,
    key: &str,
    value: serde_json::Value,
) {
    let entry = settings
        .config
        .entry(section.to_string())
        .or_insert_with(|| serde_json::json!({}));
    if !entry.is_object() {
        *entry = serde_json::json!({});
    }
    if let Some(o) = entry.as_object_mut() {
        o.insert(key.to_string(), value);
    }
}

/// Whether the settings run the DHT's discovery loop (`dht.discover`, default on).
pub(crate) fn discover_configured(settings: &Settings) -> bool {
    settings
        .config
        .get("dht")
        .and_then(|d| d.get("discover"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(true)
}

/// The discovery hash of an application protocol (40 hex characters).
pub(crate) fn discovery_hash_of(name: &str, version: &str) -> String {
    discovery_hash(&ProtocolId::new(name, version)).to_hex()
}

/// The discovery hash of rats' default protocol.
pub(crate) fn default_discovery_hash() -> String {
    let d = NodeConfig::default();
    discovery_hash_of(&d.protocol_name, &d.protocol_version)
}

/// Parses a 40-hex-digit info-hash.
pub(crate) fn parse_hash(s: &str) -> Option<NodeId> {
    NodeId::from_hex(s)
}

/// Whether the client has the DHT plugin (it may be stopped).
pub(crate) fn has_dht(rc: &RatsClient) -> bool {
    rc.dht().is_some()
}

/// Whether the DHT runs.
pub(crate) fn dht_running(rc: &RatsClient) -> bool {
    rc.is_dht_running()
}

/// Starts the DHT (a no-op while it runs).
pub(crate) async fn start_dht(rc: &RatsClient) -> bool {
    rc.start_dht().await.is_ok()
}

/// Stops the DHT.
pub(crate) async fn stop_dht(rc: &RatsClient) {
    rc.stop_dht().await;
}

/// Nodes in the routing tables.
pub(crate) fn routing_table_size(rc: &RatsClient) -> usize {
    rc.dht_routing_table_size()
}

/// Announces `port` (`None`: our TCP port) under `hash`; how many DHT nodes took it.
pub(crate) async fn announce(rc: &RatsClient, hash: NodeId, port: Option<u16>) -> Option<usize> {
    match port {
        None => rc.announce(&hash.to_hex()).await.ok(),
        Some(p) => rc.dht()?.announce(hash, Some(p)).await.ok(),
    }
}

/// Looks `hash` up in the DHT; the peers' addresses as `ip:port` (`[v6]:port`).
pub(crate) async fn find_peers(rc: &RatsClient, hash: NodeId) -> Option<Vec<String>> {
    let found = rc.find_peers(&hash.to_hex()).await.ok()?;
    Some(found.iter().map(ToString::to_string).collect())
}

/// Our discovery hash.
pub(crate) fn client_discovery_hash(rc: &RatsClient) -> String {
    rc.discovery_hash()
}

/// Whether the client has the mDNS plugin.
pub(crate) fn has_mdns(rc: &RatsClient) -> bool {
    rc.mdns().is_some()
}

/// Whether mDNS runs.
pub(crate) fn mdns_running(rc: &RatsClient) -> bool {
    rc.is_mdns_running()
}

/// Starts (or restarts) mDNS as `instance` (`None`: rats' default name).
pub(crate) async fn start_mdns(rc: &RatsClient, instance: Option<String>) -> bool {
    rc.start_mdns_discovery(instance.as_deref()).await.is_ok()
}

/// Stops mDNS (goodbye records sent).
pub(crate) async fn stop_mdns(rc: &RatsClient) {
    rc.stop_mdns_discovery().await;
}

/// Asks the local network for peers now.
pub(crate) fn query_mdns(rc: &RatsClient) -> bool {
    rc.query_mdns().is_ok()
}
