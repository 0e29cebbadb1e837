//! NAT and server faults in the NAT lab (issue 19, section 3): a NAT that forgets its mappings
//! under a hole-punched connection, the TURN server restarted under a relayed connection, and
//! the STUN server gone. Each test asserts what rats does and prints one `FAULT` line.
//!
//! Needs root, `ip`, `nft`, `conntrack` and coturn: `#[ignore]`d by default, run with
//! `cargo test -p rats-tests --test faults_nat -- --include-ignored --nocapture`.

mod faults_common;

use std::time::{Duration, Instant};

use faults_common::{NATLAB, Node, fault, in_order, now_ms, secs, secs_since};
use rats_tests::natlab::{self, Coturn, HostId, LabNode, NatKind, NatLab};
use serde_json::Value;

/// A public rendezvous host, hosts A and B behind `ka` and `kb`, coturn, and nodes: A and B
/// listen through the relay and meet through the rendezvous.
struct Trio {
    lab: NatLab,
    coturn: Option<Coturn>,
    _rendezvous: Node,
    ha: HostId,
    a: Node,
    b: Node,
    args: Vec<String>,
}

/// `lifetime_secs`: coturn's longest allocation lifetime (rats refreshes at half of it).
async fn trio(ka: NatKind, kb: NatKind, extra: &[&str], lifetime_secs: Option<u32>) -> Trio {
    natlab::require_coturn();
    let mut lab = NatLab::new();
    let r = lab.add_host(NatKind::None);
    let ha = lab.add_host(ka);
    let hb = lab.add_host(kb);
    let coturn = natlab::start_coturn(&lab, lifetime_secs).await;
    let server = coturn.addr().to_string();
    let base = ["--stun", &server, "--turn", &server];
    let rendezvous = Node::start(&lab, r, &base).await;
    let rendezvous_addr = format!("tcp:{}:7000", lab.public_ip(r));
    let mut args: Vec<String> = base.iter().map(|s| s.to_string()).collect();
    args.extend(["--listen-turn", "--rendezvous", &rendezvous_addr].map(String::from));
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = Node::start(&lab, ha, &refs).await;
    let b = Node::start(&lab, hb, &refs).await;
    Trio {
        lab,
        coturn: Some(coturn),
        _rendezvous: rendezvous,
        ha,
        a,
        b,
        args,
    }
}

/// Waits until `node` reports `peer` connected with `method`; returns when.
async fn method(node: &mut Node, peer: &str, method: &str, secs: u64) -> Instant {
    node.wait(secs, &format!("{method} connection to {peer}"), |v| {
        v["event"] == "peer" && v["peer"] == peer && v["method"] == method
    })
    .await;
    Instant::now()
}

/// Sends one message `<tag>-<k>` from B every 250 ms until A has one, at most `secs`; the
/// time the first one arrived. `None` also when B drops its connection to A.
async fn until_messages_flow(t: &mut Trio, tag: &str, secs: u64) -> Option<Instant> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut k = 0;
    while Instant::now() < deadline {
        t.b.cmd(&format!("msgs {} 1 {tag}{k}", t.a.id)).await;
        k += 1;
        let until = Instant::now() + Duration::from_millis(250);
        let b_id = t.b.id.clone();
        if t.a
            .wait_opt(until, |v| v["event"] == "message" && v["from"] == b_id)
            .await
            .is_some()
        {
            return Some(Instant::now());
        }
        // Stop early when B dropped A (the line stays in B's `seen`).
        let a_id = t.a.id.clone();
        let gone = |v: &Value| v["event"] == "gone" && v["peer"] == a_id;
        if let Some(v) =
            t.b.wait_opt(Instant::now() + Duration::from_millis(20), gone)
                .await
        {
            t.b.seen.push(v);
            return None;
        }
    }
    None
}

