//! Packet loss in the NAT lab (issue 19, section 3): 1 %, 5 % and 20 % of the IPv4 packets to
//! and from a host's link dropped by nftables on the lab's bridge (`NatLab::set_loss`, both
//! directions), while rats moves a file and a run of messages over TCP and over QUIC, while a
//! DHT node looks a hash up, and while the STUN client asks for its public address. Each test
//! asserts the outcome (file hash, every message in order, every lookup and binding answered)
//! and prints one `FAULT` line per loss rate with the time it took.
//!
//! Needs root, `ip`, `nft` (and coturn for STUN): `#[ignore]`d by default, run with
//! `cargo test -p rats-tests --test faults_loss -- --include-ignored --nocapture`.

mod faults_common;

use std::time::{Duration, Instant};

use faults_common::{NATLAB, Node, fault, in_order, payload, secs};
use rats_tests::natlab::{self, HostId, LabNode, NatKind, NatLab};
use serde_json::json;

/// Loss rates and the file size moved at each over QUIC.
const QUIC_RATES: [(u8, usize); 3] = [(1, 16 << 20), (5, 16 << 20), (20, 4 << 20)];
/// The same over TCP: 20 % each way (36 % of round trips) makes TCP crawl at a few KB/s in
/// RTO backoffs, so a small file.
const TCP_RATES: [(u8, usize); 3] = [(1, 16 << 20), (5, 16 << 20), (20, 256 << 10)];
/// Messages sent at each rate.
const MESSAGES: usize = 100;

