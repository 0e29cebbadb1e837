//! rats-discovery-mdns: rats nodes find each other on the local network with mDNS / DNS-SD
//! (RFC 6762 / 6763), through the `mdns-sd` crate.
//!
//! Each node advertises `<instance>._<protocol>._tcp.local.` (`_rats._tcp.local.` for the
//! default protocol) on every usable interface, IPv4 and IPv6, with TXT keys `id` (peer id),
//! `v` (protocol version), `proto` and `port`, and browses for the same type. Instances of our
//! protocol and version are handed to the node, which dials them (not ourselves, not peers
//! already connected). Stopping sends goodbye records; an instance that says goodbye or
//! expires is reported lost (`Event::PeerLost`, source `mdns`). Interfaces and addresses that
//! come and go are picked up every `interface_check_secs`.
//!
//! Linking the crate (feature `mdns` of `rats`, on by default) registers the plugin; its
//! settings are the `mdns` configuration section. A node that listens on loopback only (or
//! not at all) does not start mDNS by itself.
//!
//! ```
//! assert_eq!(rats_discovery_mdns::service_type("rats"), "_rats._tcp.local.");
//! assert_eq!(rats_discovery_mdns::service_type("My App"), "_my-app._tcp.local.");
//! ```
//!
//! ```no_run
//! # async fn demo(node: rats_core::Node) -> Result<(), Box<dyn std::error::Error>> {
//! use rats_discovery_mdns::{MdnsDiscovery, MdnsEvent};
//! let mdns = node.discovery_plugin::<MdnsDiscovery>().ok_or("no mdns plugin")?;
//! mdns.start_mdns_discovery(Some("kitchen laptop")).await?;
//! mdns.on_event(|e| match e {
//!     MdnsEvent::Discovered(s) => println!("found {} at {:?}", s.instance, s.addrs),
//!     MdnsEvent::Lost { instance, .. } => println!("lost {instance}"),
//! });
//! mdns.query(); // ask the network now
//! # Ok(()) }
//! ```

mod browser;
mod config;
mod daemon;
mod event;

/// Entry point of the fuzz target (`fuzz/`). Not public API: no stability promise.
#[doc(hidden)]
#[path = "fuzz_entry.rs"]
pub mod __fuzz;
mod names;
mod plugin;

pub use config::MdnsConfig;
pub use event::{MdnsEvent, MdnsService};
pub use names::{NodeTxt, service_type};
pub use plugin::{MdnsDiscovery, MdnsError};
#[cfg(test)]
mod roundtrip_tests;
