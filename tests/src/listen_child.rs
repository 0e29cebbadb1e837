//! The parent's handle on a listener in its own process (`rats-bench listen-child`), so that
//! its memory and CPU can be measured alone: used by `rats-bench` and by tests that measure a
//! node's RSS.
//!
//! The child starts a node on 127.0.0.1, prints `addr <address>`, then answers one line per
//! command read on stdin: `count` (connected peers), `rss` (KiB), `cpu` (clock ticks),
//! `memory` (bytes peers make it hold), `quit`. It echoes text messages back to their sender.
//! It also quits when stdin closes, so it never outlives its parent.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use tokio::sync::mpsc;

/// The parent's handle on a running child; kills it when dropped.
pub struct ListenChild {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    /// The child's listen address.
    pub addr: String,
}

impl ListenChild {
    /// Starts `<bench> listen-child <args>` (`bench`: the `rats-bench` executable) and waits
    /// for its address.
    pub async fn spawn(bench: &Path, args: &[&str]) -> Result<Self, String> {
        let mut child = Command::new(bench)
            .arg("listen-child")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn listen-child: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let (tx, lines) = mpsc::unbounded_channel();
        if let Some(stdout) = stdout {
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stdout).lines() {
                    let Ok(l) = line else { break };
                    if tx.send(l).is_err() {
                        break;
                    }
                }
            });
        }
        let mut me = ListenChild {
            child,
            stdin,
            lines,
            addr: String::new(),
        };
        let first = me.read_line(Duration::from_secs(20)).await?;
        me.addr = first
            .strip_prefix("addr ")
            .ok_or_else(|| format!("listen-child said {first:?} instead of its address"))?
            .to_string();
        Ok(me)
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn read_line(&mut self, limit: Duration) -> Result<String, String> {
        tokio::time::timeout(limit, self.lines.recv())
            .await
            .map_err(|_| format!("listen-child did not answer within {limit:?}"))?
            .ok_or_else(|| "listen-child closed its output (did it crash?)".to_string())
    }

    fn send(&mut self, cmd: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("listen-child stdin is closed")?;
        writeln!(stdin, "{cmd}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("write to listen-child: {e}"))
    }

    /// Sends a command and returns the answer line.
    pub async fn ask(&mut self, cmd: &str) -> Result<String, String> {
        self.send(cmd)?;
        let line = self.read_line(Duration::from_secs(10)).await?;
        if line.starts_with("error") {
            return Err(format!("listen-child: {line}"));
        }
        Ok(line)
    }

    /// The child's resident set size in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        crate::rss_kib(self.child.id())
    }

    /// The child's connected peer count.
    pub async fn peer_count(&mut self) -> Result<usize, String> {
        let line = self.ask("count").await?;
        line.parse()
            .map_err(|_| format!("listen-child answered {line:?} to count"))
    }

    /// Bytes peers make the child's node hold (its memory budget's use).
    pub async fn memory_used(&mut self) -> Result<usize, String> {
        let line = self.ask("memory").await?;
        line.parse()
            .map_err(|_| format!("listen-child answered {line:?} to memory"))
    }

    /// Asks the child to quit and waits a little for it; kills it if it does not.
    pub async fn quit(mut self) {
        let _ = self.send("quit");
        self.stdin = None;
        for _ in 0..100 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Drop kills it.
    }
}

impl Drop for ListenChild {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
