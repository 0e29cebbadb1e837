//! [`RatsError`]: what can go wrong in a [`RatsClient`](crate::RatsClient) call, matchable,
//! with the plugin's own error kept as the source.

use rats_core::address::AddressError;
use rats_core::messaging::MessageError;
use rats_core::{BoxError, ConnectError, NodeError};

use crate::data_dir::DataDirError;

/// Errors of the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RatsError {
    /// Starting the node failed.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// Connecting failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// Sending failed.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// The data directory could not be used.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The configuration file or environment could not be read or holds a bad value.
    #[cfg(feature = "persist")]
    #[error(transparent)]
    ConfigFile(#[from] rats_persist::ConfigError),
    /// A configuration value is refused: its key, where it came from (file or environment
    /// variable) when known, and why.
    #[error(
        "invalid configuration at {key}: {source}{}",
        .origin.as_ref().map(|o| format!(" (from {o})")).unwrap_or_default()
    )]
    Config {
        /// The key (`transfer.window`, `log.level`, ...).
        key: String,
        /// The file or environment variable the value came from.
        origin: Option<String>,
        /// Why it is refused.
        #[source]
        source: BoxError,
    },
    /// The plugin a call needs is switched off in the configuration.
    #[error("the {0} plugin is disabled")]
    PluginDisabled(&'static str),
    /// The plugin a call needs is not running (stopped, or never started).
    #[error("{0} is not running")]
    NotRunning(&'static str),
    /// The call needs a TCP listener and the node has none.
    #[error("not listening on TCP")]
    NotListening,
    /// A malformed address.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// Not a 40-hex-digit info-hash.
    #[error("{0:?} is not a 40-hex-digit info-hash")]
    InfoHash(String),
    /// The DHT failed.
    #[cfg(feature = "dht")]
    #[error(transparent)]
    Dht(#[from] rats_discovery_dht::DhtError),
    /// mDNS failed.
    #[cfg(feature = "mdns")]
    #[error(transparent)]
    Mdns(#[from] rats_discovery_mdns::MdnsError),
    /// STUN (public address, NAT type) failed.
    #[cfg(feature = "nat")]
    #[error(transparent)]
    Nat(#[from] rats_nat::stun::StunError),
    /// ICE failed.
    #[cfg(feature = "nat")]
    #[error(transparent)]
    Ice(#[from] rats_nat::ice::IceError),
    /// Logging could not be set up or changed.
    #[cfg(feature = "log")]
    #[error(transparent)]
    Log(#[from] rats_log::LogError),
}
