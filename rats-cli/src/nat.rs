//! NAT in the tool: `nat` (what we know), `nat check` (run the STUN tests now).

use rats::RatsClient;
use rats::rats_nat::{NatStatus, PortMapping};
use serde_json::json;

use crate::output::{Output, line, say};

/// Runs `nat <rest>`.
pub async fn run(client: &RatsClient, out: Output, rest: &str) {
    let Some(nat) = client.nat() else {
        return out.error(
            "nat",
            "NAT checks are switched off (--no-nat, or `disabled_plugins`)",
        );
    };
    match rest {
        "" | "status" => print(out, &nat.status(), mapping(client), relays(client)),
        "check" => {
            // STUN transactions take up to seconds: answer when done, keep the prompt free.
            let client = client.clone();
            tokio::spawn(async move {
                let (mapped, relayed) = (mapping(&client), relays(&client));
                match nat.detect_nat_type().await {
                    Ok(_) => print(out, &nat.status(), mapped, relayed),
                    Err(e) => match nat.get_public_address().await {
                        Ok(_) => print(out, &nat.status(), mapped, relayed),
                        Err(_) => out.error("nat", &e.to_string()),
                    },
                }
            });
        }
        _ => out.error("nat", "usage: nat [check]"),
    }
}

/// The port mapping on our router, if any.
fn mapping(client: &RatsClient) -> Option<PortMapping> {
    client.port_mapper().and_then(|p| p.mapping())
}

/// Our relayed listen addresses (TURN), if any.
fn relays(client: &RatsClient) -> Vec<String> {
    client
        .listen_addrs()
        .iter()
        .filter(|a| a.scheme() == "turn")
        .map(|a| a.to_string())
        .collect()
}

fn print(out: Output, s: &NatStatus, mapped: Option<PortMapping>, relayed: Vec<String>) {
    if out.json {
        let secs_ago = s
            .checked_at
            .and_then(|t| t.elapsed().ok())
            .map(|d| d.as_secs());
        line(json!({
            "event": "nat",
            "public_addr": s.public_addr,
            "observed_ip": s.observed_ip,
            "nat_type": s.nat_type.map(|t| t.to_string()),
            "behaviour": s.behaviour,
            "server": s.server,
            "checked_secs_ago": secs_ago,
            "port_mapping": mapped,
            "relay": relayed,
        }));
        return;
    }
    let kind = s
        .nat_type
        .map_or_else(|| "not checked".to_string(), |t| t.to_string());
    say!("* NAT: {kind}");
    match s.public_addr {
        Some(a) => say!(
            "  public address {a} (STUN {})",
            s.server.map(|x| x.to_string()).unwrap_or_default()
        ),
        None => say!("  public address unknown (`nat check` asks the STUN servers)"),
    }
    if let Some(ip) = s.observed_ip {
        say!("  peers see us at {ip}");
    }
    if let Some(m) = &mapped {
        say!(
            "  port mapped: {} ({:?} on {})",
            m.external,
            m.method,
            m.gateway
        );
    }
    for r in &relayed {
        say!("  reachable through the relay at {r}");
    }
    if let Some(b) = &s.behaviour {
        say!("  mapping {:?}, filtering {:?}", b.mapping, b.filtering);
    }
}
