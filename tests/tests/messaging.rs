//! Two real nodes over TCP loopback (IPv4 and IPv6) exchange JSON, text and binary messages.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use rats::{MessageBody, PeerId};
use rats_tests::{client_with, counter, next_matching, wait_until};
use serde_json::json;
use tokio::sync::mpsc;

async fn exchange_all_kinds(listen: &str) {
    let listen = listen.to_string();
    let a = client_with(|c| c.listen = vec![listen.parse().expect("addr")]).await;
    let b = client_with(|c| c.listen = vec![listen.parse().expect("addr")]).await;
    let (tx, mut rx) = mpsc::channel::<(char, PeerId, String)>(64);
    for (name, node) in [('a', &a), ('b', &b)] {
        let t = tx.clone();
        node.on("chat", move |from, data| {
            let _ = t.try_send((name, from, data.to_string()));
        });
        let t = tx.clone();
        node.on_string(move |from, text| {
            let _ = t.try_send((name, from, format!("text:{text}")));
        });
        let t = tx.clone();
        node.on_binary(move |from, data| {
            let _ = t.try_send((name, from, format!("bin:{}", data.len())));
        });
    }
    let b_addr = b.listen_addrs()[0].to_string();
    let b_id = a.connect(&b_addr).await.expect("connect");
    assert_eq!(b_id, b.local_peer_id());
    let a_id = a.local_peer_id();
    wait_until(5, "b sees a", || b.peer_count() == 1).await;
    assert_eq!(a.is_peer_encrypted(&b_id), Some(true));
    assert_eq!(b.is_peer_encrypted(&a_id), Some(true));

    a.send_to(&b_id, "chat", &json!({"n": 1}))
        .await
        .expect("json a->b");
    b.send_to(&a_id, "chat", &json!({"n": 2}))
        .await
        .expect("json b->a");
    a.send_string(&b_id, "hello b").await.expect("text a->b");
    b.send_string(&a_id, "hello a").await.expect("text b->a");
    let big = Bytes::from(vec![7u8; 3 * 1024 * 1024 + 5]);
    a.send_binary(&b_id, big.clone()).await.expect("bin a->b");
    b.send_binary(&a_id, Bytes::from_static(b"xyz"))
        .await
        .expect("bin b->a");
    assert_eq!(a.broadcast("chat", &json!({"n": 3})).expect("broadcast"), 1);

    let mut got = Vec::new();
    for _ in 0..7 {
        let m = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("message in time")
            .expect("channel open");
        got.push(m);
    }
    got.sort();
    let want = vec![
        ('a', b_id, "bin:3".to_string()),
        ('a', b_id, "text:hello a".to_string()),
        ('a', b_id, r#"{"n":2}"#.to_string()),
        ('b', a_id, format!("bin:{}", big.len())),
        ('b', a_id, "text:hello b".to_string()),
        ('b', a_id, r#"{"n":1}"#.to_string()),
        ('b', a_id, r#"{"n":3}"#.to_string()),
    ];
    let mut want = want;
    want.sort();
    assert_eq!(got, want);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_exchange_messages_over_ipv4() {
    exchange_all_kinds("tcp:127.0.0.1:0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_exchange_messages_over_ipv6() {
    exchange_all_kinds("tcp:[::1]:0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dual_stack_listener_accepts_both_families() {
    let server = client_with(|c| c.listen = vec!["tcp:[::]:0".parse().expect("addr")]).await;
    let port = server.listen_addrs()[0].socket_addr().expect("sa").port();
    for target in [format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
        let c = client_with(|_| {}).await;
        let id = c.connect(&target).await.expect("connect");
        assert_eq!(id, server.local_peer_id());
        c.shutdown().await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_fires_once_and_off_stops_delivery() {
    let a = client_with(|_| {}).await;
    let b = client_with(|_| {}).await;
    let once_hits = counter();
    let on_hits = counter();
    let h = once_hits.clone();
    b.once("ev", move |_, _| {
        h.fetch_add(1, Ordering::SeqCst);
    });
    let h = on_hits.clone();
    b.on("ev", move |_, _| {
        h.fetch_add(1, Ordering::SeqCst);
    });
    let b_id = a
        .connect(&b.listen_addrs()[0].to_string())
        .await
        .expect("connect");
    for i in 0..3 {
        a.send_to(&b_id, "ev", &json!(i)).await.expect("send");
    }
    wait_until(5, "three deliveries", || {
        on_hits.load(Ordering::SeqCst) == 3
    })
    .await;
    assert_eq!(once_hits.load(Ordering::SeqCst), 1);
    assert_eq!(b.off("ev"), 1, "only the `on` handler is left to remove");
    // A later message of the same type reaches no handler but still arrives as an event.
    let mut events = b.events();
    a.send_to(&b_id, "ev", &json!("late")).await.expect("send");
    let late = next_matching(&mut events, 5, |e| match e {
        rats::Event::Message {
            body: MessageBody::Json { data, .. },
            ..
        } => Some(data.clone()),
        _ => None,
    })
    .await;
    assert_eq!(late, json!("late"));
    assert_eq!(on_hits.load(Ordering::SeqCst), 3);
    assert_eq!(once_hits.load(Ordering::SeqCst), 1);
    a.shutdown().await;
    b.shutdown().await;
}

/// Many messages of awkward sizes: frames straddle records everywhere; every byte arrives, in
/// order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_of_every_size_arrive_intact_and_in_order() {
    let a = client_with(|_| {}).await;
    let b = client_with(|_| {}).await;
    let (tx, mut rx) = mpsc::channel::<Bytes>(4096);
    b.on_binary(move |_, data| {
        let _ = tx.try_send(data);
    });
    let b_id = a
        .connect(&b.listen_addrs()[0].to_string())
        .await
        .expect("connect");
    let sizes: Vec<usize> = (0..3000usize)
        .map(|i| match i % 7 {
            0 => (i * 7919) % 70_000,
            1 => 65_536 + i % 3,
            2 => 1,
            _ => (i * 31) % 3000,
        })
        .collect();
    let sender = {
        let (a, sizes) = (a.clone(), sizes.clone());
        tokio::spawn(async move {
            for (i, n) in sizes.iter().enumerate() {
                let body: Vec<u8> = (0..*n).map(|k| (k + i) as u8).collect();
                a.send_binary(&b_id, body).await.expect("send");
            }
        })
    };
    for (i, n) in sizes.iter().enumerate() {
        let got = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("in time")
            .expect("open");
        assert_eq!(got.len(), *n, "message {i}");
        assert!(
            got.iter().enumerate().all(|(k, b)| *b == (k + i) as u8),
            "message {i} content"
        );
    }
    sender.await.expect("sender");
    a.shutdown().await;
    b.shutdown().await;
}

/// The application's own types go out with `send_to`/`broadcast` and come back through
/// `on_message` and the `messages_of` stream; data that is not the type is reported, and a
/// stream that is not read reports what it dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_messages_round_trip_and_report_misfits_and_lag() {
    use futures::StreamExt;
    use rats::TypedMessageError;

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Move {
        x: i32,
        y: i32,
    }

    let a = client_with(|_| {}).await;
    let b = client_with(|_| {}).await;
    // The stream first: handlers of a type run in the order they were added, so once the
    // handler below has a message, the stream has seen it too.
    let mut moves = b.messages_of::<Move>("move", 4);
    let (tx, mut handled) = mpsc::channel::<(PeerId, Move)>(8);
    b.on_message("move", move |from, m: Move| {
        let _ = tx.try_send((from, m));
    });
    // `connect` takes anything address-like: here a SocketAddr.
    let b_id = a
        .connect(b.listen_addrs()[0].socket_addr().expect("socket address"))
        .await
        .expect("connect");
    let a_id = a.local_peer_id();

    a.send_to(&b_id, "move", &Move { x: 1, y: 2 })
        .await
        .expect("typed");
    let (from, m) = handled.recv().await.expect("handler got it");
    assert_eq!((from, m), (a_id, Move { x: 1, y: 2 }));
    let next = tokio::time::timeout(Duration::from_secs(5), moves.next()).await;
    assert!(matches!(next, Ok(Some(Ok((from, Move { x: 1, y: 2 })))) if from == a_id));

    // A message of the type whose data is not a Move: the stream says so, the handler skips it.
    a.send_to(&b_id, "move", &json!({"x": "left"}))
        .await
        .expect("json");
    let next = tokio::time::timeout(Duration::from_secs(5), moves.next()).await;
    assert!(
        matches!(next, Ok(Some(Err(TypedMessageError::Malformed { from, .. }))) if from == a_id),
        "{next:?}"
    );

    // Six more while nobody reads: the stream holds four and reports two as lag. The last
    // one goes through the handler too, so once the handler has it, all six have arrived.
    for i in 0..6 {
        assert_eq!(
            a.broadcast("move", &Move { x: i, y: 0 })
                .expect("broadcast"),
            1
        );
    }
    for i in 0..6 {
        let (_, m) = handled.recv().await.expect("handler");
        assert_eq!(m.x, i);
    }
    let next = moves.next().await;
    assert!(
        matches!(next, Some(Err(TypedMessageError::Lagged(2)))),
        "{next:?}"
    );
    let mut kept = Vec::new();
    for _ in 0..4 {
        if let Some(Ok((_, m))) = moves.next().await {
            kept.push(m.x);
        }
    }
    assert_eq!(kept, [0, 1, 2, 3]);
    a.shutdown().await;
    b.shutdown().await;
}

/// The event stream works in `select!` and stream combinators.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_is_a_stream() {
    use futures::StreamExt;

    let a = client_with(|_| {}).await;
    let b = client_with(|_| {}).await;
    let connected = a.events().filter_map(|e| async move {
        match e {
            Ok(rats::Event::PeerConnected { peer, .. }) => Some(peer),
            _ => None,
        }
    });
    let mut connected = Box::pin(connected);
    let b_id = a.connect(&b.listen_addrs()[0]).await.expect("connect");
    tokio::select! {
        peer = connected.next() => assert_eq!(peer, Some(b_id)),
        () = tokio::time::sleep(Duration::from_secs(10)) => panic!("no PeerConnected event"),
    }
    a.shutdown().await;
    b.shutdown().await;
}
