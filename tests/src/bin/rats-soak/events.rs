//! The `rats --json` lines the soak reads, as typed events (see rats-cli/src/output.rs,
//! transfer/print.rs and topics/print.rs for what the tool prints).

use serde_json::Value;

/// One line of a node's standard output.
#[derive(Debug)]
pub enum NodeEvent {
    /// The node is up, with this identity.
    Started {
        peer_id: String,
    },
    PeerConnected {
        peer_id: String,
    },
    PeerDisconnected {
        peer_id: String,
    },
    /// The answer to `peers`.
    Peers {
        peer_ids: Vec<String>,
    },
    /// A private chat line (`send`).
    Private {
        from: String,
        text: String,
    },
    /// A `send` was queued to a peer.
    Sent,
    /// A command failed.
    CommandError {
        command: String,
        message: String,
    },
    /// A message on a subscribed topic.
    TopicMessage {
        topic: String,
        text: String,
    },
    /// `send-file` created its transfer (outgoing).
    TransferCreated {
        id: String,
        name: String,
    },
    /// An offer accepted into the accept folder (incoming).
    TransferOffer {
        id: String,
        sha256: Option<String>,
        destination: Option<String>,
    },
    /// Data began to move (also after a restart), with what was already there.
    TransferStarted {
        id: String,
        bytes_done: u64,
    },
    /// Completed, failed or cancelled, on this side.
    TransferFinished {
        id: String,
        incoming: bool,
        state: String,
        path: String,
        error: Option<String>,
    },
    /// A notice (port fallback, reconnecting, lagged events...).
    Notice {
        message: String,
    },
    /// Anything else (subscribed, published, connect_attempt, topic peers...).
    Other,
    /// Not JSON: the text, for the error log.
    Unparsed(String),
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

/// Parses one output line.
pub fn parse_line(line: &str) -> NodeEvent {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        return NodeEvent::Unparsed(line.to_string());
    };
    match v["event"].as_str().unwrap_or_default() {
        "started" => NodeEvent::Started {
            peer_id: text(&v, "peer_id"),
        },
        "peer_connected" => NodeEvent::PeerConnected {
            peer_id: text(&v, "peer_id"),
        },
        "peer_disconnected" => NodeEvent::PeerDisconnected {
            peer_id: text(&v, "peer_id"),
        },
        "peers" => NodeEvent::Peers {
            peer_ids: v["peers"]
                .as_array()
                .map(|a| a.iter().map(|p| text(p, "peer_id")).collect())
                .unwrap_or_default(),
        },
        "message" if v["kind"] == "private" => NodeEvent::Private {
            from: text(&v, "from"),
            text: text(&v, "text"),
        },
        "sent" => NodeEvent::Sent,
        "error" => NodeEvent::CommandError {
            command: text(&v, "command"),
            message: text(&v, "message"),
        },
        "topic_message" => NodeEvent::TopicMessage {
            topic: text(&v, "topic"),
            text: text(&v, "text"),
        },
        "transfer_created" => NodeEvent::TransferCreated {
            id: text(&v, "id"),
            name: text(&v, "name"),
        },
        "transfer_offer" => NodeEvent::TransferOffer {
            id: text(&v, "id"),
            sha256: v["sha256"].as_str().map(str::to_string),
            destination: v["destination"].as_str().map(str::to_string),
        },

        "transfer_started" => NodeEvent::TransferStarted {
            id: text(&v, "id"),
            bytes_done: v["bytes_done"].as_u64().unwrap_or(0),
        },
        "transfer_finished" => NodeEvent::TransferFinished {
            id: text(&v, "id"),
            incoming: v["direction"] == "in",
            state: text(&v, "state"),
            path: text(&v, "path"),
            error: v["error"].as_str().map(str::to_string),
        },
        "notice" => NodeEvent::Notice {
            message: text(&v, "message"),
        },
        _ => NodeEvent::Other,
    }
}
