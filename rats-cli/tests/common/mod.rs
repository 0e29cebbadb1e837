//! Driving the `rats` tool as a child process: piped stdin, `--json` events on stdout.

#![allow(dead_code)] // each test file uses a different part

pub mod netns;

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// A `rats --json` process.
pub struct Rats {
    pub child: Child,
    pub stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

/// A `rats --json` process driven through its stdin.
impl Rats {
    /// Starts `rats --json --data-dir <data_dir> <extra>` in the root namespace. `--no-mdns`
    /// is always added (mDNS would multicast on the machine's real network), `--no-dht` unless
    /// `extra` has `--bootstrap` (the default DHT bootstrap nodes are the public BitTorrent
    /// routers; tests never contact them), and `--no-nat` unless it has `--stun` (the default
    /// STUN servers are public).
    pub fn spawn(data_dir: &std::path::Path, extra: &[&str]) -> Self {
        let mut args = extra.to_vec();
        if !args.contains(&"--no-mdns") {
            args.push("--no-mdns");
        }
        Self::start(Command::new(env!("CARGO_BIN_EXE_rats")), data_dir, args)
    }

    /// Starts `rats --json --data-dir <data_dir> <extra>` inside host `i` of a network lab,
    /// with mDNS on (the lab is a private network), and `--no-dht` unless `extra` has
    /// `--bootstrap`.
    pub fn spawn_in(
        lab: &netns::Lab,
        i: usize,
        data_dir: &std::path::Path,
        extra: &[&str],
    ) -> Self {
        Self::start(
            lab.command(i, env!("CARGO_BIN_EXE_rats")),
            data_dir,
            extra.to_vec(),
        )
    }

    /// Starts `rats --json <extra>` without `--data-dir`: its default data directory, under
    /// `data_home` (`XDG_DATA_HOME`) instead of the real home. Otherwise as [`Rats::spawn`].
    pub fn spawn_default_dir(data_home: &std::path::Path, extra: &[&str]) -> Self {
        let mut args = extra.to_vec();
        args.push("--no-mdns");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rats"));
        cmd.env("XDG_DATA_HOME", data_home);
        Self::start_with(cmd, None, args)
    }

    fn start(cmd: Command, data_dir: &std::path::Path, args: Vec<&str>) -> Self {
        Self::start_with(cmd, Some(data_dir), args)
    }

    fn start_with(
        mut cmd: Command,
        data_dir: Option<&std::path::Path>,
        mut args: Vec<&str>,
    ) -> Self {
        // No STUN checks against the public default servers.
        if !args
            .iter()
            .any(|a| a.starts_with("--stun") || *a == "--no-nat")
        {
            args.push("--no-nat");
        }
        if !args
            .iter()
            .any(|a| a.starts_with("--bootstrap") || *a == "--no-dht")
        {
            args.push("--no-dht");
        }
        cmd.arg("--json");
        if let Some(dir) = data_dir {
            cmd.arg("--data-dir").arg(dir);
        }
        let mut child = cmd
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn rats");
        let stdin = child.stdin.take().expect("stdin");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Rats {
            child,
            stdin,
            lines,
        }
    }

    /// Starts `a` (with `a_args`) and `b` on free ports under `base`, connects `b` to `a` and
    /// waits until both report the connection. Returns (a, a's `started` event, b).
    pub async fn spawn_connected_pair(
        base: &std::path::Path,
        a_args: &[&str],
    ) -> (Rats, Value, Rats) {
        let mut args = vec!["--port", "0"];
        args.extend_from_slice(a_args);
        let mut a = Rats::spawn(&base.join("a"), &args);
        let a_started = a.expect("started").await;
        let mut b = Rats::spawn(&base.join("b"), &["--port", "0"]);
        b.expect("started").await;
        b.send(&format!("connect 127.0.0.1:{}", port_of(&a_started)))
            .await;
        b.expect("peer_connected").await;
        a.expect("peer_connected").await;
        (a, a_started, b)
    }

    /// Tells both processes to quit and waits for them to exit.
    pub async fn quit_both(mut a: Rats, mut b: Rats) {
        a.send("quit").await;
        b.send("quit").await;
        let both = async {
            let _ = a.child.wait().await;
            let _ = b.child.wait().await;
        };
        // Dropping a Rats kills its process, so a hang here ends at the deadline.
        let _ = tokio::time::timeout(Duration::from_secs(15), both).await;
    }

    /// Tells this process to quit and waits (at most 15 s) for it to exit.
    pub async fn quit(mut self) {
        self.send("quit").await;
        let _ = tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await;
    }

    pub async fn send(&mut self, line: &str) {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write command");
    }

    /// The next event, whatever it is.
    pub async fn next_event(&mut self) -> Value {
        let fut = async {
            let line = self
                .lines
                .next_line()
                .await
                .expect("read stdout")
                .unwrap_or_else(|| panic!("rats exited"));
            serde_json::from_str::<Value>(&line)
                .unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"))
        };
        tokio::time::timeout(Duration::from_secs(20), fut)
            .await
            .unwrap_or_else(|_| panic!("no event in time"))
    }

    /// Reads events until one has `"event": kind`; returns it.
    pub async fn expect(&mut self, kind: &str) -> Value {
        let fut = async {
            loop {
                let line = self
                    .lines
                    .next_line()
                    .await
                    .expect("read stdout")
                    .unwrap_or_else(|| panic!("rats exited before {kind}"));
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
                if v["event"] == kind {
                    return v;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), fut)
            .await
            .unwrap_or_else(|_| panic!("no {kind} event in time"))
    }
}

pub fn port_of(started: &Value) -> u16 {
    let first = started["listen"][0].as_str().expect("listen address");
    first
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port")
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}
