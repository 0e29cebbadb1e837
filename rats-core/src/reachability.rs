//! How reachable this node is from the internet: the NAT kind, as STUN's behaviour tests
//! (RFC 5780) name it. A leaf of the contracts, shared by events and NAT strategies.

/// The classic names of a NAT's behaviour (mapping and filtering), as STUN finds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NatType {
    /// No NAT, nothing filtered: directly reachable.
    Open,
    /// No NAT, but a firewall filters unsolicited packets.
    Firewalled,
    /// Endpoint-independent mapping and filtering.
    FullCone,
    /// Endpoint-independent mapping, address-dependent filtering.
    RestrictedCone,
    /// Endpoint-independent mapping, address-and-port-dependent filtering.
    PortRestrictedCone,
    /// Mapping depends on the destination: hole punching rarely works; use a relay.
    Symmetric,
    /// The server could not tell (no alternate address, or answers missing).
    Unknown,
}

impl std::fmt::Display for NatType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NatType::Open => "open",
            NatType::Firewalled => "firewalled",
            NatType::FullCone => "full cone",
            NatType::RestrictedCone => "restricted cone",
            NatType::PortRestrictedCone => "port-restricted cone",
            NatType::Symmetric => "symmetric",
            NatType::Unknown => "unknown",
        })
    }
}
