//! The listener in a separate process, so that its memory and CPU can be measured alone.
//!
//! The child (`rats-bench listen-child`) starts a node on 127.0.0.1, prints `addr <address>`,
//! then answers one line per command read on stdin: `count` (connected peers), `rss` (KiB),
//! `cpu` (clock ticks), `quit`. It also quits when stdin closes, so it never outlives the
//! benchmark. [`ListenChild`] is the parent's handle on it.

use std::io::{BufRead, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use rats::RatsClient;
use tokio::sync::mpsc;

use crate::common::{BenchResult, addr_of, fail};

/// Pending handshakes the child accepts (per IP and overall): the dialers all come from
/// 127.0.0.1 in batches.
const CHILD_PENDING: usize = 128;

/// The child side: runs until `quit` or the end of stdin.
pub async fn serve(max_peers: usize) -> BenchResult {
    let node = RatsClient::builder()
        .local_only()
        .listen("tcp:127.0.0.1:0")
        .map_err(fail("listen address"))?
        .configure(|c| {
            c.max_peers = max_peers;
            c.max_pending_per_ip = CHILD_PENDING;
            c.max_connections_per_ip = usize::MAX;
            c.max_pending_handshakes = CHILD_PENDING;
        })
        .start()
        .await
        .map_err(fail("start listener"))?;
    let mut out = std::io::stdout();
    let answer = |out: &mut std::io::Stdout, line: String| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    answer(&mut out, format!("addr {}", addr_of(&node)?));

    let (tx, mut commands) = mpsc::unbounded_channel::<String>();
    // Blocking stdin reads on their own thread; the channel closes at end of input.
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(l) = line else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let pid = std::process::id();
    while let Some(cmd) = commands.recv().await {
        let reply = match cmd.trim() {
            "count" => node.peer_count().to_string(),
            "rss" => rats_tests::rss_kib(pid).map_or("error no rss".into(), |v| v.to_string()),
            "cpu" => rats_tests::cpu_ticks(pid).map_or("error no cpu".into(), |v| v.to_string()),
            "quit" => break,
            other => format!("error unknown command {other:?}"),
        };
        answer(&mut out, reply);
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), node.shutdown()).await;
    Ok(())
}

/// The parent's handle on a running child; kills it when dropped.
pub struct ListenChild {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    /// The child's listen address.
    pub addr: String,
}

impl ListenChild {
    /// Starts `rats-bench listen-child` and waits for its address.
    pub async fn spawn(max_peers: usize) -> BenchResult<Self> {
        let exe = std::env::current_exe().map_err(fail("own executable"))?;
        let mut child = Command::new(exe)
            .arg("listen-child")
            .arg("--max-peers")
            .arg(max_peers.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(fail("spawn listen-child"))?;
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

    async fn read_line(&mut self, limit: Duration) -> BenchResult<String> {
        tokio::time::timeout(limit, self.lines.recv())
            .await
            .map_err(|_| format!("listen-child did not answer within {limit:?}"))?
            .ok_or_else(|| "listen-child closed its output (did it crash?)".to_string())
    }

    fn send(&mut self, cmd: &str) -> BenchResult {
        let stdin = self.stdin.as_mut().ok_or("listen-child stdin is closed")?;
        writeln!(stdin, "{cmd}")
            .and_then(|()| stdin.flush())
            .map_err(fail("write to listen-child"))
    }

    /// Sends a command and returns the answer line.
    pub async fn ask(&mut self, cmd: &str) -> BenchResult<String> {
        self.send(cmd)?;
        let line = self.read_line(Duration::from_secs(10)).await?;
        if line.starts_with("error") {
            return Err(format!("listen-child: {line}"));
        }
        Ok(line)
    }

    /// The child's connected peer count.
    pub async fn peer_count(&mut self) -> BenchResult<usize> {
        let line = self.ask("count").await?;
        line.parse()
            .map_err(|_| format!("listen-child answered {line:?} to count"))
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
