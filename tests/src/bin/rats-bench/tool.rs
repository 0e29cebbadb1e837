//! `tool`: memory of an idle `rats` tool with every plugin on (DHT, mDNS, STUN, port mapping,
//! transfers, GossipSub), read from `/proc` after it settled. The tool runs inside a network
//! namespace this scenario creates (only its loopback up), so that its multicast, port-mapping
//! and bootstrap traffic cannot leave the machine; its DHT bootstrap and STUN server are
//! unanswered loopback ports. Needs root (`ip netns`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Serialize;

use crate::common::{BenchResult, emit, fail};

#[derive(Serialize)]
struct Line {
    scenario: &'static str,
    exe: String,
    /// Size of the executable file.
    exe_kib: u64,
    secs: f64,
    rss_kib: u64,
    /// Of which anonymous memory (heap, stacks): the tool's own data.
    rss_anon_kib: u64,
    /// Of which file pages (mostly the executable's text).
    rss_file_kib: u64,
}

/// A network namespace removed on drop.
struct Netns(String);

impl Netns {
    fn create() -> BenchResult<Self> {
        let name = format!("rats-bench-{}", std::process::id());
        run(Command::new("ip").args(["netns", "add", &name]))?;
        let ns = Netns(name);
        run(Command::new("ip").args(["-n", &ns.0, "link", "set", "lo", "up"]))?;
        Ok(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn run(cmd: &mut Command) -> BenchResult {
    let status = cmd.status().map_err(fail("run ip"))?;
    if !status.success() {
        return Err(format!(
            "{cmd:?} failed ({status}); the tool scenario needs root"
        ));
    }
    Ok(())
}

/// Starts `exe` idle for `secs` seconds and reads its memory.
pub async fn run_tool(exe: &Path, secs: f64) -> BenchResult {
    let exe_kib = std::fs::metadata(exe)
        .map_err(fail("the rats executable"))?
        .len()
        / 1024;
    let dir = std::env::temp_dir().join(format!("rats-bench-tool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(fail("data dir"))?;
    let ns = Netns::create()?;
    let mut child = tokio::process::Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(exe)
        .arg("--data-dir")
        .arg(&dir)
        .args([
            "--bootstrap",
            "127.0.0.1:9",
            "--stun",
            "127.0.0.1:9",
            "--json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(fail("start rats"))?;
    let pid = child.id().ok_or("rats exited at once")?;
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    if let Ok(Some(status)) = child.try_wait() {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(format!("rats exited early ({status})"));
    }
    // `ip netns exec` execs the tool, so the pid is the tool's.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"));
    let _ = child.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
    drop(ns);
    let status = status.map_err(fail("the tool's /proc status (did it exit?)"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    emit(&Line {
        scenario: "tool",
        exe: exe.display().to_string(),
        exe_kib,
        secs,
        rss_kib: field("VmRSS:"),
        rss_anon_kib: field("RssAnon:"),
        rss_file_kib: field("RssFile:"),
    });
    Ok(())
}
