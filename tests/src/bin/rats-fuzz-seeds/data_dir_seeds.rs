//! Seeds from the files real clients leave in their data directories: identity key, peer
//! files, `config.json` (as written, with environment lines, edited), and the mDNS TXT
//! properties of their peer ids.

use std::path::{Path, PathBuf};

use rats_core::PeerId;
use serde_json::json;

use crate::Error;
use crate::seeds::Seeds;

/// The files a real client leaves in its data directory.
pub fn data_dir_seeds(seeds: &mut Seeds, work: &Path, ids: &[PeerId]) -> Result<(), Error> {
    let read = |p: PathBuf| std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()));
    for n in ["a", "b", "c"] {
        let dir = work.join(n);
        seeds.add(
            "identity_key_file",
            &format!("identity-key-{n}"),
            &read(dir.join("identity.key"))?,
        )?;
        for f in ["peers.rats", "peers_ever.rats"] {
            seeds.add("peer_files", &format!("{n}-{f}"), &read(dir.join(f))?)?;
        }
    }
    let config = read(work.join("a").join("config.json"))?;
    seeds.add("config", "config-as-written", &config)?;
    let mut with_env = config.clone();
    with_env.push(0);
    with_env.extend_from_slice(b"MAX_PEERS=9\nPEER_EXCHANGE=false\nLOG__LEVEL=debug\n");
    seeds.add("config", "config-with-env", &with_env)?;
    let mut edited: serde_json::Value = serde_json::from_slice(&config)?;
    edited["listen"] = json!(["tcp:[::]:7878", "quic:0.0.0.0:7879"]);
    edited["disabled_plugins"] = json!(["mdns", "portmap"]);
    edited["gossipsub"] = json!({"heartbeat_ms": 700});
    edited["transfer"] = json!({"chunk_size": 262144, "trusted_peers": [ids[0].to_string()]});
    edited["dht"] = json!({"port": 6881, "bootstrap": ["127.0.0.1:6881"], "ipv6": false});
    edited["log"] = json!({"level": "debug", "stderr": true});
    seeds.add(
        "config",
        "config-edited-with-sections",
        &serde_json::to_vec_pretty(&edited)?,
    )?;
    let mut env_only = b"{}\0".to_vec();
    env_only.extend_from_slice(
        b"PROTOCOL_NAME=myapp\nLISTEN=[\"tcp:127.0.0.1:0\"]\nTRANSFER__CHUNK_SIZE=65536\n",
    );
    seeds.add("config", "empty-file-with-env", &env_only)?;
    for (i, id) in ids.iter().enumerate() {
        let txt = rats::rats_discovery_mdns::NodeTxt {
            peer: *id,
            version: "1.0".into(),
            protocol: if i == 2 {
                "my-app".into()
            } else {
                "rats".into()
            },
            port: 7878 + i as u16,
        };
        let lines: Vec<String> = txt
            .properties()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        seeds.add(
            "mdns_txt",
            &format!("node-txt-{}", i + 1),
            lines.join("\n").as_bytes(),
        )?;
    }
    Ok(())
}
