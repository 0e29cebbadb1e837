//! A hostile peer speaking the transfer protocol by hand: unsafe names, impossible sizes,
//! chunks for transfers it does not own, corrupt chunks and floods are refused; nothing is
//! written outside the destination and the node keeps working.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::BytesMut;
use rats::RatsClient;
use rats_core::encryption::SecureConnection;
use rats_core::frame::put_whole;
use rats_core::{Identity, ProtocolId};
use rats_tests::{TempDir, addr_of, client_with, next_raw_frame, raw_noise_client, wait_until};
use rats_transfer::wire::{
    CONTROL_CHANNEL, ChunkHeader, Control, DATA_CHANNEL, Kind, Offer, WireFile,
};
use rats_transfer::{AcceptDecision, TransferId, TransferState};
use sha2::{Digest, Sha256};

struct Hostile {
    id: Identity,
    conn: SecureConnection,
    pending: BytesMut,
}

impl Hostile {
    async fn connect(node: &RatsClient) -> Hostile {
        let (id, conn) =
            raw_noise_client(&node.listen_addrs()[0], &ProtocolId::new("rats", "1.0")).await;
        let peer = id.peer_id();
        wait_until(5, "hostile peer registered", || {
            node.node().is_connected(&peer)
        })
        .await;
        Hostile {
            id,
            conn,
            pending: BytesMut::new(),
        }
    }

    async fn send(&mut self, channel: u16, payload: &[u8]) {
        let mut frame = BytesMut::new();
        put_whole(&mut frame, channel, &[], payload);
        self.conn.writer.write(&[&frame]).await.expect("write");
    }

    /// Sends one message of any size, cut into frames of at most 60 000 bytes.
    async fn send_message(&mut self, channel: u16, msg: &[u8]) {
        use rats_core::frame::{FLAG_CONT, FLAG_END, FLAG_START, put_header};
        let pieces: Vec<&[u8]> = msg.chunks(60_000).collect();
        let mut frames = BytesMut::new();
        for (k, piece) in pieces.iter().enumerate() {
            let flags = match (k == 0, k + 1 == pieces.len()) {
                (true, true) => 0,
                (true, false) => FLAG_START,
                (false, false) => FLAG_CONT,
                (false, true) => FLAG_CONT | FLAG_END,
            };
            if flags == FLAG_START {
                put_header(&mut frames, channel, flags, piece.len() + 4);
                frames.extend_from_slice(&(msg.len() as u32).to_be_bytes());
            } else {
                put_header(&mut frames, channel, flags, piece.len());
            }
            frames.extend_from_slice(piece);
        }
        self.conn.writer.write(&[&frames]).await.expect("write");
    }

    /// Sends file 0 of transfer `id` as 64 KiB chunks (the offer's chunk size), each header
    /// carrying `hash` of its chunk.
    async fn send_chunks(&mut self, id: TransferId, data: &[u8], hash: impl Fn(&[u8]) -> [u8; 32]) {
        for (i, part) in data.chunks(65536).enumerate() {
            let msg = ChunkHeader {
                id,
                file: 0,
                chunk: i as u64,
                sha256: hash(part),
            }
            .message(part);
            self.send_message(DATA_CHANNEL, &msg).await;
        }
    }

    async fn control(&mut self, msg: &Control) {
        self.send(CONTROL_CHANNEL, &msg.encode()).await;
    }

    /// The next transfer control message from the node (skipping node control frames).
    async fn next_control(&mut self) -> Control {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let (channel, payload) = next_raw_frame(&mut self.conn, &mut self.pending)
                    .await
                    .expect("node closed the connection");
                if channel == CONTROL_CHANNEL {
                    return Control::decode(&payload).expect("node sends valid messages");
                }
            }
        })
        .await
        .expect("a transfer message in time")
    }

    /// Waits for the answer about transfer `id` (skipping other transfers' messages).
    async fn answer_for(&mut self, id: TransferId) -> Control {
        loop {
            let c = self.next_control().await;
            if c.id() == id {
                return c;
            }
        }
    }
}

fn offer(name: &str, files: Vec<WireFile>, kind: Kind) -> Offer {
    Offer {
        id: TransferId::random(),
        kind,
        name: name.into(),
        files,
        dirs: vec![],
        chunk_size: 65536,
    }
}

fn file(path: &str, data: &[u8]) -> WireFile {
    WireFile {
        path: path.into(),
        size: data.len() as u64,
        mtime: 0,
        sha256: hex::encode(Sha256::digest(data)),
    }
}

