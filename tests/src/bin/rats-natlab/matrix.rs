//! The connectivity matrix: every pair of NAT kinds, each in a fresh lab.

use std::time::{Duration, Instant};

use rats_tests::natlab::{self, LabNode, NatKind, NatLab};
use serde_json::{Value, json};

/// The kinds in the matrix, with their names in the output.
const KINDS: [(NatKind, &str); 4] = [
    (NatKind::None, "public"),
    (NatKind::FullCone, "full_cone"),
    (NatKind::PortRestrictedCone, "port_restricted"),
    (NatKind::Symmetric, "symmetric"),
];
/// Connection methods that are direct paths.
const DIRECT: [&str; 4] = ["direct", "mapped", "punched-udp", "punched-tcp"];
/// How long a pair may take to connect at all.
const CONNECT_LIMIT: Duration = Duration::from_secs(20);
/// How long a pair that should go direct may take to get there.
const DIRECT_LIMIT: Duration = Duration::from_secs(20);
/// How long a relayed pair is watched after connecting (covers the first punch round), to see
/// that it stays connected.
const RELAY_WATCH: Duration = Duration::from_secs(5);

/// Whether physics allows a direct path between the two kinds: not when one side maps per
/// destination and the other filters by port (or maps per destination too).
fn punchable(a: NatKind, b: NatKind) -> bool {
    let hard = |k: NatKind| matches!(k, NatKind::PortRestrictedCone | NatKind::Symmetric);
    !((a == NatKind::Symmetric && hard(b)) || (b == NatKind::Symmetric && hard(a)))
}

/// The outcome of one pair.
struct PairResult {
    line: Value,
    connected: bool,
    direct: bool,
    direct_expected: bool,
    ms_to_direct: Option<f64>,
    ms_to_first_message: Option<f64>,
    /// Both sides are behind NATs.
    natted: bool,
    ok: bool,
}

async fn run_pair(ka: (NatKind, &str), kb: (NatKind, &str)) -> Result<PairResult, String> {
    let mut lab = NatLab::try_new()?;
    let r = lab.add_host(NatKind::None);
    let a = lab.add_host(ka.0);
    let b = lab.add_host(kb.0);
    let coturn = natlab::start_coturn(&lab, None).await;
    let server = coturn.addr().to_string();
    let base = [
        "node".to_string(),
        "--stun".into(),
        server.clone(),
        "--turn".into(),
        server,
    ];
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let exe = exe.to_str().ok_or("non-UTF-8 executable path")?;
    let mut rendezvous = LabNode::spawn(&lab, r, exe, &base)?;
    rendezvous.ready().await?;
    let meet = format!("tcp:{}:7000", lab.public_ip(r));
    let with = |extra: &[&str]| -> Vec<String> {
        let mut v = base.to_vec();
        v.extend(["--listen-turn", "--rendezvous", &meet].map(String::from));
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let mut node_a = LabNode::spawn(&lab, a, exe, &with(&[]))?;
    let a_id = node_a.ready().await?["peer_id"].clone();
    let mut node_b = LabNode::spawn(&lab, b, exe, &with(&["--greet"]))?;
    let b_id = node_b.ready().await?["peer_id"].clone();
    // The clock starts when B is connected to the rendezvous, which tells it about A.
    let start = Instant::now();
    let direct_expected = punchable(ka.0, kb.0);
    let mut first_message: Option<f64> = None;
    let mut to_direct: Option<f64> = None;
    let mut method: Option<String> = None;
    let mut attempts: Vec<Value> = Vec::new();
    let ms = || start.elapsed().as_secs_f64() * 1e3;
    let mut deadline = start + CONNECT_LIMIT;
    loop {
        tokio::select! {
            v = node_a.next(deadline) => match v {
                Some(v) if v["event"] == "message" && v["from"] == b_id => {
                    first_message.get_or_insert_with(ms);
                }
                Some(_) => {}
                None => break,
            },
            v = node_b.next(deadline) => match v {
                Some(v) if v["event"] == "peer" && v["peer"] == a_id => {
                    let m = v["method"].as_str().unwrap_or_default().to_string();
                    if DIRECT.contains(&m.as_str()) {
                        to_direct.get_or_insert_with(ms);
                    }
                    method = Some(m);
                }
                Some(v) if v["event"] == "attempt" => attempts.push(v),
                Some(_) => {}
                None => break,
            },
        }
        if let Some(t) = first_message {
            let settled = if direct_expected {
                to_direct.is_some()
            } else {
                false
            };
            if settled {
                break;
            }
            let watch = if direct_expected {
                DIRECT_LIMIT
            } else {
                RELAY_WATCH
            };
            deadline = deadline.min(start + Duration::from_secs_f64(t / 1e3) + watch);
        }
    }
    let connected = first_message.is_some() && method.is_some();
    let direct = method.as_deref().is_some_and(|m| DIRECT.contains(&m));
    let ok = connected && direct == direct_expected;
    let line = json!({
        "a": ka.1,
        "b": kb.1,
        "method": method,
        "expected": if direct_expected { "direct" } else { "relay" },
        "ms_to_first_message": first_message,
        "ms_to_direct": to_direct,
        "ok": ok,
        "attempts": if ok { Value::Null } else { Value::from(attempts) },
    });
    Ok(PairResult {
        line,
        connected,
        direct,
        direct_expected,
        ms_to_direct: to_direct,
        ms_to_first_message: first_message,
        natted: ka.0 != NatKind::None && kb.0 != NatKind::None,
        ok,
    })
}

/// Runs the whole matrix; 0 when every pair ended as expected.
pub(crate) async fn run() -> i32 {
    if !natlab::coturn_installed() {
        eprintln!("coturn (turnserver) is not installed");
        return 2;
    }
    let mut results = Vec::new();
    for (i, ka) in KINDS.iter().enumerate() {
        for kb in &KINDS[i..] {
            match run_pair(*ka, *kb).await {
                Ok(r) => {
                    println!("{}", r.line);
                    results.push(r);
                }
                Err(e) => {
                    println!("{}", json!({"a": ka.1, "b": kb.1, "error": e}));
                    return 2;
                }
            }
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    let natted = || results.iter().filter(|r| r.natted);
    let first_natted = median(natted().filter_map(|r| r.ms_to_first_message).collect());
    let direct_natted = median(natted().filter_map(|r| r.ms_to_direct).collect());
    let median_direct = median(results.iter().filter_map(|r| r.ms_to_direct).collect());
    let count = |f: fn(&PairResult) -> bool| results.iter().filter(|r| f(r)).count();
    println!(
        "{}",
        json!({
            "scenario": "matrix",
            "pairs": results.len(),
            "connected": count(|r| r.connected),
            "direct": count(|r| r.direct),
            "direct_expected": count(|r| r.direct_expected),
            "median_direct_ms": median_direct,
            "natted_median_first_message_ms": first_natted,
            "natted_median_direct_ms": direct_natted,
            "all_as_expected": results.iter().all(|r| r.ok),
        })
    );
    if results.iter().all(|r| r.ok) { 0 } else { 1 }
}
