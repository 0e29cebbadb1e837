//! mDNS between `rats` processes and against python-zeroconf, inside a private network lab:
//! network namespaces joined by a bridge, created and deleted by each test (root needed; CI is
//! root). Nothing here multicasts in the machine's own namespace.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Rats;
use common::netns::Lab;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

const SERVICE: &str = "_rats._tcp.local.";

/// python-zeroconf in a lab host (tests/peers/zeroconf_peer.py).
struct Zeroconf {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Zeroconf {
    fn start(lab: &Lab, host: usize, args: &[&str]) -> Zeroconf {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/peers/zeroconf_peer.py"
        );
        let mut child = lab
            .command(host, "python3")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start zeroconf_peer.py");
        let stdin = child.stdin.take().expect("stdin");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Zeroconf {
            child,
            stdin,
            lines,
        }
    }

    /// The next line whose event is `kind` and that `pick` accepts.
    async fn expect(&mut self, kind: &str, secs: u64, pick: impl Fn(&Value) -> bool) -> Value {
        let fut = async {
            loop {
                let line = self
                    .lines
                    .next_line()
                    .await
                    .expect("read")
                    .unwrap_or_else(|| panic!("zeroconf_peer exited before {kind}"));
                let v: Value = serde_json::from_str(&line).expect("json");
                if v["event"] == kind && pick(&v) {
                    return v;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(secs), fut)
            .await
            .unwrap_or_else(|_| panic!("no {kind} from zeroconf in {secs}s"))
    }

    async fn quit(mut self) {
        let _ = self.stdin.write_all(b"quit\n").await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// Panics unless python-zeroconf is installed (the tests that need it are `#[ignore]`d).
fn require_zeroconf() {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import zeroconf"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 zeroconf module missing (python3 -m pip install zeroconf); this test needs it \
         (it is #[ignore]d by default)"
    );
}

/// A fresh data directory for one tool (removed first if an earlier run left it).
fn data_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rats-mdns-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Reads `rats` events until each of `wanted` has matched one (in any order); returns the
/// matches in the order of `wanted`.
async fn rats_events(r: &mut Rats, secs: u64, wanted: &[&dyn Fn(&Value) -> bool]) -> Vec<Value> {
    let mut got: Vec<Option<Value>> = vec![None; wanted.len()];
    let fut = async {
        while got.iter().any(Option::is_none) {
            let v = r.next_event().await;
            for (i, w) in wanted.iter().enumerate() {
                if got[i].is_none() && w(&v) {
                    got[i] = Some(v.clone());
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .unwrap_or_else(|_| panic!("not all expected rats events in {secs}s"));
    got.into_iter().flatten().collect()
}

/// Reads `rats` events until one matches.
async fn rats_event(r: &mut Rats, secs: u64, pick: impl Fn(&Value) -> bool) -> Value {
    let fut = async {
        loop {
            let v = r.next_event().await;
            if pick(&v) {
                return v;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .unwrap_or_else(|_| panic!("no matching rats event in {secs}s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and ip (CI runs it with --include-ignored)"]
async fn two_tools_on_a_lan_find_each_other_with_no_arguments() {
    let lab = Lab::new(2);
    let mut a = Rats::spawn_in(&lab, 0, &data_dir("a1"), &[]);
    let a_started = a.expect("started").await;
    let mut b = Rats::spawn_in(&lab, 1, &data_dir("b1"), &[]);
    let b_started = b.expect("started").await;
    // A hears of B through mDNS at B's IPv4 and IPv6 (unique-local) lab addresses, and they
    // connect (whoever dials first).
    let b_id = b_started["peer_id"].clone();
    let discovered_at = |v: &Value, addr: &str| {
        v["event"] == "peer_discovered"
            && v["peer_id"] == b_id
            && v["source"] == "mdns"
            && v["addr"] == addr
    };
    let v4 = format!("tcp:{}:7878", lab.ip(1));
    let v6 = format!("tcp:[{}]:7878", lab.ip6(1));
    rats_events(
        &mut a,
        20,
        &[
            &|v| discovered_at(v, &v4),
            &|v| discovered_at(v, &v6),
            &|v| v["event"] == "peer_connected" && v["peer_id"] == b_id,
        ],
    )
    .await;
    rats_event(&mut b, 20, |v| {
        v["event"] == "peer_connected" && v["peer_id"] == a_started["peer_id"]
    })
    .await;
    Rats::quit_both(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and ip (CI runs it with --include-ignored)"]
async fn stopping_says_goodbye_and_the_peer_is_lost_at_once() {
    let lab = Lab::new(2);
    let mut a = Rats::spawn_in(&lab, 0, &data_dir("a2"), &[]);
    a.expect("started").await;
    let mut b = Rats::spawn_in(&lab, 1, &data_dir("b2"), &[]);
    let b_id = b.expect("started").await["peer_id"].clone();
    rats_events(
        &mut a,
        20,
        &[
            &|v| v["event"] == "peer_discovered" && v["peer_id"] == b_id,
            &|v| v["event"] == "peer_connected" && v["peer_id"] == b_id,
        ],
    )
    .await;
    // B stops mDNS but keeps running (and connected): only the goodbye can tell A.
    b.send("mdns stop").await;
    let stopped = Instant::now();
    assert_eq!(b.expect("mdns").await["running"], false);
    let lost = rats_event(&mut a, 5, |v| {
        v["event"] == "peer_lost" && v["peer_id"] == b_id
    })
    .await;
    assert_eq!(lost["source"], "mdns");
    assert!(
        stopped.elapsed() < Duration::from_secs(3),
        "lost after {:?}",
        stopped.elapsed()
    );
    // Started again, B is found again.
    b.send("mdns start").await;
    assert_eq!(b.expect("mdns").await["running"], true);
    a.send("mdns query").await;
    rats_event(&mut a, 20, |v| {
        v["event"] == "peer_discovered" && v["peer_id"] == b_id && v["source"] == "mdns"
    })
    .await;
    Rats::quit_both(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip and python3 zeroconf (CI runs it with --include-ignored)"]
async fn zeroconf_sees_our_service_and_its_txt_record() {
    require_zeroconf();
    let lab = Lab::new(2);
    let mut a = Rats::spawn_in(&lab, 0, &data_dir("a3"), &["--port", "7001"]);
    let started = a.expect("started").await;
    let mut zc = Zeroconf::start(&lab, 1, &["browse", SERVICE, "--secs", "60"]);
    zc.expect("ready", 20, |_| true).await;
    let found = zc
        .expect("found", 20, |v| v["properties"]["id"] == started["peer_id"])
        .await;
    assert_eq!(found["port"], 7001, "{found}");
    assert_eq!(found["properties"]["port"], "7001");
    assert_eq!(found["properties"]["v"], "1.0");
    assert_eq!(found["properties"]["proto"], "rats");
    let addrs: Vec<&str> = found["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(addrs.contains(&"10.77.0.1"), "{found}");
    // Quitting sends goodbye records: zeroconf sees the service removed.
    let name = found["name"].as_str().expect("name").to_string();
    a.quit().await;
    zc.expect("removed", 5, |v| v["name"] == name.as_str())
        .await;
    zc.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip and python3 zeroconf (CI runs it with --include-ignored)"]
async fn a_service_published_by_zeroconf_is_discovered_and_lost() {
    require_zeroconf();
    let lab = Lab::new(2);
    let mut a = Rats::spawn_in(&lab, 0, &data_dir("a4"), &[]);
    a.expect("started").await;
    // Someone else's node of our type: a valid peer id, nothing listening at the port.
    let other = rats::Identity::generate().peer_id().to_string();
    let id_kv = format!("id={other}");
    let mut zc = Zeroconf::start(
        &lab,
        1,
        &[
            "publish",
            SERVICE,
            "foreign",
            "9999",
            &id_kv,
            "v=1.0",
            "proto=rats",
            "port=9999",
        ],
    );
    zc.expect("published", 20, |_| true).await;
    let found = rats_event(&mut a, 20, |v| {
        v["event"] == "peer_discovered" && v["peer_id"] == other.as_str()
    })
    .await;
    assert_eq!(found["source"], "mdns");
    assert_eq!(found["addr"], "tcp:10.77.0.2:9999");
    zc.quit().await;
    rats_event(&mut a, 5, |v| {
        v["event"] == "peer_lost" && v["peer_id"] == other.as_str()
    })
    .await;
    a.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip and python3 zeroconf (CI runs it with --include-ignored)"]
async fn malformed_mdns_packets_are_ignored() {
    require_zeroconf();
    let lab = Lab::new(3);
    let mut a = Rats::spawn_in(&lab, 0, &data_dir("a5"), &[]);
    let a_id = a.expect("started").await["peer_id"].clone();
    // Truncated packets, compression loops, huge counts, bad labels, random bytes: multicast
    // and unicast to A.
    let mut garbage = Zeroconf::start(&lab, 1, &["garbage", "10.77.0.1"]);
    let sent = garbage.expect("sent", 60, |_| true).await;
    assert!(sent["count"].as_u64().is_some_and(|n| n > 100), "{sent}");
    // A is alive, still answers, and a newcomer still finds and connects to it.
    a.send("mdns").await;
    let status = a.expect("mdns").await;
    assert_eq!(status["running"], true);
    let mut c = Rats::spawn_in(&lab, 2, &data_dir("c5"), &[]);
    c.expect("started").await;
    rats_event(&mut c, 20, |v| {
        v["event"] == "peer_connected" && v["peer_id"] == a_id
    })
    .await;
    // The garbage described an instance with an invalid peer id: never dialed. A ends up with
    // exactly one peer, C (asked until the connection has settled on A's side too).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        a.send("peers").await;
        let peers = a.expect("peers").await;
        let list = peers["peers"].as_array().cloned().unwrap_or_default();
        if list.len() == 1 {
            break;
        }
        assert!(list.len() < 2, "{peers}");
        assert!(Instant::now() < deadline, "A never listed C: {peers}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Rats::quit_both(a, c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and ip (CI runs it with --include-ignored)"]
async fn an_interface_that_comes_up_later_is_used() {
    let lab = Lab::new(2);
    let ip_link = |state: &str| {
        let ok = std::process::Command::new("ip")
            .args(["-n", lab.ns(0), "link", "set", "eth0", state])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "ip link set eth0 {state}");
    };
    // A starts with its LAN interface down, checking interfaces every second.
    ip_link("down");
    let dir = data_dir("a6");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("config.json"),
        r#"{"mdns": {"interface_check_secs": 1}}"#,
    )
    .expect("config");
    let mut a = Rats::spawn_in(&lab, 0, &dir, &[]);
    let a_id = a.expect("started").await["peer_id"].clone();
    let mut b = Rats::spawn_in(&lab, 1, &data_dir("b6"), &[]);
    b.expect("started").await;
    // Nothing to be found while the interface is down.
    let quiet = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            let v = b.next_event().await;
            assert!(
                !(v["event"] == "peer_discovered" && v["peer_id"] == a_id),
                "found A with its interface down: {v}"
            );
        }
    })
    .await;
    assert!(quiet.is_err());
    // Up it comes: A advertises on it and B finds A without being told.
    ip_link("up");
    b.send("mdns query").await;
    let seen = rats_events(
        &mut b,
        20,
        &[&|v| v["event"] == "peer_discovered" && v["peer_id"] == a_id && v["source"] == "mdns"],
    )
    .await;
    assert!(
        seen[0]["addr"]
            .as_str()
            .is_some_and(|s| s.contains("10.77.0.1")),
        "{}",
        seen[0]
    );
    Rats::quit_both(a, b).await;
}
