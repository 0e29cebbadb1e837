//! The memory attack: hostile peers, each holding almost complete large messages open on every
//! channel of the node's services, from one or several loopback addresses (127.0.0.2, ...),
//! while a well-behaved peer keeps chatting. It runs against a listener in its own process
//! ([`ListenChild`]) so that the RSS measured is the listener's alone. Used by the
//! `hostile_memory` test and the `rats-bench memory-attack` scenario.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use rats_core::encryption::{HandshakeParams, Role, SecureConnection};
use rats_core::frame::{FLAG_CONT, FLAG_START, MAX_FRAME_PAYLOAD};
use rats_core::{Encryption, Identity, ProtocolId};

use crate::listen_child::ListenChild;

/// The channels of the listener's services: messages, gossip, transfer control and data.
pub const CHANNELS: [u16; 4] = [1, 2, 3, 4];
/// How often the listener's RSS is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// How long the hostile connections stay open once they sent what they could.
const HOLD: Duration = Duration::from_secs(2);
/// The longest a whole attack round may take.
const ROUND_LIMIT: Duration = Duration::from_secs(60);

/// One round of the attack.
#[derive(Clone, Debug)]
pub struct AttackPlan {
    /// Source addresses (loopback: 127.0.0.2, 127.0.0.3, ...).
    pub ips: Vec<IpAddr>,
    /// Connections from each address.
    pub per_ip: usize,
    /// The size each partial message declares (all of it but one byte is sent).
    pub message_bytes: usize,
}

/// What one round measured.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct AttackReport {
    /// The listener's RSS before the attack (KiB).
    pub base_rss_kib: u64,
    /// Its highest RSS during the attack (KiB).
    pub peak_rss_kib: u64,
    /// Its RSS once the hostile peers were gone (KiB).
    pub after_rss_kib: u64,
    /// The most its memory budget held, as the node reports it (bytes).
    pub peak_budget_bytes: usize,
    /// Hostile connections that completed their handshake.
    pub hostile_connected: usize,
    /// Bytes the hostile peers managed to send.
    pub hostile_bytes_sent: usize,
    /// The listener's connected peers at the height of the attack.
    pub peers_during: usize,
    /// Echoes the well-behaved peer got during the round.
    pub echoes: usize,
    /// Echoes that did not come back within two seconds.
    pub echoes_missed: usize,
}

