//! TURN over UDP against coturn in the NAT lab: two hosts behind symmetric NATs, each with a
//! UDP allocation, exchange datagrams through the relay: one with ChannelBind and
//! ChannelData, the other with CreatePermission, Send and Data indications.
//!
//! Needs root, `ip`, `nft` and coturn; otherwise SKIPPED (unless `INTEROP_REQUIRED` is set).

use std::process::Stdio;
use std::time::Duration;

use rats_tests::natlab::{self, NatKind, NatLab};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

struct Probe {
    _child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Probe {
    fn start(lab: &NatLab, ns: &str, server: &str, role: &str) -> Probe {
        let mut child = lab
            .command(ns, env!("CARGO_BIN_EXE_rats-nat-probe"))
            .args(["turn-udp", server, role])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start probe");
        let stdin = child.stdin.take().expect("stdin");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Probe {
            _child: child,
            stdin,
            lines,
        }
    }

    async fn next(&mut self, what: &str) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(30), self.lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("no {what} in time"))
            .expect("read")
            .unwrap_or_else(|| panic!("probe exited before {what}"));
        let v: Value = serde_json::from_str(&line).expect("json");
        assert!(v.get("error").is_none(), "{what}: {v}");
        v
    }

    async fn tell(&mut self, line: &str) {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagrams_cross_the_relay_by_channel_and_by_indication() {
    let Some(mut lab) = NatLab::new() else {
        return;
    };
    if !natlab::coturn_available() {
        return;
    }
    let a = lab.add_host(NatKind::Symmetric);
    let b = lab.add_host(NatKind::Symmetric);
    let coturn = natlab::start_coturn(&lab, None).await;
    let server = coturn.addr().to_string();
    let mut pa = Probe::start(&lab, lab.host_ns(a), &server, "a");
    let mut pb = Probe::start(&lab, lab.host_ns(b), &server, "b");
    let ra = pa.next("a's relayed address").await["relayed"]
        .as_str()
        .expect("addr")
        .to_string();
    let rb = pb.next("b's relayed address").await["relayed"]
        .as_str()
        .expect("addr")
        .to_string();
    pb.tell(&ra).await;
    pb.next("b ready").await;
    pa.tell(&rb).await;
    let got_b = pb.next("b's datagram").await;
    assert_eq!(got_b["got"], "hello-from-a", "{got_b}\n{}", coturn.log());
    assert_eq!(got_b["from"], ra.as_str());
    let got_a = pa.next("a's datagram").await;
    assert_eq!(got_a["got"], "hello-from-b", "{got_a}\n{}", coturn.log());
    assert_eq!(got_a["from"], rb.as_str());
    assert!(
        got_a["channel"]
            .as_u64()
            .is_some_and(|c| (0x4000..=0x4fff).contains(&c))
    );
}
