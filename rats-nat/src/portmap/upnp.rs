//! UPnP IGD through `igd-next`: SSDP search on the LAN, then SOAP requests to the gateway.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use igd_next::aio::tokio::{Tokio, search_gateway};
use igd_next::{PortMappingProtocol, SearchOptions};

use super::{MappingMethod, PortMapError, PortMapping};

/// The gateway found by SSDP.
pub type Gateway = igd_next::aio::Gateway<Tokio>;

/// Finds the IGD (waiting at most `timeout`).
pub async fn find(timeout: Duration) -> Result<Gateway, PortMapError> {
    let mut options = SearchOptions::default();
    options.timeout = Some(timeout);
    options.single_search_timeout = Some(timeout);
    search_gateway(options)
        .await
        .map_err(|e| PortMapError::Refused(format!("UPnP: {e}")))
}

/// Maps TCP `local` (same external port) for `lifetime` seconds.
pub async fn map_tcp(
    gw: &Gateway,
    local: SocketAddr,
    lifetime: u32,
) -> Result<PortMapping, PortMapError> {
    let add = |lease| gw.add_port(PortMappingProtocol::TCP, local.port(), local, lease, "rats");
    let granted = match add(lifetime).await {
        Ok(()) => lifetime,
        // Many IGDv1 routers only take permanent mappings; ours is removed on shutdown anyway.
        Err(igd_next::AddPortError::OnlyPermanentLeasesSupported) => {
            add(0)
                .await
                .map_err(|e| PortMapError::Refused(format!("UPnP: {e}")))?;
            0
        }
        Err(e) => return Err(PortMapError::Refused(format!("UPnP: {e}"))),
    };
    let ip = gw
        .get_external_ip()
        .await
        .map_err(|e| PortMapError::Refused(format!("UPnP: {e}")))?;
    Ok(PortMapping {
        method: MappingMethod::Upnp,
        external: SocketAddr::new(ip, local.port()),
        internal_port: local.port(),
        // A permanent mapping is still renewed now and then (a router may forget it).
        lifetime: Duration::from_secs(u64::from(if granted == 0 { 3600 } else { granted })),
        gateway: gw.addr.ip(),
    })
}

/// Removes the mapping of TCP `external_port`.
pub async fn unmap_tcp(gw: &Gateway, external_port: u16) -> Result<(), PortMapError> {
    gw.remove_port(PortMappingProtocol::TCP, external_port)
        .await
        .map_err(|e| PortMapError::Refused(format!("UPnP: {e}")))
}

/// The gateway's IP.
pub fn gateway_ip(gw: &Gateway) -> IpAddr {
    gw.addr.ip()
}
