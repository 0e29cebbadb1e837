//! A link that goes down in the middle of a file transfer and a gossip run (issue 19, section
//! 3): every packet to and from the receiver's link is dropped on the lab's bridge
//! (`NatLab::link_down`) for 5 s, or for 60 s, while B sends A a rate-limited file; during the
//! outage B publishes on a topic both subscribe to and sends messages. The tests assert what
//! rats does and print one `FAULT` line each.
//!
//! - 5 s: the connection survives (keepalive 20 s, idle timeout 60 s, write timeout 30 s are
//!   all longer), TCP retransmits, the transfer completes with the right hash, messages and
//!   gossip sent during the outage arrive after it.
//! - 60 s: the sender's write timeout (30 s) closes the connection; the peer store redials the
//!   dropped peer with backoff, the connection is back soon after the link, and the transfer,
//!   waiting for the peer, resumes from the receiver's verified prefix to the right hash.
//!
//! Needs root, `ip` and `nft`: `#[ignore]`d by default, run with
//! `cargo test -p rats-tests --test faults_link -- --include-ignored --nocapture`.

mod faults_common;

use std::time::{Duration, Instant};

use faults_common::{Node, fault, in_order, now_ms, payload, secs_since};
use rats_tests::natlab::{HostId, NatKind, NatLab};
use serde_json::{Value, json};

/// File size and the rate limit on A's link that makes it take several seconds.
const FILE_SIZE: usize = 8 << 20;
const RATE_KBYTES: u32 = 1_000;
/// Messages sent and gossip published while the link is down.
const MESSAGES: usize = 20;
const GOSSIP: usize = 5;

struct Setup {
    lab: NatLab,
    ha: HostId,
    a: Node,
    b: Node,
    want: Value,
}

/// Two public hosts, both subscribed to "t", B connected to A and in A's mesh (a probe
/// published by B arrived), A's link limited to `RATE_KBYTES`.
async fn setup() -> Setup {
    let mut lab = NatLab::new();
    let ha = lab.add_host(NatKind::None);
    let hb = lab.add_host(NatKind::None);
    let recv = lab.dir().join("received");
    let recv_arg = recv.to_str().expect("utf-8").to_string();
    let mut a = Node::start(&lab, ha, &["--recv", &recv_arg]).await;
    let mut b = Node::start(&lab, hb, &[]).await;
    for n in [&mut a, &mut b] {
        n.cmd("subscribe t").await;
        let s = n
            .wait(10, "subscribed", |v| v["event"] == "subscribed")
            .await;
        assert!(s["error"].is_null(), "{s}");
    }
    let c = b
        .connect(&format!("tcp:{}:7000", lab.public_ip(ha)), 20)
        .await;
    assert_eq!(c["event"], "connected", "{c}");
    // The mesh forms at the next heartbeat: publish probes until one arrives.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut k = 0;
    loop {
        b.cmd(&format!("publish t probe{k}")).await;
        k += 1;
        let until = Instant::now() + Duration::from_millis(500);
        if a.wait_opt(until, |v| v["event"] == "gossip")
            .await
            .is_some()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "gossip never reached A: {:?}",
            b.seen
        );
    }
    lab.set_rate_limit(ha, Some(RATE_KBYTES));
    let file = lab.dir().join("payload.bin");
    let want = json!([["payload.bin", payload(&file, FILE_SIZE, 7)]]);
    b.cmd(&format!("send {} {}", a.id, file.display())).await;
    Setup {
        lab,
        ha,
        a,
        b,
        want,
    }
}

