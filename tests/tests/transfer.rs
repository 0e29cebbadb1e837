//! File and directory transfer between real nodes on loopback, with real files.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use rats::RatsClient;
use rats_core::{Event, PeerId};
use rats_tests::{SmallDisk, TempDir, addr_of, client_with, wait_until};
use rats_transfer::{AcceptDecision, ServeDecision, TransferEvent, TransferService, TransferState};

const WAIT: Duration = Duration::from_secs(60);

struct Pair {
    a: RatsClient,
    b: RatsClient,
    b_id: PeerId,
    a_id: PeerId,
    dir: TempDir,
}

impl Pair {
    fn ta(&self) -> Arc<TransferService> {
        self.a.transfers().expect("transfer service on a")
    }
    fn tb(&self) -> Arc<TransferService> {
        self.b.transfers().expect("transfer service on b")
    }
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    /// Neither side keeps partial data or state.
    fn assert_no_temporary_data(&self) {
        for side in ["tmp-a", "tmp-b"] {
            let left = files_in(&self.path(side));
            assert!(left.is_empty(), "{side}: {left:?}");
        }
    }
    async fn stop(self) {
        self.a.shutdown().await;
        self.b.shutdown().await;
    }
}

fn section(dir: &Path, name: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut v = serde_json::json!({
        "temp_dir": dir.join(format!("tmp-{name}")),
        "progress_interval_ms": 50,
    });
    if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in e {
            m.insert(k.clone(), x.clone());
        }
    }
    v
}

async fn node(dir: &Path, name: &str, extra: serde_json::Value) -> RatsClient {
    let s = section(dir, name, extra);
    client_with(move |c| {
        c.plugins.insert("transfer".into(), s);
    })
    .await
}

async fn pair_with(extra: serde_json::Value) -> Pair {
    let dir = TempDir::new("rats-transfer");
    let a = node(dir.path(), "a", extra.clone()).await;
    let b = node(dir.path(), "b", extra).await;
    let b_id = a.connect(&addr_of(&b)).await.expect("connect");
    let a_id = a.local_peer_id();
    wait_until(5, "b sees a", || b.node().is_connected(&a_id)).await;
    Pair {
        a,
        b,
        b_id,
        a_id,
        dir,
    }
}

async fn pair() -> Pair {
    pair_with(serde_json::json!({})).await
}

fn random_file(path: &Path, size: usize) -> Vec<u8> {
    let mut data = vec![0u8; size];
    rand::thread_rng().fill_bytes(&mut data);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, &data).expect("write source");
    data
}

/// Accepts every offer into `dir`.
fn accept_into(t: &TransferService, dir: PathBuf) {
    t.set_accept_callback(move |offer| {
        let dir = dir.clone();
        async move { AcceptDecision::Accept(dir.join(&offer.name)) }
    });
}

