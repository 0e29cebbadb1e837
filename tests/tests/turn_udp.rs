//! TURN over UDP against coturn in the NAT lab: two hosts behind symmetric NATs, each with a
//! UDP allocation, exchange datagrams through the relay: one with ChannelBind and
//! ChannelData, the other with CreatePermission, Send and Data indications.
//!
//! Needs root, `ip`, `nft` and coturn: `#[ignore]`d by default, run with `--include-ignored`
//! (as CI does); without them it fails saying what is missing.

use rats_tests::natlab::{self, LabNode, NatKind, NatLab};

/// A `rats-nat-probe turn-udp` on one lab host.
fn probe(lab: &NatLab, host: rats_tests::natlab::HostId, server: &str, role: &str) -> LabNode {
    let args = ["turn-udp", server, role].map(String::from);
    LabNode::spawn(lab, host, env!("CARGO_BIN_EXE_rats-nat-probe"), &args).expect("start probe")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip, nft and coturn (CI runs it with --include-ignored)"]
async fn datagrams_cross_the_relay_by_channel_and_by_indication() {
    natlab::require_coturn();
    let mut lab = NatLab::new();
    let a = lab.add_host(NatKind::Symmetric);
    let b = lab.add_host(NatKind::Symmetric);
    let coturn = natlab::start_coturn(&lab, None).await;
    let server = coturn.addr().to_string();
    let mut pa = probe(&lab, a, &server, "a");
    let mut pb = probe(&lab, b, &server, "b");
    let ra = pa.expect_next(30, "a's relayed address").await["relayed"]
        .as_str()
        .expect("addr")
        .to_string();
    let rb = pb.expect_next(30, "b's relayed address").await["relayed"]
        .as_str()
        .expect("addr")
        .to_string();
    pb.command(&ra).await.expect("tell b");
    pb.expect_next(30, "b ready").await;
    pa.command(&rb).await.expect("tell a");
    let got_b = pb.expect_next(30, "b's datagram").await;
    assert_eq!(got_b["got"], "hello-from-a", "{got_b}\n{}", coturn.log());
    assert_eq!(got_b["from"], ra.as_str());
    let got_a = pa.expect_next(30, "a's datagram").await;
    assert_eq!(got_a["got"], "hello-from-b", "{got_a}\n{}", coturn.log());
    assert_eq!(got_a["from"], rb.as_str());
    assert!(
        got_a["channel"]
            .as_u64()
            .is_some_and(|c| (0x4000..=0x4fff).contains(&c))
    );
}
