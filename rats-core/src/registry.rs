//! The plugin registry. A plugin crate offers a [`PluginFactory`]; the node instantiates it
//! unless configuration switches it off (`disabled_plugins`), handing it its config section.
//! There are two ways to get a factory to the node:
//!
//! - **Explicitly**: `Node::builder().plugin(&FACTORY)` (or `RatsClient::builder().plugin(..)`),
//!   the way libp2p and iroh compose. Always works.
//! - **Through `inventory`**: the crate submits its factory with `inventory::submit!` and every
//!   program that links the crate gets it, as the built-in plugins do. The linker only keeps a
//!   crate the program references, so a program that merely depends on a plugin crate must
//!   name it once: `use my_plugin as _;`.
//!
//! A factory's [`kind`](PluginFactory::kind) must match what it makes; the node refuses to
//! start otherwise.
//!
//! ```
//! use std::sync::Arc;
//! use rats_core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};
//!
//! fn make(_cfg: &PluginConfig) -> Result<Plugin, PluginError> {
//!     Ok(Plugin::Transport(Arc::new(rats_core::MemoryTransport::default())))
//! }
//! rats_core::inventory::submit! {
//!     PluginFactory { name: "my-mem", kind: PluginKind::Transport, create: make }
//! }
//! assert!(rats_core::registry::factories().any(|f| f.name == "my-mem"));
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use crate::discovery::Discovery;
use crate::encryption::{Encryption, ProtocolId};
use crate::nat::NatStrategy;
use crate::service::Service;
use crate::transport::Transport;

/// What kind of plugin a factory makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PluginKind {
    /// A [`Transport`].
    Transport,
    /// An [`Encryption`].
    Encryption,
    /// A [`Discovery`].
    Discovery,
    /// A [`NatStrategy`].
    Nat,
    /// A [`Service`].
    Service,
}

/// A plugin instance.
#[derive(Clone)]
pub enum Plugin {
    /// A transport.
    Transport(Arc<dyn Transport>),
    /// An encryption.
    Encryption(Arc<dyn Encryption>),
    /// A discovery mechanism.
    Discovery(Arc<dyn Discovery>),
    /// A NAT strategy.
    Nat(Arc<dyn NatStrategy>),
    /// A service.
    Service(Arc<dyn Service>),
}

impl Plugin {
    /// The kind of this instance.
    pub fn kind(&self) -> PluginKind {
        match self {
            Plugin::Transport(_) => PluginKind::Transport,
            Plugin::Encryption(_) => PluginKind::Encryption,
            Plugin::Discovery(_) => PluginKind::Discovery,
            Plugin::Nat(_) => PluginKind::Nat,
            Plugin::Service(_) => PluginKind::Service,
        }
    }
}

/// What a factory gets to build its plugin.
#[derive(Clone, Debug)]
pub struct PluginConfig {
    /// The plugin's name.
    pub name: &'static str,
    /// Its configuration section (`Null` when there is none).
    pub section: serde_json::Value,
    /// Every plugin's section, for plugins that share settings with another (hole punching
    /// uses the `stun` servers).
    pub all_sections: Arc<serde_json::Map<String, serde_json::Value>>,
    /// The node's data directory, if it has one.
    pub data_dir: Option<PathBuf>,
    /// The application protocol.
    pub protocol: ProtocolId,
}

impl PluginConfig {
    /// Deserializes the section into the plugin's own config type (defaults when absent).
    /// A bad value is an error naming its key (`transfer.window`).
    pub fn parse<T: serde::de::DeserializeOwned + Default>(&self) -> Result<T, PluginError> {
        if self.section.is_null() {
            return Ok(T::default());
        }
        parse_value(self.name, self.name, &self.section)
    }

    /// Deserializes another plugin's section (defaults when absent).
    pub fn parse_section<T: serde::de::DeserializeOwned + Default>(
        &self,
        name: &str,
    ) -> Result<T, PluginError> {
        match self.all_sections.get(name) {
            None | Some(serde_json::Value::Null) => Ok(T::default()),
            Some(v) => parse_value(self.name, name, v),
        }
    }
}

/// Deserializes section `section` for `plugin`, naming the key of a bad value.
fn parse_value<T: serde::de::DeserializeOwned>(
    plugin: &'static str,
    section: &str,
    value: &serde_json::Value,
) -> Result<T, PluginError> {
    serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let path = e.path().to_string();
        let key = if path == "." {
            section.to_string()
        } else {
            format!("{section}.{path}")
        };
        PluginError::Config {
            plugin,
            key: Some(key),
            error: e.into_inner().to_string(),
        }
    })
}

/// A factory failed.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// Bad configuration section.
    #[error(
        "plugin {plugin}: bad configuration{}: {error}",
        .key.as_ref().map(|k| format!(" at {k}")).unwrap_or_default()
    )]
    Config {
        /// The plugin.
        plugin: &'static str,
        /// The key of the bad value (`section.key`), when one value is to blame.
        key: Option<String>,
        /// What is wrong.
        error: String,
    },
    /// Anything else.
    #[error("plugin {plugin}: {error}")]
    Failed {
        /// The plugin.
        plugin: &'static str,
        /// What failed.
        error: String,
    },
}

/// A plugin factory, submitted with `inventory::submit!`.
#[derive(Debug)]
pub struct PluginFactory {
    /// Unique plugin name; also the config section and the switch that disables it.
    pub name: &'static str,
    /// What it makes.
    pub kind: PluginKind,
    /// Builds an instance.
    pub create: fn(&PluginConfig) -> Result<Plugin, PluginError>,
}

inventory::collect!(PluginFactory);

/// Every factory linked into this program.
pub fn factories() -> impl Iterator<Item = &'static PluginFactory> {
    inventory::iter::<PluginFactory>.into_iter()
}
