//! The DHT commands: `dht`, `dht start`, `dht stop`, `find <hash>`, `announce <hash>`.

use rats::RatsClient;
use rats::rats_discovery_dht::NodeId;

use crate::output::Output;

/// Tells how to switch the DHT on when the plugin is disabled.
const DHT_OFF: &str = "the DHT is switched off (--no-dht, or `disabled_plugins` in config.json)";

/// Runs DHT command `word` with arguments `rest`.
pub async fn run(client: &RatsClient, out: Output, word: &str, rest: &str) {
    let result = match word {
        "dht" => dht(client, out, rest).await,
        "find" => find(client, out, rest),
        "announce" => announce(client, out, rest),
        _ => Err(format!("unknown command {word:?}")),
    };
    if let Err(e) = result {
        out.error(word, &e);
    }
}

/// `dht`, `dht start`, `dht stop`.
async fn dht(client: &RatsClient, out: Output, rest: &str) -> Result<(), String> {
    match rest {
        "" | "status" => {
            out.dht_status(client.dht_status().as_ref());
            Ok(())
        }
        "start" => {
            if client.dht().is_none() {
                return Err(DHT_OFF.into());
            }
            client.start_dht().await.map_err(|e| e.to_string())?;
            out.dht_switched(true);
            Ok(())
        }
        "stop" => {
            if client.dht().is_none() {
                return Err(DHT_OFF.into());
            }
            client.stop_dht().await;
            out.dht_switched(false);
            Ok(())
        }
        _ => Err("usage: dht [start|stop]".into()),
    }
}

/// The info-hash in `rest` as lowercase hex, or why not; also checks that the DHT is there.
fn hash_arg(client: &RatsClient, rest: &str, usage: &str) -> Result<String, String> {
    if rest.is_empty() {
        return Err(format!("usage: {usage}"));
    }
    let hash = NodeId::from_hex(rest)
        .ok_or_else(|| format!("{rest:?} is not a 40-hex-digit info-hash; usage: {usage}"))?;
    if client.dht().is_none() {
        return Err(DHT_OFF.into());
    }
    Ok(hash.to_hex())
}

/// `find <hash>`: looks the hash up in the background; the peers are printed when the
/// lookup ends (within seconds).
fn find(client: &RatsClient, out: Output, rest: &str) -> Result<(), String> {
    let hash = hash_arg(client, rest, "find <40-hex-digit info-hash>")?;
    let client = client.clone();
    tokio::spawn(async move {
        match client.find_peers(&hash).await {
            Ok(peers) => out.found(&hash, &peers),
            Err(e) => out.error("find", &e.to_string()),
        }
    });
    Ok(())
}

/// `announce <hash>`: announces our TCP port under the hash in the background.
fn announce(client: &RatsClient, out: Output, rest: &str) -> Result<(), String> {
    let hash = hash_arg(client, rest, "announce <40-hex-digit info-hash>")?;
    let client = client.clone();
    tokio::spawn(async move {
        match client.announce(&hash).await {
            Ok(nodes) => out.announced(&hash, nodes),
            Err(e) => out.error("announce", &e.to_string()),
        }
    });
    Ok(())
}
