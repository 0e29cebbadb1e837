//! Answering other nodes' queries: ping, find_node, get_peers, announce_peer (BEP 5), with
//! BEP 32 `want` and the BEP 42 `ip` key, under the inbound rate limits.

use std::net::SocketAddr;
use std::time::Instant;

use super::Actor;
use crate::bencode::Value;
use crate::compact;
use crate::krpc::{self, Message, Query};
use crate::routing::K;

/// Most peers in one get_peers answer, so that it fits a 1280-byte datagram with the nodes:
/// 50 × 8 bytes for IPv4, 20 × 21 bytes for IPv6.
const MAX_VALUES_V4: usize = 50;
const MAX_VALUES_V6: usize = 20;

impl Actor {
    pub(super) fn answer(
        &mut self,
        msg: &Message<'_>,
        q: &Query<'_>,
        from: SocketAddr,
        now: Instant,
    ) -> bool {
        if !self.in_budget.allow(from.ip(), now) {
            self.stats.rate_limited += 1;
            return false;
        }
        let own = self.own_id();
        if q.bad_args {
            let reply = krpc::encode_error(msg.tid, 203, "malformed arguments");
            return self.reply(from, reply, now);
        }
        let reply = match q.method {
            b"ping" => krpc::encode_response(msg.tid, &own, Vec::new(), &from),
            b"find_node" => match q.target {
                Some(target) => self.nodes_answer(msg.tid, target, from),
                None => krpc::encode_error(msg.tid, 203, "find_node needs a target"),
            },
            b"get_peers" => match q.info_hash {
                Some(hash) => {
                    let token = self.tokens.issue(from.ip());
                    let nodes = compact::encode_nodes(&self.table.closest(&hash, K));
                    let max = if from.is_ipv6() {
                        MAX_VALUES_V6
                    } else {
                        MAX_VALUES_V4
                    };
                    let peers = self.store.get(&hash, max, from.is_ipv6(), now);
                    let compact_peers: Vec<Vec<u8>> = peers
                        .iter()
                        .map(|p| {
                            let mut v = Vec::with_capacity(18);
                            compact::encode_addr(p, &mut v);
                            v
                        })
                        .collect();
                    let mut body = vec![
                        (&b"token"[..], Value::Bytes(&token)),
                        (self.nodes_key(), Value::Bytes(&nodes)),
                    ];
                    if !compact_peers.is_empty() {
                        body.push((
                            b"values",
                            Value::List(compact_peers.iter().map(|v| Value::Bytes(v)).collect()),
                        ));
                    }
                    krpc::encode_response(msg.tid, &own, body, &from)
                }
                None => krpc::encode_error(msg.tid, 203, "get_peers needs an info_hash"),
            },
            b"announce_peer" => self.announce_peer(msg, q, from, now),
            _ => match q.target.or(q.info_hash) {
                // BEP 5 forward compatibility: an unknown method with a target is answered
                // like find_node.
                Some(target) => self.nodes_answer(msg.tid, target, from),
                None => krpc::encode_error(msg.tid, 204, "Method Unknown"),
            },
        };
        self.reply(from, reply, now)
    }

    /// Queues an answer if the reply byte budget allows (we never become a strong reflector).
    fn reply(&mut self, to: SocketAddr, bytes: Vec<u8>, now: Instant) -> bool {
        if !self.out_bytes.take_n(bytes.len() as u32, now) {
            self.stats.rate_limited += 1;
            return false;
        }
        self.outbox.push((to, bytes));
        true
    }

    fn announce_peer(
        &mut self,
        msg: &Message<'_>,
        q: &Query<'_>,
        from: SocketAddr,
        now: Instant,
    ) -> Vec<u8> {
        let (Some(hash), Some(token)) = (q.info_hash, q.token) else {
            return krpc::encode_error(msg.tid, 203, "announce_peer needs info_hash and token");
        };
        if !self.tokens.check(from.ip(), token) {
            self.stats.announces_refused += 1;
            return krpc::encode_error(msg.tid, 203, "bad token");
        }
        let port = if q.implied_port {
            Some(from.port())
        } else {
            q.port
        };
        let Some(port) = port.filter(|p| *p != 0) else {
            return krpc::encode_error(msg.tid, 203, "announce_peer needs a port");
        };
        if self.store.add(hash, SocketAddr::new(from.ip(), port), now) {
            self.stats.announces_stored += 1;
        } else {
            self.stats.announces_refused += 1;
            return krpc::encode_error(msg.tid, 202, "announce store full");
        }
        let own = self.own_id();
        krpc::encode_response(msg.tid, &own, Vec::new(), &from)
    }

    /// A find_node answer: our closest verified nodes to `target`.
    fn nodes_answer(&self, tid: &[u8], target: crate::id::NodeId, from: SocketAddr) -> Vec<u8> {
        let own = self.own_id();
        let nodes = compact::encode_nodes(&self.table.closest(&target, K));
        krpc::encode_response(
            tid,
            &own,
            vec![(self.nodes_key(), Value::Bytes(&nodes))],
            &from,
        )
    }

