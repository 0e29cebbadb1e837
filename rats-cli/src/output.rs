//! What the tool prints: human lines, or one JSON object per line with `--json`.

use rats::{DisconnectReason, Event, MessageBody, PeerId, PeerInfo};
use serde_json::{Value, json};

/// Prints events and answers in the chosen format.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    pub json: bool,
}

/// Prints one line on stdout, clearing the progress bars on stderr around it so that the
/// two do not tear each other on a terminal.
pub fn print_line(text: impl std::fmt::Display) {
    #[cfg(feature = "transfer")]
    crate::transfer::bars::suspend(|| write_line(&text));
    #[cfg(not(feature = "transfer"))]
    write_line(&text);
}

/// Writes a line to stdout. When nobody reads it any more (`rats | head -2`), the tool ends
/// quietly, as command-line tools do, instead of panicking on the broken pipe.
fn write_line(text: &impl std::fmt::Display) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// `println!` through [`print_line`].
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::print_line(format_args!($($arg)*))
    };
}
#[cfg(any(
    feature = "transfer",
    feature = "gossipsub",
    feature = "dht",
    feature = "mdns",
    feature = "nat"
))]
pub(crate) use say;

/// Prints one JSON object as a line.
pub fn line(v: Value) {
    print_line(v);
}

/// The message type of a line sent to one peer (`send`), so the receiver can tell it from a
/// broadcast: a json message `{"text": ...}`.
pub const PRIVATE_TYPE: &str = "chat.private";

/// The text of a private line, if `body` is one.
fn private_text(body: &MessageBody) -> Option<&str> {
    match body {
        MessageBody::Json { kind, data } if kind == PRIVATE_TYPE => data["text"].as_str(),
        _ => None,
    }
}

/// Peer-supplied text with control characters escaped, so a peer cannot move the cursor,
/// fake other lines or send terminal commands.
pub fn clean(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<char>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

impl Output {
    /// An informational note (port fallback, data directory in use...).
    pub fn notice(&self, message: &str) {
        if self.json {
            line(json!({"event": "notice", "message": message}));
        } else {
            say!("* {message}");
        }
    }

    /// A failed command or operation.
    pub fn error(&self, command: &str, message: &str) {
        if self.json {
            line(json!({"event": "error", "command": command, "message": message}));
        } else {
            say!("! {command}: {}", clean(message));
        }
    }

    /// The node is up; `discovery_hash` is the DHT key of our protocol (with the DHT).
    pub fn started(
        &self,
        peer: PeerId,
        listen: &[String],
        data_dir: Option<&str>,
        proto: &str,
        discovery_hash: Option<&str>,
    ) {
        if self.json {
            let mut v = json!({
                "event": "started", "peer_id": peer, "listen": listen,
                "data_dir": data_dir, "protocol": proto,
            });
            if let (Some(h), Some(m)) = (discovery_hash, v.as_object_mut()) {
                m.insert("discovery_hash".into(), h.into());
            }
            line(v);
        } else {
            say!("rats {} — protocol {proto}", env!("CARGO_PKG_VERSION"));
            say!("peer id  {peer}");
            for l in listen {
                say!("listening on {l}");
            }
            if let Some(d) = data_dir {
                say!("data dir {d}");
            }
            if let Some(h) = discovery_hash {
                say!("discovery hash {h}");
            }
            say!("type `help` for commands; any other line is sent to all peers");
        }
    }

    /// The answer to `peers`.
    pub fn peers(&self, peers: &[PeerInfo]) {
        if self.json {
            let list: Vec<Value> = peers
                .iter()
                .map(|p| {
                    json!({
                        "peer_id": p.peer_id, "addr": p.remote_addr, "outbound": p.outbound,
                        "agent": p.agent, "encrypted": p.encrypted, "listen": p.listen_addrs,
                        "rtt_us": p.rtt.map(|d| d.as_micros() as u64),
                        "method": p.method, "transport": p.transport,
                    })
                })
                .collect();
            line(json!({"event": "peers", "count": peers.len(), "peers": list}));
            return;
        }
        say!("{} peer(s)", peers.len());
        for p in peers {
            let rtt = p
                .rtt
                .map(|d| format!(", rtt {:.1} ms", d.as_secs_f64() * 1e3))
                .unwrap_or_default();
            say!(
                "  {}  {} [{}] {} {}{}{}",
                p.peer_id,
                p.remote_addr,
                p.method,
                clean(&p.agent),
                if p.outbound {
                    "(outbound)"
                } else {
                    "(inbound)"
                },
                if p.encrypted { "" } else { " UNENCRYPTED" },
                rtt
            );
        }
    }

    /// A message was queued.
    pub fn sent(&self, to: Option<PeerId>, count: usize) {
        if self.json {
            line(json!({"event": "sent", "to": to, "count": count}));
        } else if count == 0 {
            say!("* no peer to send to");
        }
    }

    /// Our identity.
    pub fn id(&self, peer: PeerId, listen: &[String]) {
        if self.json {
            line(json!({"event": "id", "peer_id": peer, "listen": listen}));
        } else {
            say!("peer id {peer}");
            for l in listen {
                say!("listening on {l}");
            }
        }
    }

    /// Help text.
    pub fn help(&self) {
        const HELP: &str = "commands:
  help                     this text
  id                       our peer id and addresses
  peers                    connected peers
  connect <host:port>      connect to a peer
  disconnect <peer>        disconnect a peer (id or unique id prefix)
  send <peer> <text>       send a chat message to one peer
  broadcast <text>         send a chat message to every peer
  send-file <peer> <path>  offer a file to a peer
  send-dir <peer> <dir>    offer a directory (with its subdirectories) to a peer
  get <peer> <remote> [local]
                           pull a file from a peer's shared folder (end <remote> with
                           / for a directory); <local> defaults to its name here
  transfers                list transfers: id, direction, peer, name, state, percent, rate
  pause <id>               pause a transfer (full id or unique prefix)
  resume <id>              resume a paused transfer
  cancel <id>              cancel a transfer on both sides
  accept [id]   (or y)     accept an offer (without id: the oldest waiting one)
  reject [id] [reason]     refuse an offer (or n [reason]: the oldest waiting one)
  sub <topic>              subscribe to a topic (publish/subscribe)
  unsub <topic>            leave a topic
  pub <topic> <text>       publish the rest of the line to a topic's subscribers
  topics                   our topics, each with its peers and mesh peers
  nat [check]              NAT: public address, NAT kind, what peers see (check: ask STUN now)
  mdns [query|start [name]|stop]  mDNS on the local network: status, ask now, start, stop
  dht                      DHT status: routing table, peers found, last lookup, nodes
  dht start | dht stop     start or stop the DHT
  find <hash>              look a 40-hex-digit info-hash up in the DHT, print its peers
  announce <hash>          announce our TCP port under an info-hash in the DHT
  quit                     leave
  <anything else>          same as broadcast
paths with spaces go in \"double\" or 'single' quotes";
        if self.json {
            line(json!({"event": "help", "text": HELP}));
        } else {
            say!("{HELP}");
        }
    }

    /// A node event.
    pub fn event(&self, e: &Event) {
        if self.json {
            if let Some(v) = event_json(e) {
                line(v);
            }
            return;
        }
        match e {
            Event::PeerConnected {
                peer,
                addr,
                outbound,
            } => say!(
                "+ {} connected ({addr}, {})",
                peer.short(),
                if *outbound { "outbound" } else { "inbound" }
            ),
            Event::PeerDisconnected { peer, reason } => {
                say!(
                    "- {} disconnected: {}",
                    peer.short(),
                    clean(&reason.to_string())
                )
            }
            Event::Message { peer, body } => match body {
                MessageBody::Text(t) => say!("<{}> {}", peer.short(), clean(t)),
                body if private_text(body).is_some() => say!(
                    "<{}> (private) {}",
                    peer.short(),
                    clean(private_text(body).unwrap_or_default())
                ),
                MessageBody::Json { kind, data } => {
                    say!("<{}> [{}] {data}", peer.short(), clean(kind))
                }
                MessageBody::Binary(b) => say!("<{}> ({} bytes binary)", peer.short(), b.len()),
            },
            // Not shown to a person: `connect` prints its own failure, and background dials
            // (peer exchange, discovery) failing is routine. `--json` has them.
            Event::DialFailed { .. } => {}
            Event::ConnectionUpgraded { peer, method, addr } => {
                say!("^ {} now {method} ({addr})", peer.short())
            }
            _ => {}
        }
    }
}

