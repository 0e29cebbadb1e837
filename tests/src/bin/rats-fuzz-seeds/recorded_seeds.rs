//! Seeds out of a recorded plaintext rats connection: the handshake records (protocol
//! record, identity payloads, Hellos, addresses), the frame stream (with cut sizes, and its
//! frame shapes), and its whole messages routed by channel to their targets.

use rats_core::PeerId;

use crate::Error;
use crate::seeds::Seeds;
use crate::split;
use crate::tcp_recorder::Recording;

/// Channel numbers from the Hellos (service name -> channel), to route messages by.
#[derive(Default)]
pub struct Channels {
    by_channel: std::collections::BTreeMap<u16, String>,
}

impl Channels {
    fn learn(&mut self, hello: &serde_json::Value) {
        for s in hello["services"].as_array().into_iter().flatten() {
            if let (Some(name), Some(ch)) = (s["name"].as_str(), s["channel"].as_u64())
                && let Ok(ch) = u16::try_from(ch)
            {
                self.by_channel.insert(ch, name.to_string());
            }
        }
    }

    /// The fuzz target for a message on `channel`.
    pub fn target(&self, channel: u16) -> Option<&'static str> {
        if channel == rats_core::frame::CONTROL_CHANNEL {
            return Some("control");
        }
        // The transfer service's bulk channel is not in the Hello (only its main one is).
        if channel == rats_transfer::wire::DATA_CHANNEL {
            return Some("transfer_wire");
        }
        match self.by_channel.get(&channel)?.as_str() {
            n if n == rats_gossipsub::SERVICE_NAME => Some("gossip_wire"),
            n if n == rats_transfer::SERVICE_NAME => Some("transfer_wire"),
            n if n.contains("messag") => Some("message"),
            _ => None,
        }
    }
}

/// Seeds from one recorded connection (`name` like `a-b`: dialer, then B).
pub fn connection_seeds(
    seeds: &mut Seeds,
    name: &str,
    rec: &Recording,
    channels: &mut Channels,
) -> Result<(), Error> {
    let (dialer, listener) = name.split_once('-').unwrap_or((name, "b"));
    let sides = [
        (&rec.to_target, true, format!("{dialer}-to-{listener}")),
        (&rec.to_dialer, false, format!("{listener}-to-{dialer}")),
    ];
    let mut streams = Vec::new();
    for (bytes, initiator, label) in sides {
        let d = split::direction(bytes, initiator)
            .ok_or_else(|| format!("{label}: handshake not recorded"))?;
        let role = if initiator { "initiator" } else { "responder" };
        if let Some(p) = &d.protocol {
            seeds.add("handshake_payload", "protocol-record", p)?;
        }
        seeds.add(
            "handshake_payload",
            &format!("identity-from-{role}-{label}"),
            &d.identity,
        )?;
        let hello = d.identity.get(32..).unwrap_or_default();
        seeds.add("hello", &format!("hello-from-{role}-{label}"), hello)?;
        let parsed: serde_json::Value = serde_json::from_slice(hello)?;
        channels.learn(&parsed);
        for a in parsed["listen"]
            .as_array()
            .into_iter()
            .flatten()
            .chain([&parsed["observed"]])
        {
            if let Some(a) = a.as_str() {
                seeds.add(
                    "address",
                    &format!("hello-{}", address_kind(a)),
                    a.as_bytes(),
                )?;
            }
        }
        if let Some(id) = d
            .identity
            .get(..32)
            .and_then(|b| PeerId::from_slice(b).ok())
        {
            seeds.add("address", "peer-id", id.to_string().as_bytes())?;
        }
        streams.push((label, d.frames));
    }
    for (label, stream) in &streams {
        frame_seeds(seeds, label, stream)?;
        reassembly_seed(seeds, label, stream)?;
        let (messages, error) = split::messages(stream);
        if let Some(e) = error {
            return Err(format!("{label}: frame stream does not decode: {e}").into());
        }
        route_messages(seeds, label, &messages, channels)?;
        router_seed(seeds, label, &messages, channels)?;
    }
    Ok(())
}

/// A `reassembly` seed with the shapes of a recorded stream's frames (channel, kind, length,
/// and for a START how much more its message declares): one 5-byte operation per frame.
fn reassembly_seed(seeds: &mut Seeds, label: &str, stream: &[u8]) -> Result<(), Error> {
    use rats_core::frame::{FLAG_CONT, FLAG_END, FLAG_START};
    let mut ops = vec![64u8];
    for (channel, flags, len, total) in split::frame_shapes(stream) {
        let (kind, body, extra) = match flags {
            FLAG_START => {
                let body = len.saturating_sub(4);
                let more = (total.unwrap_or(0) as usize).saturating_sub(body);
                (1u8, body, more.div_ceil(4096).min(255) as u8)
            }
            f if f == FLAG_CONT | FLAG_END => (3, len, 0),
            FLAG_CONT => (2, len, 0),
            _ => (0, len, 0),
        };
        ops.push(channel as u8);
        ops.push(kind);
        ops.extend_from_slice(&(body.min(usize::from(u16::MAX)) as u16).to_be_bytes());
        ops.push(extra);
    }
    seeds.add("reassembly", &format!("{label}-frame-shapes"), &ops)?;
    Ok(())
}