/// Two hosts behind `ka` and `kb`, hole-punched over UDP (QUIC); then both routers forget
/// every mapping (`conntrack -F`, cone sets flushed), and with `new_ports` also give the hosts
/// new public ports. Keepalive 2 s, idle timeout 8 s, so that a dead path is noticed within
/// the test's time. Asserts that messages flow again over a punched path (kept, or after
/// rats noticed, redialed by itself and upgraded again).
async fn punched_connection_under_a_forgetful_nat(
    name: &str,
    ka: NatKind,
    kb: NatKind,
    new_ports: bool,
) {
    let quick = [
        "--punch",
        "udp",
        "--keepalive-ms",
        "2000",
        "--idle-ms",
        "8000",
    ];
    // Allocations of 30 s: refreshed every 15 s (see the redial below).
    let mut t = trio(ka, kb, &quick, Some(30)).await;
    let a_id = t.a.id.clone();
    let b_id = t.b.id.clone();
    method(&mut t.b, &a_id, "relay", 20).await;
    method(&mut t.b, &a_id, "punched-udp", 30).await;
    until_messages_flow(&mut t, "before", 10)
        .await
        .expect("messages flow over the punched path");

    let routers: Vec<HostId> = t
        .lab
        .hosts()
        .filter(|h| t.lab.router_ns(*h).is_some())
        .collect();
    let fault_at = Instant::now();
    let fault_ms = now_ms();
    let mut moved = 0;
    for h in &routers {
        if new_ports {
            moved += t.lab.forget_mappings_and_ports(*h);
        } else {
            t.lab.forget_mappings(*h);
        }
    }
    // Watch for 20 s (over twice the idle timeout): does the connection drop, and do
    // messages keep flowing?
    let flowed = until_messages_flow(&mut t, "after", 20).await;
    let gone =
        t.b.wait_opt(Instant::now() + Duration::from_secs(10), |v| {
            v["event"] == "gone" && v["peer"] == a_id
        })
        .await;
    let Some(gone) = gone else {
        let flowed = flowed.expect("the punched connection survived, so messages flow");
        t.b.cmd(&format!("msgs {a_id} 50 kept")).await;
        let got = t.a.messages(&b_id, "kept", 50, 20).await;
        assert_eq!(
            got,
            in_order("kept", 50),
            "messages after the flush, in order"
        );
        assert!(
            !new_ports,
            "with new public ports the old path cannot survive"
        );
        fault(
            name,
            "the punched QUIC connection survived: the next outbound packet (keepalive) made \
             new mappings on the same public ports (Linux NAT keeps the source port), no \
             reconnect needed",
            flowed - fault_at,
            "none",
        );
        return;
    };
    // The connection dropped: rats noticed, and the peer store redials the peer at the
    // addresses it announced (its relayed one gets through; the NAT also forgot the TCP
    // mapping of A's TURN control connection, so coturn's news of B's attempt reaches A only
    // once A's next refresh, at most 15 s here, reopens it: the backoff retries until then).
    let noticed = secs_since(fault_ms, &gone);
    let gone_at = gone["at_ms"].as_u64().unwrap_or(u64::MAX);
    let back =
        t.b.wait(90, "B back with A by itself", |v| {
            v["event"] == "peer"
                && v["peer"] == a_id
                && v["at_ms"].as_u64().is_some_and(|t| t > gone_at)
        })
        .await;
    let relayed_at = Duration::from_secs_f64(secs_since(fault_ms, &back));
    let back_method = back["method"].clone();
    let direct = if back_method == "punched-udp" {
        Instant::now()
    } else {
        method(&mut t.b, &a_id, "punched-udp", 40).await
    };
    let upgraded = direct - fault_at;
    t.b.cmd(&format!("msgs {a_id} 50 again")).await;
    let got = t.a.messages(&b_id, "again", 50, 20).await;
    assert_eq!(
        got,
        in_order("again", 50),
        "messages after the recovery, in order"
    );
    let lost = t.a.take_messages(&b_id, "after").len();
    fault(
        name,
        &format!(
            "{}noticed the dead punched path after {:.1} s (idle timeout 8 s); rats redialed \
             by itself (peer store, backoff) and was connected again ({}) at {:.1} s; rats \
             upgraded to punched-udp again",
            if new_ports {
                format!("{moved} public ports moved; ")
            } else {
                String::new()
            },
            noticed,
            back_method,
            relayed_at.as_secs_f64()
        ),
        upgraded,
        &format!("messages sent while the path was dead ({lost} of the probes arrived)"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip, nft, conntrack and coturn (CI runs it with --include-ignored)"]
async fn nat_forgetting_its_mappings_under_a_punched_connection() {
    punched_connection_under_a_forgetful_nat(
        "nat_forgets_mappings",
        NatKind::FullCone,
        NatKind::PortRestrictedCone,
        false,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip, nft, conntrack and coturn (CI runs it with --include-ignored)"]
async fn nat_rebooting_with_new_ports_under_a_punched_connection() {
    punched_connection_under_a_forgetful_nat(
        "nat_reboots_new_ports",
        NatKind::PortRestrictedCone,
        NatKind::PortRestrictedCone,
        true,
    )
    .await;
}

/// The `turn:` address in an `addrs` line.
fn relayed_addr(addrs: &Value) -> String {
    addrs["listen"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|a| a.starts_with("turn:"))
        .unwrap_or_else(|| panic!("no relayed address: {addrs}"))
        .to_string()
}

/// Two hosts behind symmetric NATs, connected through coturn (TCP relaying, RFC 6062); coturn
/// is killed and started again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip, nft and coturn (CI runs it with --include-ignored)"]
async fn turn_server_restarted_under_a_relayed_connection() {
    let mut t = trio(NatKind::Symmetric, NatKind::Symmetric, &[], None).await;
    let a_id = t.a.id.clone();
    method(&mut t.b, &a_id, "relay", 20).await;
    until_messages_flow(&mut t, "before", 10)
        .await
        .expect("messages flow through the relay");
    t.a.cmd("addrs").await;
    let old = relayed_addr(&t.a.wait(5, "addrs", |v| v["event"] == "addrs").await);

    let killed = Instant::now();
    let killed_ms = now_ms();
    drop(t.coturn.take());
    let gone =
        t.b.wait(30, "B losing the relayed connection", |v| {
            v["event"] == "gone" && v["peer"] == a_id
        })
        .await;
    let noticed = secs_since(killed_ms, &gone);
    t.coturn = Some(natlab::start_coturn(&t.lab, None).await);
    let restarted = Instant::now();
    // Give A's TURN listener time to notice the lost control connection (checked every
    // second) and to allocate again, if it would.
    tokio::time::sleep(Duration::from_secs(3)).await;
    t.a.cmd("addrs").await;
    let advertised = relayed_addr(&t.a.wait(5, "addrs", |v| v["event"] == "addrs").await);

    // A's allocation died with the server: its old relayed address leads nowhere.
    let c = t.b.connect(&old, 30).await;
    let old_works = c["event"] == "connected";
    let old_error = c["error"].clone();
    let old_failed_in = secs(&c);

    if !old_works {
        // rats does not allocate again on its own: the listener's node restarts (as an
        // application would on "TURN relay lost"), gets a fresh allocation, and B dials it.
        t.a.quit().await;
        let refs: Vec<&str> = t.args.iter().map(String::as_str).collect();
        t.a = Node::start(&t.lab, t.ha, &refs).await;
        t.a.cmd("addrs").await;
        let new = relayed_addr(&t.a.wait(5, "addrs", |v| v["event"] == "addrs").await);
        assert_ne!(new, old, "a fresh allocation");
        let c = t.b.connect(&new, 30).await;
        assert_eq!(
            c["event"], "connected",
            "B reaches A's new relayed address: {c}"
        );
    }
    let a_id = t.a.id.clone();
    let b_id = t.b.id.clone();
    t.b.cmd(&format!("msgs {a_id} 20 relayed")).await;
    let got = t.a.messages(&b_id, "relayed", 20, 20).await;
    assert_eq!(
        got,
        in_order("relayed", 20),
        "messages through the restarted relay"
    );
    let recovered = killed.elapsed();
    let after_restart = restarted.elapsed();
    let what = if old_works {
        "both sides saw the relayed connection close when coturn died; after the restart the \
         old relayed address worked again"
            .to_string()
    } else {
        format!(
            "the relayed connection closed {noticed:.1} s after coturn died; A's relayed \
             listener is lost for good (no new allocation; it {} the dead address) and a redial of it failed in {old_failed_in:.1} s ({}); the listening \
             node was restarted (fresh allocation) and B redialed it; messages flowed {:.1} s \
             after coturn was back (3 s of it waiting to see whether rats allocates again)",
            if advertised == old {
                "still advertises"
            } else {
                "no longer advertises"
            },
            old_error,
            after_restart.as_secs_f64()
        )
    };
    fault(
        "turn_server_restart",
        &what,
        recovered,
        "none here (what was queued on the relayed connection when the server died is lost)",
    );
}

/// No STUN server where the configuration says: public address and NAT type fail with a clear
/// error within the retransmission time (no hang), and connecting to a peer still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip and nft (CI runs it with --include-ignored)"]
async fn stun_server_gone() {
    let mut lab = NatLab::new();
    let h = lab.add_host(NatKind::PortRestrictedCone);
    let p = lab.add_host(NatKind::None);
    // Nothing listens on the server host's STUN port.
    let server = format!("{}:{}", lab.server_ip(), natlab::STUN_PORT);
    let args = ["stun-bind".to_string(), server.clone(), "1".into()];
    let mut probe = LabNode::spawn(&lab, h, NATLAB, &args).expect("stun-bind");
    let binding = probe
        .next(Instant::now() + Duration::from_secs(30))
        .await
        .expect("the binding answers within 30 s");
    let error = binding["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{binding}"))
        .to_string();
    let kind = probe
        .next(Instant::now() + Duration::from_secs(60))
        .await
        .expect("NAT type detection answers within 60 s");
    let kind_error = kind["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{kind}"))
        .to_string();
    assert!(
        binding["ms"].as_u64().unwrap_or(u64::MAX) < 20_000,
        "{binding}"
    );

    let peer = Node::start(&lab, p, &[]).await;
    let mut node = Node::start(&lab, h, &["--stun", &server]).await;
    let t = Instant::now();
    let c = node
        .connect(&format!("tcp:{}:7000", lab.public_ip(p)), 20)
        .await;
    assert_eq!(c["event"], "connected", "{c}");
    assert_eq!(c["peer"], peer.id.as_str(), "{c}");
    fault(
        "stun_server_gone",
        &format!(
            "public address failed in {:.1} s ({error:?}), NAT type detection failed in {:.1} s \
             ({kind_error:?}); connecting to a public peer still worked ({:.2} s)",
            binding["ms"].as_u64().unwrap_or_default() as f64 / 1000.0,
            kind["ms"].as_u64().unwrap_or_default() as f64 / 1000.0,
            t.elapsed().as_secs_f64()
        ),
        Duration::from_millis(binding["ms"].as_u64().unwrap_or_default()),
        "none",
    );
}
