//! KRPC messages (BEP 5) with BEP 32 (`nodes6`, `want`) and BEP 42 (`ip`) fields: strict
//! parsing of what a peer sends, and encoding of what we send.

use std::net::SocketAddr;

use crate::bencode::{DecodeError, Value};
use crate::compact::{self, NodeInfo};
use crate::id::NodeId;

/// Longest transaction id we accept (ours are 2 bytes; others use up to 4 or 8).
const MAX_TID: usize = 16;
/// Most peers we take from one `values` list.
const MAX_VALUES: usize = 200;

/// Why a datagram is not a KRPC message we accept.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not bencode, or beyond our limits.
    #[error(transparent)]
    Bencode(#[from] DecodeError),
    /// A required key is absent.
    #[error("missing key {0}")]
    Missing(&'static str),
    /// A key has the wrong type or size.
    #[error("bad value for {0}")]
    Bad(&'static str),
}

/// One KRPC message.
#[derive(Debug)]
pub struct Message<'a> {
    /// Transaction id.
    pub tid: &'a [u8],
    /// Query, response or error.
    pub kind: Kind<'a>,
    /// BEP 42: the address the sender saw us at (responses).
    pub ip: Option<SocketAddr>,
    /// BEP 43: the sender is read-only (do not add it to routing tables).
    pub read_only: bool,
}

/// The three KRPC message kinds.
#[derive(Debug)]
pub enum Kind<'a> {
    /// `y = q`
    Query(Query<'a>),
    /// `y = r`
    Response(Response<'a>),
    /// `y = e`
    Error {
        /// Error code (201 generic, 202 server, 203 protocol, 204 unknown method).
        code: i64,
        /// Message text.
        message: String,
    },
}

/// A query.
#[derive(Debug)]
pub struct Query<'a> {
    /// The method name (`ping`, `find_node`, `get_peers`, `announce_peer`, ...).
    pub method: &'a [u8],
    /// The querying node's id.
    pub id: NodeId,
    /// `target` (find_node).
    pub target: Option<NodeId>,
    /// `info_hash` (get_peers, announce_peer).
    pub info_hash: Option<NodeId>,
    /// `token` (announce_peer).
    pub token: Option<&'a [u8]>,
    /// `port` (announce_peer).
    pub port: Option<u16>,
    /// `implied_port` (announce_peer): use the UDP source port.
    pub implied_port: bool,
    /// BEP 32 `want`: (IPv4 nodes, IPv6 nodes); both false when absent.
    pub want: (bool, bool),
    /// An argument was present but malformed (answered with error 203).
    pub bad_args: bool,
}

/// A response.
#[derive(Debug, Default)]
pub struct Response<'a> {
    /// The responding node's id.
    pub id: Option<NodeId>,
    /// IPv4 nodes.
    pub nodes: Vec<NodeInfo>,
    /// IPv6 nodes.
    pub nodes6: Vec<NodeInfo>,
    /// Peers (get_peers).
    pub values: Vec<SocketAddr>,
    /// Token for a later announce_peer.
    pub token: Option<&'a [u8]>,
}

