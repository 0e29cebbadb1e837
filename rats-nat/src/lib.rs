//! rats-nat: getting through NATs. A STUN client (RFC 8489: Binding with XOR-MAPPED-ADDRESS,
//! retransmissions, FINGERPRINT; a strict codec that also does MESSAGE-INTEGRITY), NAT
//! behaviour discovery (RFC 5780 mapping and filtering tests) with the classic names (open,
//! full cone, restricted cone, port-restricted cone, symmetric), and the `stun` plugin that
//! keeps our public address and NAT kind fresh and also learns the address connected peers
//! see us at.
//!
//! ```
//! use rats_nat::stun::{Class, Message, MessageBuilder, message::{attr, method}};
//! let addr = "203.0.113.7:40000".parse()?;
//! let answer = MessageBuilder::new(method::BINDING, Class::Success)
//!     .xor_address(attr::XOR_MAPPED_ADDRESS, &addr)
//!     .build(None);
//! let m = Message::decode(&answer)?;
//! assert_eq!(m.mapped_address(), Some(addr));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Also: port mapping on the router ([`portmap`]: PCP, NAT-PMP, UPnP IGD) and a TURN client
//! with TCP relaying ([`turn`], RFC 6062) that carries rats connections through a relay.
//!
//! Coordinated hole punching ([`holepunch`], feature `holepunch`, on by default): two peers
//! behind NATs agree on a punch through a peer both are connected to, then run QUIC (and the
//! usual rats handshake) over the punched UDP path; relayed connections are upgraded this way.
//!
//! Linking the crate (feature `nat` of `rats`, on by default) registers the `stun`,
//! `portmap` and `holepunch` plugins and the `turn` transport; their settings are the `stun`,
//! `portmap`, `holepunch` and `turn` configuration sections.

#[cfg(feature = "holepunch")]
pub mod holepunch;
#[cfg(feature = "ice")]
pub mod ice;
pub mod portmap;
pub mod stun;
pub mod turn;

/// Entry points of the fuzz targets (`fuzz/`). Not public API: no stability promise.
#[doc(hidden)]
#[path = "fuzz_entry.rs"]
pub mod __fuzz;

#[cfg(feature = "holepunch")]
pub use holepunch::{HolePunch, HolePunchConfig};
pub use portmap::{MappingMethod, PortMapConfig, PortMapError, PortMapper, PortMapping};
pub use stun::behaviour::{self, Filtering, Mapping, NatBehaviour, NatType};
pub use stun::{NatStatus, StunPlugin};
pub use stun::{PUBLIC_STUN_SERVERS, StunConfig};
pub use turn::{TurnConfig, TurnTransport};
#[cfg(test)]
mod roundtrip_tests;
