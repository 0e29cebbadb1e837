//! [`RatsClientBuilder`]: identity, data directory, configuration set in code (merged over
//! the file and the environment), plugins; `start()` makes the [`RatsClient`].

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use rats_core::address::ToAddress;
use rats_core::registry::PluginFactory;
use rats_core::{Address, BoxError, Identity, MessageExchange, Node, NodeConfig};

use crate::config::{Origins, log_warnings_once, name_origin, to_map};
use crate::data_dir::DataDirLock;
use crate::{RatsClient, RatsError};

/// Builds a [`RatsClient`].
///
/// Values set here win over the data directory's `config.json` and `RATS_*` environment
/// variables (with the `persist` feature and a data directory); everything not set here comes
/// from those, then from the defaults.
#[derive(Debug, Default)]
pub struct RatsClientBuilder {
    config: NodeConfig,
    /// Top-level config keys set in code.
    set_keys: BTreeSet<String>,
    default_port: u16,
    no_listen: bool,
    data_dir: Option<PathBuf>,
    lock: Option<DataDirLock>,
    identity: Option<Identity>,
    plaintext: bool,
    plugins: Vec<&'static PluginFactory>,
    #[cfg(feature = "log")]
    log_defaults: Option<rats_log::LogConfig>,
}

impl RatsClientBuilder {
    fn set(mut self, keys: &[&str], f: impl FnOnce(&mut NodeConfig)) -> Self {
        f(&mut self.config);
        self.set_keys.extend(keys.iter().map(|k| k.to_string()));
        self
    }

    /// Listens on TCP `port` on IPv6 and IPv4 (0 = any free port).
    pub fn port(self, port: u16) -> Self {
        self.set(&["listen"], |c| {
            c.listen = vec![Address::tcp((std::net::Ipv6Addr::UNSPECIFIED, port).into())]
        })
    }

    /// The port used when nothing (code, file, environment) says where to listen (default 0:
    /// any free port).
    pub fn default_port(mut self, port: u16) -> Self {
        self.default_port = port;
        self
    }

    /// Adds a listen address (`tcp:127.0.0.1:0`, `tcp:[::]:7878`, a `SocketAddr`, ...).
    pub fn listen(self, addr: impl ToAddress) -> Result<Self, RatsError> {
        let addr = addr.to_address()?;
        let first = !self.set_keys.contains("listen");
        Ok(self.set(&["listen"], |c| {
            if first {
                c.listen.clear();
            }
            c.listen.push(addr);
        }))
    }

    /// Does not listen at all (outbound connections only).
    pub fn no_listen(mut self) -> Self {
        self.no_listen = true;
        self.set(&["listen"], |c| c.listen.clear())
    }

    /// The application protocol: nodes connect only when name and version match.
    pub fn protocol(self, name: &str, version: &str) -> Self {
        self.set(&["protocol_name", "protocol_version"], |c| {
            c.protocol_name = name.into();
            c.protocol_version = version.into();
        })
    }

    /// Most connected peers (pending handshakes count too).
    pub fn max_peers(self, n: usize) -> Self {
        self.set(&["max_peers"], |c| c.max_peers = n)
    }

    /// Keeps the identity, configuration and peer store in `dir`, which is locked for this
    /// process.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Uses a data directory this process has already locked.
    pub fn data_dir_lock(mut self, lock: DataDirLock) -> Self {
        self.data_dir = Some(lock.path().to_path_buf());
        self.lock = Some(lock);
        self
    }

    /// Uses this identity instead of the data directory's.
    pub fn identity(mut self, id: Identity) -> Self {
        self.identity = Some(id);
        self
    }

    /// Adds a plugin from a crate that is not linked through the registry, or that the
    /// application wants to name explicitly (see [`NodeBuilder::plugin`]). Its config section
    /// and `disable_plugin` apply as to any plugin.
    ///
    /// A plugin crate that submits its factory with `inventory` is found without this, but only
    /// when the program references the crate: the linker drops a dependency nothing uses, so
    /// write `use my_plugin as _;` somewhere in the program, or register it here.
    ///
    /// [`NodeBuilder::plugin`]: rats_core::NodeBuilder::plugin
    pub fn plugin(mut self, factory: &'static PluginFactory) -> Self {
        self.plugins.push(factory);
        self
    }

    /// Switches a linked plugin off by name (`tcp`, `noise`, `persist`, `mdns`, `dht`, ...).
    pub fn disable_plugin(self, name: &str) -> Self {
        self.set(&["disabled_plugins"], |c| {
            c.disabled_plugins.insert(name.into());
        })
    }

    /// Sends nothing to any machine the application does not name: switches off every plugin
    /// in [`crate::NETWORK_REACHING_PLUGINS`] (DHT, mDNS, STUN, port mapping, hole punching).
    /// For tests and for applications that connect only to addresses they know. A plugin can
    /// be switched on again afterwards with [`configure`](Self::configure), with its own
    /// (local) settings.
    pub fn local_only(self) -> Self {
        self.set(&["disabled_plugins"], |c| {
            c.disabled_plugins.extend(
                crate::NETWORK_REACHING_PLUGINS
                    .iter()
                    .map(|p| p.to_string()),
            );
        })
    }

    /// Peer exchange on or off (on by default).
    pub fn peer_exchange(self, on: bool) -> Self {
        self.set(&["peer_exchange"], |c| c.peer_exchange = on)
    }

    /// Installs logging (rats-log) with `defaults` for every setting that the `log` section of
    /// the configuration does not give. Without this call or a `log` section, the client
    /// installs no logger (the application may have its own).
    #[cfg(feature = "log")]
    pub fn logging(mut self, defaults: rats_log::LogConfig) -> Self {
        self.log_defaults = Some(defaults);
        self
    }

