//! mDNS in the tool: `mdns` (status), `mdns query`, `mdns start [name]`, `mdns stop`.

use rats::RatsClient;
use serde_json::json;

use crate::output::{Output, line, say};

/// Runs `mdns <rest>`.
pub async fn run(client: &RatsClient, out: Output, rest: &str) {
    let Some(mdns) = client.mdns() else {
        return out.error(
            "mdns",
            "mDNS is switched off (--no-mdns, or `disabled_plugins`)",
        );
    };
    let (word, arg) = rest.split_once(' ').unwrap_or((rest, ""));
    let result = match word {
        "" | "status" => Ok(()),
        "query" => client.query_mdns().map_err(|e| e.to_string()),
        "start" => {
            let name = Some(arg.trim()).filter(|n| !n.is_empty());
            client
                .start_mdns_discovery(name)
                .await
                .map_err(|e| e.to_string())
        }
        "stop" => {
            client.stop_mdns_discovery().await;
            Ok(())
        }
        _ => Err("usage: mdns [status|query|start [name]|stop]".into()),
    };
    if let Err(e) = result {
        return out.error("mdns", &e);
    }
    let (running, instance) = (mdns.is_running(), mdns.instance());
    if out.json {
        line(json!({"event": "mdns", "running": running, "instance": instance}));
    } else if running {
        say!(
            "* mDNS on, advertised as {}",
            instance.as_deref().unwrap_or("(nothing: browsing only)")
        );
    } else {
        say!("* mDNS off");
    }
}