/// During the outage: `MESSAGES` messages tagged `tag` and `GOSSIP` publications
/// `<tag>-g<i>`, one every 200 ms.
async fn send_during_outage(b: &mut Node, a_id: &str, tag: &str) -> Value {
    for i in 0..GOSSIP {
        b.cmd(&format!("publish t {tag}-g{i}")).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.cmd(&format!("msgs {a_id} {MESSAGES} {tag}")).await;
    b.wait(120, "msgs_sent", |v| v["event"] == "msgs_sent")
        .await
}

/// Gossip texts `<tag>-g*` A received so far (taken out of `seen`).
fn gossip_received(a: &mut Node, tag: &str) -> Vec<String> {
    let prefix = format!("{tag}-g");
    a.seen
        .iter()
        .filter(|v| v["event"] == "gossip")
        .filter_map(|v| v["text"].as_str())
        .filter(|t| t.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip and nft (CI runs it with --include-ignored)"]
async fn link_down_5s_during_a_transfer_and_gossip() {
    let Setup {
        lab,
        ha,
        mut a,
        mut b,
        want,
    } = setup().await;
    // Let the file start moving, then pull the cable.
    tokio::time::sleep(Duration::from_secs(2)).await;
    lab.link_down(ha);
    let down = Instant::now();
    // Sending during the outage: queued (the connection is up as far as rats knows).
    let publishes = async {
        for i in 0..GOSSIP {
            b.cmd(&format!("publish t down5-g{i}")).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        b.cmd(&format!("msgs {} {MESSAGES} down5", a.id)).await;
    };
    publishes.await;
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(down.elapsed())).await;
    lab.link_up(ha);
    let up = Instant::now();
    let msgs = b.wait(60, "msgs_sent", |v| v["event"] == "msgs_sent").await;
    assert_eq!(
        msgs["sent"], MESSAGES,
        "sends during a short outage are queued: {msgs}"
    );
    let got = a.messages(&b.id, "down5", MESSAGES, 60).await;
    let first_after = up.elapsed();
    assert_eq!(
        got,
        in_order("down5", MESSAGES),
        "messages sent while down arrive in order"
    );
    let sent = b
        .wait(90, "the transfer's end", |v| v["event"] == "sent")
        .await;
    assert_eq!(sent["ok"], true, "{sent}");
    let done = up.elapsed();
    a.drain(Instant::now() + Duration::from_secs(1)).await;
    let gossip = gossip_received(&mut a, "down5");
    let gone = a
        .seen
        .iter()
        .chain(&b.seen)
        .find(|v| v["event"] == "gone")
        .cloned();
    assert!(
        gone.is_none(),
        "the connection survives a 5 s outage: {gone:?}"
    );
    assert_eq!(
        gossip,
        (0..GOSSIP)
            .map(|i| format!("down5-g{i}"))
            .collect::<Vec<_>>(),
        "gossip published during the outage arrives"
    );
    lab.set_rate_limit(ha, None);
    let files = a.quit_with_files().await;
    assert_eq!(files, want, "the file arrived intact");
    fault(
        "link_down_5s",
        &format!(
            "connection kept (TCP retransmits); {MESSAGES} messages and {GOSSIP} gossip sent \
             while down were queued and arrived in order {:.1} s after the link came back; \
             8 MiB transfer completed (hash checked) {:.1} s after",
            first_after.as_secs_f64(),
            done.as_secs_f64()
        ),
        first_after,
        "none",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip and nft (CI runs it with --include-ignored)"]
async fn link_down_60s_during_a_transfer_and_gossip() {
    let Setup {
        lab,
        ha,
        mut a,
        mut b,
        want,
    } = setup().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    lab.link_down(ha);
    let down = Instant::now();
    let down_ms = now_ms();
    let msgs = send_during_outage(&mut b, &a.id.clone(), "down60").await;
    // Who notices, and when.
    let gone_b = b
        .wait(70, "B dropping the connection", |v| v["event"] == "gone")
        .await;
    let b_noticed = secs_since(down_ms, &gone_b);
    let reason = b
        .wait(5, "B's disconnect reason", |v| v["event"] == "disconnected")
        .await;
    b.cmd(&format!("msgs {} 1 whiledisconnected", a.id)).await;
    let refused = b.wait(10, "msgs_sent", |v| v["event"] == "msgs_sent").await;
    assert_eq!(
        refused["sent"], 0,
        "sending to a gone peer fails: {refused}"
    );
    tokio::time::sleep(Duration::from_secs(60).saturating_sub(down.elapsed())).await;
    lab.link_up(ha);
    let up = Instant::now();
    let up_ms = now_ms();
    // The peer store redials a peer whose connection dropped (with backoff): B is back with A
    // by itself once the link is up again (a "peer" line after B saw A go, not the first one).
    let gone_at = gone_b["at_ms"].as_u64().unwrap_or(u64::MAX);
    let back = b
        .wait(120, "B reconnected to A by itself", |v| {
            v["event"] == "peer"
                && v["peer"] == a.id.as_str()
                && v["at_ms"].as_u64().is_some_and(|t| t > gone_at)
        })
        .await;
    let reconnected_after_up = secs_since(up_ms, &back);
    let sent = b
        .wait(120, "the transfer's end", |v| v["event"] == "sent")
        .await;
    assert_eq!(
        sent["ok"], true,
        "the transfer resumed and completed: {sent}"
    );
    let done = up.elapsed();
    b.cmd(&format!("msgs {} 5 after60", a.id)).await;
    let got = a.messages(&b.id, "after60", 5, 30).await;
    assert_eq!(
        got,
        in_order("after60", 5),
        "messages flow after the reconnect"
    );
    a.drain(Instant::now() + Duration::from_secs(1)).await;
    let gossip = gossip_received(&mut a, "down60");
    let during = a.take_messages(&b.id, "down60");
    lab.set_rate_limit(ha, None);
    let a_noticed = a
        .seen
        .iter()
        .find(|v| v["event"] == "disconnected" && v["peer"] == b.id.as_str())
        .map(|v| format!("A after {:.1} s ({})", secs_since(down_ms, v), v["reason"]))
        .unwrap_or_else(|| "A never saw it drop".into());
    let files = a.quit_with_files().await;
    assert_eq!(files, want, "the file arrived intact");
    fault(
        "link_down_60s",
        &format!(
            "B dropped the connection after {:.1} s ({}), {a_noticed}; {} of {MESSAGES} messages sent while \
             down were accepted by send and {} arrived; {} of {GOSSIP} gossip published while \
             down arrived; sends after the drop fail at once ({}); rats redialed by itself \
             (peer store, backoff) and was connected {:.1} s after the link came back; the \
             transfer resumed and completed (hash checked) {:.1} s after",
            b_noticed,
            reason["reason"],
            msgs["sent"],
            during.len(),
            gossip.len(),
            refused["errors"][0],
            reconnected_after_up,
            done.as_secs_f64()
        ),
        done,
        &format!(
            "none of the file; {} message(s) and {} gossip sent during the outage",
            MESSAGES - during.len(),
            GOSSIP - gossip.len()
        ),
    );
}
