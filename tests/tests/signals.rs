//! NAT signalling through a mutual peer (control messages `forward` and `signal`): a payload
//! reaches the named strategy of the target with its author and the peer that passed it on;
//! a flood is cut to the per-author budget; a malformed message closes only its sender's
//! connection.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::BytesMut;
use parking_lot::Mutex;
use rats_core::__wire::Control;
use rats_core::NodeBuilder;
use rats_core::nat::{NatConnection, NatError, NatStrategy, NatTarget, Signal};
use rats_core::{Event, ProtocolId};
use rats_tests::{addr_of, client, next_matching, raw_noise_client, test_config, wait_until};

/// A strategy that only records the signals it gets.
#[derive(Default)]
struct Recorder {
    got: Mutex<Vec<Signal>>,
}

#[async_trait]
impl NatStrategy for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }
    fn cost(&self) -> u32 {
        1
    }
    async fn connect(&self, _target: &NatTarget) -> Result<NatConnection, NatError> {
        Err(NatError::NotApplicable("records only".into()))
    }
    fn on_signal(&self, signal: Signal) {
        self.got.lock().push(signal);
    }
}

fn control_frames(msgs: &[Control]) -> BytesMut {
    let mut b = BytesMut::new();
    for m in msgs {
        rats_core::frame::put_whole(&mut b, rats_core::frame::CONTROL_CHANNEL, &m.encode(), &[]);
    }
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_signals_arrive_with_their_author_and_floods_are_cut() {
    let relay = client().await;
    let recorder = Arc::new(Recorder::default());
    let target = NodeBuilder::new(test_config())
        .nat(recorder.clone())
        .start()
        .await
        .expect("target starts");
    let target_id = target.local_peer_id();
    target
        .connect(addr_of(&relay))
        .await
        .expect("target joins the relay");
    let (author, mut conn) =
        raw_noise_client(&relay.listen_addrs()[0], &ProtocolId::new("rats", "1.0")).await;
    let author_id = author.peer_id();
    wait_until(5, "the raw client is connected", || {
        relay.peers().iter().any(|p| p.peer_id == author_id)
    })
    .await;
    // 100 forwards in one write: the relay passes on at most 32 per 10 s for this connection,
    // the target takes at most 16 per author.
    let flood: Vec<Control> = (0..100u8)
        .map(|i| Control::Forward {
            to: target_id,
            name: "recorder".into(),
            payload: vec![i],
        })
        .collect();
    conn.writer
        .write(&[&control_frames(&flood)])
        .await
        .expect("write");
    wait_until(5, "signals delivered", || recorder.got.lock().len() >= 16).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = recorder.got.lock().clone();
    assert_eq!(got.len(), 16, "cut to the per-author budget");
    assert!(got.iter().all(|s| s.from == author_id), "author kept");
    assert!(
        got.iter().all(|s| s.via == relay.local_peer_id()),
        "the relay is the deliverer"
    );
    let payloads: Vec<u8> = got.iter().map(|s| s.payload[0]).collect();
    assert_eq!(payloads, (0..16).collect::<Vec<u8>>(), "in order");
    // A truncated forward is a protocol violation: that connection closes, nobody else's.
    let mut events = relay.events();
    let mut bad = BytesMut::new();
    rats_core::frame::put_whole(
        &mut bad,
        rats_core::frame::CONTROL_CHANNEL,
        &[5, 1, 2, 3],
        &[],
    );
    conn.writer.write(&[&bad]).await.expect("write");
    next_matching(&mut events, 5, |e| match e {
        Event::PeerDisconnected { peer, .. } if *peer == author_id => Some(()),
        _ => None,
    })
    .await;
    assert!(relay.peers().iter().any(|p| p.peer_id == target_id));
    target.shutdown().await;
    relay.shutdown().await;
}