/// `a` offers directory `src` to `b`, which accepts it into a fresh `inbox`.
async fn push_directory(p: &Pair, src: &Path) -> (PathBuf, rats_transfer::TransferId) {
    let inbox = p.path("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    accept_into(&p.tb(), inbox.clone());
    let id = p
        .ta()
        .send_directory(&p.b_id, src, None, true)
        .await
        .expect("send dir");
    (inbox, id)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            if p.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_edge_sizes_arrive_identical() {
    let p = pair_with(serde_json::json!({"chunk_size": 65536})).await;
    let inbox = p.path("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    accept_into(&p.tb(), inbox.clone());
    for (name, size) in [
        ("empty", 0usize),
        ("one-byte", 1),
        ("one-chunk", 65536),
        ("chunk-plus-one", 65537),
        ("fifty-mib", 50 << 20),
    ] {
        let src = p.path(&format!("src/{name}"));
        let data = random_file(&src, size);
        let id = p.ta().send_file(&p.b_id, &src, None).await.expect("send");
        let done = p.ta().wait(id, WAIT).await.expect("finished");
        assert_eq!(done.state, TransferState::Completed, "{name}");
        let got = p.tb().wait(id, WAIT).await.expect("receiver finished");
        assert_eq!(got.state, TransferState::Completed, "{name}");
        assert_eq!(got.peer, p.a_id, "the receiver knows who sent it");
        let back = std::fs::read(inbox.join(name)).expect("received file");
        assert!(back == data, "{name} differs");
    }
    let stats = p.tb().stats();
    assert_eq!(stats.completed, 5);
    assert_eq!(stats.chunks_corrupt, 0);
    // Nothing left in either temporary directory.
    p.assert_no_temporary_data();
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_tree_arrives_identical() {
    let p = pair().await;
    let src = p.path("tree");
    let files = [
        "a.txt",
        "sub/b.bin",
        "sub/deeper/c.txt",
        "données/日本語 файл.txt",
        "sub/deeper/empty-file",
    ];
    let mut contents = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let size = if f.ends_with("empty-file") {
            0
        } else {
            1000 * (i + 1) * 97
        };
        contents.push(random_file(&src.join(f), size));
    }
    std::fs::create_dir_all(src.join("empty-dir/nested-empty")).unwrap();
    let inbox = p.path("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    accept_into(&p.tb(), inbox.clone());
    let id = p
        .ta()
        .send_directory(&p.b_id, &src, Some("copy"), true)
        .await
        .expect("send dir");
    let done = p.tb().wait(id, WAIT).await.expect("finished");
    assert_eq!(done.state, TransferState::Completed);
    assert_eq!(files_in(&src), files_in(&inbox.join("copy")));
    for (f, data) in files.iter().zip(&contents) {
        let back = std::fs::read(inbox.join("copy").join(f)).expect("file");
        assert!(&back == data, "{f} differs");
    }
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_directory_completes_on_both_sides() {
    let p = pair().await;
    let src = p.path("empty");
    std::fs::create_dir_all(src.join("only/empty/dirs")).unwrap();
    let (inbox, id) = push_directory(&p, &src).await;
    let received = p.tb().wait(id, WAIT).await.expect("receiver finished");
    assert_eq!(received.state, TransferState::Completed);
    let sent = p.ta().wait(id, WAIT).await.expect("sender finished");
    assert_eq!(sent.state, TransferState::Completed);
    assert!(inbox.join("empty/only/empty/dirs").is_dir());
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_callback_offers_are_rejected_with_the_reason() {
    let p = pair().await;
    let src = p.path("x.txt");
    random_file(&src, 10);
    let id = p.ta().send_file(&p.b_id, &src, None).await.expect("send");
    let done = p.ta().wait(id, WAIT).await.expect("finished");
    match done.state {
        TransferState::Failed(rats_transfer::TransferError::Rejected(r)) => {
            assert!(r.contains("not accepted"), "{r}")
        }
        other => panic!("expected a rejection, got {other}"),
    }
    // A callback's own reason reaches the sender too.
    p.tb()
        .set_accept_callback(|_| async { AcceptDecision::Reject("no thanks".into()) });
    let id = p.ta().send_file(&p.b_id, &src, None).await.expect("send");
    let done = p.ta().wait(id, WAIT).await.expect("finished");
    assert_eq!(
        done.state,
        TransferState::Failed(rats_transfer::TransferError::Rejected("no thanks".into()))
    );
    assert!(files_in(&p.path("tmp-a")).is_empty());
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_then_resume_completes() {
    // The receiver pauses as soon as data moves.
    let (p, inbox, id, data) = slow_transfer_under_way(20 << 20).await;
    p.tb().pause(id).expect("pause");
    wait_until(10, "sender sees the pause", || {
        p.ta()
            .transfer(id)
            .is_some_and(|i| i.state == TransferState::Paused { by_peer: true })
    })
    .await;
    let at_pause = p.tb().stats().bytes_received;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = p.tb().stats().bytes_received;
    // At most the chunks in flight arrive after the pause.
    assert!(later - at_pause <= 2 * 65536, "{at_pause} -> {later}");
    assert!(later < data.len() as u64);
    p.tb().resume(id).expect("resume");
    let done = p.tb().wait(id, WAIT).await.expect("finished");
    assert_eq!(done.state, TransferState::Completed);
    assert!(std::fs::read(inbox.join("big")).unwrap() == data);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_leaves_no_temporary_data_on_either_side() {
    let (p, inbox, id, _) = slow_transfer_under_way(30 << 20).await;
    assert!(
        !files_in(&p.path("tmp-b")).is_empty(),
        "partial data exists"
    );
    p.ta().cancel(id).expect("cancel");
    let a = p.ta().wait(id, WAIT).await.expect("sender finished");
    let b = p.tb().wait(id, WAIT).await.expect("receiver finished");
    assert_eq!(a.state, TransferState::Cancelled);
    assert_eq!(b.state, TransferState::Cancelled);
    p.assert_no_temporary_data();
    assert!(!inbox.join("big").exists());
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_the_connection_is_cut() {
    let chunk = 65536u64;
    let window = 8u64;
    let p = pair_with(
        serde_json::json!({"chunk_size": chunk, "window": window, "progress_interval_ms": 0}),
    )
    .await;
    let inbox = p.path("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    accept_into(&p.tb(), inbox.clone());
    let src = p.path("big");
    let size = 50u64 << 20;
    let data = random_file(&src, size as usize);
    let mut events = p.b.events();
    let id = p.ta().send_file(&p.b_id, &src, None).await.expect("send");
    rats_tests::next_matching(&mut events, 60, |e| match transfer_event(e) {
        Some(TransferEvent::Progress {
            id: i, progress, ..
        }) if i == id && progress.bytes_done >= size / 2 => Some(()),
        _ => None,
    })
    .await;
    p.a.disconnect(&p.b_id);
    wait_until(10, "receiver waits for its peer", || {
        p.tb()
            .transfer(id)
            .is_some_and(|i| i.state == TransferState::WaitingForPeer)
    })
    .await;
    wait_until(10, "sender waits for its peer", || {
        p.ta()
            .transfer(id)
            .is_some_and(|i| i.state == TransferState::WaitingForPeer)
    })
    .await;
    let had = p.tb().transfer(id).expect("info").progress.bytes_done;
    let sent_before = p.ta().stats().bytes_sent;
    assert!(had < size, "cut before the end");
    p.a.connect(&addr_of(&p.b)).await.expect("reconnect");
    let done = p.tb().wait(id, WAIT).await.expect("finished");
    assert_eq!(done.state, TransferState::Completed);
    assert!(std::fs::read(inbox.join("big")).unwrap() == data);
    let sent_again = p.ta().stats().bytes_sent - sent_before;
    assert!(
        sent_again <= size - had + window * chunk,
        "sent {sent_again} again; {} were left",
        size - had
    );
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_are_refused_without_a_callback_or_outside_the_shared_root() {
    let dir = TempDir::new("rats-pull");
    let share = dir.path().join("share");
    std::fs::create_dir_all(share.join("docs")).unwrap();
    let inside = random_file(&share.join("docs/readme.txt"), 5000);
    random_file(&dir.path().join("secret.txt"), 10);
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), share.join("link")).unwrap();
    let server = node(
        dir.path(),
        "server",
        serde_json::json!({"shared_root": share}),
    )
    .await;
    let closed = node(dir.path(), "closed", serde_json::json!({})).await;
    let client = node(dir.path(), "client", serde_json::json!({})).await;
    let s_id = client.connect(&addr_of(&server)).await.expect("connect");
    let c_id = client.connect(&addr_of(&closed)).await.expect("connect");
    let t = client.transfers().expect("transfers");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    // Inside the root: served.
    let id = t
        .request_file(&s_id, "docs/readme.txt", out.join("readme.txt"))
        .await
        .expect("request");
    let done = t.wait(id, WAIT).await.expect("finished");
    assert_eq!(done.state, TransferState::Completed);
    assert!(std::fs::read(out.join("readme.txt")).unwrap() == inside);
    // Outside: refused, nothing written.
    for bad in [
        "../secret.txt",
        "/etc/passwd",
        "link",
        "docs/../../secret.txt",
    ] {
        let id = t
            .request_file(&s_id, bad, out.join("stolen"))
            .await
            .expect("request sent");
        let done = t.wait(id, WAIT).await.expect("finished");
        assert!(
            matches!(
                done.state,
                TransferState::Failed(rats_transfer::TransferError::Rejected(_))
            ),
            "{bad}: {}",
            done.state
        );
        assert!(!out.join("stolen").exists(), "{bad}");
    }
    // No callback and no root: nothing is served.
    let id = t
        .request_file(&c_id, "anything", out.join("x"))
        .await
        .expect("request sent");
    let done = t.wait(id, WAIT).await.expect("finished");
    assert!(matches!(
        done.state,
        TransferState::Failed(rats_transfer::TransferError::Rejected(_))
    ));
    // A serve callback decides for itself.
    let served = dir.path().join("secret.txt");
    closed.transfers().unwrap().set_serve_callback(move |r| {
        let served = served.clone();
        async move {
            if r.path == "the-secret" {
                ServeDecision::Serve(served)
            } else {
                ServeDecision::Refuse("ask for the-secret".into())
            }
        }
    });
    let id = t
        .request_file(&c_id, "the-secret", out.join("granted"))
        .await
        .expect("request sent");
    assert_eq!(
        t.wait(id, WAIT).await.unwrap().state,
        TransferState::Completed
    );
    assert_eq!(std::fs::read(out.join("granted")).unwrap().len(), 10);
    server.shutdown().await;
    closed.shutdown().await;
    client.shutdown().await;
}

/// A pair moving `size` random bytes slowly (small chunks, window 2) from a to b, once the
/// first progress event shows data arriving: (pair, b's inbox, transfer id, the data).
async fn slow_transfer_under_way(
    size: usize,
) -> (Pair, PathBuf, rats_transfer::TransferId, Vec<u8>) {
    let p = pair_with(serde_json::json!({"chunk_size": 65536, "window": 2})).await;
    let inbox = p.path("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    accept_into(&p.tb(), inbox.clone());
    let src = p.path("big");
    let data = random_file(&src, size);
    let mut events = p.b.events();
    let id = p.ta().send_file(&p.b_id, &src, None).await.expect("send");
    rats_tests::next_matching(&mut events, 30, |e| match transfer_event(e) {
        Some(TransferEvent::Progress { id: i, .. }) if i == id => Some(()),
        _ => None,
    })
    .await;
    (p, inbox, id, data)
}

fn transfer_event(e: &Event) -> Option<TransferEvent> {
    match e {
        Event::Service { service, event } if *service == rats_transfer::SERVICE_NAME => {
            event.downcast_ref::<TransferEvent>().cloned()
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_while_apart_reaches_the_sender_when_they_meet_again() {
    let (p, _inbox, id, _) = slow_transfer_under_way(20 << 20).await;
    p.a.disconnect(&p.b_id);
    wait_until(10, "sender waits for its peer", || {
        p.ta()
            .transfer(id)
            .is_some_and(|i| i.state == TransferState::WaitingForPeer)
    })
    .await;
    // The receiver gives up while the sender cannot hear it.
    p.tb().cancel(id).expect("cancel");
    let b = p.tb().wait(id, WAIT).await.expect("receiver finished");
    assert_eq!(b.state, TransferState::Cancelled);
    p.a.connect(&addr_of(&p.b)).await.expect("reconnect");
    let a = p.ta().wait(id, WAIT).await.expect("sender finished");
    assert!(
        matches!(a.state, TransferState::Cancelled),
        "sender learns it is over: {}",
        a.state
    );
    p.assert_no_temporary_data();
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_restarted_before_the_answer_still_sends_after_accept() {
    let dir = TempDir::new("rats-transfer-sender-restart");
    let receiver = node(dir.path(), "b", serde_json::json!({})).await;
    let inbox = dir.path().join("inbox");
    // The receiver's user answers only when told to.
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let into = inbox.clone();
    receiver
        .transfers()
        .unwrap()
        .set_accept_callback(move |offer| {
            let (into, mut go) = (into.clone(), go_rx.clone());
            async move {
                let _ = go.wait_for(|g| *g).await;
                AcceptDecision::Accept(into.join(&offer.name))
            }
        });
    let identity = rats_core::Identity::generate();
    let start_sender = |identity: rats_core::Identity| {
        let s = section(dir.path(), "a", serde_json::json!({}));
        async move {
            RatsClient::builder()
                .identity(identity)
                .configure(move |c| {
                    *c = rats_tests::test_config();
                    c.plugins.insert("transfer".into(), s);
                })
                .start()
                .await
                .expect("sender starts")
        }
    };
    let sender = start_sender(identity.clone()).await;
    let b_id = sender.connect(&addr_of(&receiver)).await.expect("connect");
    let src = dir.path().join("doc.bin");
    let data = random_file(&src, 300_000);
    let id = sender
        .transfers()
        .unwrap()
        .send_file(&b_id, &src, None)
        .await
        .expect("offer");
    // The sending process stops before the offer is answered, and starts again.
    sender.shutdown().await;
    let sender = start_sender(identity).await;
    let t = sender.transfers().unwrap();
    assert_eq!(
        t.transfer(id).map(|i| i.state),
        Some(TransferState::WaitingForPeer),
        "the offer survives the restart"
    );
    sender
        .connect(&addr_of(&receiver))
        .await
        .expect("reconnect");
    go_tx.send(true).expect("answer");
    let done = t.wait(id, WAIT).await.expect("finished");
    assert_eq!(done.state, TransferState::Completed);
    assert!(std::fs::read(inbox.join("doc.bin")).unwrap() == data);
    sender.shutdown().await;
    receiver.shutdown().await;
}

/// Node "b" with `identity` (kept across restarts) accepting every offer into `inbox`.
async fn receiver_as(
    identity: rats_core::Identity,
    dir: &Path,
    extra: serde_json::Value,
    inbox: &Path,
) -> RatsClient {
    let s = section(dir, "b", extra);
    let c = RatsClient::builder()
        .identity(identity)
        .configure(move |c| {
            *c = rats_tests::test_config();
            c.plugins.insert("transfer".into(), s);
        })
        .start()
        .await
        .expect("receiver starts");
    accept_into(&c.transfers().unwrap(), inbox.to_path_buf());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_outlives_a_restart_of_the_side_that_paused() {
    let dir = TempDir::new("rats-transfer-pause-restart");
    let slow = serde_json::json!({"chunk_size": 65536, "window": 2});
    let sender = node(dir.path(), "a", slow.clone()).await;
    let inbox = dir.path().join("inbox");
    let identity = rats_core::Identity::generate();
    let start_receiver =
        |identity: rats_core::Identity| receiver_as(identity, dir.path(), slow.clone(), &inbox);
    let receiver = start_receiver(identity.clone()).await;
    let b_id = sender.connect(&addr_of(&receiver)).await.expect("connect");
    let src = dir.path().join("big");
    let data = random_file(&src, 20 << 20);
    let ta = sender.transfers().unwrap();
    let id = ta.send_file(&b_id, &src, None).await.expect("send");
    wait_until(30, "data moves", || {
        receiver.transfers().unwrap().stats().bytes_received > 0
    })
    .await;
    receiver.transfers().unwrap().pause(id).expect("pause");
    wait_until(10, "sender sees the pause", || {
        ta.transfer(id)
            .is_some_and(|i| i.state == TransferState::Paused { by_peer: true })
    })
    .await;
    // The pausing side restarts; the transfer continues from where it was, still paused.
    receiver.shutdown().await;
    let receiver = start_receiver(identity).await;
    sender
        .connect(&addr_of(&receiver))
        .await
        .expect("reconnect");
    let tb = receiver.transfers().unwrap();
    wait_until(10, "receiver continues, paused", || {
        tb.transfer(id)
            .is_some_and(|i| i.state == TransferState::Paused { by_peer: false })
    })
    .await;
    wait_until(10, "sender paused again", || {
        ta.transfer(id)
            .is_some_and(|i| i.state == TransferState::Paused { by_peer: true })
    })
    .await;
    let before = tb.stats().bytes_received;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        tb.stats().bytes_received - before <= 2 * 65536,
        "nothing moves while paused"
    );
    // Only the side that paused can lift it.
    assert!(ta.resume(id).is_err());
    tb.resume(id).expect("resume");
    let done = ta.wait(id, WAIT).await.expect("finished");
    assert_eq!(done.state, TransferState::Completed);
    assert!(std::fs::read(inbox.join("big")).unwrap() == data);
    sender.shutdown().await;
    receiver.shutdown().await;
}

/// A receiver killed after moving a finished file into place but before recording it (found
/// by the churn soak: the sender had completed, so the restored receiver's request to continue
/// was refused and the transfer reported cancelled although the file was there) takes the file
/// in place as done when it restarts, without its sender.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_moved_into_place_before_a_restart_completes_without_the_sender() {
    let dir = TempDir::new("rats-transfer-in-place");
    let slow = serde_json::json!({"chunk_size": 65536, "window": 2});
    let sender = node(dir.path(), "a", slow.clone()).await;
    let inbox = dir.path().join("inbox");
    let identity = rats_core::Identity::generate();
    let start_receiver =
        |identity: rats_core::Identity| receiver_as(identity, dir.path(), slow.clone(), &inbox);
    let receiver = start_receiver(identity.clone()).await;
    let b_id = sender.connect(&addr_of(&receiver)).await.expect("connect");
    let src = dir.path().join("doc.bin");
    let data = random_file(&src, 8 << 20);
    let id = sender
        .transfers()
        .unwrap()
        .send_file(&b_id, &src, None)
        .await
        .expect("send");
    wait_until(30, "data moves", || {
        receiver.transfers().unwrap().stats().bytes_received > 0
    })
    .await;
    receiver.transfers().unwrap().pause(id).expect("pause");
    // Both stop with the receiver's state saved mid-way; then the state of a receiver killed
    // right after its move: the whole file at the destination, no `.part`, the state unchanged.
    sender.shutdown().await;
    receiver.shutdown().await;
    std::fs::write(inbox.join("doc.bin"), &data).expect("file in place");
    let parts: Vec<String> = files_in(&dir.path().join("tmp-b"))
        .into_iter()
        .filter(|f| f.ends_with(".part"))
        .collect();
    assert!(
        !parts.is_empty(),
        "the paused transfer kept its partial file"
    );
    for p in &parts {
        std::fs::remove_file(dir.path().join("tmp-b").join(p)).expect("remove .part");
    }
    let receiver = start_receiver(identity).await;
    let done = receiver
        .transfers()
        .unwrap()
        .wait(id, WAIT)
        .await
        .expect("finished");
    assert_eq!(done.state, TransferState::Completed);
    assert!(std::fs::read(inbox.join("doc.bin")).unwrap() == data);
    let left = files_in(&dir.path().join("tmp-b"));
    assert!(left.is_empty(), "temporary data left: {left:?}");
    receiver.shutdown().await;
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root to mount a tmpfs (CI runs it with --include-ignored)"]
async fn a_full_disk_pauses_the_transfer_and_keeps_what_arrived() {
    let dir = TempDir::new("rats-transfer-disk-full");
    let disk = SmallDisk::mount(dir.path().join("small"), "8m");
    let extra = serde_json::json!({
        "chunk_size": 65536,
        "window": 2,
        "free_space_margin": 0,
        "progress_interval_ms": 0,
    });
    let a = node(dir.path(), "a", extra.clone()).await;
    let mut b_section = section(dir.path(), "b", extra);
    b_section["temp_dir"] = disk.0.join("tmp").to_string_lossy().into_owned().into();
    let b = client_with(move |c| {
        c.plugins.insert("transfer".into(), b_section);
    })
    .await;
    let b_id = a.connect(&addr_of(&b)).await.expect("connect");
    let tb = b.transfers().unwrap();
    accept_into(&tb, disk.0.join("inbox"));
    std::fs::create_dir_all(disk.0.join("inbox")).unwrap();
    let src = dir.path().join("six.bin");
    let data = random_file(&src, 6 << 20);
    let mut events = b.events();
    let id = a
        .transfers()
        .unwrap()
        .send_file(&b_id, &src, None)
        .await
        .expect("send");
    rats_tests::next_matching(&mut events, 30, |e| match transfer_event(e) {
        Some(TransferEvent::Progress { id: i, .. }) if i == id => Some(()),
        _ => None,
    })
    .await;
    // Someone else fills the disk while the file arrives (paused meanwhile, so that the
    // transfer cannot finish first).
    tb.pause(id).expect("pause");
    wait_until(10, "sender sees the pause", || {
        a.transfers()
            .unwrap()
            .transfer(id)
            .is_some_and(|i| i.state == TransferState::Paused { by_peer: true })
    })
    .await;
    let filler = disk.0.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 7 << 20]);
    tb.resume(id).expect("resume");
    let reason = rats_tests::next_matching(&mut events, 30, |e| match transfer_event(e) {
        Some(TransferEvent::Paused {
            id: i,
            reason: Some(r),
            ..
        }) if i == id => Some(r),
        _ => None,
    })
    .await;
    assert!(reason.contains("disk full"), "{reason}");
    assert!(matches!(
        tb.transfer(id).map(|i| i.state),
        Some(TransferState::Paused { by_peer: false })
    ));
    let kept = tb.stats().bytes_received;
    assert!(kept > 0 && kept < data.len() as u64);
    // Room again: resuming continues from what arrived.
    std::fs::remove_file(&filler).unwrap();
    let sent_before = a.transfers().unwrap().stats().bytes_sent;
    tb.resume(id).expect("resume");
    let done = tb.wait(id, WAIT).await.expect("finished");
    assert_eq!(done.state, TransferState::Completed);
    assert!(std::fs::read(disk.0.join("inbox/six.bin")).unwrap() == data);
    let sent_again = a.transfers().unwrap().stats().bytes_sent - sent_before;
    assert!(
        sent_again < data.len() as u64,
        "continued, not restarted: {sent_again}"
    );
    a.shutdown().await;
    b.shutdown().await;
    drop(disk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transfers_share_the_connection() {
    let p = pair_with(serde_json::json!({"chunk_size": 65536, "window": 4})).await;
    let inbox = p.path("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    accept_into(&p.tb(), inbox.clone());
    let one = random_file(&p.path("one.bin"), 20 << 20);
    let two = random_file(&p.path("two.bin"), 20 << 20);
    let ta = p.ta();
    let mut events = p.a.events();
    let (first, second) = tokio::join!(
        ta.send_file(&p.b_id, p.path("one.bin"), None),
        ta.send_file(&p.b_id, p.path("two.bin"), None)
    );
    let (first, second) = (first.expect("send one"), second.expect("send two"));
    // When either finishes, the other has moved a fair share too (each keeps its own window
    // of chunks in the one connection's queue).
    let (done, other) = rats_tests::next_matching(&mut events, 60, |e| match transfer_event(e) {
        Some(TransferEvent::Finished(info)) if info.id == first => Some((first, second)),
        Some(TransferEvent::Finished(info)) if info.id == second => Some((second, first)),
        _ => None,
    })
    .await;
    assert_ne!(done, other);
    let moved = p.tb().stats().bytes_received.saturating_sub(20 << 20);
    assert!(
        moved >= 5 << 20,
        "the other transfer got only {moved} bytes meanwhile"
    );
    assert_eq!(
        ta.wait(other, WAIT).await.unwrap().state,
        TransferState::Completed
    );
    assert!(std::fs::read(inbox.join("one.bin")).unwrap() == one);
    assert!(std::fs::read(inbox.join("two.bin")).unwrap() == two);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_larger_than_a_message_fails_with_a_clear_error() {
    let dir = TempDir::new("rats-transfer-big-offer");
    let s = section(dir.path(), "a", serde_json::json!({}));
    let a = client_with(move |c| {
        c.max_message_size = 64 * 1024;
        c.plugins.insert("transfer".into(), s);
    })
    .await;
    let b = node(dir.path(), "b", serde_json::json!({})).await;
    let b_id = a.connect(&addr_of(&b)).await.expect("connect");
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    for i in 0..1500 {
        std::fs::write(
            tree.join(format!("file-with-a-longish-name-{i:05}.txt")),
            b"x",
        )
        .unwrap();
    }
    let err = a
        .transfers()
        .unwrap()
        .send_directory(&b_id, &tree, None, true)
        .await
        .expect_err("the offer does not fit one message");
    assert!(err.to_string().contains("max_message_size"), "{err}");
    wait_until(5, "the abandoned offer's state is removed", || {
        files_in(&dir.path().join("tmp-a")).is_empty()
    })
    .await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tree_of_many_small_files_arrives() {
    // Many one-chunk files keep a whole window of acknowledgements and file_done messages
    // coming back at once: none may be lost (a lost one stalls the transfer).
    let p = pair().await;
    let src = p.path("many");
    for i in 0..3000 {
        let dir = src.join(format!("d{:02}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&dir).unwrap();
        }
        std::fs::write(dir.join(format!("f{i:04}")), format!("file {i}")).unwrap();
    }
    let (inbox, id) = push_directory(&p, &src).await;
    let done = p.ta().wait(id, WAIT).await.expect("finished");
    assert_eq!(done.state, TransferState::Completed);
    assert_eq!(files_in(&src), files_in(&inbox.join("many")));
    assert_eq!(
        std::fs::read_to_string(inbox.join("many/d29/f2999")).unwrap(),
        "file 2999"
    );
    assert_eq!(p.ta().stats().chunks_dropped, 0, "no message was dropped");
    p.stop().await;
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root to mount a tmpfs (CI runs it with --include-ignored)"]
async fn files_move_into_place_across_file_systems() {
    let dir = TempDir::new("rats-transfer-cross-fs");
    let disk = SmallDisk::mount(dir.path().join("tmpfs"), "64m");
    let a = node(dir.path(), "a", serde_json::json!({})).await;
    let mut b_section = section(dir.path(), "b", serde_json::json!({"free_space_margin": 0}));
    // Partial data on the tmpfs, destination on the test directory's file system.
    b_section["temp_dir"] = disk.0.join("tmp").to_string_lossy().into_owned().into();
    let b = client_with(move |c| {
        c.plugins.insert("transfer".into(), b_section);
    })
    .await;
    let b_id = a.connect(&addr_of(&b)).await.expect("connect");
    let inbox = dir.path().join("inbox");
    accept_into(&b.transfers().unwrap(), inbox.clone());
    let tree = dir.path().join("tree");
    let one = random_file(&tree.join("x.bin"), 3 << 20);
    let two = random_file(&tree.join("sub/y.bin"), 1000);
    let id = a
        .transfers()
        .unwrap()
        .send_directory(&b_id, &tree, None, true)
        .await
        .expect("send");
    let done = a
        .transfers()
        .unwrap()
        .wait(id, WAIT)
        .await
        .expect("finished");
    assert_eq!(done.state, TransferState::Completed);
    assert!(std::fs::read(inbox.join("tree/x.bin")).unwrap() == one);
    assert!(std::fs::read(inbox.join("tree/sub/y.bin")).unwrap() == two);
    // No hidden copy left beside the files.
    assert_eq!(
        files_in(&inbox),
        vec!["tree", "tree/sub", "tree/sub/y.bin", "tree/x.bin"]
    );
    a.shutdown().await;
    b.shutdown().await;
    drop(disk);
}
