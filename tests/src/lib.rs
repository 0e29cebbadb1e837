//! Helpers shared by the scenario tests and the benchmark: start real nodes on loopback with
//! short timeouts, wait for conditions with a deadline.

pub mod listen_child;
pub mod memory_attack;
pub mod natlab;
pub mod netns_common;

use std::sync::Arc;
use std::time::Duration;

use rats::RatsClient;
use rats_core::{Event, EventStream, NodeConfig};

/// A `NodeConfig` for tests: loopback, short timeouts, generous per-IP limits.
pub fn test_config() -> NodeConfig {
    NodeConfig {
        listen: vec!["tcp:127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!())],
        handshake_timeout: Duration::from_secs(3),
        dial_timeout: Duration::from_secs(3),
        max_pending_per_ip: 256,
        max_connections_per_ip: 1024,
        max_pending_handshakes: 256,
        // Nothing that reaches beyond this machine (public DHT routers, public STUN servers,
        // the gateway, multicast): a test that wants one of those plugins switches it on again
        // with local settings and says so.
        disabled_plugins: rats::NETWORK_REACHING_PLUGINS
            .iter()
            .map(|p| p.to_string())
            .collect(),
        ..NodeConfig::default()
    }
}

/// A client builder for tests: [`RatsClientBuilder::local_only`](rats::RatsClientBuilder::local_only)
/// (no DHT, mDNS, STUN, port mapping or hole punching) and listening on 127.0.0.1 only. Every
/// test node that does not replace its whole configuration with [`test_config`] starts here.
pub fn local_builder() -> rats::RatsClientBuilder {
    RatsClient::builder()
        .local_only()
        .listen("tcp:127.0.0.1:0")
        .unwrap_or_else(|_| unreachable!("a valid literal address"))
}

/// Starts a client listening on 127.0.0.1 with [`test_config`] (no DHT), edited by `edit`.
pub async fn client_with(edit: impl FnOnce(&mut NodeConfig)) -> RatsClient {
    let mut cfg = test_config();
    edit(&mut cfg);
    RatsClient::builder()
        .configure(|c| *c = cfg)
        .start()
        .await
        .expect("client starts")
}

/// Starts a client with [`test_config`].
pub async fn client() -> RatsClient {
    client_with(|_| {}).await
}

/// The first listen address of a client, as a string.
pub fn addr_of(c: &RatsClient) -> String {
    c.listen_addrs()[0].to_string()
}

/// Polls `cond` every 10 ms until it holds; panics with `what` after `secs` seconds.
pub async fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {secs}s waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits for the first event matching `pick`, with a deadline.
pub async fn next_matching<T>(
    events: &mut EventStream,
    secs: u64,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    let fut = async {
        loop {
            match events.recv().await {
                Some(Ok(e)) => {
                    if let Some(t) = pick(&e) {
                        return t;
                    }
                }
                Some(Err(_lagged)) => continue,
                None => panic!("event bus closed"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .expect("event within deadline")
}

/// A counter shared with handlers.
pub fn counter() -> Arc<std::sync::atomic::AtomicU64> {
    Arc::new(std::sync::atomic::AtomicU64::new(0))
}

/// Resident set size of a process in KiB (Linux `/proc`), `None` elsewhere.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// User plus system CPU time of a process in clock ticks (Linux `/proc`).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; fields after the closing parenthesis are fixed.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Dials `addr` over TCP and completes a genuine Noise handshake as a fresh identity, sending
/// a minimal Hello: a client that can then write arbitrary (hostile) frames.
pub async fn raw_noise_client(
    addr: &rats_core::Address,
    protocol: &rats_core::ProtocolId,
) -> (rats_core::Identity, rats_core::encryption::SecureConnection) {
    use rats_core::{Encryption, Transport};
    let raw = rats_transport::TcpTransport
        .dial(addr)
        .await
        .expect("tcp dial");
    let id = rats_core::Identity::generate();
    let hello = serde_json::json!({"agent": "hostile/1", "listen": [], "services": []});
    let early = serde_json::to_vec(&hello).expect("hello json");
    let params = rats_core::encryption::HandshakeParams {
        identity: &id,
        protocol,
        role: rats_core::encryption::Role::Initiator,
        early_data: &early,
    };
    let conn = rats_noise::Noise
        .upgrade(raw, params)
        .await
        .expect("noise handshake");
    (id, conn)
}

/// A directory under the system temp directory, removed when dropped.
#[derive(Debug)]
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// A fresh, empty directory whose name starts with `prefix`.
    pub fn new(prefix: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("{prefix}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    /// Its path.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The next whole frame `(channel, payload)` a raw connection receives (see
/// [`raw_noise_client`]); partial frames wait in `pending`. `None` when the connection ends.
/// Fragment flags are not interpreted: tests that use it exchange small messages.
pub async fn next_raw_frame(
    conn: &mut rats_core::encryption::SecureConnection,
    pending: &mut bytes::BytesMut,
) -> Option<(u16, bytes::Bytes)> {
    use bytes::Buf;
    let mut record = bytes::BytesMut::new();
    loop {
        if pending.len() >= 7 {
            let len = u32::from_be_bytes([pending[3], pending[4], pending[5], pending[6]]) as usize;
            if pending.len() >= 7 + len {
                let channel = u16::from_be_bytes([pending[0], pending[1]]);
                pending.advance(7);
                return Some((channel, pending.split_to(len).freeze()));
            }
        }
        record.clear();
        match conn.reader.read_into(&mut record).await {
            Ok(true) => pending.extend_from_slice(&record),
            _ => return None,
        }
    }
}

/// The crates' READMEs (what crates.io shows), compiled and run as doc tests here: this crate
/// links every plugin, and the crates' own `lib.rs` docs stay theirs. (`rats-transfer` and
/// `rats-p2p` include theirs already.) The repository's README too.
#[cfg(doctest)]
pub mod readme_doctests {
    #[doc = include_str!("../../README.md")]
    pub struct Repository;
    #[doc = include_str!("../../rats-core/README.md")]
    pub struct RatsCore;
    #[doc = include_str!("../../rats-transport/README.md")]
    pub struct RatsTransport;
    #[doc = include_str!("../../rats-noise/README.md")]
    pub struct RatsNoise;
    #[doc = include_str!("../../rats-persist/README.md")]
    pub struct RatsPersist;
    #[doc = include_str!("../../rats-log/README.md")]
    pub struct RatsLog;
    #[doc = include_str!("../../rats-gossipsub/README.md")]
    pub struct RatsGossipsub;
    #[doc = include_str!("../../rats-discovery-dht/README.md")]
    pub struct RatsDiscoveryDht;
    #[doc = include_str!("../../rats-discovery-mdns/README.md")]
    pub struct RatsDiscoveryMdns;
    #[doc = include_str!("../../rats-nat/README.md")]
    pub struct RatsNat;
}

/// A small tmpfs mounted for one test (as root), unmounted when dropped: a disk that fills up.
#[derive(Debug)]
pub struct SmallDisk(pub std::path::PathBuf);

impl SmallDisk {
    /// Mounts a tmpfs of `size` (`"8m"`) at `at`; panics naming what is missing (root).
    pub fn mount(at: std::path::PathBuf, size: &str) -> SmallDisk {
        std::fs::create_dir_all(&at).expect("create the mount point");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .status();
        assert!(
            status.as_ref().is_ok_and(|s| s.success()),
            "cannot mount a tmpfs at {} ({status:?}; needs root); this test needs one (it is \
             #[ignore]d by default)",
            at.display()
        );
        SmallDisk(at)
    }

    /// Fills the disk with the file `name` until a write fails for want of space.
    pub fn fill(&self, name: &str) -> std::path::PathBuf {
        use std::io::Write;
        let filler = self.0.join(name);
        let mut f = std::fs::File::create(&filler).expect("filler");
        let block = vec![0u8; 64 * 1024];
        let err = loop {
            if let Err(e) = f.write_all(&block) {
                break e;
            }
        };
        assert_eq!(err.raw_os_error(), Some(28), "filled: {err}");
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Whether `python3` is there and imports `module` (the foreign test peers: libtorrent,
/// aioice, zeroconf).
pub fn python_has_module(module: &str) -> bool {
    std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
