//! `rats-nat-probe`: a rats node for the NAT lab, run inside a lab namespace by the tests.
//!
//! ```text
//! rats-nat-probe stun <server:port>   NAT check through the stun plugin; prints one JSON line
//! rats-nat-probe portmap [port] [method]  waits for the portmap plugin's mapping (only
//!                                     `method` if given: pcp, natpmp, upnp), prints it, keeps
//!                                     the node up until a line arrives on stdin, then stops
//!                                     (removing the mapping) and prints {"stopped":true}
//! ```

use std::time::Duration;

use rats::RatsClient;
use serde_json::json;
use tokio::io::AsyncBufReadExt;

fn fail(msg: &str) -> ! {
    println!("{}", json!({ "error": msg }));
    std::process::exit(1)
}

async fn node(listen_port: u16, plugins: serde_json::Value, disabled: &[&str]) -> RatsClient {
    let mut b = RatsClient::builder()
        .listen(&format!("tcp:0.0.0.0:{listen_port}"))
        .unwrap_or_else(|e| fail(&e.to_string()));
    for d in ["dht", "mdns", "stun", "portmap"] {
        if disabled.contains(&d) {
            b = b.disable_plugin(d);
        }
    }
    b.configure(move |c| {
        if let serde_json::Value::Object(m) = plugins {
            c.plugins.extend(m);
        }
    })
    .start()
    .await
    .unwrap_or_else(|e| fail(&e.to_string()))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("stun") => {
            let server = args
                .get(1)
                .unwrap_or_else(|| fail("usage: stun <server:port>"));
            let n = node(
                0,
                json!({"stun": {"servers": [server], "auto": false, "rto_ms": 200, "tries": 4}}),
                &["dht", "mdns", "portmap"],
            )
            .await;
            match n.detect_nat_type().await {
                Ok(kind) => {
                    let b = n.nat_characteristics();
                    println!("{}", json!({"nat_type": kind.to_string(), "behaviour": b}));
                }
                Err(e) => println!("{}", json!({"error": e.to_string()})),
            }
            n.shutdown().await;
        }
        Some("portmap") => {
            let port: u16 = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
            let methods = match args.get(2) {
                Some(m) => json!([m]),
                None => json!(["pcp", "natpmp", "upnp"]),
            };
            let n = node(
                port,
                json!({"portmap": {"lifetime_secs": 120, "upnp_search_secs": 2, "methods": methods}}),
                &["dht", "mdns", "stun"],
            )
            .await;
            let mapper = n.port_mapper().unwrap_or_else(|| fail("no portmap plugin"));
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            let mapping = loop {
                if let Some(m) = mapper.mapping() {
                    break m;
                }
                if tokio::time::Instant::now() > deadline {
                    fail("no mapping within 20 s");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            println!(
                "{}",
                json!({"mapping": mapping, "listen": n.listen_addrs(), "peer_id": n.local_peer_id()})
            );
            let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
            let _ = lines.next_line().await;
            n.shutdown().await;
            println!("{}", json!({"stopped": true}));
        }
        _ => fail("usage: rats-nat-probe stun <server:port> | portmap [port] [method]"),
    }
}
