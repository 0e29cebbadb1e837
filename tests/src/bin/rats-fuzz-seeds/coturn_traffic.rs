//! STUN and TURN seeds from coturn on 127.0.0.1: Binding requests (plain, with
//! CHANGE-REQUEST, over TCP, with an unknown comprehension-required attribute), and rats' TURN
//! client (UDP and TCP allocations, with the 401 first, permissions, a channel, data both
//! ways) talking to it through a recording relay; what went each way becomes a seed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rats_nat::stun::message::{Class, MessageBuilder, attr, message_len, method};
use rats_nat::turn::{Credentials, TurnClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::process::{Child, Command};

use crate::Error;
use crate::seeds::Seeds;
use crate::tcp_recorder::TcpRecorder;
use crate::udp_relay::UdpRelay;

/// RFC 5769 §2.2, the sample IPv4 response (as in rats-nat's own STUN tests).
const RFC5769_V4_RESPONSE: &[u8] = &[
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
];

const TURN_USER: &str = "rats";
const TURN_PASSWORD: &str = "secret";
const TURN_REALM: &str = "lab";
/// How long any one answer may take.
const ANSWER: Duration = Duration::from_secs(3);

/// coturn, killed when dropped.
pub struct Coturn {
    _child: Child,
    /// Its main address (UDP and TCP).
    pub addr: SocketAddr,
}

/// Fails, saying what to install, without coturn's turnserver.
pub fn require_turnserver() -> Result<(), Error> {
    let installed = std::process::Command::new("turnserver")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !installed {
        return Err(
            "coturn's turnserver is not installed (apt-get install coturn): needed for \
                    the stun and turn seeds"
                .into(),
        );
    }
    Ok(())
}

/// Starts coturn listening on 127.0.0.1 and 127.0.0.2 only (no configuration file: `-n`
/// and flags), with long-term credentials `rats`/`secret` in realm `lab`, loopback peers
/// allowed. Fails saying so when turnserver is not installed.
pub async fn start_coturn(work: &Path) -> Result<Coturn, Error> {
    require_turnserver()?;
    for attempt in 0..8u16 {
        let port = 21_000 + (std::process::id() as u16 % 2_000) * 2 + attempt * 4;
        if !free(port).await || !free(port + 1).await {
            continue;
        }
        let child = Command::new("turnserver")
            .arg("-n")
            .args(["--listening-ip=127.0.0.1", "--listening-ip=127.0.0.2"])
            .arg(format!("--listening-port={port}"))
            .arg(format!("--alt-listening-port={}", port + 1))
            .args([
                "--relay-ip=127.0.0.1",
                "--min-port=49152",
                "--max-port=65535",
            ])
            .args(["--fingerprint", "--lt-cred-mech"])
            .arg(format!("--user={TURN_USER}:{TURN_PASSWORD}"))
            .arg(format!("--realm={TURN_REALM}"))
            .args(["--allow-loopback-peers", "--no-multicast-peers"])
            .args([
                "--no-cli",
                "--no-tls",
                "--no-dtls",
                "--simple-log",
                "--log-file=stdout",
            ])
            .arg(format!(
                "--pidfile={}",
                work.join("turnserver.pid").display()
            ))
            .arg(format!("--userdb={}", work.join("turndb").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut coturn = Coturn {
            _child: child,
            addr,
        };
        let probe = UdpSocket::bind("127.0.0.1:0").await?;
        for _ in 0..30 {
            if matches!(coturn._child.try_wait(), Ok(Some(_))) {
                break;
            }
            let request = MessageBuilder::new(method::BINDING, Class::Request).build(None);
            if exchange(&probe, addr, &request).await?.is_some() {
                return Ok(coturn);
            }
        }
        let _ = coturn._child.kill().await;
    }
    Err("coturn did not come up on 127.0.0.1 after 8 tries".into())
}

async fn free(port: u16) -> bool {
    UdpSocket::bind(("127.0.0.1", port)).await.is_ok()
        && TcpListener::bind(("127.0.0.1", port)).await.is_ok()
}

/// Sends `request` and waits [`ANSWER`] for one datagram back (from anywhere: a
/// CHANGE-REQUEST is answered from the other address).
async fn exchange(
    sock: &UdpSocket,
    to: SocketAddr,
    request: &[u8],
) -> Result<Option<Vec<u8>>, Error> {
    sock.send_to(request, to).await?;
    let mut buf = vec![0u8; 65536];
    match tokio::time::timeout(Duration::from_millis(300), sock.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Ok(Some(buf[..n].to_vec())),
        _ => Ok(None),
    }
}

/// Writes the `stun` and `turn` seeds.
pub async fn capture(seeds: &mut Seeds, coturn: &Coturn) -> Result<(), Error> {
    seeds.add("stun", "rfc5769-ipv4-response", RFC5769_V4_RESPONSE)?;
    binding_seeds(seeds, coturn.addr).await?;
    turn_udp_seeds(seeds, coturn.addr).await?;
    turn_tcp_seeds(seeds, coturn.addr).await?;
    channel_data_seeds(seeds)?;
    Ok(())
}

async fn binding_seeds(seeds: &mut Seeds, server: SocketAddr) -> Result<(), Error> {
    let sock = UdpSocket::bind("127.0.0.1:0").await?;
    let change = |ip: bool, port: bool| {
        let flags: u32 = (u32::from(ip) << 2) | (u32::from(port) << 1);
        MessageBuilder::new(method::BINDING, Class::Request)
            .attr(attr::CHANGE_REQUEST, &flags.to_be_bytes())
            .build(None)
    };
    let requests = [
        (
            "binding",
            MessageBuilder::new(method::BINDING, Class::Request)
                .attr(attr::SOFTWARE, b"rats")
                .build(None),
        ),
        ("binding-change-ip-port", change(true, true)),
        ("binding-change-port", change(false, true)),
        // 0x7fff: comprehension-required and unknown to every server (420 with the list).
        (
            "binding-unknown-attribute",
            MessageBuilder::new(method::BINDING, Class::Request)
                .attr(0x7fff, b"?")
                .build(None),
        ),
    ];
    for (name, request) in requests {
        seeds.add("stun", &format!("rats-{name}-request"), &request)?;
        let answer = exchange(&sock, server, &request)
            .await?
            .ok_or_else(|| format!("coturn did not answer the {name} request"))?;
        seeds.add("stun", &format!("coturn-{name}-answer"), &answer)?;
    }
    // Over TCP.
    let mut tcp = tokio::time::timeout(ANSWER, TcpStream::connect(server)).await??;
    let request = MessageBuilder::new(method::BINDING, Class::Request).build(None);
    tcp.write_all(&request).await?;
    let answer = tokio::time::timeout(ANSWER, read_stun(&mut tcp)).await??;
    seeds.add("stun", "coturn-binding-tcp-answer", &answer)?;
    Ok(())
}

async fn read_stun(r: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 20];
    r.read_exact(&mut buf).await?;
    let len = message_len(&buf).unwrap_or(20).min(65536);
    buf.resize(len, 0);
    r.read_exact(&mut buf[20..]).await?;
    Ok(buf)
}

fn creds() -> Credentials {
    Credentials {
        username: TURN_USER.into(),
        password: TURN_PASSWORD.into(),
    }
}

/// A UDP allocation through the relay: Allocate (401, then signed), CreatePermission,
/// ChannelBind, Send indication and ChannelData out, Data indication and ChannelData in,
/// Refresh.
async fn turn_udp_seeds(seeds: &mut Seeds, server: SocketAddr) -> Result<(), Error> {
    let relay = UdpRelay::start(server).await?;
    let (client, mut relayed_in) = TurnClient::connect_udp(relay.front()?, creds()).await?;
    let (relayed, _) = client.allocate_udp().await?;
    let peer_a = UdpSocket::bind("127.0.0.1:0").await?;
    let peer_b = UdpSocket::bind("127.0.0.1:0").await?;
    let (a, b) = (peer_a.local_addr()?, peer_b.local_addr()?);
    client
        .create_permission(IpAddr::V4(Ipv4Addr::LOCALHOST))
        .await?;
    client.channel_bind(a).await?;
    client.send_to(a, b"through a channel").await?;
    client.send_to(b, b"in a send indication").await?;
    let mut buf = vec![0u8; 2048];
    for p in [&peer_a, &peer_b] {
        tokio::time::timeout(ANSWER, p.recv_from(&mut buf)).await??;
    }
    peer_a.send_to(b"back over the channel", relayed).await?;
    peer_b
        .send_to(b"back in a data indication", relayed)
        .await?;
    for _ in 0..2 {
        tokio::time::timeout(ANSWER, relayed_in.recv())
            .await?
            .ok_or("TURN client closed")?;
    }
    client.refresh(Some(Duration::from_secs(600))).await?;
    client.refresh(Some(Duration::ZERO)).await?;
    let mut n = std::collections::HashMap::<String, usize>::new();
    for d in relay.datagrams() {
        let from = if d.to_target { "client" } else { "coturn" };
        let kind = packet_kind(&d.bytes);
        let name = format!("udp-{from}-{kind}");
        let count = n.entry(name.clone()).or_default();
        *count += 1;
        if *count > 2 {
            continue;
        }
        seeds.add("turn", &name, &d.bytes)?;
        if kind != "channel-data" {
            seeds.add("stun", &name, &d.bytes)?;
        }
    }
    Ok(())
}

/// A TCP allocation (RFC 6062) through the recording proxy: Allocate, Connect to a local
/// listener, ConnectionBind on a second connection, and a ConnectionAttempt when a peer
/// connects to the relayed address.
async fn turn_tcp_seeds(seeds: &mut Seeds, server: SocketAddr) -> Result<(), Error> {
    let proxy = TcpRecorder::start(server).await?;
    let (client, mut attempts) = TurnClient::connect(proxy.addr(), creds()).await?;
    let (relayed, _) = client.allocate_tcp().await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    client
        .create_permission(IpAddr::V4(Ipv4Addr::LOCALHOST))
        .await?;
    let id = client.connect_peer(listener.local_addr()?).await?;
    let _data = client.bind(id).await?;
    let _peer_side = tokio::time::timeout(ANSWER, listener.accept()).await??;
    let _incoming = tokio::time::timeout(ANSWER, TcpStream::connect(relayed)).await??;
    tokio::time::timeout(ANSWER, attempts.recv())
        .await?
        .ok_or("TURN control connection closed")?;
    for (i, rec) in proxy.recordings().iter().enumerate() {
        for (from, bytes) in [("client", &rec.to_target), ("coturn", &rec.to_dialer)] {
            let mut rest = bytes.as_slice();
            while let Some(len) = message_len(rest).filter(|l| *l <= rest.len()) {
                let name = format!("tcp{i}-{from}-{}", packet_kind(&rest[..len]));
                seeds.add("turn", &name, &rest[..len])?;
                seeds.add("stun", &name, &rest[..len])?;
                rest = &rest[len..];
            }
        }
    }
    Ok(())
}

/// ChannelData frames built by hand: padded and not, empty, the highest channel, and one
/// claiming more than it holds.
fn channel_data_seeds(seeds: &mut Seeds) -> Result<(), Error> {
    let frame = |channel: u16, data: &[u8], pad: bool, claimed: Option<u16>| {
        let mut v = channel.to_be_bytes().to_vec();
        v.extend_from_slice(&claimed.unwrap_or(data.len() as u16).to_be_bytes());
        v.extend_from_slice(data);
        while pad && !v.len().is_multiple_of(4) {
            v.push(0);
        }
        v
    };
    seeds.add(
        "turn",
        "channel-data-hello",
        &frame(0x4000, b"hello", false, None),
    )?;
    seeds.add(
        "turn",
        "channel-data-hello-padded",
        &frame(0x4000, b"hello", true, None),
    )?;
    seeds.add(
        "turn",
        "channel-data-empty",
        &frame(0x4001, b"", false, None),
    )?;
    seeds.add(
        "turn",
        "channel-data-last-channel",
        &frame(0x4fff, &[0xab; 40], false, None),
    )?;
    seeds.add(
        "turn",
        "channel-data-claims-more",
        &frame(0x4000, b"abc", false, Some(300)),
    )?;
    Ok(())
}

/// What a TURN packet is: `channel-data`, or method and class of a STUN message.
fn packet_kind(b: &[u8]) -> String {
    if b.first().is_some_and(|x| x & 0xc0 == 0x40) {
        return "channel-data".into();
    }
    let Some(t) = b.get(..2).map(|t| u16::from_be_bytes([t[0], t[1]])) else {
        return "short".into();
    };
    let m = (t & 0x000f) | ((t & 0x00e0) >> 1) | ((t & 0x3e00) >> 2);
    let class = match ((t >> 7) & 2) | ((t >> 4) & 1) {
        0 => "request",
        1 => "indication",
        2 => "success",
        _ => "error",
    };
    let method = match m {
        0x001 => "binding".to_string(),
        0x003 => "allocate".into(),
        0x004 => "refresh".into(),
        0x006 => "send".into(),
        0x007 => "data".into(),
        0x008 => "create-permission".into(),
        0x009 => "channel-bind".into(),
        0x00a => "connect".into(),
        0x00b => "connection-bind".into(),
        0x00c => "connection-attempt".into(),
        other => format!("method-{other:03x}"),
    };
    format!("{method}-{class}")
}
