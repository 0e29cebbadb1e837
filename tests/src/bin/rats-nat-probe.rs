//! `rats-nat-probe`: a rats node for the NAT lab, run inside a lab namespace by the tests.
//!
//! ```text
//! rats-nat-probe stun <server:port>   NAT check through the stun plugin; prints one JSON line
//! rats-nat-probe portmap [port] [method]  waits for the portmap plugin's mapping (only
//!                                     `method` if given: pcp, natpmp, upnp), prints it, keeps
//!                                     the node up until a line arrives on stdin, then stops
//!                                     (removing the mapping) and prints {"stopped":true}
//! rats-nat-probe relay-listen <turn server> <dir>
//!                                     listens only through the TURN relay, answers each text
//!                                     message with "pong:<text>", accepts files into <dir>;
//!                                     prints {"listen":[...],"peer_id":...}; on a stdin line
//!                                     prints {"files":[[name,sha256hex],...]} and stops
//! rats-nat-probe relay-dial <turn server> <turn addr> <file> <hold secs> [direct addr]
//!                                     connects (the direct address first, if given, then the
//!                                     relayed one), pings, sends <file>, waits
//!                                     <hold secs>, pings again; prints one JSON report
//! rats-nat-probe turn-udp <turn server> a|b
//!                                     a UDP allocation: prints {"relayed":...}; reads the
//!                                     other side's relayed address on stdin; b permits it,
//!                                     prints {"ready":true}, waits for a datagram (a Data
//!                                     indication), answers with a Send indication; a binds a
//!                                     channel, sends ChannelData, waits for the answer
//! ```
//!
//! TURN credentials are the lab's coturn user `rats` / `secret`.

use std::time::Duration;

use rats::RatsClient;
use serde_json::json;
use tokio::io::AsyncBufReadExt;

fn fail(msg: &str) -> ! {
    println!("{}", json!({ "error": msg }));
    std::process::exit(1)
}

async fn node(listen_port: u16, plugins: serde_json::Value, disabled: &[&str]) -> RatsClient {
    // network: runs only inside the lab's namespaces; its plugins get the lab's own servers.
    let mut b = RatsClient::builder()
        .listen(format!("tcp:0.0.0.0:{listen_port}"))
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
                json!({"mapping": mapping, "listen": n.listen_addrs(), "external": n.node().external_addrs(), "peer_id": n.local_peer_id()})
            );
            let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
            let _ = lines.next_line().await;
            n.shutdown().await;
            println!("{}", json!({"stopped": true}));
        }
        Some("relay-listen") => relay_listen(&args).await,
        Some("turn-udp") => turn_udp(&args).await,
        Some("relay-dial") => relay_dial(&args).await,
        _ => fail(
            "usage: rats-nat-probe stun <server:port> | portmap [port] [method] | relay-listen ... | relay-dial ...",
        ),
    }
}

/// A node that reaches others only through the TURN server.
async fn relay_node(server: &str, listen: bool) -> RatsClient {
    let turn = json!({"turn": {"server": server, "username": "rats", "password": "secret"}});
    // network: runs only inside the lab's namespaces, through the lab's TURN server.
    let mut b = RatsClient::builder();
    for d in ["dht", "mdns", "stun", "portmap"] {
        b = b.disable_plugin(d);
    }
    b = if listen {
        b.listen(format!("turn:{server}"))
            .unwrap_or_else(|e| fail(&e.to_string()))
    } else {
        b.no_listen()
    };
    b.configure(move |c| {
        c.dial_timeout = Duration::from_secs(3);
        if let serde_json::Value::Object(m) = turn {
            c.plugins.extend(m);
        }
    })
    .start()
    .await
    .unwrap_or_else(|e| fail(&e.to_string()))
}

async fn relay_listen(args: &[String]) {
    let (Some(server), Some(dir)) = (args.get(1), args.get(2)) else {
        fail("usage: relay-listen <turn server> <dir>")
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| fail(&e.to_string()));
    let n = relay_node(server, true).await;
    let replier = n.clone();
    n.on_string(move |from, text| {
        let (r, text) = (replier.clone(), format!("pong:{text}"));
        tokio::spawn(async move {
            let _ = r.send_string(&from, &text).await;
        });
    });
    let transfers = n.transfers().unwrap_or_else(|| fail("no transfer service"));
    let into = dir.clone();
    transfers.set_accept_callback(move |offer| {
        let dest = into.join(&offer.name);
        async move { rats::rats_transfer::AcceptDecision::Accept(dest) }
    });
    println!(
        "{}",
        json!({"listen": n.listen_addrs(), "peer_id": n.local_peer_id()})
    );
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let _ = lines.next_line().await;
    let files = rats_tests::natlab::file_digests(&dir);
    println!("{}", json!({"files": files}));
    n.shutdown().await;
}