    fn nodes_key(&self) -> &'static [u8] {
        if self.local.is_ipv6() {
            b"nodes6"
        } else {
            b"nodes"
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::id::NodeId;
    use crate::node::{DhtNode, NodeSettings};

    /// An actor on a loopback socket that is never read: the test drives `answer` directly
    /// and reads what it queued.
    async fn actor() -> Actor {
        let settings = NodeSettings::new("127.0.0.1:0".parse().unwrap(), Vec::new());
        let (_handle, task) = DhtNode::bind(settings).await.unwrap();
        task.actor
    }

    fn announce(token: &[u8], hash: &NodeId) -> Vec<u8> {
        let id = NodeId::random();
        krpc::encode_query(
            b"aa",
            b"announce_peer",
            vec![
                (b"info_hash", Value::Bytes(&hash.0)),
                (b"port", Value::Int(7878)),
                (b"token", Value::Bytes(token)),
            ],
            &id,
        )
    }

    /// Feeds one query to the actor and returns the error code it answered with, if any.
    fn answer_error(actor: &mut Actor, packet: &[u8], from: SocketAddr) -> Option<i64> {
        let msg = Message::parse(packet).unwrap();
        let krpc::Kind::Query(q) = &msg.kind else {
            panic!("not a query")
        };
        assert!(actor.answer(&msg, q, from, Instant::now()), "answered");
        let (to, reply) = actor.outbox.pop().expect("a reply");
        assert_eq!(to, from);
        match Message::parse(&reply).unwrap().kind {
            krpc::Kind::Error { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Feeds one query and returns the raw answer.
    fn response(actor: &mut Actor, packet: &[u8], from: SocketAddr) -> Vec<u8> {
        let msg = Message::parse(packet).unwrap();
        let krpc::Kind::Query(q) = &msg.kind else {
            panic!("not a query")
        };
        assert!(actor.answer(&msg, q, from, Instant::now()), "answered");
        actor.outbox.pop().expect("a reply").1
    }

    #[tokio::test]
    async fn ping_find_node_and_get_peers_get_their_answers() {
        let mut actor = actor().await;
        let from: SocketAddr = "127.0.0.5:6881".parse().unwrap();
        let id = NodeId::random();
        let own = actor.own_id();
        let ping = krpc::encode_query(b"p1", b"ping", vec![], &id);
        let answer = response(&mut actor, &ping, from);
        match Message::parse(&answer).unwrap().kind {
            krpc::Kind::Response(r) => assert_eq!(r.id, Some(own)),
            other => panic!("{other:?}"),
        }
        let target = NodeId::random();
        let find = krpc::encode_query(
            b"f1",
            b"find_node",
            vec![(b"target", Value::Bytes(&target.0))],
            &id,
        );
        let answer = response(&mut actor, &find, from);
        let root = Value::decode(&answer).unwrap();
        assert!(
            root.get(b"r").and_then(|r| r.get(b"nodes")).is_some(),
            "IPv4 nodes key"
        );
        // get_peers: a token, and the stored peer once announced.
        let hash = NodeId::random();
        let get = krpc::encode_query(
            b"g1",
            b"get_peers",
            vec![(b"info_hash", Value::Bytes(&hash.0))],
            &id,
        );
        let answer = response(&mut actor, &get, from);
        match Message::parse(&answer).unwrap().kind {
            krpc::Kind::Response(r) => {
                assert!(r.values.is_empty());
                let token = r.token.expect("a token").to_vec();
                assert_eq!(
                    answer_error(&mut actor, &announce(&token, &hash), from),
                    None
                );
            }
            other => panic!("{other:?}"),
        }
        let answer = response(&mut actor, &get, from);
        match Message::parse(&answer).unwrap().kind {
            krpc::Kind::Response(r) => {
                assert_eq!(r.values, vec!["127.0.0.5:7878".parse().unwrap()]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(actor.stats.announces_stored, 1);
    }

    #[tokio::test]
    async fn queries_over_the_rate_limit_are_dropped_and_counted() {
        let mut actor = actor().await;
        let from: SocketAddr = "127.0.0.5:6881".parse().unwrap();
        let ping = krpc::encode_query(b"p1", b"ping", vec![], &NodeId::random());
        let msg = Message::parse(&ping).unwrap();
        let krpc::Kind::Query(q) = &msg.kind else {
            panic!("not a query")
        };
        let now = Instant::now();
        let answered = (0..1000)
            .filter(|_| actor.answer(&msg, q, from, now))
            .count();
        assert!(answered < 1000, "the per-IP limit applies");
        assert_eq!(actor.stats.rate_limited, (1000 - answered) as u64);
        assert_eq!(actor.outbox.len(), answered);
    }

    #[tokio::test]
    async fn announce_peer_with_a_bad_token_is_error_203_and_stores_nothing() {
        let mut actor = actor().await;
        let from: SocketAddr = "127.0.0.5:6881".parse().unwrap();
        let hash = NodeId::random();
        // A token issued to another address is as bad as a made-up one.
        let other = actor.tokens.issue("127.0.0.6".parse().unwrap());
        for token in [&b"made-up"[..], &other[..]] {
            assert_eq!(
                answer_error(&mut actor, &announce(token, &hash), from),
                Some(203)
            );
        }
        assert_eq!(actor.store.hashes(), 0);
        assert_eq!(actor.stats.announces_refused, 2);
        assert_eq!(actor.stats.announces_stored, 0);
        // The token it was given is taken.
        let token = actor.tokens.issue(from.ip());
        assert_eq!(
            answer_error(&mut actor, &announce(&token, &hash), from),
            None
        );
        assert_eq!(actor.store.hashes(), 1);
        let stored = actor.store.get(&hash, 10, false, Instant::now());
        assert_eq!(stored, vec!["127.0.0.5:7878".parse().unwrap()]);
    }
}
