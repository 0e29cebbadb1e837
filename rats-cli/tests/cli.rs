//! The `rats` tool as users and scripts drive it: two processes on one machine, piped stdin,
//! `--json` events on stdout.

use std::time::Duration;

mod common;

use common::{Rats, free_port, port_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_machine_chat_with_piped_stdin() {
    let dir = std::env::temp_dir().join(format!("rats-cli-{}", std::process::id()));
    // Both on the default data directory and default port: the second must get its own
    // identity and, if the first holds the default port, a free port.
    let mut a = Rats::spawn_default_dir(&dir, &[]);
    let a_started = a.expect("started").await;
    let mut b = Rats::spawn_default_dir(&dir, &[]);
    let b_started = b.expect("started").await;
    assert_ne!(
        a_started["peer_id"], b_started["peer_id"],
        "distinct identities"
    );
    assert_ne!(
        a_started["data_dir"], b_started["data_dir"],
        "distinct data dirs"
    );
    assert_ne!(port_of(&a_started), port_of(&b_started), "distinct ports");

    b.send(&format!("connect 127.0.0.1:{}", port_of(&a_started)))
        .await;
    let on_b = b.expect("peer_connected").await;
    assert_eq!(on_b["peer_id"], a_started["peer_id"]);
    let on_a = a.expect("peer_connected").await;
    assert_eq!(on_a["peer_id"], b_started["peer_id"]);

    b.send("hello from b").await;
    let msg = a.expect("message").await;
    assert_eq!(msg["text"], "hello from b");
    assert_eq!(msg["from"], b_started["peer_id"]);
    let a_short = &a_started["peer_id"].as_str().expect("id")[..8];
    b.send(&format!("send {a_short} direct to a")).await;
    let private = a.expect("message").await;
    assert_eq!(private["text"], "direct to a");
    assert_eq!(private["kind"], "private", "told apart from a broadcast");
    a.send("broadcast hi b").await;
    assert_eq!(b.expect("message").await["text"], "hi b");

    a.send("peers").await;
    let peers = a.expect("peers").await;
    assert_eq!(peers["count"], 1);
    assert_eq!(peers["peers"][0]["encrypted"], true);
    assert_eq!(peers["peers"][0]["method"], "direct");
    assert_eq!(peers["peers"][0]["transport"], "tcp");

    // Closing stdin ends the session cleanly; the other side sees the goodbye.
    a.send("quit").await;
    a.expect("stopped").await;
    let gone = b.expect("peer_disconnected").await;
    assert!(
        gone["reason"]
            .as_str()
            .expect("reason")
            .contains("shutting down")
    );
    drop(b.stdin);
    let status = tokio::time::timeout(Duration::from_secs(10), b.child.wait())
        .await
        .expect("b exits on end of input")
        .expect("wait");
    assert!(status.success());
    let _ = a.child.wait().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_protocols_do_not_connect() {
    let base = std::env::temp_dir().join(format!("rats-cli-proto-{}", std::process::id()));
    let mut a = Rats::spawn(&base.join("a"), &["--port", "0", "--protocol", "chat-a"]);
    let a_started = a.expect("started").await;
    let mut b = Rats::spawn(&base.join("b"), &["--port", "0", "--protocol", "chat-b"]);
    b.expect("started").await;
    b.send(&format!("connect 127.0.0.1:{}", port_of(&a_started)))
        .await;
    let err = b.expect("error").await;
    assert!(
        err["message"]
            .as_str()
            .expect("msg")
            .contains("protocol mismatch"),
        "{err}"
    );
    b.send("quit").await;
    a.send("quit").await;
    let _ = b.child.wait().await;
    let _ = a.child.wait().await;
    let _ = std::fs::remove_dir_all(&base);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_tool_reconnects_to_its_previous_peers_and_says_so() {
    let base = std::env::temp_dir().join(format!("rats-cli-restart-{}", std::process::id()));
    let (pa, pb) = (free_port().to_string(), free_port().to_string());
    let log = base.join("a.log");
    let log_arg = log.display().to_string();
    let a_args = [
        "--port",
        pa.as_str(),
        "--log-level",
        "info",
        "--log-file",
        log_arg.as_str(),
    ];
    let mut a = Rats::spawn(&base.join("a"), &a_args);
    let a_id = a.expect("started").await["peer_id"].clone();
    let mut b = Rats::spawn(&base.join("b"), &["--port", pb.as_str()]);
    let b_id = b.expect("started").await["peer_id"].clone();
    b.send(&format!("connect 127.0.0.1:{pa}")).await;
    b.expect("peer_connected").await;
    a.expect("peer_connected").await;
    a.send("quit").await;
    a.expect("stopped").await;
    b.send("quit").await;
    b.expect("stopped").await;
    let _ = a.child.wait().await;
    let _ = b.child.wait().await;

    let mut a = Rats::spawn(&base.join("a"), &a_args);
    let started = a.expect("started").await;
    assert_eq!(started["peer_id"], a_id, "same identity after restart");
    let mut b = Rats::spawn(&base.join("b"), &["--port", pb.as_str()]);
    let notice = b.expect("notice").await;
    assert!(
        notice["message"]
            .as_str()
            .expect("text")
            .contains("reconnecting to 1 peer"),
        "{notice}"
    );
    let back = b.expect("peer_connected").await;
    assert_eq!(back["peer_id"], a_id);
    let _ = b_id;
    a.send("quit").await;
    b.send("quit").await;
    let _ = a.child.wait().await;
    let _ = b.child.wait().await;
    let text = std::fs::read_to_string(&log).expect("log file written");
    assert!(text.contains("listening"), "{text}");
    let _ = std::fs::remove_dir_all(&base);
}

#[cfg(feature = "transfer")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_file_arrives_byte_identical_in_the_accept_dir() {
    let base = std::env::temp_dir().join(format!("rats-cli-transfer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("temp dir");
    let inbox = base.join("inbox");
    let source = base.join("payload file.bin");
    // Not a multiple of the chunk size, and not all one byte.
    let data: Vec<u8> = (0..3_000_001u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&source, &data).expect("write source");

    let inbox_arg = inbox.display().to_string();
    let (mut a, a_started, mut b) =
        Rats::spawn_connected_pair(&base, &["--accept-dir", inbox_arg.as_str()]).await;
    let a_short = &a_started["peer_id"].as_str().expect("id")[..8];
    b.send(&format!("send-file {a_short} \"{}\"", source.display()))
        .await;
    let offer = a.expect("transfer_offer").await;
    assert_eq!(offer["name"], "payload file.bin", "{offer}");
    assert_eq!(offer["prompt"], false, "{offer}");
    let received = a.expect("transfer_finished").await;
    assert_eq!(received["state"], "completed", "{received}");
    let sent = b.expect("transfer_finished").await;
    assert_eq!(sent["state"], "completed", "{sent}");
    assert_eq!(sent["id"], received["id"]);
    let arrived = std::fs::read(inbox.join("payload file.bin")).expect("file in the accept dir");
    assert!(arrived == data, "content differs");

    a.send("transfers").await;
    let list = a.expect("transfers").await;
    assert_eq!(list["count"], 1, "{list}");
    let t = &list["transfers"][0];
    assert_eq!(t["state"], "completed", "{list}");
    assert_eq!(t["direction"], "in", "{list}");
    assert_eq!(t["percent"].as_f64(), Some(100.0), "{list}");
    assert_eq!(t["short_id"], received["short_id"]);

    Rats::quit_both(a, b).await;
    let _ = std::fs::remove_dir_all(&base);
}

#[cfg(feature = "transfer")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_pulls_a_directory_from_a_share_dir_and_nothing_outside_it() {
    let base = std::env::temp_dir().join(format!("rats-cli-get-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let share = base.join("share");
    std::fs::create_dir_all(share.join("docs/deeper")).expect("share dir");
    std::fs::write(share.join("docs/a.txt"), b"alpha").expect("write");
    std::fs::write(share.join("docs/deeper/b.txt"), b"beta").expect("write");
    std::fs::write(base.join("secret.txt"), b"not shared").expect("write");
    let out = base.join("out");
    std::fs::create_dir_all(&out).expect("out dir");

    let share_arg = share.display().to_string();
    let (a, a_started, mut b) =
        Rats::spawn_connected_pair(&base, &["--share-dir", share_arg.as_str()]).await;
    let a_short = &a_started["peer_id"].as_str().expect("id")[..8];

    b.send(&format!(
        "get {a_short} docs/ \"{}\"",
        out.join("docs").display()
    ))
    .await;
    let got = b.expect("transfer_finished").await;
    assert_eq!(got["state"], "completed", "{got}");
    assert_eq!(
        std::fs::read(out.join("docs/a.txt")).expect("a.txt"),
        b"alpha"
    );
    assert_eq!(
        std::fs::read(out.join("docs/deeper/b.txt")).expect("b.txt"),
        b"beta"
    );

    b.send(&format!(
        "get {a_short} ../secret.txt \"{}\"",
        out.join("stolen").display()
    ))
    .await;
    let refused = b.expect("transfer_finished").await;
    assert_ne!(refused["state"], "completed", "{refused}");
    assert!(!out.join("stolen").exists());

    Rats::quit_both(a, b).await;
    let _ = std::fs::remove_dir_all(&base);
}

#[cfg(feature = "gossipsub")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pub_reaches_a_subscriber_and_topics_counts_it() {
    let base = std::env::temp_dir().join(format!("rats-cli-gossip-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (mut a, _, mut b) = Rats::spawn_connected_pair(&base, &[]).await;
    let b_id = {
        b.send("id").await;
        b.expect("id").await["peer_id"].clone()
    };

    a.send("sub chat").await;
    assert_eq!(a.expect("subscribed").await["topic"], "chat");
    // Subscriptions travel asynchronously: b publishes once it knows a is on the topic.
    let joined = b.expect("topic_peer_joined").await;
    assert_eq!(joined["topic"], "chat", "{joined}");
    b.send("sub chat").await;
    assert_eq!(b.expect("subscribed").await["already"], false);

    b.send("pub chat hello there").await;
    let published = b.expect("published").await;
    assert_eq!(published["topic_peers"], 1, "{published}");
    let msg = a.expect("topic_message").await;
    assert_eq!(msg["topic"], "chat", "{msg}");
    assert_eq!(msg["text"], "hello there", "{msg}");
    assert_eq!(msg["from"], b_id, "{msg}");
    assert_eq!(msg["via"], b_id, "{msg}");

    b.send("topics").await;
    let topics = b.expect("topics").await;
    assert_eq!(topics["count"], 1, "{topics}");
    assert_eq!(topics["topics"][0]["topic"], "chat", "{topics}");
    assert_eq!(topics["topics"][0]["peers"], 1, "{topics}");

    // Bad input is a one-line error, and the tool keeps running.
    b.send("sub two words").await;
    assert_eq!(b.expect("error").await["command"], "sub");
    b.send("unsub nothing").await;
    assert_eq!(b.expect("error").await["command"], "unsub");
    b.send("pub chat").await;
    assert_eq!(b.expect("error").await["command"], "pub");
    b.send("unsub chat").await;
    b.expect("unsubscribed").await;
    assert_eq!(a.expect("topic_peer_left").await["peer_id"], b_id);

    Rats::quit_both(a, b).await;
    let _ = std::fs::remove_dir_all(&base);
}

/// The discovery hash of the default protocol `rats` 1.0:
/// `SHA-1("rats" + "_peer_discovery_v" + "1.0")`, i.e.
/// `printf 'rats_peer_discovery_v1.0' | sha1sum`.
#[cfg(feature = "dht")]
const DEFAULT_DISCOVERY_HASH: &str = "e468163e069b85b3a5acbcba1e72c0efdbcdbd76";

/// Writes a `config.json` into `dir` that keeps the DHT on 127.0.0.1 (IPv4 only, so nothing
/// can leave the machine) and looks up every second instead of every 15.
#[cfg(feature = "dht")]
fn loopback_dht_config(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).expect("data dir");
    let config = serde_json::json!({
        "dht": {"bind_v4": "127.0.0.1", "ipv6": false, "fast_interval_secs": 1},
    });
    std::fs::write(dir.join("config.json"), config.to_string()).expect("write config.json");
}

/// Asks `dht` until the status shows the nodes' addresses (a node publishes its statistics
/// once its task has run, a moment after start); returns that `dht` event.
#[cfg(feature = "dht")]
async fn dht_status_with_nodes(r: &mut Rats) -> serde_json::Value {
    for _ in 0..50 {
        r.send("dht").await;
        let status = r.expect("dht").await;
        if status["nodes"][0]["local_addr"].is_string() {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the DHT status never showed its nodes");
}

#[cfg(feature = "dht")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dht_status_find_and_announce_commands() {
    let base = std::env::temp_dir().join(format!("rats-cli-dht-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    loopback_dht_config(&base.join("a"));
    // Nothing answers on 127.0.0.1:1: the DHT runs alone and never goes public.
    let mut a = Rats::spawn(
        &base.join("a"),
        &["--port", "0", "--bootstrap", "127.0.0.1:1"],
    );
    let started = a.expect("started").await;
    assert_eq!(
        started["discovery_hash"], DEFAULT_DISCOVERY_HASH,
        "{started}"
    );

    let status = dht_status_with_nodes(&mut a).await;
    assert_eq!(status["running"], true, "{status}");
    assert_eq!(status["discovery_hash"], DEFAULT_DISCOVERY_HASH, "{status}");
    let node = &status["nodes"][0];
    assert!(
        node["local_addr"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:")),
        "{status}"
    );
    assert_eq!(node["node_id"].as_str().map(str::len), Some(40), "{status}");

    a.send(&format!("find {DEFAULT_DISCOVERY_HASH}")).await;
    let found = a.expect("found").await;
    assert_eq!(found["hash"], DEFAULT_DISCOVERY_HASH, "{found}");
    assert!(found["peers"].is_array(), "{found}");
    a.send(&format!(
        "announce {}",
        DEFAULT_DISCOVERY_HASH.to_uppercase()
    ))
    .await;
    let announced = a.expect("announced").await;
    assert_eq!(announced["hash"], DEFAULT_DISCOVERY_HASH, "{announced}");
    assert!(announced["nodes"].is_u64(), "{announced}");

    // Bad input is a one-line error, and the tool keeps running.
    a.send("find nothex").await;
    assert_eq!(a.expect("error").await["command"], "find");
    a.send("announce").await;
    assert_eq!(a.expect("error").await["command"], "announce");
    a.send("dht sideways").await;
    assert_eq!(a.expect("error").await["command"], "dht");

    a.send("dht stop").await;
    a.expect("dht_stopped").await;
    a.send("dht").await;
    assert_eq!(a.expect("dht").await["running"], false);
    a.send(&format!("find {DEFAULT_DISCOVERY_HASH}")).await;
    assert_eq!(a.expect("error").await["command"], "find");
    a.send("dht start").await;
    a.expect("dht_started").await;
    a.send("dht").await;
    assert_eq!(a.expect("dht").await["running"], true);

    // With the plugin switched off (the test helper adds --no-dht), the hash is still known.
    let mut off = Rats::spawn(&base.join("off"), &["--port", "0"]);
    let started = off.expect("started").await;
    assert_eq!(
        started["discovery_hash"], DEFAULT_DISCOVERY_HASH,
        "{started}"
    );
    off.send("dht").await;
    let status = off.expect("dht").await;
    assert_eq!(status["running"], false, "{status}");
    off.send(&format!("find {DEFAULT_DISCOVERY_HASH}")).await;
    let err = off.expect("error").await;
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.contains("switched off")),
        "{err}"
    );

    Rats::quit_both(a, off).await;
    let _ = std::fs::remove_dir_all(&base);
}

#[cfg(feature = "dht")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tools_find_each_other_through_a_loopback_dht() {
    let base = std::env::temp_dir().join(format!("rats-cli-dht-pair-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    loopback_dht_config(&base.join("a"));
    loopback_dht_config(&base.join("b"));
    // b's DHT bootstraps from nowhere (127.0.0.1:1); a's from b's DHT node.
    let mut b = Rats::spawn(
        &base.join("b"),
        &["--port", "0", "--bootstrap", "127.0.0.1:1"],
    );
    let b_started = b.expect("started").await;
    let status = dht_status_with_nodes(&mut b).await;
    let b_dht = status["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| {
            n["local_addr"]
                .as_str()?
                .parse::<std::net::SocketAddr>()
                .ok()
        })
        .find(std::net::SocketAddr::is_ipv4)
        .unwrap_or_else(|| panic!("no IPv4 DHT node: {status}"));
    let bootstrap = format!("127.0.0.1:{}", b_dht.port());
    let mut a = Rats::spawn(
        &base.join("a"),
        &["--port", "0", "--bootstrap", bootstrap.as_str()],
    );
    a.expect("started").await;

    // Both announce and look up the same discovery hash: a finds b's TCP port in the DHT,
    // and they connect (whichever side dials first).
    let b_port = format!(":{}", port_of(&b_started));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (mut discovered, mut connected) = (false, false);
    while !(discovered && connected) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "discovered {discovered}, connected {connected}"
        );
        let e = a.next_event().await;
        match e["event"].as_str() {
            Some("peer_discovered") if e["source"] == "dht" => {
                let addr = e["addr"].as_str().unwrap_or_default();
                if addr.ends_with(&b_port) {
                    discovered = true;
                }
            }
            Some("peer_connected") => {
                assert_eq!(e["peer_id"], b_started["peer_id"], "{e}");
                connected = true;
            }
            _ => {}
        }
    }
    a.send("dht").await;
    let status = a.expect("dht").await;
    assert!(status["peers_found"].as_u64() >= Some(1), "{status}");

    Rats::quit_both(a, b).await;
    let _ = std::fs::remove_dir_all(&base);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_data_dir_in_use_is_an_error_naming_its_holder() {
    let dir = std::env::temp_dir().join(format!("rats-cli-held-{}", std::process::id()));
    let mut a = Rats::spawn(&dir, &[]);
    a.expect("started").await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_rats"))
        .args(["--no-mdns", "--no-dht", "--no-nat", "--data-dir"])
        .arg(&dir)
        .stdin(std::process::Stdio::null())
        .output();
    let out = tokio::time::timeout(Duration::from_secs(20), out)
        .await
        .expect("exits")
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{} is in use by another rats process (pid ",
            dir.display()
        )),
        "{err}"
    );
    assert!(!dir.join("instance-2").exists(), "no silent fallback");
    a.quit().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_into_a_closed_pipe_ends_quietly() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let dir = std::env::temp_dir().join(format!("rats-cli-pipe-{}", std::process::id()));
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_rats"))
        .args([
            "--no-mdns",
            "--no-dht",
            "--no-nat",
            "--port",
            "0",
            "--data-dir",
        ])
        .arg(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    // Like `rats | head -2`: read two lines, then close the pipe.
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    for _ in 0..2 {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
        assert!(matches!(line, Ok(Ok(Some(_)))), "{line:?}");
    }
    drop(lines);
    let mut stdin = child.stdin.take().expect("stdin");
    for _ in 0..5 {
        let _ = stdin.write_all(b"help\n").await;
        let _ = stdin.flush().await;
    }
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits")
        .expect("status");
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use tokio::io::AsyncReadExt;
        let _ = e.read_to_string(&mut err).await;
    }
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(feature = "transfer")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_limits_who_may_push_and_pull_and_the_owner_sees_refusals() {
    let base = std::env::temp_dir().join(format!("rats-cli-trust-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (share, inbox) = (base.join("share"), base.join("inbox"));
    std::fs::create_dir_all(&share).expect("share");
    std::fs::write(share.join("f.txt"), b"shared").expect("write");
    let source = base.join("offer.txt");
    std::fs::write(&source, b"offered").expect("write");
    let (share_arg, inbox_arg) = (share.display().to_string(), inbox.display().to_string());

    let mut trusted = Rats::spawn(&base.join("t"), &["--port", "0"]);
    let trusted_id = trusted.expect("started").await["peer_id"]
        .as_str()
        .expect("id")
        .to_string();
    let mut stranger = Rats::spawn(&base.join("s"), &["--port", "0"]);
    stranger.expect("started").await;
    let mut owner = Rats::spawn(
        &base.join("o"),
        &[
            "--port",
            "0",
            "--accept-dir",
            &inbox_arg,
            "--share-dir",
            &share_arg,
            "--trust",
            &trusted_id,
        ],
    );
    let started = owner.expect("started").await;
    let owner_short = started["peer_id"].as_str().expect("id")[..8].to_string();
    for r in [&mut trusted, &mut stranger] {
        r.send(&format!("connect 127.0.0.1:{}", port_of(&started)))
            .await;
        r.expect("peer_connected").await;
    }

    // The stranger may neither push nor pull; the owner sees both refusals.
    stranger
        .send(&format!("send-file {owner_short} \"{}\"", source.display()))
        .await;
    let pushed = stranger.expect("transfer_finished").await;
    assert_ne!(pushed["state"], "completed", "{pushed}");
    assert!(
        pushed.to_string().contains("not a trusted peer here"),
        "{pushed}"
    );
    let seen = owner.expect("transfer_refused").await;
    assert_eq!(seen["pull"], false, "{seen}");
    stranger
        .send(&format!(
            "get {owner_short} f.txt \"{}\"",
            base.join("stolen").display()
        ))
        .await;
    let pulled = stranger.expect("transfer_finished").await;
    assert_ne!(pulled["state"], "completed", "{pulled}");
    let seen = owner.expect("transfer_refused").await;
    assert_eq!(seen["pull"], true, "{seen}");
    assert!(!base.join("stolen").exists());

    // The trusted peer may do both.
    trusted
        .send(&format!("send-file {owner_short} \"{}\"", source.display()))
        .await;
    assert_eq!(
        trusted.expect("transfer_finished").await["state"],
        "completed"
    );
    trusted
        .send(&format!(
            "get {owner_short} f.txt \"{}\"",
            base.join("got.txt").display()
        ))
        .await;
    assert_eq!(
        trusted.expect("transfer_finished").await["state"],
        "completed"
    );
    assert_eq!(std::fs::read(base.join("got.txt")).expect("got"), b"shared");

    for r in [trusted, stranger, owner] {
        r.quit().await;
    }
    let _ = std::fs::remove_dir_all(&base);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_warning_is_shown_once_even_when_the_port_falls_back() {
    let dir = std::env::temp_dir().join(format!("rats-cli-warn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    // The configured port is taken, so the tool starts twice (the second time on a free port).
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    std::fs::write(
        dir.join("config.json"),
        format!(r#"{{"bogus_key": 1, "listen": ["tcp:127.0.0.1:{port}"]}}"#),
    )
    .expect("write");
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_rats"))
        .args(["--no-mdns", "--no-dht", "--no-nat", "--data-dir"])
        .arg(&dir)
        .stdin(std::process::Stdio::null())
        .output();
    let out = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("exits")
        .expect("runs");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("listening on a free port instead"), "{all}");
    assert_eq!(all.matches("unknown key \"bogus_key\"").count(), 1, "{all}");
    drop(taken);
    let _ = std::fs::remove_dir_all(dir);
}
