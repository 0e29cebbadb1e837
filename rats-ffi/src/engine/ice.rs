//! ICE (RFC 8445) through `RatsClient::ice_config()` / `connect_with_ice`
//! (`rats_nat::ice::IceSession`): the application carries the offers.

use std::sync::Arc;

use rats_engine::RatsClient;
use rats_engine::rats_nat::ice::{IceConfig, IceOffer, IceSession};

/// An ICE session with one peer, kept while its connection lives.
pub(crate) type Session = Arc<IceSession>;

/// The ICE settings of the client: its `stun` and `turn` sections; no STUN servers when the
/// `stun` plugin is off (so a loopback-only client never asks public servers), and only
/// loopback candidates when the client listens on loopback only.
fn config(rc: &RatsClient, stun_enabled: bool) -> Option<IceConfig> {
    let mut cfg = rc.ice_config().ok()?;
    if !stun_enabled {
        cfg.stun.clear();
    }
    let addrs = rc.listen_addrs();
    cfg.loopback_only = !addrs.is_empty()
        && addrs
            .iter()
            .all(|a| a.socket_addr().is_some_and(|s| s.ip().is_loopback()));
    Some(cfg)
}

/// Starts a session (controlling when `controlling`) and gathers our offer.
pub(crate) async fn create_offer(
    rc: &RatsClient,
    stun_enabled: bool,
    controlling: bool,
) -> Option<(Session, String)> {
    let cfg = config(rc, stun_enabled)?;
    let session = IceSession::new(&cfg, controlling).await.ok()?;
    let offer = match session.gather().await {
        Ok(o) => o,
        Err(_) => {
            session.close().await;
            return None;
        }
    };
    let json = serde_json::to_string(&offer).ok()?;
    Some((Arc::new(session), json))
}

/// Parses the other side's offer (`None`: not an ICE offer).
pub(crate) fn parse_offer(v: serde_json::Value) -> Option<IceOffer> {
    let offer: IceOffer = serde_json::from_value(v).ok()?;
    offer.validate().ok()?;
    Some(offer)
}

/// Runs the connectivity checks with `remote` and a rats connection over the nominated pair;
/// the peer id connected.
pub(crate) async fn connect(
    rc: &RatsClient,
    session: &IceSession,
    remote: &IceOffer,
) -> Option<String> {
    rc.connect_with_ice(session, remote)
        .await
        .ok()
        .map(|p| p.to_string())
}

/// Ends a session.
pub(crate) async fn close(session: &IceSession) {
    session.close().await;
}
