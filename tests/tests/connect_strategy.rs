//! `connect_any` on loopback: direct addresses race and the first that connects wins; every
//! attempt is reported; DIRECT_ONLY and RELAY_ONLY leave out what they exclude.

use rats::core::{ConnectStrategy, Event};
use rats_tests::{addr_of, client, client_with};

/// A TCP port on 127.0.0.1 with nothing listening (it was free a moment ago).
fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_that_connects_wins_and_every_try_is_reported() {
    let a = client().await;
    let b = client().await;
    let mut events = b.events();
    let dead = format!("tcp:127.0.0.1:{}", free_tcp_port());
    let peer = b
        .connect_any(&[&dead, &addr_of(&a)])
        .await
        .expect("connects through the live address");
    assert_eq!(peer, a.local_peer_id());
    assert_eq!(
        b.connection_method(&peer),
        Some(rats::ConnectionMethod::Direct)
    );
    let mut seen = Vec::new();
    while let Ok(Some(Ok(e))) =
        tokio::time::timeout(std::time::Duration::from_millis(200), events.recv()).await
    {
        if let Event::ConnectAttempt {
            addr,
            method,
            error,
            ..
        } = e
        {
            seen.push((addr.to_string(), method.to_string(), error.is_none()));
        }
    }
    assert!(
        seen.contains(&(addr_of(&a), "direct".into(), true)),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|(a, m, ok)| *a == dead && m == "direct" && !ok),
        "{seen:?}"
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategies_leave_out_what_they_exclude() {
    let a = client().await;
    let direct_only = client_with(|c| c.connect_strategy = ConnectStrategy::DirectOnly).await;
    let relay_only = client_with(|c| c.connect_strategy = ConnectStrategy::RelayOnly).await;
    // A relayed address alone: DIRECT_ONLY has nothing to try.
    let err = direct_only
        .connect_any(&["turn:127.0.0.1:9"])
        .await
        .expect_err("nothing allowed");
    assert!(err.to_string().contains("strategy"), "{err}");
    // A direct address alone: RELAY_ONLY does not dial it.
    let mut events = relay_only.events();
    let err = relay_only
        .connect_any(&[&addr_of(&a)])
        .await
        .expect_err("nothing allowed");
    assert!(err.to_string().contains("strategy"), "{err}");
    assert_eq!(a.peer_count(), 0);
    while let Ok(Some(Ok(e))) =
        tokio::time::timeout(std::time::Duration::from_millis(100), events.recv()).await
    {
        assert!(
            !matches!(e, Event::ConnectAttempt { .. }),
            "unexpected attempt {e:?}"
        );
    }
    // The configuration names them as documented.
    let parsed: ConnectStrategy = serde_json::from_str("\"RELAY_ONLY\"").expect("parse");
    assert_eq!(parsed, ConnectStrategy::RelayOnly);
    for n in [a, direct_only, relay_only] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_that_is_another_peer_or_not_rats_gives_way_to_the_next() {
    let a = client().await;
    let c = client().await;
    let b = client().await;
    // Something that accepts TCP and closes: the handshake fails there.
    let junk = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let junk_addr = format!("tcp:{}", junk.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((s, _)) = junk.accept().await {
            drop(s);
        }
    });
    let addrs: Vec<rats::Address> = [junk_addr.as_str(), &addr_of(&c), &addr_of(&a)]
        .iter()
        .map(|s| s.parse().expect("address"))
        .collect();
    // Whatever wins the race first, the call ends at A, the peer asked for.
    let peer = b
        .node()
        .connect_peer(a.local_peer_id(), &addrs)
        .await
        .expect("reaches A");
    assert_eq!(peer, a.local_peer_id());
    rats_tests::wait_until(5, "no connection left to C", || {
        !b.node().is_connected(&c.local_peer_id())
    })
    .await;
    for n in [a, b, c] {
        n.shutdown().await;
    }
}
