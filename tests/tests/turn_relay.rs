//! A rats connection through a TURN relay (coturn, RFC 6062 TCP relaying) between two hosts
//! behind symmetric NATs in the NAT lab: messages and a 20 MiB file arrive intact, and the
//! connection outlives the allocation's 30 s lifetime (so refreshes work).
//!
//! Needs root, `ip`, `nft` and coturn: `#[ignore]`d by default, run with `--include-ignored`
//! (as CI does); without them it fails saying what is missing.

use rats_tests::natlab::{self, HostId, LabNode, NatKind, NatLab};
use sha2::Digest;

/// `rats-nat-probe <args>` on one lab host.
fn probe(lab: &NatLab, host: HostId, args: &[&str]) -> LabNode {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    LabNode::spawn(lab, host, env!("CARGO_BIN_EXE_rats-nat-probe"), &args).expect("start probe")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip, nft and coturn (CI runs it with --include-ignored)"]
async fn symmetric_nat_hosts_talk_and_move_a_file_through_the_relay() {
    natlab::require_coturn();
    let mut lab = NatLab::new();
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

    let mut listener = probe(
        &lab,
        a,
        &[
            "relay-listen",
            &server,
            recv_dir.to_str().expect("utf-8 path"),
        ],
    );
    let hello = listener.expect_next(20, "the listener's address").await;
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
    let mut dialer = probe(
        &lab,
        b,
        &[
            "relay-dial",
            &server,
            &relayed,
            file.to_str().expect("utf-8 path"),
            "35",
            &direct,
        ],
    );
    let report = dialer.expect_next(150, "the dialer's report").await;
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

    listener.command("done").await.expect("write");
    let files = listener.expect_next(20, "the received files").await;
    assert_eq!(
        files["files"],
        serde_json::json!([["payload.bin", want]]),
        "{files}"
    );
}