    /// Sets one logging setting in code (`level`, `file`, `stderr`, `colors`, `timestamps`,
    /// `rotation_size`, `retention_count`, `enabled`, `filter`): it wins over the file and the
    /// environment, and installs logging.
    #[cfg(feature = "log")]
    pub fn log_setting(self, key: &str, value: serde_json::Value) -> Self {
        self.set(&["log"], |c| {
            let section = c
                .plugins
                .entry("log")
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            if !section.is_object() {
                *section = serde_json::Value::Object(Default::default());
            }
            if let Some(m) = section.as_object_mut() {
                m.insert(key.to_string(), value);
            }
        })
    }

    /// Sets configuration keys as `config.json` spells them (`{"max_peers": 10,
    /// "disabled_plugins": ["dht"]}`), in code (they win over the file and the environment).
    /// For bindings and tools that take settings as JSON. A key that is unknown or a value
    /// that is refused is an error naming it; nothing is set then.
    ///
    /// ```
    /// let keys = serde_json::json!({"max_peers": 12, "peer_exchange": false});
    /// let builder = rats::RatsClient::builder().config_keys(keys.as_object().unwrap())?;
    /// # Ok::<(), rats::RatsError>(())
    /// ```
    pub fn config_keys(
        self,
        keys: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, RatsError> {
        let refused = |key: &str, e: BoxError| RatsError::Config {
            key: key.to_string(),
            origin: None,
            source: e,
        };
        let fields = NodeConfig::field_names();
        let mut merged = to_map(&self.config);
        for (k, v) in keys {
            // Not a node setting: a plugin's section (`{"transfer": {...}}`), which that
            // plugin checks when it starts.
            if !fields.contains(k) && !v.is_object() {
                return Err(refused(k, "unknown configuration key".into()));
            }
            merged.insert(k.clone(), v.clone());
        }
        let config: NodeConfig = serde_json::from_value(serde_json::Value::Object(merged))
            .map_err(|e| refused(keys.keys().next().map_or("", |k| k), e.into()))?;
        config.validate().map_err(|e| refused(e.key, e.into()))?;
        let names: Vec<&str> = keys.keys().map(String::as_str).collect();
        Ok(self.set(&names, |c| *c = config))
    }

    /// Turns encryption off (debugging only: peers are then not authenticated either).
    pub fn insecure_plaintext(mut self, on: bool) -> Self {
        self.plaintext = on;
        self
    }

    /// Edits the full node configuration; every setting the closure changes counts as set in
    /// code.
    pub fn configure(mut self, f: impl FnOnce(&mut NodeConfig)) -> Self {
        let before = to_map(&self.config);
        f(&mut self.config);
        let after = to_map(&self.config);
        for (k, v) in &after {
            if before.get(k) != Some(v) {
                self.set_keys.insert(k.clone());
            }
        }
        for k in before.keys().filter(|k| !after.contains_key(*k)) {
            self.set_keys.insert(k.clone());
        }
        self
    }

    /// The merged configuration: defaults ← file ← environment ← code (with `persist` and a
    /// data directory), else defaults ← code. Also where each value came from, to name it
    /// when a plugin refuses its section.
    fn resolve_config(
        &self,
        warnings: &mut Vec<String>,
    ) -> Result<(NodeConfig, Origins), RatsError> {
        #[cfg(feature = "persist")]
        if let Some(dir) = &self.data_dir {
            let all = to_map(&self.config);
            let overrides: serde_json::Map<String, serde_json::Value> = all
                .into_iter()
                .filter(|(k, _)| self.set_keys.contains(k))
                .collect();
            let loaded = rats_persist::load_config(dir, &overrides, crate::KNOWN_SECTIONS)?;
            warnings.extend(loaded.warnings.iter().cloned());
            return Ok((loaded.config.clone(), Some(loaded)));
        }
        let _ = warnings;
        Ok((self.config.clone(), None))
    }

    /// Starts the client.
    pub async fn start(self) -> Result<RatsClient, RatsError> {
        let lock = match (self.lock, &self.data_dir) {
            (Some(lock), _) => Some(lock),
            (None, Some(dir)) => Some(DataDirLock::acquire(dir)?),
            (None, None) => None,
        };
        let builder = RatsClientBuilder { lock: None, ..self };
        let mut warnings = Vec::new();
        let (mut config, origins) = builder.resolve_config(&mut warnings)?;
        #[cfg(feature = "log")]
        crate::logging::install_logging(
            builder.log_defaults.as_ref(),
            config.plugins.get("log"),
            &origins,
        )?;
        log_warnings_once(&warnings);
        if config.listen.is_empty() && !builder.no_listen {
            config.listen = vec![Address::tcp(
                (std::net::Ipv6Addr::UNSPECIFIED, builder.default_port).into(),
            )];
        }
        let identity = match (builder.identity, &lock) {
            (Some(id), _) => id,
            (None, Some(lock)) => lock.identity()?.0,
            (None, None) => Identity::generate(),
        };
        let messages = MessageExchange::new();
        let mut node_builder = Node::builder()
            .with_config(config)
            .identity(identity)
            .service(messages.clone());
        if let Some(dir) = &builder.data_dir {
            node_builder = node_builder.data_dir(dir.clone());
        }
        if builder.plaintext {
            node_builder = node_builder.encryption(Arc::new(rats_core::Plaintext));
        }
        for factory in builder.plugins {
            node_builder = node_builder.plugin(factory);
        }
        let node = node_builder
            .start()
            .await
            .map_err(|e| name_origin(e, &origins))?;
        Ok(RatsClient {
            node,
            messages,
            warnings: Arc::new(warnings),
            _lock: lock.map(Arc::new),
        })
    }
}