/// Dials `target` from the local address `source` and completes a Noise handshake as a fresh
/// identity, sending a minimal Hello: a peer that can then write any frames.
pub async fn noise_client_from(
    source: IpAddr,
    target: SocketAddr,
    protocol: &ProtocolId,
) -> Result<(Identity, SecureConnection), String> {
    let socket = match source {
        IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .map_err(|e| format!("socket: {e}"))?;
    socket
        .bind(SocketAddr::new(source, 0))
        .map_err(|e| format!("bind {source}: {e}"))?;
    let stream = socket
        .connect(target)
        .await
        .map_err(|e| format!("connect {target} from {source}: {e}"))?;
    let raw = rats_core::transport::RawConnection::from_tcp(stream)
        .map_err(|e| format!("stream: {e}"))?;
    let id = Identity::generate();
    let hello = br#"{"agent":"hostile/1","listen":[],"services":[]}"#;
    let params = HandshakeParams {
        identity: &id,
        protocol,
        role: Role::Initiator,
        early_data: hello,
    };
    let conn = rats_noise::Noise
        .upgrade(raw, params)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    Ok((id, conn))
}

fn frame(channel: u16, flags: u8, payload: &[u8]) -> BytesMut {
    let mut b = BytesMut::with_capacity(7 + payload.len());
    b.put_u16(channel);
    b.put_u8(flags);
    b.put_u32(payload.len() as u32);
    b.put_slice(payload);
    b
}

/// On every channel in turn, starts a `total`-byte message and sends all of it but its last
/// byte, never the end. Returns the bytes written; stops at the first failed write (the node
/// closed the connection).
pub async fn hold_partial_messages(conn: &mut SecureConnection, total: usize) -> usize {
    let piece = vec![0x5au8; MAX_FRAME_PAYLOAD];
    let mut sent = 0;
    for channel in CHANNELS {
        let mut start = (total as u32).to_be_bytes().to_vec();
        start.push(0x5a);
        if conn
            .writer
            .write(&[&frame(channel, FLAG_START, &start)])
            .await
            .is_err()
        {
            return sent;
        }
        let mut have = 1;
        while have + 1 < total {
            let n = (total - 1 - have).min(MAX_FRAME_PAYLOAD);
            let cont = frame(channel, FLAG_CONT, &piece[..n]);
            if conn.writer.write(&[&cont]).await.is_err() {
                return sent + have;
            }
            have += n;
        }
        sent += have;
    }
    sent
}

/// The well-behaved peer: sends a numbered line every 20 ms and counts the echoes.
struct Chatter {
    stop: Arc<AtomicBool>,
    echoes: Arc<AtomicUsize>,
    missed: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
    client: rats::RatsClient,
}

impl Chatter {
    async fn start(target: &str) -> Result<Self, String> {
        let client = crate::local_builder()
            .start()
            .await
            .map_err(|e| format!("good peer: {e}"))?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(64);
        client.on_string(move |_, t| {
            let _ = tx.try_send(t.to_string());
        });
        let peer = client
            .connect(target)
            .await
            .map_err(|e| format!("good peer connects: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let echoes = Arc::new(AtomicUsize::new(0));
        let missed = Arc::new(AtomicUsize::new(0));
        let (c, s, e, m) = (client.clone(), stop.clone(), echoes.clone(), missed.clone());
        let task = tokio::spawn(async move {
            let mut n = 0u64;
            while !s.load(Ordering::Acquire) {
                n += 1;
                let line = format!("line {n}");
                let echoed = async {
                    c.send_string(&peer, &line).await.ok()?;
                    loop {
                        if rx.recv().await? == line {
                            return Some(());
                        }
                    }
                };
                match tokio::time::timeout(Duration::from_secs(2), echoed).await {
                    Ok(Some(())) => e.fetch_add(1, Ordering::AcqRel),
                    _ => m.fetch_add(1, Ordering::AcqRel),
                };
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        Ok(Chatter {
            stop,
            echoes,
            missed,
            task,
            client,
        })
    }

    async fn finish(self) -> (usize, usize) {
        self.stop.store(true, Ordering::Release);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
        self.client.shutdown().await;
        (
            self.echoes.load(Ordering::Acquire),
            self.missed.load(Ordering::Acquire),
        )
    }
}

/// Runs one round against `child`: measures its RSS before, at the peak and after the hostile
/// peers are gone, while a well-behaved peer chats with it throughout.
pub async fn run(child: &mut ListenChild, plan: &AttackPlan) -> Result<AttackReport, String> {
    tokio::time::timeout(ROUND_LIMIT, run_round(child, plan))
        .await
        .map_err(|_| format!("the attack round did not finish within {ROUND_LIMIT:?}"))?
}

async fn run_round(child: &mut ListenChild, plan: &AttackPlan) -> Result<AttackReport, String> {
    let target: SocketAddr = child
        .addr
        .trim_start_matches("tcp:")
        .parse()
        .map_err(|e| format!("listener address {:?}: {e}", child.addr))?;
    let chatter = Chatter::start(&child.addr).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss = |c: &ListenChild| c.rss_kib().ok_or("cannot read the listener's RSS");
    let mut report = AttackReport {
        base_rss_kib: rss(child)?,
        ..AttackReport::default()
    };
    report.peak_rss_kib = report.base_rss_kib;
    let protocol = ProtocolId::new("rats", "1.0");
    let mut tasks = tokio::task::JoinSet::new();
    for ip in &plan.ips {
        for _ in 0..plan.per_ip {
            let (ip, protocol, total) = (*ip, protocol.clone(), plan.message_bytes);
            tasks.spawn(async move {
                let (_id, mut conn) = noise_client_from(ip, target, &protocol).await.ok()?;
                let sent = hold_partial_messages(&mut conn, total).await;
                Some((conn, sent))
            });
        }
    }
    let mut held = Vec::new();
    let mut sample = tokio::time::interval(SAMPLE_EVERY);
    while !tasks.is_empty() {
        tokio::select! {
            done = tasks.join_next() => {
                if let Some(Ok(Some((conn, sent)))) = done {
                    report.hostile_connected += 1;
                    report.hostile_bytes_sent += sent;
                    held.push(conn);
                }
            }
            _ = sample.tick() => measure(child, &mut report).await?,
        }
    }
    let hold_until = tokio::time::Instant::now() + HOLD;
    while tokio::time::Instant::now() < hold_until {
        sample.tick().await;
        measure(child, &mut report).await?;
    }
    drop(held);
    // The hostile peers are gone once only the good peer is left.
    let gone_by = tokio::time::Instant::now() + Duration::from_secs(15);
    while child.peer_count().await? > 1 {
        if tokio::time::Instant::now() > gone_by {
            return Err("hostile peers still connected 15 s after they closed".into());
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    report.after_rss_kib = rss(child)?;
    let (echoes, missed) = chatter.finish().await;
    report.echoes = echoes;
    report.echoes_missed = missed;
    Ok(report)
}

/// Takes one sample of the listener: RSS, budget use, connected peers; keeps the highest.
async fn measure(child: &mut ListenChild, report: &mut AttackReport) -> Result<(), String> {
    let rss = child.rss_kib().ok_or("cannot read the listener's RSS")?;
    report.peak_rss_kib = report.peak_rss_kib.max(rss);
    report.peak_budget_bytes = report.peak_budget_bytes.max(child.memory_used().await?);
    report.peers_during = report.peers_during.max(child.peer_count().await?);
    Ok(())
}

/// `n` loopback source addresses from 127.0.0.`first` on.
pub fn loopback_sources(first: u8, n: usize) -> Vec<IpAddr> {
    (0..n)
        .map(|i| IpAddr::from([127, 0, 0, first.saturating_add(i as u8)]))
        .collect()
}
