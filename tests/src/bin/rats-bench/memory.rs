//! `memory-attack`: hostile peers hold almost complete messages open on every channel of a
//! listener in its own process, from one address, then from several; prints the listener's
//! RSS before, at the peak and after, against its memory budget.

use serde::Serialize;

use crate::common::{BenchResult, emit};
use rats_tests::memory_attack::{self, AttackPlan, AttackReport};

#[derive(Serialize)]
struct MemoryLine {
    scenario: &'static str,
    round: String,
    connections: usize,
    addresses: usize,
    /// The listener's memory budget (its default).
    budget_mib: usize,
    #[serde(flatten)]
    report: AttackReport,
}

/// Both rounds: `one_ip` connections from 127.0.0.2, then `per_ip` from each of `ips`
/// addresses (127.0.0.3 on), each declaring `mib`-MiB messages. A fresh listener per round.
pub async fn run(one_ip: usize, ips: usize, per_ip: usize, mib: usize) -> BenchResult {
    let rounds = [
        (memory_attack::loopback_sources(2, 1), one_ip),
        (memory_attack::loopback_sources(3, ips), per_ip),
    ];
    for (sources, per) in rounds {
        let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
        let mut child =
            rats_tests::listen_child::ListenChild::spawn(&exe, &["--default-limits"]).await?;
        let plan = AttackPlan {
            ips: sources.clone(),
            per_ip: per,
            message_bytes: mib << 20,
        };
        let report = memory_attack::run(&mut child, &plan).await;
        child.quit().await;
        let report = report?;
        emit(&MemoryLine {
            scenario: "memory-attack",
            round: format!("{} from {} address(es)", per * sources.len(), sources.len()),
            connections: per * sources.len(),
            addresses: sources.len(),
            budget_mib: rats::NodeConfig::default().memory_budget >> 20,
            report,
        });
    }
    Ok(())
}