impl<'a> Message<'a> {
    /// Parses a datagram.
    pub fn parse(packet: &'a [u8]) -> Result<Message<'a>, ParseError> {
        let root = Value::decode(packet)?;
        let tid = bytes(&root, b"t", "t")?;
        if tid.len() > MAX_TID {
            return Err(ParseError::Bad("t"));
        }
        // Optional and informational: a bad `ip` is ignored, not fatal.
        let ip = root
            .get(b"ip")
            .and_then(Value::as_bytes)
            .and_then(compact::decode_addr);
        let read_only = root.get(b"ro").and_then(Value::as_int) == Some(1);
        let kind = match bytes(&root, b"y", "y")? {
            b"q" => Kind::Query(parse_query(&root)?),
            b"r" => Kind::Response(parse_response(&root)?),
            b"e" => {
                let list = root
                    .get(b"e")
                    .and_then(Value::as_list)
                    .ok_or(ParseError::Bad("e"))?;
                let code = list.first().and_then(Value::as_int).unwrap_or(201);
                let message = list
                    .get(1)
                    .and_then(Value::as_bytes)
                    .map(|b| String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned())
                    .unwrap_or_default();
                Kind::Error { code, message }
            }
            _ => return Err(ParseError::Bad("y")),
        };
        Ok(Message {
            tid,
            kind,
            ip,
            read_only,
        })
    }
}

fn bytes<'a>(v: &Value<'a>, key: &[u8], name: &'static str) -> Result<&'a [u8], ParseError> {
    v.get(key)
        .ok_or(ParseError::Missing(name))?
        .as_bytes()
        .ok_or(ParseError::Bad(name))
}

fn id_field(v: &Value<'_>, key: &[u8], name: &'static str) -> Result<Option<NodeId>, ParseError> {
    match v.get(key) {
        None => Ok(None),
        Some(x) => x
            .as_bytes()
            .and_then(NodeId::from_slice)
            .map(Some)
            .ok_or(ParseError::Bad(name)),
    }
}

fn parse_query<'a>(root: &Value<'a>) -> Result<Query<'a>, ParseError> {
    let method = bytes(root, b"q", "q")?;
    if method.len() > 32 {
        return Err(ParseError::Bad("q"));
    }
    let args = root.get(b"a").ok_or(ParseError::Missing("a"))?;
    if !matches!(args, Value::Dict(_)) {
        return Err(ParseError::Bad("a"));
    }
    let id = id_field(args, b"id", "id")?.ok_or(ParseError::Missing("id"))?;
    // Past the id, a malformed argument makes the query answerable with error 203 instead of
    // being dropped.
    let mut bad_args = false;
    let mut lenient_id = |key: &[u8]| match id_field(args, key, "") {
        Ok(v) => v,
        Err(_) => {
            bad_args = true;
            None
        }
    };
    let target = lenient_id(b"target");
    let info_hash = lenient_id(b"info_hash");
    let port = match args.get(b"port") {
        None => None,
        Some(p) => {
            let p = p.as_int().and_then(|p| u16::try_from(p).ok());
            bad_args |= p.is_none();
            p
        }
    };
    let token = match args.get(b"token") {
        None => None,
        Some(t) => {
            let t = t.as_bytes();
            bad_args |= t.is_none();
            t
        }
    };
    let mut want = (false, false);
    if let Some(list) = args.get(b"want").and_then(Value::as_list) {
        for w in list.iter().filter_map(Value::as_bytes) {
            match w {
                b"n4" => want.0 = true,
                b"n6" => want.1 = true,
                _ => {}
            }
        }
    }
    Ok(Query {
        method,
        id,
        target,
        info_hash,
        token,
        port,
        // BEP 5: any non-zero value.
        implied_port: args
            .get(b"implied_port")
            .and_then(Value::as_int)
            .is_some_and(|v| v != 0),
        want,
        bad_args,
    })
}

fn parse_response<'a>(root: &Value<'a>) -> Result<Response<'a>, ParseError> {
    let r = root.get(b"r").ok_or(ParseError::Missing("r"))?;
    if !matches!(r, Value::Dict(_)) {
        return Err(ParseError::Bad("r"));
    }
    let nodes = |key: &[u8], name: &'static str, v6: bool| -> Result<Vec<NodeInfo>, ParseError> {
        match r.get(key) {
            None => Ok(Vec::new()),
            Some(v) => v
                .as_bytes()
                .and_then(|b| compact::decode_nodes(b, v6))
                .ok_or(ParseError::Bad(name)),
        }
    };
    let values = match r.get(b"values") {
        None => Vec::new(),
        Some(v) => {
            let list = v.as_list().ok_or(ParseError::Bad("values"))?;
            let mut out = Vec::with_capacity(list.len().min(MAX_VALUES));
            for item in list.iter().take(MAX_VALUES) {
                let b = item.as_bytes().ok_or(ParseError::Bad("values"))?;
                // A peer of the other family or of an odd size is skipped, not fatal.
                if let Some(a) = compact::decode_addr(b).filter(|a| a.port() != 0) {
                    out.push(a);
                }
            }
            out
        }
    };
    let token = match r.get(b"token") {
        None => None,
        Some(t) => Some(t.as_bytes().ok_or(ParseError::Bad("token"))?),
    };
    Ok(Response {
        id: Some(id_field(r, b"id", "id")?.ok_or(ParseError::Missing("id"))?),
        nodes: nodes(b"nodes", "nodes", false)?,
        nodes6: nodes(b"nodes6", "nodes6", true)?,
        values,
        token,
    })
}