/// Two public hosts; B connects to A over `scheme` and, at each loss rate on A's link, sends a
/// file and `MESSAGES` messages at once.
async fn transfer_and_messages(scheme: &str, port: u16, rates: [(u8, usize); 3]) {
    let mut lab = NatLab::new();
    let ha = lab.add_host(NatKind::None);
    let hb = lab.add_host(NatKind::None);
    // One packet per MTU on the wire, as between real hosts: without this, the veths pass
    // 64 KiB GSO super-packets and a "packet" dropped is dozens of segments.
    for h in [ha, hb] {
        let out = lab
            .command(lab.host_ns(h), "ip")
            .args(["link", "set", "dev", "eth0", "gso_max_segs", "1"])
            .output()
            .await
            .expect("ip link set gso_max_segs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let recv = lab.dir().join("received");
    let recv_arg = recv.to_str().expect("utf-8").to_string();
    let mut a = Node::start(&lab, ha, &["--quic", "--recv", &recv_arg]).await;
    let mut b = Node::start(&lab, hb, &["--quic"]).await;
    let c = b
        .connect(&format!("{scheme}:{}:{port}", lab.public_ip(ha)), 20)
        .await;
    assert_eq!(c["event"], "connected", "{c}");

    let mut want = Vec::new();
    for (i, (loss, size)) in rates.into_iter().enumerate() {
        let name = format!("loss{loss}.bin");
        let file = lab.dir().join(&name);
        want.push(json!([name, payload(&file, size, i as u32)]));
        lab.set_loss(ha, loss);
        let t = Instant::now();
        let tag = format!("loss{loss}");
        b.cmd(&format!("send {} {}", a.id, file.display())).await;
        b.cmd(&format!("msgs {} {MESSAGES} {tag}", a.id)).await;
        let sent = b
            .wait(60, "the transfer's end", |v| v["event"] == "sent")
            .await;
        assert_eq!(sent["ok"], true, "{scheme} at {loss} % loss: {sent}");
        let msgs = b.wait(60, "msgs_sent", |v| v["event"] == "msgs_sent").await;
        assert_eq!(msgs["sent"], MESSAGES, "{scheme} at {loss} % loss: {msgs}");
        let got = a.messages(&b.id, &tag, MESSAGES, 30).await;
        assert_eq!(
            got,
            in_order(&tag, MESSAGES),
            "{scheme} at {loss} % loss: all, in order"
        );
        let took = t.elapsed();
        lab.set_loss(ha, 0);
        assert!(
            !a.seen.iter().chain(&b.seen).any(|v| v["event"] == "gone"),
            "{scheme} at {loss} % loss: the connection dropped: {:?} {:?}",
            a.seen,
            b.seen
        );
        fault(
            &format!("{scheme}_loss_{loss}pct"),
            &format!(
                "{} KiB file (hash checked) in {:.1} s and {MESSAGES} messages in order in {:.1} s \
                 over {scheme}, connection kept",
                size >> 10,
                secs(&sent),
                secs(&msgs)
            ),
            took,
            "none",
        );
    }
    // The receiver lists its files sorted by name.
    want.sort_by_key(|v| v[0].as_str().map(str::to_string));
    let files = a.quit_with_files().await;
    assert_eq!(files, json!(want), "{scheme}: the received files' SHA-256");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip and nft (CI runs it with --include-ignored)"]
async fn tcp_transfer_and_messages_survive_loss() {
    transfer_and_messages("tcp", 7000, TCP_RATES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip and nft (CI runs it with --include-ignored)"]
async fn quic_transfer_and_messages_survive_loss() {
    transfer_and_messages("quic", 7001, QUIC_RATES).await;
}

/// A DHT swarm of `SWARM` nodes, one per public host, that all know each other; a node on
/// another host, whose link loses packets, bootstraps from the first and looks up a hash the
/// last announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip and nft (CI runs it with --include-ignored)"]
async fn dht_lookups_answer_under_loss() {
    const SWARM: usize = 5;
    const LOOKUPS: usize = 5;
    let mut lab = NatLab::new();
    let hosts: Vec<HostId> = (0..SWARM).map(|_| lab.add_host(NatKind::None)).collect();
    let hl = lab.add_host(NatKind::None);
    let mut swarm: Vec<LabNode> = Vec::new();
    let mut addrs: Vec<String> = Vec::new();
    for h in &hosts {
        let mut args = vec!["dht-serve".to_string(), lab.public_ip(*h).to_string()];
        args.extend(addrs.iter().cloned());
        let mut node = LabNode::spawn(&lab, *h, NATLAB, &args).expect("dht-serve");
        let ready = node.expect_next(30, "a swarm node's ready line").await;
        let addr = ready["addr"].as_str().expect("addr").to_string();
        // The earlier nodes verify the new one, so that they hand it out.
        for earlier in &mut swarm {
            earlier
                .command(&format!("ping {addr}"))
                .await
                .expect("ping");
            earlier.expect_next(10, "pinged").await;
        }
        swarm.push(node);
        addrs.push(addr);
    }
    let announcer = swarm.last_mut().expect("swarm");
    announcer.command("announce").await.expect("announce");
    let announced = announcer.expect_next(30, "announced").await;
    assert!(announced["to"].as_u64() > Some(0), "{announced}");
    for loss in [0, 1, 5, 20] {
        lab.set_loss(hl, loss);
        let args = [
            "dht-lookup".to_string(),
            lab.public_ip(hl).to_string(),
            addrs[0].clone(),
            LOOKUPS.to_string(),
        ];
        let t = Instant::now();
        let mut client = LabNode::spawn(&lab, hl, NATLAB, &args).expect("lookup");
        let boot = client.expect_next(70, "bootstrapped").await;
        assert_eq!(boot["ok"], true, "{loss} %: bootstrap: {boot}");
        let mut times = Vec::new();
        for _ in 0..LOOKUPS {
            let l = client.expect_next(60, "a lookup").await;
            assert_eq!(
                l["found"], true,
                "{loss} %: the announced peer was found: {l}"
            );
            times.push(secs(&l));
        }
        let done = client.expect_next(10, "done").await;
        assert_eq!(done["event"], "done", "{done}");
        let max = times.iter().cloned().fold(0.0, f64::max);
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        fault(
            &format!("dht_loss_{loss}pct"),
            &format!(
                "bootstrap {:.1} s, {LOOKUPS}/{LOOKUPS} lookups found the peer (mean {mean:.2} s, \
                 max {max:.2} s)",
                secs(&boot)
            ),
            t.elapsed(),
            "none",
        );
    }
    for mut node in swarm {
        node.command("quit").await.expect("quit");
    }
}

/// A host behind a port-restricted cone NAT asks coturn for its public address 10 times at
/// each loss rate: every binding answers (the client retransmits), with the router's address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip, nft and coturn (CI runs it with --include-ignored)"]
async fn stun_bindings_answer_under_loss() {
    const BINDINGS: usize = 10;
    natlab::require_coturn();
    let mut lab = NatLab::new();
    let h = lab.add_host(NatKind::PortRestrictedCone);
    let coturn = natlab::start_coturn(&lab, None).await;
    for loss in [1, 5, 20] {
        lab.set_loss(h, loss);
        let args = [
            "stun-bind".to_string(),
            coturn.addr().to_string(),
            BINDINGS.to_string(),
        ];
        let t = Instant::now();
        let mut probe = LabNode::spawn(&lab, h, NATLAB, &args).expect("stun-bind");
        let mut times = Vec::new();
        for _ in 0..BINDINGS {
            let v = probe.expect_next(30, "a binding").await;
            let addr = v["addr"]
                .as_str()
                .unwrap_or_else(|| panic!("{loss} %: {v}"));
            assert!(
                addr.starts_with(&format!("{}:", lab.public_ip(h))),
                "{loss} %: mapped address {v}"
            );
            times.push(secs(&v));
        }
        // NAT type detection needs several exchanges to all answer: reported, not asserted
        // (a lost answer to a CHANGE-REQUEST reads as filtering).
        let kind = probe
            .next(Instant::now() + Duration::from_secs(60))
            .await
            .unwrap_or_default();
        let max = times.iter().cloned().fold(0.0, f64::max);
        fault(
            &format!("stun_loss_{loss}pct"),
            &format!(
                "{BINDINGS}/{BINDINGS} bindings answered (max {max:.2} s); NAT type detection \
                 said {}",
                kind.get("nat_type").or(kind.get("error")).unwrap_or(&kind)
            ),
            t.elapsed(),
            "none",
        );
    }
}
