//! A rats connection through a TURN relay (coturn, RFC 6062 TCP relaying) between two hosts
//! behind symmetric NATs in the NAT lab: messages and a 20 MiB file arrive intact, and the
//! connection outlives the allocation's 30 s lifetime (so refreshes work).
//!
//! Needs root, `ip`, `nft` and coturn; otherwise SKIPPED (unless `INTEROP_REQUIRED` is set).

use std::process::Stdio;
use std::time::Duration;

use rats_tests::natlab::{self, NatKind, NatLab};
use serde_json::Value;
use sha2::Digest;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

async fn next_json(lines: &mut Lines<BufReader<ChildStdout>>, secs: u64, what: &str) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(secs), lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("no {what} within {secs} s"))
        .expect("read")
        .unwrap_or_else(|| panic!("probe exited before {what}"));
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{what}: {line:?}: {e}"))
}

fn spawn(lab: &NatLab, ns: &str, args: &[&str]) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = lab
        .command(ns, env!("CARGO_BIN_EXE_rats-nat-probe"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start probe");
    let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    (child, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symmetric_nat_hosts_talk_and_move_a_file_through_the_relay() {
    let Some(mut lab) = NatLab::new() else {
        return;
    };
    if !natlab::coturn_available() {
        return;
    }
    let a = lab.add_host(NatKind::Symmetric);
    let b = lab.add_host(NatKind::Symmetric);
    let coturn = natlab::start_coturn(&lab, Some(30)).await;
    let server = coturn.addr().to_string();

    let file = lab.dir().join("payload.bin");
    let payload: Vec<u8> = (0..20 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&file, &payload).expect("write payload");
    let want = hex::encode(sha2::Sha256::digest(&payload));
    let recv_dir = lab.dir().join("received");

    let (mut listener, mut a_out) = spawn(
        &lab,
        lab.host_ns(a),
        &[
            "relay-listen",
            &server,
            recv_dir.to_str().expect("utf-8 path"),
        ],
    );
    let hello = next_json(&mut a_out, 20, "the listener's address").await;
    let relayed = hello["listen"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{hello}"))
        .to_string();
    assert!(
        relayed.starts_with(&format!("turn:{}:", lab.server_ip())),
        "{hello}"
    );

    // A's router's public address: behind a symmetric NAT nothing unsolicited gets in, so the
    // direct attempt fails and the relay wins.
    let direct = format!("tcp:{}:7878", lab.public_ip(a));
    let (_dialer, mut b_out) = spawn(
        &lab,
        lab.host_ns(b),
        &[
            "relay-dial",
            &server,
            &relayed,
            file.to_str().expect("utf-8 path"),
            "35",
            &direct,
        ],
    );
    let report = next_json(&mut b_out, 150, "the dialer's report").await;
    let context = || format!("{report}\ncoturn log:\n{}", coturn.log());
    assert_eq!(report["first_pong"], true, "{}", context());
    assert_eq!(report["file"], "completed", "{}", context());
    assert_eq!(report["pong_after_hold"], true, "{}", context());
    assert_eq!(report["remote"], relayed, "{}", context());
    assert_eq!(report["method"], "relay", "{}", context());
    let attempts = report["attempts"].as_array().cloned().unwrap_or_default();
    assert!(
        attempts
            .iter()
            .any(|t| t["method"] == "direct" && t["ok"] == false),
        "the direct attempt is reported as failed: {}",
        context()
    );
    assert!(
        attempts
            .iter()
            .any(|t| t["method"] == "relay" && t["ok"] == true),
        "{}",
        context()
    );

    let mut stdin = listener.stdin.take().expect("stdin");
    stdin.write_all(b"done\n").await.expect("write");
    let files = next_json(&mut a_out, 20, "the received files").await;
    assert_eq!(
        files["files"],
        serde_json::json!([["payload.bin", want]]),
        "{files}"
    );
    let _ = tokio::time::timeout(Duration::from_secs(10), listener.wait()).await;
}
