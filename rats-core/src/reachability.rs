//! How reachable this node is from the internet: the NAT kind, as STUN's behaviour tests
//! (RFC 5780) name it. A leaf of the contracts, shared by events and NAT strategies, and told
//! to peers in the Hello so that a dialer behind another NAT need not wait out a direct dial
//! that cannot succeed.

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

impl NatType {
    /// Every kind, in declaration order.
    pub const ALL: [NatType; 7] = [
        NatType::Open,
        NatType::Firewalled,
        NatType::FullCone,
        NatType::RestrictedCone,
        NatType::PortRestrictedCone,
        NatType::Symmetric,
        NatType::Unknown,
    ];

    /// The name on the wire (the Hello's `nat` field), as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            NatType::Open => "open",
            NatType::Firewalled => "firewalled",
            NatType::FullCone => "full-cone",
            NatType::RestrictedCone => "restricted-cone",
            NatType::PortRestrictedCone => "port-restricted-cone",
            NatType::Symmetric => "symmetric",
            NatType::Unknown => "unknown",
        }
    }

    /// The kind named `s` ([`as_str`](Self::as_str)); a name this version does not know is
    /// [`NatType::Unknown`], so a newer peer's kinds never make its Hello unreadable.
    pub fn from_wire(s: &str) -> NatType {
        NatType::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .unwrap_or(NatType::Unknown)
    }

    /// Whether a node of this kind drops connections that it did not open itself, so that
    /// dialing its listen addresses from elsewhere is not expected to work (every kind but
    /// `Open` and `Unknown`): a dialer then starts the relayed path at once instead of giving
    /// the direct one a head start.
    pub fn filters_inbound(self) -> bool {
        !matches!(self, NatType::Open | NatType::Unknown)
    }
}

impl<'de> serde::Deserialize<'de> for NatType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Bounded by the message it arrives in (a Hello, a peer exchange).
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(NatType::from_wire(&name))
    }
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

#[cfg(test)]
mod tests {
    use super::NatType;

    #[test]
    fn wire_names_round_trip_and_unknown_names_read_as_unknown() {
        for k in NatType::ALL {
            let json = serde_json::to_string(&k).expect("serialize");
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            assert_eq!(serde_json::from_str::<NatType>(&json).expect("parse"), k);
        }
        let later: NatType = serde_json::from_str("\"cgnat-v9\"").expect("lenient");
        assert_eq!(later, NatType::Unknown);
        assert!(serde_json::from_str::<NatType>("7").is_err());
        assert!(NatType::Symmetric.filters_inbound() && NatType::Firewalled.filters_inbound());
        assert!(!NatType::Open.filters_inbound() && !NatType::Unknown.filters_inbound());
    }
}
