//! Helpers shared by the scenarios: starting nodes on loopback, fallible waits with deadlines,
//! latency statistics and the JSON output.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use rats::RatsClient;
use serde::Serialize;

/// A scenario's outcome: `Err` carries the message of the error JSON line.
pub type BenchResult<T = ()> = Result<T, String>;

/// Turns any displayable error into a message with context.
pub fn fail<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Every line printed so far (for the medians over `--rounds`).
static PRINTED: Mutex<Vec<serde_json::Value>> = Mutex::new(Vec::new());

/// Prints one JSON object on its own line on stdout.
pub fn emit(line: &impl Serialize) {
    // Printed in field order (a `Value` would sort the keys); kept as a `Value` for the medians.
    let text = serde_json::to_string(line)
        .unwrap_or_else(|e| format!(r#"{{"error":"cannot serialize result: {e}"}}"#));
    if let (Ok(value), Ok(mut printed)) = (serde_json::to_value(line), PRINTED.lock()) {
        printed.push(value);
    }
    print_line(&text);
}

fn print_line(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (e.g. piped into `head`) is not worth a panic.
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// The error line of a scenario.
#[derive(Serialize)]
pub struct ErrorLine<'a> {
    pub scenario: &'a str,
    pub error: String,
}

/// Starts a node listening on 127.0.0.1 (any free port), default configuration otherwise.
pub async fn start_listener() -> BenchResult<RatsClient> {
    RatsClient::builder()
        .local_only()
        .listen("tcp:127.0.0.1:0")
        .map_err(fail("listen address"))?
        .start()
        .await
        .map_err(fail("start listener"))
}

/// Starts a node that does not listen (outbound connections only).
pub async fn start_dialer() -> BenchResult<RatsClient> {
    RatsClient::builder()
        .local_only()
        .no_listen()
        .start()
        .await
        .map_err(fail("start dialer"))
}

/// The first listen address of a node, as a string for `connect`.
pub fn addr_of(c: &RatsClient) -> BenchResult<String> {
    c.listen_addrs()
        .first()
        .map(ToString::to_string)
        .ok_or_else(|| "node has no listen address".to_string())
}

/// Connects `from` to `addr` with a deadline.
pub async fn connect(from: &RatsClient, addr: &str, limit: Duration) -> BenchResult<rats::PeerId> {
    tokio::time::timeout(limit, from.connect(addr))
        .await
        .map_err(|_| format!("connect to {addr} timed out after {limit:?}"))?
        .map_err(fail("connect"))
}

/// Starts a listener and a dialer; if the dialer fails, the listener is shut down again.
pub async fn start_pair() -> BenchResult<(RatsClient, RatsClient)> {
    let listener = start_listener().await?;
    match start_dialer().await {
        Ok(dialer) => Ok((listener, dialer)),
        Err(e) => {
            shutdown_all(&[listener]).await;
            Err(e)
        }
    }
}

/// Connects `from` to `to` and waits until `to` has registered the connection too.
pub async fn connect_pair(from: &RatsClient, to: &RatsClient) -> BenchResult<rats::PeerId> {
    let peer = connect(from, &addr_of(to)?, Duration::from_secs(10)).await?;
    wait_for(
        Duration::from_secs(10),
        "the other side to register the peer",
        || to.peer_count() == 1,
    )
    .await?;
    Ok(peer)
}

/// Polls `cond` every millisecond until it holds; fails with `what` after `limit`.
pub async fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) -> BenchResult {
    let deadline = tokio::time::Instant::now() + limit;
    while !cond() {
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("timed out after {limit:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

/// Shuts nodes down concurrently; gives up waiting after a few seconds.
pub async fn shutdown_all(clients: &[RatsClient]) {
    let all = futures::future::join_all(clients.iter().map(RatsClient::shutdown));
    let _ = tokio::time::timeout(Duration::from_secs(15), all).await;
}

/// Latency figures in microseconds.
#[derive(Serialize, Debug, Clone, Copy)]
pub struct Latency {
    pub samples: usize,
    pub median_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
    pub min_us: f64,
    pub max_us: f64,
}

/// Median, 99th percentile (nearest rank), mean, min and max of `samples`.
pub fn latency(samples: &mut [Duration]) -> BenchResult<Latency> {
    if samples.is_empty() {
        return Err("no samples".into());
    }
    samples.sort_unstable();
    let us = |d: Duration| round1(d.as_secs_f64() * 1e6);
    let rank = |p: f64| {
        let idx = (p * samples.len() as f64).ceil() as usize;
        samples[idx.clamp(1, samples.len()) - 1]
    };
    let total: f64 = samples.iter().map(Duration::as_secs_f64).sum();
    Ok(Latency {
        samples: samples.len(),
        median_us: us(rank(0.5)),
        p99_us: us(rank(0.99)),
        mean_us: round1(total / samples.len() as f64 * 1e6),
        min_us: us(samples[0]),
        max_us: us(samples[samples.len() - 1]),
    })
}

/// Rounds to one decimal.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// `a / b` rounded to three decimals (0 when `b` is 0): rats' figure against plain TCP's.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        return 0.0;
    }
    (a / b * 1000.0).round() / 1000.0
}

/// Bytes per second expressed in MiB/s.
pub fn mib_per_s(bytes: u64, elapsed: Duration) -> f64 {
    round1(bytes as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64().max(1e-9))
}

/// How many lines have been printed so far: `main` marks where each round starts.
pub fn printed_count() -> usize {
    PRINTED.lock().map(|p| p.len()).unwrap_or(0)
}

/// After several rounds of the same scenario (`starts[r]` = lines printed before round `r`):
/// for each line position within a round, one line with the median of every figure across the
/// rounds, marked `"median_of": rounds`. A position where some round printed an error or
/// another scenario gets no median line.
pub fn print_medians(starts: &[usize]) {
    let printed = match PRINTED.lock() {
        Ok(p) => p.clone(),
        Err(_) => return,
    };
    if starts.len() < 2 {
        return;
    }
    let rounds: Vec<&[serde_json::Value]> = starts
        .iter()
        .enumerate()
        .map(|(r, &from)| {
            let to = starts.get(r + 1).copied().unwrap_or(printed.len());
            &printed[from.min(to)..to]
        })
        .collect();
    let positions = rounds.iter().map(|r| r.len()).min().unwrap_or(0);
    for pos in 0..positions {
        let lines: Vec<serde_json::Value> = rounds.iter().map(|r| r[pos].clone()).collect();
        let scenario = lines[0].get("scenario");
        // Error lines have no figures; lines of different scenarios do not mix.
        if lines
            .iter()
            .any(|l| l.get("error").is_some() || l.get("scenario") != scenario)
        {
            continue;
        }
        let mut median = median_value(&lines);
        if let Some(obj) = median.as_object_mut() {
            obj.insert("median_of".into(), lines.len().into());
        }
        print_line(&median.to_string());
    }
}

/// The median of each number across `values` (which share one shape), recursively.
fn median_value(values: &[serde_json::Value]) -> serde_json::Value {
    use serde_json::Value;
    match &values[0] {
        Value::Number(_) => {
            let mut nums: Vec<f64> = values.iter().filter_map(Value::as_f64).collect();
            if nums.is_empty() {
                return values[0].clone();
            }
            nums.sort_by(f64::total_cmp);
            let mid = nums.len() / 2;
            let m = if nums.len() % 2 == 1 {
                nums[mid]
            } else {
                (nums[mid - 1] + nums[mid]) / 2.0
            };
            // Counts stay integers when the median is one.
            if values.iter().all(|v| v.is_u64()) && m.fract() == 0.0 {
                return serde_json::json!(m as u64);
            }
            serde_json::json!((m * 1000.0).round() / 1000.0)
        }
        Value::Object(first) => {
            let mut out = serde_json::Map::new();
            for key in first.keys() {
                let column: Vec<Value> =
                    values.iter().filter_map(|v| v.get(key).cloned()).collect();
                out.insert(key.clone(), median_value(&column));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}
