//! The lab node: one rats node in a lab namespace, reporting what happens as JSON lines.
//!
//! ```text
//! node [--stun IP:PORT] [--turn IP:PORT] [--listen-turn] [--rendezvous tcp:IP:PORT]
//!      [--greet] [--send-file FILE] [--recv DIR] [--punch udp|tcp|both] [--quic]
//!      [--keepalive-ms N] [--idle-ms N] [--write-timeout-ms N] [--relay-head-start-ms N]
//! stdin:  send <peer id> <file>    sends a file, prints {"event":"sent",...} when done
//!         connect <address>        dials, prints {"event":"connected"|"connect_failed",...}
//!         msgs <peer id> <n> <tag> sends strings "<tag>-0".."<tag>-<n-1>" in order (each
//!                                  awaited), prints {"event":"msgs_sent",...}
//!         subscribe <topic>        prints {"event":"subscribed","topic":..}
//!         publish <topic> <text>   prints {"event":"published","ok":..,"error":..}
//!         addrs                    prints {"event":"addrs","listen":[..]}
//!         quit                     stops; with --recv prints {"event":"files",...} first
//! stdout: (every line also has "at_ms": when, in ms since the Unix epoch)
//!         {"event":"nat","nat_type":..,"error":..}                 (with --stun and --rendezvous)
//!         {"event":"ready","peer_id":..,"listen":[..]}
//!         {"event":"peer","peer":..,"method":..,"transport":..}   (new peer or new method)
//!         {"event":"gone","peer":..}
//!         {"event":"message","from":..,"text":..}
//!         {"event":"gossip","topic":..,"origin":..,"text":..}
//!         {"event":"attempt","addr":..,"method":..,"error":..}
//!         {"event":"upgraded","peer":..,"method":..}            (relayed -> direct)
//!         {"event":"disconnected","peer":..,"reason":..}
//! ```
//!
//! Without `--stun`/`--turn` the node has no STUN or TURN server. With `--stun` and
//! `--rendezvous` the node finds its NAT kind (RFC 5780 tests against the lab's STUN server)
//! before it meets the rendezvous, as a node with automatic STUN checks does when it starts,
//! so its Hello tells the kind. `--quic` adds a QUIC
//! listener on UDP port 7001 beside TCP 7000. With `--greet` the node sends "hello" to every
//! peer other than the rendezvous as soon as it is connected; with `--send-file` it also sends
//! them FILE (then prints `sent`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use rats::{PeerId, RatsClient};
use serde_json::json;
use tokio::io::AsyncBufReadExt;

/// Options of the node mode.
#[derive(Default)]
struct Options {
    stun: String,
    turn: String,
    listen_turn: bool,
    rendezvous: Option<String>,
    greet: bool,
    send_file: Option<String>,
    recv: Option<PathBuf>,
    /// Which paths hole punching tries (default both).
    punch: Option<String>,
    /// Also listen on QUIC (UDP 7001).
    quic: bool,
    keepalive_ms: Option<u64>,
    idle_ms: Option<u64>,
    write_timeout_ms: Option<u64>,
    relay_head_start_ms: Option<u64>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--stun" => o.stun = value()?,
            "--turn" => o.turn = value()?,
            "--listen-turn" => o.listen_turn = true,
            "--rendezvous" => o.rendezvous = Some(value()?),
            "--greet" => o.greet = true,
            "--send-file" => o.send_file = Some(value()?),
            "--recv" => o.recv = Some(PathBuf::from(value()?)),
            "--punch" => o.punch = Some(value()?),
            "--quic" => o.quic = true,
            "--keepalive-ms" => o.keepalive_ms = Some(millis(&value()?)?),
            "--idle-ms" => o.idle_ms = Some(millis(&value()?)?),
            "--write-timeout-ms" => o.write_timeout_ms = Some(millis(&value()?)?),
            "--relay-head-start-ms" => o.relay_head_start_ms = Some(millis(&value()?)?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.listen_turn && o.turn.is_empty() {
        return Err("--listen-turn needs --turn".into());
    }
    Ok(o)
}

fn millis(v: &str) -> Result<u64, String> {
    v.parse()
        .map_err(|_| format!("{v:?} is not a number of milliseconds"))
}

/// Prints one JSON line, stamped with `at_ms` (milliseconds since the Unix epoch) so that a
/// test can tell when it happened, not only when it read it.
fn say(mut v: serde_json::Value) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    v["at_ms"] = json!(now);
    println!("{v}");
}

pub(crate) async fn run(args: &[String]) -> i32 {
    let o = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            say(json!({"event": "error", "error": e}));
            return 2;
        }
    };
    match node(o).await {
        Ok(()) => 0,
        Err(e) => {
            say(json!({"event": "error", "error": e}));
            1
        }
    }
}

