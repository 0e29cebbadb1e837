//! STUN and NAT through `RatsClient::nat()` (`rats_nat::StunPlugin`), and one Binding
//! request to a server the caller names (`rats_nat::stun::binding`).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rats_engine::RatsClient;
use rats_engine::rats_nat::stun::{ChangeRequest, Retransmit, binding};
use rats_engine::rats_nat::{Filtering, Mapping, NatBehaviour, NatType};

/// Why a STUN query failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StunFail {
    /// The `stun` plugin is switched off (and no server was named).
    Unavailable,
    /// No answer, or the server name did not resolve.
    NoAnswer,
}

/// Asks `server:port` (or, with `None`, the configured servers) for our public address.
pub(crate) async fn public_address(
    rc: &RatsClient,
    server: Option<(String, u16)>,
) -> Result<IpAddr, StunFail> {
    let Some((host, port)) = server else {
        if rc.nat().is_none() {
            return Err(StunFail::Unavailable);
        }
        return rc
            .get_public_address()
            .await
            .map(|a| a.ip())
            .map_err(|_| StunFail::NoAnswer);
    };
    let resolve = tokio::net::lookup_host((host.as_str(), port));
    let addrs: Vec<SocketAddr> = tokio::time::timeout(Duration::from_secs(5), resolve)
        .await
        .map_err(|_| StunFail::NoAnswer)?
        .map_err(|_| StunFail::NoAnswer)?
        .collect();
    let server = *addrs.first().ok_or(StunFail::NoAnswer)?;
    let bind: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|_| StunFail::NoAnswer)?;
    binding(
        &sock,
        server,
        ChangeRequest::default(),
        Retransmit::default(),
    )
    .await
    .map(|r| r.mapped.ip())
    .map_err(|_| StunFail::NoAnswer)
}

/// Our public IP as the plugin last found it (or as peers see us).
pub(crate) fn known_public_ip(rc: &RatsClient) -> Option<IpAddr> {
    rc.nat().and_then(|n| n.public_address()).map(|a| a.ip())
}

/// librats' NAT type numbers: 0 unknown, 1 open internet, 2 full cone, 3 restricted cone,
/// 4 port-restricted cone, 5 symmetric, 6 blocked.
pub(crate) fn librats_nat_number(t: Option<NatType>) -> i32 {
    match t {
        Some(NatType::Open) => 1,
        Some(NatType::FullCone) => 2,
        // No NAT, but a firewall that lets in only what we sent to: a restricted cone.
        Some(NatType::RestrictedCone | NatType::Firewalled) => 3,
        Some(NatType::PortRestrictedCone) => 4,
        Some(NatType::Symmetric) => 5,
        _ => 0,
    }
}

/// Runs the RFC 5780 tests against the configured servers: librats' number (6 when no server
/// answered; 0 when the plugin is off or the kind cannot be told).
pub(crate) async fn detect_nat_type(rc: &RatsClient) -> i32 {
    if rc.nat().is_none() {
        return 0;
    }
    match rc.detect_nat_type().await {
        Ok(t) => librats_nat_number(Some(t)),
        Err(_) => 6,
    }
}

fn mapping_number(m: Option<Mapping>) -> i32 {
    match m {
        Some(Mapping::EndpointIndependent) => 1,
        Some(Mapping::AddressDependent) => 2,
        Some(Mapping::AddressAndPortDependent) => 3,
        None => 0,
    }
}

fn filtering_number(f: Option<Filtering>) -> i32 {
    match f {
        Some(Filtering::EndpointIndependent) => 1,
        Some(Filtering::AddressDependent) => 2,
        Some(Filtering::AddressAndPortDependent) => 3,
        None => 0,
    }
}

/// librats' NAT characteristics keys (`has_nat`, `filtering_behavior`, `mapping_behavior`
/// as 0 unknown / 1 endpoint-independent / 2 address-dependent / 3 address-and-port-
/// dependent, `preserves_port`, `hairpin_support`, `description`) plus rats' `nat_type`,
/// `local_address`, `mapped_address`, `checked`. Without a check: `checked` false.
pub(crate) fn characteristics_json(rc: &RatsClient) -> String {
    let b: Option<NatBehaviour> = rc.nat_characteristics();
    let v = match b {
        Some(b) => serde_json::json!({
            "has_nat": b.nat,
            "filtering_behavior": filtering_number(b.filtering),
            "mapping_behavior": mapping_number(b.mapping),
            "preserves_port": b.local.port() == b.mapped.port(),
            "hairpin_support": false,
            "description": b.nat_type().to_string(),
            "nat_type": librats_nat_number(Some(b.nat_type())),
            "local_address": b.local.to_string(),
            "mapped_address": b.mapped.to_string(),
            "checked": true,
        }),
        None => serde_json::json!({
            "has_nat": false,
            "filtering_behavior": 0,
            "mapping_behavior": 0,
            "preserves_port": false,
            "hairpin_support": false,
            "description": "not checked",
            "nat_type": 0,
            "checked": false,
        }),
    };
    v.to_string()
}

/// rats' NAT status as JSON: `stun_available`, `public_address`, `observed_ip`, `nat_type`
/// (librats' number), `nat_type_name`, `stun_server`, `checked_at` (Unix seconds),
/// `port_mapping_available`, `ignored_addresses`, and the connected peers by method.
pub(crate) fn traversal_statistics_json(rc: &RatsClient, ignored: &[String]) -> String {
    let status = rc.nat().map(|n| n.status());
    let mut by_method = serde_json::Map::new();
    for p in rc.peers() {
        let k = p.method.to_string();
        let n = by_method
            .get(&k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        by_method.insert(k, (n + 1).into());
    }
    let s = status.as_ref();
    let v = serde_json::json!({
        "stun_available": s.is_some(),
        "public_address": s.and_then(|s| s.public_addr).map(|a| a.to_string()),
        "observed_ip": s.and_then(|s| s.observed_ip).map(|a| a.to_string()),
        "nat_type": librats_nat_number(s.and_then(|s| s.nat_type)),
        "nat_type_name": s.and_then(|s| s.nat_type).map(|t| t.to_string()),
        "stun_server": s.and_then(|s| s.server).map(|a| a.to_string()),
        "checked_at": s.and_then(|s| s.checked_at)
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs()),
        "port_mapping_available": rc.port_mapper().is_some(),
        "ignored_addresses": ignored,
        "peers_by_method": by_method,
    });
    v.to_string()
}