fn reason_json(r: &DisconnectReason) -> String {
    r.to_string()
}

/// The JSON form of an event, for `--json`.
pub fn event_json(e: &Event) -> Option<Value> {
    Some(match e {
        Event::Listening { addr } => json!({"event": "listening", "addr": addr}),
        Event::PeerConnected {
            peer,
            addr,
            outbound,
        } => {
            json!({"event": "peer_connected", "peer_id": peer, "addr": addr, "outbound": outbound})
        }
        Event::PeerDisconnected { peer, reason } => {
            json!({"event": "peer_disconnected", "peer_id": peer, "reason": reason_json(reason)})
        }
        Event::ConnectionUpgraded { peer, method, addr } => {
            json!({"event": "connection_upgraded", "peer_id": peer, "method": method, "addr": addr})
        }
        Event::PeerDiscovered { peer, addr, source } => {
            json!({"event": "peer_discovered", "peer_id": peer, "addr": addr, "source": source})
        }
        Event::NatStatusChanged {
            public_addr,
            nat_type,
        } => {
            json!({"event": "nat_status", "public_addr": public_addr, "nat_type": nat_type.to_string()})
        }
        Event::ConnectAttempt {
            addr,
            method,
            upgrade,
            error,
        } => {
            let method = attempt_label(*method, *upgrade);
            json!({"event": "connect_attempt", "addr": addr, "method": method, "error": error})
        }
        Event::PeerLost { peer, source } => {
            json!({"event": "peer_lost", "peer_id": peer, "source": source})
        }
        Event::DialFailed { addr, error } => {
            json!({"event": "dial_failed", "addr": addr, "error": error})
        }
        Event::Message { peer, body } => match body {
            MessageBody::Text(t) => {
                json!({"event": "message", "from": peer, "kind": "text", "text": t})
            }
            body if private_text(body).is_some() => json!({
                "event": "message", "from": peer, "kind": "private",
                "text": private_text(body).unwrap_or_default(),
            }),
            MessageBody::Json { kind, data } => {
                json!({"event": "message", "from": peer, "kind": "json", "type": kind, "data": data})
            }
            MessageBody::Binary(b) => {
                json!({"event": "message", "from": peer, "kind": "binary", "len": b.len()})
            }
        },
        Event::Service { service, .. } => json!({"event": "service", "service": service}),
        // Events of a newer library than this tool knows.
        _ => return None,
    })
}

/// How an attempt is named in the tool's output: the method, `upgrade:` before it when the
/// attempt tried to replace a relayed connection.
fn attempt_label(method: rats::ConnectionMethod, upgrade: bool) -> String {
    if upgrade {
        format!("upgrade:{method}")
    } else {
        method.to_string()
    }
}
