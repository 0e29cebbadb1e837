//! The node-wide memory budget against hostile peers that hold almost complete 16 MiB messages
//! open on every channel: 16 connections from one address, then 64 from eight addresses. The
//! listener runs in its own process (`rats-bench listen-child`, default limits) so that its RSS
//! is its own; a well-behaved peer chats with it throughout.

use std::path::Path;

use rats_tests::listen_child::ListenChild;
use rats_tests::memory_attack::{self, AttackPlan, AttackReport};

const MIB: usize = 1 << 20;
/// What a listener holds besides what the budget counts, at the height of an attack with 64
/// live connections: their read buffers, Noise states and tasks (measured: 19 MiB in a release
/// build, 20 MiB in a debug one).
const OVERHEAD_KIB: u64 = 32 * 1024;
/// What may stay after the peers are gone (measured: 1 to 2 MiB in a release build, 6 to 9 MiB
/// in a debug one): large partial messages live in their own mappings, which go straight back
/// to the system, so the allocator keeps little; our own pools keep nothing, as the budget's
/// count of zero shows.
const RETAINED_KIB: u64 = 16 * 1024;

/// Checks a round: its peak against its own starting RSS, what is left against `first_kib`
/// (the listener's RSS before any attack).
fn check(round: &str, r: &AttackReport, first_kib: u64) {
    let defaults = rats::NodeConfig::default();
    let budget_kib = (defaults.memory_budget / 1024) as u64;
    eprintln!("{round}: {r:?}");
    assert!(r.hostile_connected > 0, "{round}: hostile peers connected");
    assert!(
        r.peak_budget_bytes <= defaults.memory_budget,
        "{round}: the budget held {} bytes",
        r.peak_budget_bytes
    );
    assert!(
        r.peak_rss_kib <= r.base_rss_kib + budget_kib + OVERHEAD_KIB,
        "{round}: RSS rose from {} to {} KiB",
        r.base_rss_kib,
        r.peak_rss_kib
    );
    assert!(
        r.after_rss_kib <= first_kib + RETAINED_KIB,
        "{round}: RSS stayed at {} KiB after the peers left (at first {first_kib} KiB)",
        r.after_rss_kib
    );
    assert!(r.echoes >= 10, "{round}: the good peer chatted ({r:?})");
    assert_eq!(r.echoes_missed, 0, "{round}: every line came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_partial_messages_stay_within_the_memory_budget() {
    let bench = Path::new(env!("CARGO_BIN_EXE_rats-bench"));
    let mut child = ListenChild::spawn(bench, &["--default-limits"])
        .await
        .expect("listener starts");
    let one_address = AttackPlan {
        ips: memory_attack::loopback_sources(2, 1),
        per_ip: 16,
        message_bytes: 16 * MIB,
    };
    let first = memory_attack::run(&mut child, &one_address)
        .await
        .expect("first round");
    let base = first.base_rss_kib;
    check("16 connections from one address", &first, base);
    // One address gets at most its share.
    assert!(first.peak_budget_bytes <= rats::NodeConfig::default().memory_per_ip);
    let many_addresses = AttackPlan {
        ips: memory_attack::loopback_sources(3, 8),
        per_ip: 8,
        message_bytes: 16 * MIB,
    };
    let second = memory_attack::run(&mut child, &many_addresses)
        .await
        .expect("second round");
    check("64 connections from 8 addresses", &second, base);
    assert_eq!(
        child.memory_used().await.expect("memory"),
        0,
        "nothing is held once the hostile peers are gone"
    );
    child.quit().await;
}