async fn node(o: Options) -> Result<(), String> {
    // network: runs only inside the lab's namespaces; STUN and TURN are the lab's own servers.
    let mut b = RatsClient::builder()
        .listen("tcp:0.0.0.0:7000")
        .map_err(|e| e.to_string())?;
    if o.quic {
        b = b.listen("quic:0.0.0.0:7001").map_err(|e| e.to_string())?;
    }
    if o.listen_turn {
        b = b
            .listen(format!("turn:{}", o.turn))
            .map_err(|e| e.to_string())?;
    }
    // STUN stays on (without automatic checks: the node checks once, below).
    for d in ["dht", "mdns", "portmap"] {
        b = b.disable_plugin(d);
    }
    let (udp, tcp) = match o.punch.as_deref() {
        None | Some("both") => (true, true),
        Some("udp") => (true, false),
        Some("tcp") => (false, true),
        Some(other) => return Err(format!("--punch {other}: expected udp, tcp or both")),
    };
    let mut sections = json!({"holepunch": {"udp": udp, "tcp": tcp}});
    if !o.stun.is_empty() {
        sections["stun"] = json!({"servers": [o.stun], "auto": false, "rto_ms": 100, "tries": 4});
    }
    if !o.turn.is_empty() {
        sections["turn"] = json!({"server": o.turn, "username": "rats", "password": "secret"});
    }
    let (keepalive, idle, write, head_start) = (
        o.keepalive_ms,
        o.idle_ms,
        o.write_timeout_ms,
        o.relay_head_start_ms,
    );
    let n = b
        .configure(move |c| {
            c.dial_timeout = Duration::from_secs(5);
            if let Some(ms) = keepalive {
                c.keepalive_interval = Duration::from_millis(ms);
            }
            if let Some(ms) = idle {
                c.idle_timeout = Duration::from_millis(ms);
            }
            if let Some(ms) = write {
                c.write_timeout = Duration::from_millis(ms);
            }
            if let Some(ms) = head_start {
                c.relay_head_start = Duration::from_millis(ms);
            }
            if let serde_json::Value::Object(m) = sections {
                c.plugins.extend(m);
            }
        })
        .start()
        .await
        .map_err(|e| e.to_string())?;
    n.on_string(|from, text| say(json!({"event": "message", "from": from, "text": text})));
    if let Some(dir) = &o.recv {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let transfers = n.transfers().ok_or("no transfer service")?;
        let into = dir.clone();
        transfers.set_accept_callback(move |offer| {
            let dest = into.join(&offer.name);
            async move { rats::rats_transfer::AcceptDecision::Accept(dest) }
        });
    }
    let mut events = n.events();
    tokio::spawn(async move {
        while let Some(Ok(e)) = events.recv().await {
            match e {
                rats::Event::ConnectAttempt {
                    addr,
                    method,
                    upgrade,
                    error,
                } => {
                    let method = if upgrade {
                        format!("upgrade:{method}")
                    } else {
                        method.to_string()
                    };
                    say(json!({"event": "attempt", "addr": addr, "method": method, "error": error}))
                }
                rats::Event::ConnectionUpgraded { peer, method, .. } => {
                    say(json!({"event": "upgraded", "peer": peer, "method": method}))
                }
                rats::Event::PeerDisconnected { peer, reason, .. } => say(
                    json!({"event": "disconnected", "peer": peer, "reason": reason.to_string()}),
                ),
                rats::Event::Service { service, event }
                    if service == rats_gossipsub::SERVICE_NAME =>
                {
                    if let Some(rats_gossipsub::GossipEvent::Message {
                        topic,
                        origin,
                        data,
                        ..
                    }) = event.downcast_ref()
                    {
                        let text = String::from_utf8_lossy(data);
                        say(
                            json!({"event": "gossip", "topic": topic, "origin": origin, "text": text}),
                        )
                    }
                }
                _ => {}
            }
        }
    });
    if !o.stun.is_empty() && o.rendezvous.is_some() {
        let found = tokio::time::timeout(Duration::from_secs(10), n.detect_nat_type()).await;
        match found {
            Ok(Ok(kind)) => say(json!({"event": "nat", "nat_type": kind})),
            Ok(Err(e)) => say(json!({"event": "nat", "error": e.to_string()})),
            Err(_) => say(json!({"event": "nat", "error": "timed out"})),
        }
    }
    let rendezvous = match &o.rendezvous {
        Some(r) => Some(n.connect(r).await.map_err(|e| format!("rendezvous: {e}"))?),
        None => None,
    };
    say(json!({"event": "ready", "peer_id": n.local_peer_id(), "listen": n.listen_addrs()}));
    tokio::spawn(watch_peers(
        n.clone(),
        rendezvous,
        o.greet,
        o.send_file.clone(),
    ));
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["send", peer, file] => {
                let Ok(peer) = peer.parse::<PeerId>() else {
                    say(json!({"event": "error", "error": "bad peer id"}));
                    continue;
                };
                let n = n.clone();
                let file = file.to_string();
                tokio::spawn(async move {
                    let t = std::time::Instant::now();
                    let r = send_file(&n, &peer, &file).await;
                    let ms = t.elapsed().as_millis() as u64;
                    say(
                        json!({"event": "sent", "peer": peer, "ok": r.is_ok(), "error": r.err(), "ms": ms}),
                    );
                });
            }
            ["connect", addr] => {
                let (n, addr) = (n.clone(), addr.to_string());
                tokio::spawn(async move {
                    let t = std::time::Instant::now();
                    let ms = || t.elapsed().as_millis() as u64;
                    match n.connect(addr.as_str()).await {
                        Ok(peer) => say(json!({"event": "connected", "peer": peer, "ms": ms()})),
                        Err(e) => say(
                            json!({"event": "connect_failed", "addr": addr, "error": e.to_string(), "ms": ms()}),
                        ),
                    }
                });
            }
            ["msgs", peer, count, tag] => {
                let (Ok(peer), Ok(count)) = (peer.parse::<PeerId>(), count.parse::<u32>()) else {
                    say(json!({"event": "error", "error": "msgs <peer id> <count> <tag>"}));
                    continue;
                };
                let (n, tag) = (n.clone(), tag.to_string());
                tokio::spawn(async move {
                    let t = std::time::Instant::now();
                    let mut sent = 0;
                    let mut errors = Vec::new();
                    for i in 0..count {
                        match n.send_string(&peer, &format!("{tag}-{i}")).await {
                            Ok(()) => sent += 1,
                            Err(e) => errors.push(format!("{tag}-{i}: {e}")),
                        }
                    }
                    let ms = t.elapsed().as_millis() as u64;
                    say(
                        json!({"event": "msgs_sent", "tag": tag, "sent": sent, "errors": errors, "ms": ms}),
                    );
                });
            }
            ["subscribe", topic] => {
                let r = gossip(&n).and_then(|g| g.subscribe(topic).map_err(|e| e.to_string()));
                say(json!({"event": "subscribed", "topic": topic, "error": r.err()}));
            }
            ["publish", topic, text] => {
                let r = gossip(&n).and_then(|g| {
                    g.publish(topic, text.as_bytes().to_vec())
                        .map_err(|e| e.to_string())
                });
                say(json!({"event": "published", "text": text, "ok": r.is_ok(), "error": r.err()}));
            }
            ["addrs"] => say(json!({"event": "addrs", "listen": n.listen_addrs()})),
            ["quit"] => break,
            _ => say(json!({"event": "error", "error": format!("unknown command {line:?}")})),
        }
    }
    if let Some(dir) = &o.recv {
        say(json!({"event": "files", "files": rats_tests::natlab::file_digests(dir)}));
    }
    n.shutdown().await;
    Ok(())
}

