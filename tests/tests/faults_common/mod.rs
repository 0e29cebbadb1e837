//! What the fault tests (`faults_*.rs`) share: lab nodes that talk JSON lines, payload files,
//! waiting for an event while keeping the others, and the `FAULT` report line.

#![allow(dead_code)] // each test file uses a part

use std::path::Path;
use std::time::{Duration, Instant};

use rats_tests::natlab::{HostId, LabNode, NatLab};
use serde_json::Value;
use sha2::Digest;

/// The lab program (`node`, `dht-serve`, `dht-lookup`, `stun-bind` modes).
pub const NATLAB: &str = env!("CARGO_BIN_EXE_rats-natlab");

/// A lab node and what it printed so far that nobody waited for.
pub struct Node {
    pub proc: LabNode,
    /// Its peer id (from the `ready` line), as printed.
    pub id: String,
    /// Lines read while waiting for something else.
    pub seen: Vec<Value>,
}

impl Node {
    /// Starts `rats-natlab node <args>` on `host` and waits until it is ready.
    pub async fn start(lab: &NatLab, host: HostId, args: &[&str]) -> Node {
        let mut all = vec!["node".to_string()];
        all.extend(args.iter().map(|s| s.to_string()));
        let mut proc = LabNode::spawn(lab, host, NATLAB, &all).expect("start the lab node");
        let ready = proc.ready().await.expect("lab node ready");
        Node {
            id: ready["peer_id"].as_str().expect("peer id").to_string(),
            proc,
            seen: Vec::new(),
        }
    }

    /// Sends `quit` and waits (10 s at most) until the program has exited, so that its ports
    /// are free again.
    pub async fn quit(&mut self) {
        self.cmd("quit").await;
        self.drain(Instant::now() + Duration::from_secs(10)).await;
    }

    /// Writes a command line.
    pub async fn cmd(&mut self, line: &str) {
        self.proc
            .command(line)
            .await
            .expect("write to the lab node");
    }

    /// Dials `addr` (the `connect` command) and returns the result line, `connected` or
    /// `connect_failed`, within `secs`.
    pub async fn connect(&mut self, addr: &str, secs: u64) -> Value {
        self.cmd(&format!("connect {addr}")).await;
        self.wait(secs, "a connect result", |v| {
            v["event"] == "connected" || v["event"] == "connect_failed"
        })
        .await
    }

    /// The first line (already seen or new, within `secs`) that `want` accepts; it is taken
    /// out of `seen`. Panics naming `what` (and what was seen) if none comes.
    pub async fn wait(&mut self, secs: u64, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.seen.iter().position(&want) {
            return self.seen.remove(i);
        }
        let deadline = Instant::now() + Duration::from_secs(secs);
        while let Some(v) = self.proc.next(deadline).await {
            if want(&v) {
                return v;
            }
            self.seen.push(v);
        }
        panic!(
            "no {what} within {secs} s; seen: {}",
            self.seen
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    /// Like [`wait`](Self::wait) but `None` at the deadline.
    pub async fn wait_opt(
        &mut self,
        until: Instant,
        want: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        if let Some(i) = self.seen.iter().position(&want) {
            return Some(self.seen.remove(i));
        }
        while let Some(v) = self.proc.next(until).await {
            if want(&v) {
                return Some(v);
            }
            self.seen.push(v);
        }
        None
    }

    /// Reads whatever arrives until `until` into `seen`.
    pub async fn drain(&mut self, until: Instant) {
        while let Some(v) = self.proc.next(until).await {
            self.seen.push(v);
        }
    }

    /// Sends `quit` and returns the `files` list ([[name, sha256], ...]) of a `--recv` node.
    pub async fn quit_with_files(mut self) -> Value {
        self.cmd("quit").await;
        let v = self
            .wait(30, "the files line", |v| v["event"] == "files")
            .await;
        v["files"].clone()
    }

    /// Texts of the `message` lines from `from` whose text starts with `tag-`, in arrival
    /// order, taken out of `seen`.
    pub fn take_messages(&mut self, from: &str, tag: &str) -> Vec<String> {
        let prefix = format!("{tag}-");
        let (mine, rest): (Vec<Value>, Vec<Value>) =
            std::mem::take(&mut self.seen).into_iter().partition(|v| {
                v["event"] == "message"
                    && v["from"] == from
                    && v["text"].as_str().is_some_and(|t| t.starts_with(&prefix))
            });
        self.seen = rest;
        mine.iter()
            .filter_map(|v| v["text"].as_str().map(str::to_string))
            .collect()
    }

    /// Waits until `count` messages `<tag>-i` from `from` arrived (`secs` at most) and returns
    /// them in arrival order.
    pub async fn messages(
        &mut self,
        from: &str,
        tag: &str,
        count: usize,
        secs: u64,
    ) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let prefix = format!("{tag}-");
        let matches = |v: &Value| {
            v["event"] == "message"
                && v["from"] == from
                && v["text"].as_str().is_some_and(|t| t.starts_with(&prefix))
        };
        while self.seen.iter().filter(|v| matches(v)).count() < count {
            match self.proc.next(deadline).await {
                Some(v) => self.seen.push(v),
                None => break,
            }
        }
        self.take_messages(from, tag)
    }
}

/// `<tag>-0` .. `<tag>-<count-1>`: what [`Node::messages`] returns when all arrived in order.
pub fn in_order(tag: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{tag}-{i}")).collect()
}

/// Writes `len` bytes of a fixed pseudo-random pattern (different per `seed`) to `path`;
/// returns their SHA-256 in hex.
pub fn payload(path: &Path, len: usize, seed: u32) -> String {
    let bytes: Vec<u8> = (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(path, &bytes).expect("write payload");
    hex::encode(sha2::Sha256::digest(&bytes))
}

/// Prints the line the README's reliability table is built from.
pub fn fault(name: &str, what: &str, recovered: Duration, lost: &str) {
    eprintln!(
        "FAULT {name}: {what}, recovered in {:.1} s, data lost: {lost}",
        recovered.as_secs_f64()
    );
}

/// Milliseconds since the Unix epoch, as the lab node's `at_ms` stamps.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Seconds from `since_ms` (see [`now_ms`]) to the lab node line `v`'s `at_ms`.
pub fn secs_since(since_ms: u64, v: &Value) -> f64 {
    v["at_ms"]
        .as_u64()
        .unwrap_or_default()
        .saturating_sub(since_ms) as f64
        / 1000.0
}

/// Seconds of a `ms` field of a JSON line.
pub fn secs(v: &Value) -> f64 {
    v["ms"].as_u64().unwrap_or_default() as f64 / 1000.0
}
