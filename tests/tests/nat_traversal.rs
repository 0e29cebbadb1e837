//! NAT traversal part 2 in the NAT lab (needs root, `ip`, `nft`, coturn: `#[ignore]`d by
//! default, run with `--include-ignored` as CI does; without them each test fails saying what
//! is missing): the connectivity matrix, a pair that cannot be punched
//! falling back to the relay and giving up, and a relayed file transfer that survives the
//! upgrade to a punched path.

use std::time::{Duration, Instant};

use rats_tests::natlab::{self, LabNode, NatKind, NatLab};
use serde_json::Value;

const NATLAB: &str = env!("CARGO_BIN_EXE_rats-natlab");

/// A lab with a public rendezvous host and two hosts behind `a` and `b`, coturn, and a node on
/// each (the rendezvous first); `a_args`/`b_args` are added to the two nodes' options.
struct Trio {
    lab: NatLab,
    _coturn: natlab::Coturn,
    _rendezvous: LabNode,
    a: LabNode,
    a_id: Value,
    b: LabNode,
}

async fn trio(a: NatKind, b: NatKind, a_args: &[&str], b_args: &[&str]) -> Trio {
    natlab::require_coturn();
    let mut lab = NatLab::new();
    let r = lab.add_host(NatKind::None);
    let ha = lab.add_host(a);
    let hb = lab.add_host(b);
    let coturn = natlab::start_coturn(&lab, None).await;
    let server = coturn.addr().to_string();
    let base = vec![
        "node".to_string(),
        "--stun".into(),
        server.clone(),
        "--turn".into(),
        server,
    ];
    let mut rendezvous = LabNode::spawn(&lab, r, NATLAB, &base).expect("rendezvous");
    rendezvous.ready().await.expect("rendezvous ready");
    let meet = format!("tcp:{}:7000", lab.public_ip(r));
    let args = |extra: &[&str]| {
        let mut v = base.clone();
        v.extend(["--listen-turn", "--rendezvous", &meet].map(String::from));
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let mut node_a = LabNode::spawn(&lab, ha, NATLAB, &args(a_args)).expect("node a");
    let a_id = node_a.ready().await.expect("a ready")["peer_id"].clone();
    let mut node_b = LabNode::spawn(&lab, hb, NATLAB, &args(b_args)).expect("node b");
    node_b.ready().await.expect("b ready");
    Trio {
        lab,
        _coturn: coturn,
        _rendezvous: rendezvous,
        a: node_a,
        a_id,
        b: node_b,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip, nft and coturn (CI runs it with --include-ignored)"]
async fn connectivity_matrix_matches_what_the_nats_allow() {
    // What the matrix needs, checked here so that a missing piece fails with its name.
    natlab::require_coturn();
    drop(NatLab::new());
    let out = tokio::process::Command::new(NATLAB)
        .arg("matrix")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run the matrix");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    let summary: Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["scenario"] == "matrix")
        .unwrap_or_else(|| panic!("no summary line: {text}"));
    assert_eq!(summary["pairs"], 10, "{summary}");
    assert_eq!(summary["connected"], 10, "every pair connects: {text}");
    assert_eq!(summary["direct"], summary["direct_expected"], "{text}");
    assert_eq!(summary["direct_expected"], 8, "{summary}");
    assert!(out.status.success(), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip, nft and coturn (CI runs it with --include-ignored)"]
async fn symmetric_pair_falls_back_to_the_relay_and_stops_punching() {
    let mut t = trio(NatKind::Symmetric, NatKind::Symmetric, &[], &[]).await;
    let start = Instant::now();
    let mut connected_at = None;
    let mut upgrades: Vec<(Duration, Value)> = Vec::new();
    let mut methods: Vec<String> = Vec::new();
    // The upgrade rounds end about 25 s after connecting; watch a while longer.
    let deadline = start + Duration::from_secs(35);
    while let Some(v) = t.b.next(deadline).await {
        if v["event"] == "peer" && v["peer"] == t.a_id {
            connected_at.get_or_insert(start.elapsed());
            methods.push(v["method"].as_str().unwrap_or_default().to_string());
        }
        if v["event"] == "gone" {
            panic!("the relayed connection dropped: {v}");
        }
        if v["event"] == "attempt" && v["method"] == "upgrade:holepunch" {
            upgrades.push((start.elapsed(), v));
        }
    }
    let connected_at = connected_at.expect("the pair connected");
    assert!(
        connected_at < Duration::from_secs(5),
        "relayed connection took {connected_at:?}"
    );
    assert_eq!(methods, ["relay"], "stays relayed, never direct");
    assert_eq!(
        upgrades.len(),
        3,
        "three rounds, then no more: {upgrades:?}"
    );
    for (_, u) in &upgrades {
        let error = u["error"].as_str().unwrap_or_default();
        assert!(error.contains("symmetric"), "gives up at once: {u}");
    }
    let last = upgrades.last().map(|u| u.0).unwrap_or_default();
    assert!(last < Duration::from_secs(30), "last round at {last:?}");
    drop(t.lab);
}

/// A peer's NAT kind travels with its addresses (its Hello, then the rendezvous's peer
/// exchange): a dialer that learns it is behind a NAT starts the relayed path at once instead
/// of letting the direct dial (whose SYNs the NAT drops) run first. The head start is set far
/// past the dial timeout, so waiting it out would show as a timed-out direct attempt before
/// the relayed connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip, nft and coturn (CI runs it with --include-ignored)"]
async fn a_natted_peer_is_dialed_through_the_relay_without_a_head_start() {
    let wait = ["--relay-head-start-ms", "60000"];
    let mut t = trio(
        NatKind::PortRestrictedCone,
        NatKind::Symmetric,
        &wait,
        &wait,
    )
    .await;
    let start = Instant::now();
    let mut attempts: Vec<Value> = Vec::new();
    let mut method = None;
    let deadline = start + Duration::from_secs(20);
    while let Some(v) = t.b.next(deadline).await {
        if v["event"] == "attempt" {
            attempts.push(v.clone());
        }
        if v["event"] == "peer" && v["peer"] == t.a_id {
            method = v["method"].as_str().map(String::from);
            break;
        }
    }
    assert_eq!(method.as_deref(), Some("relay"), "{attempts:?}");
    let direct: Vec<&Value> = attempts
        .iter()
        .filter(|a| a["method"] == "direct")
        .collect();
    assert!(
        !direct.is_empty()
            && direct.iter().all(|a| a["error"]
                .as_str()
                .is_some_and(|e| e.contains("the relay connected first"))),
        "the direct dial was still running when the relay won: {attempts:?}"
    );
    drop(t.lab);
}

/// Each pair of kinds that TCP simultaneous open gets through, with UDP punching switched
/// off: the relayed connection becomes `punched-tcp`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip, nft and coturn (CI runs it with --include-ignored)"]
async fn tcp_hole_punch_through_cone_nats() {
    for (a, b) in [
        (NatKind::PortRestrictedCone, NatKind::PortRestrictedCone),
        (NatKind::FullCone, NatKind::Symmetric),
    ] {
        let tcp_only = ["--punch", "tcp"];
        let mut t = trio(a, b, &tcp_only, &tcp_only).await;
        let start = Instant::now();
        let mut methods: Vec<String> = Vec::new();
        let mut attempts: Vec<Value> = Vec::new();
        let deadline = start + Duration::from_secs(20);
        while let Some(v) = t.b.next(deadline).await {
            if v["event"] == "peer" && v["peer"] == t.a_id {
                methods.push(v["method"].as_str().unwrap_or_default().to_string());
                if methods.last().is_some_and(|m| m == "punched-tcp") {
                    break;
                }
            }
            assert_ne!(v["event"], "gone", "{v}");
            if v["event"] == "attempt" {
                attempts.push(v);
            }
        }
        assert_eq!(
            methods,
            ["relay", "punched-tcp"],
            "{a:?} x {b:?}: {attempts:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip, nft and coturn (CI runs it with --include-ignored)"]
async fn relay_to_direct_upgrade_keeps_a_running_transfer_intact() {
    let dir = std::env::temp_dir().join(format!("rats-upgrade-{}", std::process::id()));
    let recv = dir.join("received");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("payload.bin");
    let payload: Vec<u8> = (0..48 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&file, &payload).expect("write payload");
    let recv_arg = recv.to_str().expect("utf-8").to_string();
    let file_arg = file.to_str().expect("utf-8").to_string();
    let mut t = trio(
        NatKind::FullCone,
        NatKind::PortRestrictedCone,
        // UDP punching only: the QUIC-on-a-punched-socket path (TCP has its own test).
        &["--recv", &recv_arg, "--punch", "udp"],
        &["--send-file", &file_arg, "--punch", "udp"],
    )
    .await;
    let start = Instant::now();
    let mut methods: Vec<(Duration, String)> = Vec::new();
    let mut sent: Option<(Duration, Value)> = None;
    let mut upgraded: Option<Value> = None;
    let deadline = start + Duration::from_secs(120);
    while let Some(v) = t.b.next(deadline).await {
        if v["event"] == "peer" && v["peer"] == t.a_id {
            methods.push((
                start.elapsed(),
                v["method"].as_str().unwrap_or_default().into(),
            ));
        }
        if v["event"] == "gone" {
            panic!("the connection dropped during the upgrade: {v}");
        }
        if v["event"] == "upgraded" {
            upgraded = Some(v.clone());
        }
        if v["event"] == "sent" {
            sent = Some((start.elapsed(), v));
            break;
        }
    }
    let (sent_at, sent) = sent.expect("the transfer finished");
    println!("methods {methods:?}; transfer done at {sent_at:?}");
    // Nothing was lost in the switch: a lost chunk is only re-sent after the transfer's 30 s
    // chunk timeout.
    assert!(
        sent_at < methods[0].0 + Duration::from_secs(25),
        "a chunk waited for its timeout: {methods:?}, done at {sent_at:?}"
    );
    assert_eq!(sent["ok"], true, "{sent}");
    let names: Vec<&str> = methods.iter().map(|m| m.1.as_str()).collect();
    assert_eq!(names, ["relay", "punched-udp"], "{methods:?}");
    let upgraded = upgraded.expect("a ConnectionUpgraded event");
    assert_eq!(upgraded["method"], "punched-udp", "{upgraded}");
    assert_eq!(upgraded["peer"], t.a_id, "{upgraded}");
    assert!(
        methods[1].0 < sent_at,
        "the upgrade happened while the file was moving: {methods:?}, sent at {sent_at:?}"
    );
    t.a.command("quit").await.expect("quit");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut files = None;
    while let Some(v) = t.a.next(deadline).await {
        if v["event"] == "files" {
            files = Some(v);
            break;
        }
    }
    let files = files.expect("receiver's file list");
    use sha2::Digest;
    let want = hex::encode(sha2::Sha256::digest(&payload));
    assert_eq!(
        files["files"],
        serde_json::json!([["payload.bin", want]]),
        "the file arrived intact"
    );
    drop(t);
    let _ = std::fs::remove_dir_all(&dir);
}