async fn relay_dial(args: &[String]) {
    let (Some(server), Some(target), Some(file), Some(hold)) =
        (args.get(1), args.get(2), args.get(3), args.get(4))
    else {
        fail("usage: relay-dial <turn server> <turn addr> <file> <hold secs>")
    };
    let hold: u64 = hold.parse().unwrap_or_else(|_| fail("hold secs"));
    let n = relay_node(server, false).await;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(16);
    n.on_string(move |_, text| {
        let _ = tx.try_send(text.to_string());
    });
    // A direct address first (where a symmetric NAT drops it), then the relay: the strategy
    // must fall back and say so.
    let mut attempts = n.events();
    let mut addrs: Vec<&str> = Vec::new();
    if let Some(direct) = args.get(5) {
        addrs.push(direct);
    }
    addrs.push(target);
    let peer = n
        .connect_any(&addrs)
        .await
        .unwrap_or_else(|e| fail(&format!("connect: {e}")));
    let method = n.connection_method(&peer);
    let mut tried = Vec::new();
    while let Ok(Some(Ok(e))) =
        tokio::time::timeout(Duration::from_millis(10), attempts.recv()).await
    {
        if let rats::Event::ConnectAttempt {
            addr,
            method,
            error,
            ..
        } = e
        {
            tried.push(json!({"addr": addr, "method": method, "ok": error.is_none()}));
        }
    }
    let ping = |label: &'static str| {
        let n = n.clone();
        async move {
            let t = std::time::Instant::now();
            n.send_string(&peer, label)
                .await
                .unwrap_or_else(|e| fail(&e.to_string()));
            t
        }
    };
    let t = ping("ping").await;
    let answer = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
    let first = matches!(answer, Ok(Some(ref a)) if a == "pong:ping");
    let rtt_ms = t.elapsed().as_secs_f64() * 1e3;
    let transfers = n.transfers().unwrap_or_else(|| fail("no transfer service"));
    let id = transfers
        .send_file(&peer, file, None)
        .await
        .unwrap_or_else(|e| fail(&e.to_string()));
    let done = transfers.wait(id, Duration::from_secs(120)).await;
    let file_state = match done {
        Ok(info) => info.state.to_string(),
        Err(e) => format!("error: {e}"),
    };
    tokio::time::sleep(Duration::from_secs(hold)).await;
    ping("ping-after-hold").await;
    let answer = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
    let second = matches!(answer, Ok(Some(ref a)) if a == "pong:ping-after-hold");
    let remote = n.node().peer_info(&peer).map(|i| i.remote_addr.to_string());
    println!(
        "{}",
        json!({"first_pong": first, "rtt_ms": rtt_ms, "file": file_state, "pong_after_hold": second, "remote": remote, "method": method, "attempts": tried})
    );
    n.shutdown().await;
}

async fn turn_udp(args: &[String]) {
    use rats::rats_nat::turn::{Credentials, TurnClient};
    let (Some(server), Some(role)) = (args.get(1), args.get(2)) else {
        fail("usage: turn-udp <turn server> a|b")
    };
    let server: std::net::SocketAddr = server.parse().unwrap_or_else(|_| fail("server address"));
    let creds = Credentials {
        username: "rats".into(),
        password: "secret".into(),
    };
    let (client, mut data) = TurnClient::connect_udp(server, creds)
        .await
        .unwrap_or_else(|e| fail(&e.to_string()));
    let (relayed, _) = client
        .allocate_udp()
        .await
        .unwrap_or_else(|e| fail(&e.to_string()));
    println!("{}", json!({ "relayed": relayed }));
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let other: std::net::SocketAddr = lines
        .next_line()
        .await
        .ok()
        .flatten()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| fail("the other side's relayed address on stdin"));
    if role == "b" {
        client
            .create_permission(other.ip())
            .await
            .unwrap_or_else(|e| fail(&e.to_string()));
        println!("{}", json!({ "ready": true }));
        let got = tokio::time::timeout(Duration::from_secs(10), data.recv()).await;
        let (from, bytes) = got
            .ok()
            .flatten()
            .unwrap_or_else(|| fail("nothing relayed to b"));
        client
            .send_to(from, b"hello-from-b")
            .await
            .unwrap_or_else(|e| fail(&e.to_string()));
        println!(
            "{}",
            json!({ "got": String::from_utf8_lossy(&bytes), "from": from })
        );
    } else {
        let channel = client
            .channel_bind(other)
            .await
            .unwrap_or_else(|e| fail(&e.to_string()));
        client
            .send_to(other, b"hello-from-a")
            .await
            .unwrap_or_else(|e| fail(&e.to_string()));
        let got = tokio::time::timeout(Duration::from_secs(10), data.recv()).await;
        let (from, bytes) = got
            .ok()
            .flatten()
            .unwrap_or_else(|| fail("nothing relayed to a"));
        println!(
            "{}",
            json!({ "got": String::from_utf8_lossy(&bytes), "from": from, "channel": channel })
        );
    }
}
