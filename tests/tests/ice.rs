//! Two rats nodes connected through ICE on loopback (offers passed by the test): the rats
//! connection runs over QUIC on the nominated pair, messages flow, and the method says `ice`.

use std::time::Duration;

use rats_nat::ice::{IceConfig, IceSession};
use rats_tests::{client, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_connect_over_ice() {
    let a = client().await;
    let b = client().await;
    let config = IceConfig {
        loopback_only: true,
        ..IceConfig::default()
    };
    let sa = IceSession::new(&config, true).await.expect("session a");
    let sb = IceSession::new(&config, false).await.expect("session b");
    let (oa, ob) = tokio::join!(sa.gather(), sb.gather());
    let (oa, ob) = (oa.expect("offer a"), ob.expect("answer b"));
    assert!(
        oa.candidates.iter().all(|c| c.contains("127.0.0.1")),
        "{oa:?}"
    );
    let (ra, rb) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(a.connect_with_ice(&sa, &ob), b.connect_with_ice(&sb, &oa))
    })
    .await
    .expect("ICE within 30 s");
    let (pb, pa) = (ra.expect("a connects"), rb.expect("b connects"));
    assert_eq!(pb, b.local_peer_id());
    assert_eq!(pa, a.local_peer_id());
    let info = a.peer_info(&pb).expect("peer info");
    assert_eq!(info.method, "ice");
    assert_eq!(info.transport, "quic");
    let got = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let g = got.clone();
    b.on_string(move |_, text| g.lock().push(text.to_string()));
    a.send_string(&pb, "over ice").await.expect("send");
    wait_until(10, "message over ICE", || {
        got.lock().contains(&"over ice".to_string())
    })
    .await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn bad_offers_are_refused() {
    let config = IceConfig {
        loopback_only: true,
        connect_ms: 500,
        ..IceConfig::default()
    };
    let s = IceSession::new(&config, true).await.expect("session");
    let mut offer = s.gather().await.expect("offer");
    offer.pwd = "short".into();
    assert!(s.connect(&offer).await.is_err());
    offer.pwd = "0123456789012345678901".into();
    offer.candidates = vec!["garbage".into()];
    assert!(s.connect(&offer).await.is_err());
    assert!(s.add_remote_candidate("1 1 udp").is_err());
    s.close().await;
}
