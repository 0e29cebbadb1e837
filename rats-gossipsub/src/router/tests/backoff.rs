//! Backoff: after a PRUNE either way, no GRAFT until it ends.

use super::*;
use crate::wire::PxPeer;

/// Behaviour penalties gone at the next heartbeat, so only the backoff holds a peer off.
fn forgiving() -> Harness {
    let mut config = small_config();
    config.score.behaviour_decay = 0.0;
    Harness::new(config)
}

#[test]
fn a_peer_we_pruned_is_not_grafted_until_its_backoff_ends() {
    let mut h = forgiving();
    h.subscribe(T);
    let p = h.connect(&[T]);
    assert!(h.router.unsubscribe(h.now, T));
    assert_eq!(h.out().pruned(T), HashSet::from([p]));
    // Joining again right away leaves it out, and so do heartbeats within the backoff.
    assert!(h.subscribe(T).grafted(T).is_empty());
    h.advance(secs(59));
    assert!(h.heartbeat().grafted(T).is_empty());
    assert!(h.mesh(T).is_empty());
    h.advance(secs(1));
    assert_eq!(h.heartbeat().grafted(T), HashSet::from([p]));
    assert_eq!(h.mesh(T), HashSet::from([p]));
}

#[test]
fn a_graft_during_our_backoff_is_refused_and_penalised() {
    let mut h = forgiving();
    h.subscribe(T);
    let p = h.connect(&[T]);
    h.router.unsubscribe(h.now, T);
    h.subscribe(T);
    h.advance(secs(10));
    assert_eq!(h.score(&p), 0.0);
    let out = h.graft_from(p, T);
    // Refused without a word (it was told already), and it costs the peer (P7).
    assert!(out.sent.is_empty());
    assert!(!h.mesh(T).contains(&p));
    assert_eq!(h.score(&p), h.router.config.score.behaviour_weight);
    // The penalty decays at the heartbeat, but the backoff still holds.
    assert!(h.heartbeat().grafted(T).is_empty());
    assert_eq!(h.score(&p), 0.0);
    // Once it ends, its graft is taken.
    h.advance(secs(51));
    let out = h.graft_from(p, T);
    assert!(out.sent.is_empty());
    assert!(h.mesh(T).contains(&p));
}

#[test]
fn a_prune_from_a_mesh_peer_holds_us_off_for_the_time_it_asks() {
    let mut h = forgiving();
    h.subscribe(T);
    let p = h.connect(&[T]);
    h.router.on_prune(h.now, p, T.into(), 30, Vec::new());
    assert!(h.out().sent.is_empty());
    assert!(h.mesh(T).is_empty());
    h.advance(secs(29));
    assert!(h.heartbeat().grafted(T).is_empty());
    h.advance(secs(1));
    assert_eq!(h.heartbeat().grafted(T), HashSet::from([p]));
    // A backoff beyond an hour is taken as an hour.
    h.router.on_prune(h.now, p, T.into(), u32::MAX, Vec::new());
    let until = h.router.backoff[&(T.to_string(), p)];
    assert_eq!(until, h.now + secs(3600));
}

#[test]
fn a_prune_from_outside_the_mesh_is_ignored() {
    let mut h = Harness::small();
    h.subscribe(T);
    let outsider = h.connect(&["other"]);
    let offered = PxPeer {
        peer: Identity::generate().peer_id(),
        addrs: vec!["tcp:127.0.0.1:7002".into()],
    };
    h.router
        .on_prune(h.now, outsider, T.into(), 60, vec![offered]);
    let out = h.out();
    assert!(out.dials.is_empty(), "its peer list is not used");
    assert!(h.router.backoff.is_empty(), "no state kept for it");
}