fn gossip(n: &RatsClient) -> Result<std::sync::Arc<rats_gossipsub::GossipsubService>, String> {
    n.gossip().ok_or_else(|| "no gossipsub service".to_string())
}

async fn send_file(n: &RatsClient, peer: &PeerId, file: &str) -> Result<(), String> {
    let transfers = n.transfers().ok_or("no transfer service")?;
    let id = transfers
        .send_file(peer, file, None)
        .await
        .map_err(|e| e.to_string())?;
    let info = transfers
        .wait(id, Duration::from_secs(300))
        .await
        .map_err(|e| e.to_string())?;
    match info.state {
        rats::rats_transfer::TransferState::Completed => Ok(()),
        other => Err(format!("transfer ended {other}")),
    }
}

/// Prints peers as they come, change method and go; greets new peers if asked.
async fn watch_peers(n: RatsClient, rendezvous: Option<PeerId>, greet: bool, send: Option<String>) {
    let mut known: HashMap<PeerId, String> = HashMap::new();
    let mut greeted: Vec<PeerId> = Vec::new();
    loop {
        let now: HashMap<PeerId, (String, String)> = n
            .peers()
            .into_iter()
            .map(|p| (p.peer_id, (p.method.to_string(), p.transport)))
            .collect();
        for (peer, (method, transport)) in &now {
            if known.get(peer) != Some(method) {
                say(
                    json!({"event": "peer", "peer": peer, "method": method, "transport": transport}),
                );
                known.insert(*peer, method.clone());
            }
            if (greet || send.is_some()) && Some(*peer) != rendezvous && !greeted.contains(peer) {
                greeted.push(*peer);
                let (n, peer, send, greet) = (n.clone(), *peer, send.clone(), greet);
                tokio::spawn(async move {
                    if greet {
                        let _ = n.send_string(&peer, "hello").await;
                    }
                    if let Some(file) = send {
                        let r = send_file(&n, &peer, &file).await;
                        say(
                            json!({"event": "sent", "peer": peer, "ok": r.is_ok(), "error": r.err()}),
                        );
                    }
                });
            }
        }
        known.retain(|peer, _| {
            let keep = now.contains_key(peer);
            if !keep {
                say(json!({"event": "gone", "peer": peer}));
            }
            keep
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
