//! The NAT facade of [`RatsClient`] (feature `nat`): STUN, ICE, port mapping.

use std::sync::Arc;

use rats_core::{Node, PeerId};

use crate::{RatsClient, RatsError};

impl RatsClient {
    /// The STUN plugin (public address, NAT kind), with the `nat` feature (`None` when it is
    /// disabled in the configuration). See the `rats_nat` crate docs.
    pub fn nat(&self) -> Option<Arc<rats_nat::StunPlugin>> {
        self.node.nat_plugin::<rats_nat::StunPlugin>()
    }

    /// Asks the configured STUN servers (all at once; the first answer wins) for our public
    /// address.
    pub async fn get_public_address(&self) -> Result<std::net::SocketAddr, RatsError> {
        let nat = self.nat().ok_or(RatsError::PluginDisabled("stun"))?;
        nat.get_public_address().await.map_err(RatsError::from)
    }

    /// Runs the RFC 5780 NAT behaviour tests against the configured STUN servers and returns
    /// the NAT kind (details in [`nat_characteristics`](Self::nat_characteristics)).
    pub async fn detect_nat_type(&self) -> Result<rats_nat::NatType, RatsError> {
        let nat = self.nat().ok_or(RatsError::PluginDisabled("stun"))?;
        nat.detect_nat_type().await.map_err(RatsError::from)
    }

    /// ICE settings from this node's configuration: the `stun` section's servers and the
    /// `turn` section's server.
    pub fn ice_config(&self) -> Result<rats_nat::ice::IceConfig, RatsError> {
        fn section<T: serde::de::DeserializeOwned + Default>(
            node: &Node,
            name: &str,
        ) -> Result<T, RatsError> {
            match node.config().plugins.get(name) {
                None | Some(serde_json::Value::Null) => Ok(T::default()),
                Some(v) => serde_json::from_value(v.clone()).map_err(|e| RatsError::Config {
                    key: name.to_string(),
                    origin: None,
                    source: e.into(),
                }),
            }
        }
        let stun: rats_nat::StunConfig = section(&self.node, "stun")?;
        let turn: rats_nat::TurnConfig = section(&self.node, "turn")?;
        Ok(rats_nat::ice::IceConfig::from_sections(&stun, &turn))
    }

    /// Starts an ICE session (RFC 8445) for a connection whose signalling the application does
    /// itself: gathers host, server-reflexive and relay candidates and returns the session and
    /// our offer, to be sent to the other side. `controlling` (one side, say the caller)
    /// nominates the pair. Later candidates are reported through
    /// [`IceSession::on_candidate`](rats_nat::ice::IceSession::on_candidate).
    pub async fn create_ice_offer(
        &self,
        controlling: bool,
    ) -> Result<(rats_nat::ice::IceSession, rats_nat::ice::IceOffer), RatsError> {
        let config = self.ice_config()?;
        let session = rats_nat::ice::IceSession::new(&config, controlling).await?;
        let offer = session.gather().await?;
        Ok((session, offer))
    }

    /// Connects to the peer behind `remote` (its ICE offer or answer): runs the connectivity
    /// checks, then a rats connection over QUIC on the nominated pair. The peer's method is
    /// `ice`.
    pub async fn connect_with_ice(
        &self,
        session: &rats_nat::ice::IceSession,
        remote: &rats_nat::ice::IceOffer,
    ) -> Result<PeerId, RatsError> {
        let conn = session.connect(remote).await?;
        let controlling = session.is_controlling();
        let raw = rats_nat::ice::stream_over(&self.node, conn, controlling).await?;
        Ok(self.node.connect_raw(raw, !controlling, "ice").await?)
    }

    /// The port-mapping plugin (PCP, NAT-PMP, UPnP), with the `nat` feature.
    pub fn port_mapper(&self) -> Option<Arc<rats_nat::PortMapper>> {
        self.node.nat_plugin::<rats_nat::PortMapper>()
    }

    /// What the last NAT check found (mapping, filtering, addresses).
    pub fn nat_characteristics(&self) -> Option<rats_nat::NatBehaviour> {
        self.nat().and_then(|n| n.nat_characteristics())
    }
}
