//! ICE interop with aioice (an independent RFC 8445 agent, Python) in the NAT lab: our agent
//! and aioice's, each behind a port-restricted cone NAT, with the lab's coturn for STUN and
//! TURN, exchange offers (passed by the test), nominate a pair and pass datagrams both ways;
//! once with us controlling, once with aioice controlling.
//!
//! Needs root, `ip`, `nft`, coturn and `python3 -m pip install aioice`: `#[ignore]`d by
//! default, run with `--include-ignored` (as CI does); without them it fails saying what is
//! missing.

use std::time::{Duration, Instant};

use rats_tests::natlab::{self, LabNode, NatKind, NatLab};
use serde_json::{Value, json};

const NATLAB: &str = env!("CARGO_BIN_EXE_rats-natlab");

fn require_aioice() {
    assert!(
        rats_tests::python_has_module("aioice"),
        "aioice is not installed (python3 -m pip install aioice); this test needs it (it is \
         #[ignore]d by default)"
    );
}

async fn expect(node: &mut LabNode, event: &str, who: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(40);
    while let Some(v) = node.next(deadline).await {
        if v["event"] == event {
            return v;
        }
        assert_ne!(v["event"], "error", "{who}: {v}");
    }
    panic!("{who}: no {event} event");
}

fn offer_line(v: &Value) -> String {
    json!({"ufrag": v["ufrag"], "pwd": v["pwd"], "candidates": v["candidates"]}).to_string()
}

async fn exchange(rats_controls: bool) {
    natlab::require_coturn();
    require_aioice();
    let mut lab = NatLab::new();
    let a = lab.add_host(NatKind::PortRestrictedCone);
    let b = lab.add_host(NatKind::PortRestrictedCone);
    let coturn = natlab::start_coturn(&lab, None).await;
    let server = coturn.addr().to_string();
    let (ours, theirs) = if rats_controls {
        ("controlling", "controlled")
    } else {
        ("controlled", "controlling")
    };
    let rats_args: Vec<String> = ["ice", ours, "--stun", &server, "--turn", &server]
        .map(String::from)
        .to_vec();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/aioice_peer.py");
    let aioice_args: Vec<String> = [
        script,
        theirs,
        "--stun",
        &server,
        "--turn",
        &server,
        "--turn-user",
        "rats",
        "--turn-pass",
        "secret",
    ]
    .map(String::from)
    .to_vec();
    let mut rats = LabNode::spawn(&lab, a, NATLAB, &rats_args).expect("rats ice agent");
    let mut aioice = LabNode::spawn(&lab, b, "python3", &aioice_args).expect("aioice agent");
    let rats_offer = expect(&mut rats, "offer", "rats").await;
    let aioice_offer = expect(&mut aioice, "offer", "aioice").await;
    let kinds = |o: &Value| -> Vec<String> {
        o["candidates"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter_map(|c| c.as_str()?.split(" typ ").nth(1)?.split(' ').next())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    let ours_kinds = kinds(&rats_offer);
    for k in ["host", "srflx", "relay"] {
        assert!(
            ours_kinds.iter().any(|x| x == k),
            "we gather {k}: {rats_offer}"
        );
    }
    rats.command(&offer_line(&aioice_offer))
        .await
        .expect("to rats");
    aioice
        .command(&offer_line(&rats_offer))
        .await
        .expect("to aioice");
    let ours_connected = expect(&mut rats, "connected", "rats").await;
    let theirs_connected = expect(&mut aioice, "connected", "aioice").await;
    let got_ours = expect(&mut rats, "received", "rats").await;
    let got_theirs = expect(&mut aioice, "received", "aioice").await;
    assert_eq!(got_ours["data"], "hello from aioice", "{ours_connected}");
    assert_eq!(got_theirs["data"], "hello from rats", "{theirs_connected}");
    // The pair crosses both NATs: we talk to aioice's public (server-reflexive) side, and
    // aioice sees ours.
    let ip = |v: &Value| {
        v.as_str()
            .and_then(|s| s.split(':').next())
            .map(String::from)
    };
    assert_eq!(
        ip(&ours_connected["remote"]),
        Some(lab.public_ip(b).to_string()),
        "{ours_connected}"
    );
    assert_eq!(
        ip(&theirs_connected["remote"]),
        Some(lab.public_ip(a).to_string()),
        "{theirs_connected}"
    );
    let _ = rats.command("quit").await;
    let _ = aioice.command("quit").await;
    expect(&mut rats, "closed", "rats").await;
    expect(&mut aioice, "closed", "aioice").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip, nft, coturn and python3 aioice (CI runs it with --include-ignored)"]
async fn ice_with_aioice_we_control() {
    exchange(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip, nft, coturn and python3 aioice (CI runs it with --include-ignored)"]
async fn ice_with_aioice_they_control() {
    exchange(false).await;
}