/// A `gossip_router` seed replaying the GossipSub RPCs one side received: the sender
/// connects, we subscribe to the topic, each RPC arrives from it, a heartbeat after each.
fn router_seed(
    seeds: &mut Seeds,
    label: &str,
    messages: &[(u16, Vec<u8>)],
    channels: &Channels,
) -> Result<(), Error> {
    let peer = label.as_bytes().first().map_or(0, |c| c - b'a');
    let op = |code: u8, body: &[u8]| -> Vec<u8> {
        let mut v = vec![code, peer];
        v.extend_from_slice(&(body.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    };
    let mut ops = Vec::new();
    ops.extend(op(3, b""));
    ops.extend(op(5, b"news"));
    let mut any = false;
    for (channel, m) in messages {
        if channels.target(*channel) == Some("gossip_wire") {
            ops.extend(op(0, m));
            ops.extend(op(2, &[0; 10]));
            any = true;
        }
    }
    if any {
        ops.extend(op(6, b"news"));
        ops.extend(op(4, b""));
        seeds.add("gossip_router", &format!("{label}-recorded-rpcs"), &ops)?;
    }
    Ok(())
}

/// `frames` seeds: a cut-size byte, then the stream (or its start), at a few cut sizes.
fn frame_seeds(seeds: &mut Seeds, label: &str, stream: &[u8]) -> Result<(), Error> {
    let limit = crate::seeds::MAX_FRAMES_SEED - 1;
    let whole = split::prefix_at_frame(stream, limit);
    let head = split::prefix_at_frame(stream, 4096);
    let mut add = |cut: u8, part: &[u8], what: &str| -> Result<(), Error> {
        let mut seed = vec![cut];
        seed.extend_from_slice(part);
        seeds.add("frames", &format!("{label}-{what}-cut-{cut}"), &seed)?;
        Ok(())
    };
    if label.starts_with('a') || label.ends_with('a') {
        add(255, whole, "stream")?;
        add(1, whole, "stream")?;
    } else {
        add(200, whole, "stream")?;
    }
    add(0, head, "head")?;
    add(7, head, "head")?;
    add(64, head, "head")?;
    Ok(())
}

/// Sends each whole message to its target's seeds, a few of each kind.
fn route_messages(
    seeds: &mut Seeds,
    label: &str,
    messages: &[(u16, Vec<u8>)],
    channels: &Channels,
) -> Result<(), Error> {
    let mut per_kind: std::collections::HashMap<String, usize> = Default::default();
    for (channel, m) in messages {
        let Some(target) = channels.target(*channel) else {
            continue;
        };
        let kind = message_kind(target, m);
        let n = per_kind.entry(format!("{target}/{kind}")).or_default();
        *n += 1;
        // Pings differ only in their nonce, chunks only in their data: a few are enough.
        if *n > 3 || m.len() > crate::seeds::MAX_SEED {
            continue;
        }
        seeds.add(target, &format!("{label}-{kind}"), m)?;
        if target == "control" && kind == "exchange" {
            exchange_addresses(seeds, m)?;
        }
        if target == "transfer_wire" {
            transfer_paths(seeds, m)?;
        }
    }
    Ok(())
}

/// A short name for what a message is.
fn message_kind(target: &str, m: &[u8]) -> String {
    let tag = m.first().copied().unwrap_or(0xff);
    match target {
        "control" => match tag {
            1 => "ping".into(),
            2 => "pong".into(),
            3 => "exchange".into(),
            4 => "goodbye".into(),
            5 => "forward".into(),
            6 => "signal".into(),
            _ => format!("tag-{tag}"),
        },
        "message" => match tag {
            0 => "binary".into(),
            1 => "text".into(),
            2 => "json".into(),
            _ => format!("tag-{tag}"),
        },
        "transfer_wire" => serde_json::from_slice::<serde_json::Value>(m)
            .ok()
            .and_then(|v| v["t"].as_str().map(str::to_string))
            .unwrap_or_else(|| "chunk".into()),
        _ => format!("rpc-{tag}"),
    }
}

/// Addresses and peer ids inside a peer-exchange message.
fn exchange_addresses(seeds: &mut Seeds, m: &[u8]) -> Result<(), Error> {
    let peers: serde_json::Value = serde_json::from_slice(&m[1..])?;
    for p in peers.as_array().into_iter().flatten() {
        if let Some(id) = p["id"].as_str() {
            seeds.add("address", "exchange-peer-id", id.as_bytes())?;
        }
        for a in p["addrs"].as_array().into_iter().flatten() {
            if let Some(a) = a.as_str() {
                seeds.add(
                    "address",
                    &format!("exchange-{}", address_kind(a)),
                    a.as_bytes(),
                )?;
            }
        }
    }
    Ok(())
}

/// The names and relative paths a transfer control message carries.
fn transfer_paths(seeds: &mut Seeds, m: &[u8]) -> Result<(), Error> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(m) else {
        return Ok(());
    };
    let mut found = Vec::new();
    collect_strings(&v, &mut found);
    for s in found {
        seeds.add("transfer_path", "from-transfer", s.as_bytes())?;
    }
    Ok(())
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("rel" | "name" | "path", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => collect_strings(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

fn address_kind(a: &str) -> &'static str {
    if a.contains('[') {
        "v6"
    } else if a.starts_with("quic") {
        "quic"
    } else {
        "tcp"
    }
}
