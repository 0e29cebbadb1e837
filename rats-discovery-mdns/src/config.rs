//! The `mdns` configuration section.

use serde::{Deserialize, Serialize};

/// mDNS settings (config section `mdns`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MdnsConfig {
    /// Our DNS-SD instance name (default: `rats-` and the first 16 hex digits of our peer id).
    pub instance_name: Option<String>,
    /// UDP port (5353 is the mDNS port; another port only talks to nodes configured alike).
    pub port: u16,
    /// Also use IPv6 interfaces.
    pub ipv6: bool,
    /// Only these interfaces (by name); empty = every interface with a usable address.
    pub interfaces: Vec<String>,
    /// Seconds between checks for interfaces or addresses that came or went.
    pub interface_check_secs: u32,
    /// Advertise our service (off: only browse).
    pub advertise: bool,
}

impl Default for MdnsConfig {
    fn default() -> Self {
        MdnsConfig {
            instance_name: None,
            port: 5353,
            ipv6: true,
            interfaces: Vec::new(),
            interface_check_secs: 5,
            advertise: true,
        }
    }
}
