//! The DHT facade of [`RatsClient`] (feature `dht`).

use std::sync::Arc;

use crate::{RatsClient, RatsError};

impl RatsClient {
    /// The DHT discovery plugin, with the `dht` feature (`None` when it is disabled in the
    /// configuration). See the `rats_discovery_dht` crate docs.
    pub fn dht(&self) -> Option<Arc<rats_discovery_dht::DhtDiscovery>> {
        self.node
            .discovery_plugin::<rats_discovery_dht::DhtDiscovery>()
    }

    /// `SHA-1(protocol_name + "_peer_discovery_v" + protocol_version)` in hex: the DHT key under
    /// which peers of this application find each other (the same formula as librats).
    pub fn discovery_hash(&self) -> String {
        rats_discovery_dht::discovery_hash(self.node.protocol()).to_hex()
    }

    /// Starts the DHT again after [`stop_dht`](Self::stop_dht) (it starts with the node).
    pub async fn start_dht(&self) -> Result<(), RatsError> {
        let dht = self.dht().ok_or(RatsError::PluginDisabled("dht"))?;
        dht.start_dht().await.map_err(RatsError::from)
    }

    /// Stops the DHT (its routing table is saved in the data directory).
    pub async fn stop_dht(&self) {
        if let Some(d) = self.dht() {
            d.stop_dht().await;
        }
    }

    /// Whether the DHT is running.
    pub fn is_dht_running(&self) -> bool {
        self.dht().is_some_and(|d| d.is_running())
    }

    /// Nodes in the DHT routing tables (0 when not running).
    pub fn dht_routing_table_size(&self) -> usize {
        self.dht().map_or(0, |d| d.routing_table_size())
    }

    /// DHT status and statistics (`None` when the plugin is disabled).
    pub fn dht_status(&self) -> Option<rats_discovery_dht::DhtStatus> {
        self.dht().map(|d| d.status())
    }

    /// Looks a 40-hex-digit info-hash up in the DHT and returns the peers found.
    pub async fn find_peers(&self, hash: &str) -> Result<Vec<std::net::SocketAddr>, RatsError> {
        let (dht, hash) = self.dht_and_hash(hash)?;
        dht.find_peers_all(hash).await.map_err(RatsError::from)
    }

    /// Announces our TCP port under a 40-hex-digit info-hash; returns how many DHT nodes
    /// took it.
    pub async fn announce(&self, hash: &str) -> Result<usize, RatsError> {
        let (dht, hash) = self.dht_and_hash(hash)?;
        let port = self
            .listen_addrs()
            .iter()
            .find_map(|a| a.socket_addr().map(|s| s.port()))
            .ok_or(RatsError::NotListening)?;
        dht.announce(hash, Some(port))
            .await
            .map_err(RatsError::from)
    }

    fn dht_and_hash(
        &self,
        hash: &str,
    ) -> Result<
        (
            Arc<rats_discovery_dht::DhtDiscovery>,
            rats_discovery_dht::NodeId,
        ),
        RatsError,
    > {
        let dht = self.dht().ok_or(RatsError::PluginDisabled("dht"))?;
        let hash = rats_discovery_dht::NodeId::from_hex(hash)
            .ok_or_else(|| RatsError::InfoHash(hash.to_string()))?;
        Ok((dht, hash))
    }
}
