//! The DHT in the tool: the `--bootstrap` option and the `dht`, `find` and `announce`
//! commands.

pub mod commands;
mod print;

use crate::error::CliError;
use serde_json::Value;

/// The `--bootstrap` nodes as the `dht.bootstrap` configuration value, each checked to be
/// `host:port`.
pub fn bootstrap_list(nodes: &[String]) -> Result<Value, CliError> {
    for node in nodes {
        let valid = node.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0)
        });
        if !valid {
            return Err(CliError::Usage(format!(
                "--bootstrap {node:?}: expected HOST:PORT"
            )));
        }
    }
    Ok(Value::from(nodes.to_vec()))
}