/// Encodes a query.
pub fn encode_query<'a>(
    tid: &'a [u8],
    method: &'a [u8],
    mut args: Vec<(&'a [u8], Value<'a>)>,
    id: &'a NodeId,
) -> Vec<u8> {
    args.push((b"id", Value::Bytes(&id.0)));
    Value::Dict(vec![
        (b"t", Value::Bytes(tid)),
        (b"y", Value::Bytes(b"q")),
        (b"q", Value::Bytes(method)),
        (b"a", Value::Dict(args)),
    ])
    .encode()
}

/// Encodes a response to `requester` (its address goes into the BEP 42 `ip` key).
pub fn encode_response<'a>(
    tid: &'a [u8],
    id: &'a NodeId,
    mut body: Vec<(&'a [u8], Value<'a>)>,
    requester: &SocketAddr,
) -> Vec<u8> {
    let mut ip = Vec::with_capacity(18);
    compact::encode_addr(requester, &mut ip);
    body.push((b"id", Value::Bytes(&id.0)));
    Value::Dict(vec![
        (b"t", Value::Bytes(tid)),
        (b"y", Value::Bytes(b"r")),
        (b"r", Value::Dict(body)),
        (b"ip", Value::Bytes(&ip)),
    ])
    .encode()
}

/// Encodes an error.
pub fn encode_error(tid: &[u8], code: i64, message: &str) -> Vec<u8> {
    Value::Dict(vec![
        (b"t", Value::Bytes(tid)),
        (b"y", Value::Bytes(b"e")),
        (
            b"e",
            Value::List(vec![Value::Int(code), Value::Bytes(message.as_bytes())]),
        ),
    ])
    .encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_with(
        tid: &[u8],
        method: &[u8],
        extra: Vec<(&'static [u8], Value<'static>)>,
    ) -> Vec<u8> {
        encode_query(tid, method, extra, &NodeId([7; 20]))
    }

    fn query(packet: &[u8]) -> Option<(bool, (bool, bool))> {
        match Message::parse(packet).ok()?.kind {
            Kind::Query(q) => Some((q.bad_args, q.want)),
            _ => None,
        }
    }

    #[test]
    fn length_limits_are_inclusive() {
        let ok_tid = [1u8; MAX_TID];
        assert!(query(&query_with(&ok_tid, b"ping", vec![])).is_some());
        let long_tid = [1u8; MAX_TID + 1];
        assert!(query(&query_with(&long_tid, b"ping", vec![])).is_none());
        let method = [b'm'; 32];
        assert!(query(&query_with(b"t", &method, vec![])).is_some());
        let long_method = [b'm'; 33];
        assert!(query(&query_with(b"t", &long_method, vec![])).is_none());
    }

    #[test]
    fn want_and_malformed_arguments_are_read() {
        let want = Value::List(vec![
            Value::Bytes(b"n6"),
            Value::Bytes(b"n4"),
            Value::Bytes(b"x"),
        ]);
        assert_eq!(
            query(&query_with(b"t", b"find_node", vec![(b"want", want)])),
            Some((false, (true, true)))
        );
        let only6 = Value::List(vec![Value::Bytes(b"n6")]);
        assert_eq!(
            query(&query_with(b"t", b"find_node", vec![(b"want", only6)])),
            Some((false, (false, true)))
        );
        // A malformed argument past the id makes the query answerable with 203.
        for (key, value) in [
            (&b"port"[..], Value::Int(70000)),
            (b"token", Value::Int(1)),
            (b"target", Value::Bytes(b"short")),
        ] {
            assert_eq!(
                query(&query_with(b"t", b"get_peers", vec![(key, value)])).map(|q| q.0),
                Some(true),
                "{}",
                String::from_utf8_lossy(key)
            );
        }
        // Good arguments are not.
        assert_eq!(
            query(&query_with(
                b"t",
                b"announce_peer",
                vec![
                    (b"port", Value::Int(6881)),
                    (b"token", Value::Bytes(b"tok"))
                ]
            ))
            .map(|q| q.0),
            Some(false)
        );
    }

    #[test]
    fn bep5_examples_parse() {
        let ping = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
        let m = Message::parse(ping).expect("ping");
        assert_eq!(m.tid, b"aa");
        assert!(matches!(m.kind, Kind::Query(ref q) if q.method == b"ping"));
        let announce = b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe";
        let m = Message::parse(announce).expect("announce");
        let Kind::Query(q) = m.kind else {
            panic!("not a query")
        };
        assert_eq!(q.port, Some(6881));
        assert_eq!(q.token, Some(&b"aoeusnth"[..]));
        let values = b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re";
        let m = Message::parse(values).expect("values");
        let Kind::Response(r) = m.kind else {
            panic!("not a response")
        };
        assert_eq!(r.values.len(), 2);
        let err = b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee";
        assert!(matches!(
            Message::parse(err).expect("error").kind,
            Kind::Error { code: 201, .. }
        ));
    }

    #[test]
    fn malformed_messages_are_errors() {
        let cases: &[&[u8]] = &[
            b"d1:t2:aa1:y1:qe",                                               // no method
            b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe",                        // short id
            b"d1:ad2:idi5ee1:q4:ping1:t2:aa1:y1:qe",                          // id not bytes
            b"d1:rd2:id20:abcdefghij01234567895:nodes5:abcdee1:t2:aa1:y1:re", // truncated nodes
            b"d1:rd2:id20:abcdefghij01234567896:valuesi3ee1:t2:aa1:y1:re",    // values not a list
            b"d1:rd2:id20:abcdefghij01234567896:valuesli3eee1:t2:aa1:y1:re",  // value not bytes
            b"d1:t2:aa1:y1:ze",
            b"le",
        ];
        for c in cases {
            assert!(Message::parse(c).is_err(), "{}", String::from_utf8_lossy(c));
        }
    }

    #[test]
    fn bad_optional_arguments_are_flagged_not_fatal() {
        let m = Message::parse(
            b"d1:ad2:id20:abcdefghij01234567894:porti70000ee1:q13:announce_peer1:t2:aa1:y1:qe",
        )
        .expect("parses");
        assert!(matches!(m.kind, Kind::Query(ref q) if q.bad_args));
        let m = Message::parse(b"d2:ip3:abc1:rd2:id20:abcdefghij0123456789e1:t2:aa1:y1:re")
            .expect("bad ip ignored");
        assert_eq!(m.ip, None);
    }

    #[test]
    fn encoded_messages_parse_back() {
        let id = NodeId::random();
        let target = NodeId::random();
        let q = encode_query(
            b"xy",
            b"find_node",
            vec![(b"target", Value::Bytes(&target.0))],
            &id,
        );
        let m = Message::parse(&q).expect("query");
        let Kind::Query(q) = m.kind else {
            panic!("not a query")
        };
        assert_eq!((q.id, q.target), (id, Some(target)));
        let who: SocketAddr = "10.1.2.3:4000".parse().expect("addr");
        let r = encode_response(b"xy", &id, vec![(b"token", Value::Bytes(b"tok"))], &who);
        let m = Message::parse(&r).expect("response");
        assert_eq!(m.ip, Some(who));
        assert!(matches!(m.kind, Kind::Response(ref r) if r.token == Some(&b"tok"[..])));
    }
}
