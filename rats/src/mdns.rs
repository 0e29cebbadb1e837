//! The mDNS facade of [`RatsClient`] (feature `mdns`).

use std::sync::Arc;

use crate::{RatsClient, RatsError};

impl RatsClient {
    /// The mDNS discovery plugin, with the `mdns` feature (`None` when it is disabled in the
    /// configuration). See the `rats_discovery_mdns` crate docs.
    pub fn mdns(&self) -> Option<Arc<rats_discovery_mdns::MdnsDiscovery>> {
        self.node
            .discovery_plugin::<rats_discovery_mdns::MdnsDiscovery>()
    }

    /// Starts (or restarts) advertising this node on the local network as `instance_name`
    /// (default: `rats-` and the start of our peer id) and browsing for peers. mDNS starts with
    /// the node unless it listens on loopback only.
    pub async fn start_mdns_discovery(&self, instance_name: Option<&str>) -> Result<(), RatsError> {
        let mdns = self.mdns().ok_or(RatsError::PluginDisabled("mdns"))?;
        mdns.start_mdns_discovery(instance_name)
            .await
            .map_err(RatsError::from)
    }

    /// Sends goodbye records (peers see us lost at once) and stops mDNS.
    pub async fn stop_mdns_discovery(&self) {
        if let Some(m) = self.mdns() {
            m.stop_mdns_discovery().await;
        }
    }

    /// Whether mDNS is running.
    pub fn is_mdns_running(&self) -> bool {
        self.mdns().is_some_and(|m| m.is_running())
    }

    /// Asks the local network for peers now (answers arrive as `PeerDiscovered` events).
    pub fn query_mdns(&self) -> Result<(), RatsError> {
        let mdns = self.mdns().ok_or(RatsError::PluginDisabled("mdns"))?;
        if !mdns.is_running() {
            return Err(RatsError::NotRunning("mdns"));
        }
        mdns.query();
        Ok(())
    }
}