async fn victim(dir: &Path) -> (RatsClient, PathBuf) {
    let tmp = dir.join("tmp-victim");
    let node = client_with(move |c| {
        c.plugins.insert(
            "transfer".into(),
            serde_json::json!({"temp_dir": tmp, "max_pending_per_peer": 4}),
        );
    })
    .await;
    let inbox = dir.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let into = inbox.clone();
    node.transfers().unwrap().set_accept_callback(move |o| {
        let into = into.clone();
        async move { AcceptDecision::Accept(into.join(&o.name)) }
    });
    (node, inbox)
}

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsafe_names_and_impossible_sizes_are_refused() {
    let dir = TempDir::new("rats-hostile-names");
    let (node, _inbox) = victim(dir.path()).await;
    let before = all_files(dir.path());
    let mut h = Hostile::connect(&node).await;
    let data = b"owned";
    let mut cases = vec![
        offer("../evil", vec![file("../evil", data)], Kind::File),
        offer("/tmp/evil", vec![file("/tmp/evil", data)], Kind::File),
        offer("C:evil", vec![file("C:evil", data)], Kind::File),
        offer("nul\0byte", vec![file("nul\0byte", data)], Kind::File),
        offer(
            &"x".repeat(300),
            vec![file(&"x".repeat(300), data)],
            Kind::File,
        ),
        offer("tree", vec![file("sub/../../evil", data)], Kind::Directory),
        offer("tree", vec![file("/abs/evil", data)], Kind::Directory),
        offer("..", vec![file("ok", data)], Kind::Directory),
    ];
    let mut huge = offer("huge", vec![file("huge", data)], Kind::File);
    huge.files[0].size = 1 << 63;
    cases.push(huge);
    let mut many = offer("many", vec![], Kind::Directory);
    many.files = (0..3).map(|i| file(&format!("f{i}"), data)).collect();
    many.files.iter_mut().for_each(|f| f.size = u64::MAX / 2);
    cases.push(many);
    for o in cases {
        let id = o.id;
        let name = o.name.clone();
        h.control(&Control::Offer(o)).await;
        match h.answer_for(id).await {
            Control::Reject { reason, .. } => assert!(!reason.is_empty(), "{name}"),
            other => panic!("{name:?} was not refused: {other:?}"),
        }
    }
    assert_eq!(node.transfers().unwrap().stats().rejected, 10);
    // Unknown message types (a newer version) and truncated chunks are ignored and counted,
    // not a reason to drop the peer.
    let dropped = node.transfers().unwrap().stats().chunks_dropped;
    h.send(CONTROL_CHANNEL, br#"{"t":"from_the_future","id":"00"}"#)
        .await;
    h.send(CONTROL_CHANNEL, b"\xff not json").await;
    h.send(DATA_CHANNEL, b"short").await;
    wait_until(5, "ignored messages counted", || {
        node.transfers().unwrap().stats().chunks_dropped >= dropped + 3
    })
    .await;
    // Nothing was written anywhere.
    assert_eq!(all_files(dir.path()), before);
    assert!(!Path::new("/tmp/evil").exists());
    assert!(
        node.node().is_connected(&h.id.peer_id()),
        "refusals do not cost the connection"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_chunks_are_asked_again_and_foreign_chunks_dropped() {
    let dir = TempDir::new("rats-hostile-chunks");
    let (node, inbox) = victim(dir.path()).await;
    let stats = || node.transfers().unwrap().stats();
    let mut h = Hostile::connect(&node).await;
    let data = vec![7u8; 1000];
    let o = offer("fine.bin", vec![file("fine.bin", &data)], Kind::File);
    let id = o.id;
    h.control(&Control::Offer(o)).await;
    assert!(matches!(h.answer_for(id).await, Control::Accept { .. }));
    // A chunk whose hash does not match: asked for again, nothing kept.
    let bad = ChunkHeader {
        id,
        file: 0,
        chunk: 0,
        sha256: [0; 32],
    };
    h.send(DATA_CHANNEL, &bad.message(&data)).await;
    assert!(matches!(
        h.answer_for(id).await,
        Control::Nack { chunk: 0, .. }
    ));
    assert_eq!(stats().chunks_corrupt, 1);
    // A chunk for a transfer that does not exist, and one beyond the file: dropped.
    let stranger = ChunkHeader {
        id: TransferId::random(),
        file: 0,
        chunk: 0,
        sha256: Sha256::digest(&data).into(),
    };
    h.send(DATA_CHANNEL, &stranger.message(&data)).await;
    let beyond = ChunkHeader {
        chunk: 5,
        ..stranger
    };
    h.send(DATA_CHANNEL, &ChunkHeader { id, ..beyond }.message(&data))
        .await;
    wait_until(5, "foreign chunks counted", || stats().chunks_dropped >= 2).await;
    // The right chunk completes the file.
    let good = ChunkHeader {
        sha256: Sha256::digest(&data).into(),
        ..bad
    };
    h.send(DATA_CHANNEL, &good.message(&data)).await;
    assert!(matches!(
        h.answer_for(id).await,
        Control::Ack { chunk: 0, .. }
    ));
    assert!(matches!(
        h.answer_for(id).await,
        Control::FileDone { file: 0, .. }
    ));
    assert_eq!(std::fs::read(inbox.join("fine.bin")).unwrap(), data);

    // Chunks for an honest peer's transfer, sent by the hostile one, are dropped.
    let honest = client_with(|_| {}).await;
    let b_id = honest.connect(&addr_of(&node)).await.expect("connect");
    let src = dir.path().join("honest.bin");
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&src, &content).unwrap();
    let ht = honest.transfers().unwrap();
    let hid = ht.send_file(&b_id, &src, None).await.expect("send");
    wait_until(5, "victim knows the honest transfer", || {
        node.transfers().unwrap().transfer(hid).is_some()
    })
    .await;
    let dropped = stats().chunks_dropped;
    // A full-length chunk 0 with a hash that matches its (wrong) data: only the ownership
    // check keeps it out (else the honest file would fail its whole-file hash).
    let garbage = vec![0x5Au8; 256 * 1024];
    let forged = ChunkHeader {
        id: hid,
        file: 0,
        chunk: 0,
        sha256: Sha256::digest(&garbage).into(),
    };
    h.send_message(DATA_CHANNEL, &forged.message(&garbage))
        .await;
    wait_until(5, "forged chunk dropped", || {
        stats().chunks_dropped > dropped
    })
    .await;
    let done = ht
        .wait(hid, Duration::from_secs(30))
        .await
        .expect("finished");
    assert_eq!(done.state, TransferState::Completed);
    assert!(std::fs::read(inbox.join("honest.bin")).unwrap() == content);
    honest.shutdown().await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_offers_and_requests_is_refused_and_the_node_keeps_working() {
    let dir = TempDir::new("rats-hostile-flood");
    let (node, inbox) = victim(dir.path()).await;
    // An accept callback that never answers: offers pile up as pending.
    let (hold_tx, _hold_rx) = tokio::sync::watch::channel(());
    let hold = hold_tx.clone();
    node.transfers().unwrap().set_accept_callback(move |_| {
        let mut rx = hold.subscribe();
        async move {
            let _ = rx.changed().await;
            AcceptDecision::Reject("late".into())
        }
    });
    let mut h = Hostile::connect(&node).await;
    let mut ids = Vec::new();
    for i in 0..200 {
        let o = offer(
            &format!("f{i}"),
            vec![file(&format!("f{i}"), b"x")],
            Kind::File,
        );
        ids.push(o.id);
        h.control(&Control::Offer(o)).await;
    }
    for i in 0..100 {
        let id = TransferId::random();
        ids.push(id);
        h.control(&Control::Request {
            id,
            path: format!("r{i}"),
            directory: false,
        })
        .await;
    }
    // Every offer beyond the pending limit, and every request (nothing is shared), is refused.
    let mut refused = 0;
    while refused < 196 + 100 {
        match h.next_control().await {
            Control::Reject { .. } => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(node.node().is_connected(&h.id.peer_id()));
    // An honest peer still gets its file through.
    node.transfers().unwrap().set_accept_callback({
        let inbox = inbox.clone();
        move |o| {
            let inbox = inbox.clone();
            async move { AcceptDecision::Accept(inbox.join(&o.name)) }
        }
    });
    let honest = client_with(|_| {}).await;
    let b_id = honest.connect(&addr_of(&node)).await.expect("connect");
    let src = dir.path().join("after-flood.txt");
    std::fs::write(&src, b"still here").unwrap();
    let t = honest.transfers().unwrap();
    let id = t.send_file(&b_id, &src, None).await.expect("send");
    assert_eq!(
        t.wait(id, Duration::from_secs(30)).await.unwrap().state,
        TransferState::Completed
    );
    assert_eq!(
        std::fs::read(inbox.join("after-flood.txt")).unwrap(),
        b"still here"
    );
    drop(hold_tx);
    honest.shutdown().await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_file_hash_mismatch_fails_and_keeps_nothing() {
    let dir = TempDir::new("rats-hostile-mismatch");
    let (node, inbox) = victim(dir.path()).await;
    let mut h = Hostile::connect(&node).await;
    // One chunk and three chunks: every chunk is genuine, the announced file hash is not.
    for (name, size) in [("one.bin", 1000usize), ("three.bin", 65536 * 2 + 10)] {
        let data: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
        let mut wire = file(name, &data);
        wire.sha256 = hex::encode(Sha256::digest(b"something else"));
        let o = offer(name, vec![wire], Kind::File);
        let id = o.id;
        h.control(&Control::Offer(o)).await;
        assert!(matches!(h.answer_for(id).await, Control::Accept { .. }));
        h.send_chunks(id, &data, |part| Sha256::digest(part).into())
            .await;
        loop {
            match h.answer_for(id).await {
                Control::Ack { .. } => continue,
                Control::Failed { reason, .. } => {
                    assert!(reason.contains("SHA-256 mismatch"), "{name}: {reason}");
                    break;
                }
                other => panic!("{name}: unexpected {other:?}"),
            }
        }
        let info = node
            .transfers()
            .unwrap()
            .wait(id, Duration::from_secs(10))
            .await
            .unwrap();
        assert!(
            matches!(
                info.state,
                TransferState::Failed(rats_transfer::TransferError::HashMismatch(_))
            ),
            "{name}: {}",
            info.state
        );
        assert!(
            !inbox.join(name).exists(),
            "{name} must not reach the destination"
        );
    }
    assert!(all_files(&dir.path().join("tmp-victim")).is_empty());
    node.shutdown().await;
}

/// Over an encrypted connection the receiver does not hash each chunk of a larger file a
/// second time: the AEAD authenticated the bytes and the whole file's SHA-256 decides. So a
/// chunk hash field that is wrong (here: zeros) costs nothing when the data is right, and
/// right chunk hashes over wrong data do not get a file in (the test above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_encryption_the_file_hash_decides_not_the_chunk_hash_field() {
    let dir = TempDir::new("rats-hostile-chunkfield");
    let (node, inbox) = victim(dir.path()).await;
    let mut h = Hostile::connect(&node).await;
    let data: Vec<u8> = (0..65536 * 2 + 10).map(|i| (i % 241) as u8).collect();
    let o = offer("three.bin", vec![file("three.bin", &data)], Kind::File);
    let id = o.id;
    h.control(&Control::Offer(o)).await;
    assert!(matches!(h.answer_for(id).await, Control::Accept { .. }));
    h.send_chunks(id, &data, |_| [0; 32]).await;
    let mut acks = 0;
    loop {
        match h.answer_for(id).await {
            Control::Ack { .. } => acks += 1,
            Control::FileDone { file: 0, .. } => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(acks, 3);
    assert_eq!(std::fs::read(inbox.join("three.bin")).unwrap(), data);
    assert_eq!(node.transfers().unwrap().stats().chunks_corrupt, 0);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_chunk_never_blocks_the_receiver() {
    let dir = TempDir::new("rats-hostile-gap");
    let tmp = dir.path().join("tmp-victim");
    let node = client_with(move |c| {
        c.plugins.insert(
            "transfer".into(),
            serde_json::json!({"temp_dir": tmp, "window": 2}),
        );
    })
    .await;
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let into = inbox.clone();
    node.transfers().unwrap().set_accept_callback(move |o| {
        let into = into.clone();
        async move { AcceptDecision::Accept(into.join(&o.name)) }
    });
    let mut h = Hostile::connect(&node).await;
    let data: Vec<u8> = (0..4 * 65536u32).map(|i| (i % 241) as u8).collect();
    let o = offer("gap.bin", vec![file("gap.bin", &data)], Kind::File);
    let id = o.id;
    h.control(&Control::Offer(o)).await;
    assert!(matches!(h.answer_for(id).await, Control::Accept { .. }));
    let chunk = |c: usize| {
        let part = &data[c * 65536..(c + 1) * 65536];
        ChunkHeader {
            id,
            file: 0,
            chunk: c as u64,
            sha256: Sha256::digest(part).into(),
        }
        .message(part)
    };
    // Chunk 0 "lost": 1 and 2 fill the receiver's window (they wait, verified, to be hashed
    // after 0), 3 is dropped.
    let stats = || node.transfers().unwrap().stats();
    for c in [1, 2, 3] {
        h.send_message(DATA_CHANNEL, &chunk(c)).await;
    }
    wait_until(5, "chunk 3 dropped", || stats().chunks_dropped >= 1).await;
    // The gap filler is still taken; then 0, 1 and 2 are hashed and acknowledged in order.
    h.send_message(DATA_CHANNEL, &chunk(0)).await;
    for c in 0..3 {
        match h.answer_for(id).await {
            Control::Ack { chunk, .. } => assert_eq!(chunk, c),
            other => panic!("unexpected {other:?}"),
        }
    }
    h.send_message(DATA_CHANNEL, &chunk(3)).await;
    assert!(matches!(
        h.answer_for(id).await,
        Control::Ack { chunk: 3, .. }
    ));
    assert!(matches!(h.answer_for(id).await, Control::FileDone { .. }));
    assert!(std::fs::read(inbox.join("gap.bin")).unwrap() == data);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_whose_file_done_never_comes_asks_where() {
    let dir = TempDir::new("rats-hostile-stall");
    let tmp = dir.path().join("tmp-sender");
    let node = client_with(move |c| {
        c.plugins.insert(
            "transfer".into(),
            serde_json::json!({"temp_dir": tmp, "chunk_timeout_ms": 300}),
        );
    })
    .await;
    let mut h = Hostile::connect(&node).await;
    let src = dir.path().join("small.bin");
    std::fs::write(&src, vec![3u8; 1000]).unwrap();
    let t = node.transfers().unwrap();
    for answer_cancel in [false, true] {
        let id = t
            .send_file(&h.id.peer_id(), &src, None)
            .await
            .expect("send");
        assert!(matches!(h.answer_for(id).await, Control::Offer(_)));
        h.control(&Control::Accept { id, window: 4 }).await;
        // The chunk is "received" and acknowledged, but no file_done ever comes.
        h.control(&Control::Ack {
            id,
            file: 0,
            chunk: 0,
        })
        .await;
        // After the chunk timeout the sender asks.
        assert!(matches!(h.answer_for(id).await, Control::Where { .. }));
        let reply = if answer_cancel {
            Control::Cancel {
                id,
                reason: "unknown transfer".into(),
            }
        } else {
            Control::Continue {
                id,
                window: 4,
                files: vec![],
            }
        };
        h.control(&reply).await;
        let done = t.wait(id, Duration::from_secs(10)).await.expect("finished");
        let expected = if answer_cancel {
            TransferState::Cancelled
        } else {
            TransferState::Completed
        };
        assert_eq!(done.state, expected);
    }
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_waiting_in_vain_asks_the_sender_and_ends() {
    let dir = TempDir::new("rats-hostile-idle");
    let tmp = dir.path().join("tmp-victim");
    let node = client_with(move |c| {
        c.plugins.insert(
            "transfer".into(),
            serde_json::json!({"temp_dir": tmp, "chunk_timeout_ms": 200}),
        );
    })
    .await;
    let inbox = dir.path().join("inbox");
    let into = inbox.clone();
    node.transfers().unwrap().set_accept_callback(move |o| {
        let into = into.clone();
        async move { AcceptDecision::Accept(into.join(&o.name)) }
    });
    let mut h = Hostile::connect(&node).await;
    let o = offer(
        "never.bin",
        vec![file("never.bin", &[1u8; 5000])],
        Kind::File,
    );
    let id = o.id;
    h.control(&Control::Offer(o)).await;
    assert!(matches!(h.answer_for(id).await, Control::Accept { .. }));
    // No chunk ever comes: the receiver asks where we are, and learns the sender forgot it.
    match h.answer_for(id).await {
        Control::Continue { files, .. } => assert_eq!(files.len(), 1),
        other => panic!("unexpected {other:?}"),
    }
    h.control(&Control::Cancel {
        id,
        reason: "unknown transfer".into(),
    })
    .await;
    let done = node
        .transfers()
        .unwrap()
        .wait(id, Duration::from_secs(10))
        .await
        .expect("finished");
    assert_eq!(done.state, TransferState::Cancelled);
    assert!(all_files(&dir.path().join("tmp-victim")).is_empty());
    node.shutdown().await;
}
