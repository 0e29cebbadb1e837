//! rats' values as JSON for the Python side (which turns them into dataclasses): peers,
//! events, transfers, offers. JSON keeps the native module small and the Python types in one
//! place (`rats/_types.py`).

use rats::PeerInfo;
use rats::rats_gossipsub::GossipEvent;
use rats::rats_transfer::{
    Direction, IncomingOffer, Kind, TransferEvent, TransferInfo, TransferState,
};
use rats::{DisconnectReason, Event};
use serde_json::{Value, json};

/// A connected peer.
pub(crate) fn peer(info: &PeerInfo) -> Value {
    json!({
        "peer_id": info.peer_id.to_string(),
        "address": info.remote_addr.to_string(),
        "outbound": info.outbound,
        "encrypted": info.encrypted,
        "method": info.method.to_string(),
        "transport": info.transport,
        "agent": info.agent,
        "rtt_ms": info.rtt.map(|d| d.as_secs_f64() * 1000.0),
    })
}

fn state(s: &TransferState) -> (&'static str, Option<String>) {
    match s {
        TransferState::Pending => ("pending", None),
        TransferState::Active => ("active", None),
        TransferState::Paused { .. } => ("paused", None),
        TransferState::WaitingForPeer => ("waiting_for_peer", None),
        TransferState::Completed => ("completed", None),
        TransferState::Failed(e) => ("failed", Some(crate::errors::message(e))),
        TransferState::Cancelled => ("cancelled", None),
    }
}

/// A transfer's snapshot.
pub(crate) fn transfer(info: &TransferInfo) -> Value {
    let (st, error) = state(&info.state);
    json!({
        "id": info.id.to_hex(),
        "peer_id": info.peer.to_string(),
        "direction": if info.direction == Direction::Outgoing { "outgoing" } else { "incoming" },
        "kind": if info.kind == Kind::Directory { "directory" } else { "file" },
        "name": info.name,
        "local_path": info.local_path.display().to_string(),
        "files": info.files,
        "total_bytes": info.total_bytes,
        "state": st,
        "error": error,
        "bytes_done": info.progress.bytes_done,
        "files_done": info.progress.files_done,
    })
}

/// An offer waiting for the application's answer (`id` answers it).
pub(crate) fn offer(o: &IncomingOffer) -> Value {
    json!({
        "id": o.id.to_hex(),
        "peer_id": o.peer.to_string(),
        "kind": if o.kind == Kind::Directory { "directory" } else { "file" },
        "name": o.name,
        "total_bytes": o.total_bytes,
        "files": o.files.iter().map(|f| json!({
            "path": f.relative_path,
            "size": f.size,
            "sha256": f.sha256,
        })).collect::<Vec<_>>(),
    })
}

fn reason(r: &DisconnectReason) -> String {
    r.to_string()
}

/// A transfer event (`None` for offers: those go to the offer stream).
pub(crate) fn transfer_event(ev: &TransferEvent) -> Option<Value> {
    Some(match ev {
        TransferEvent::Started(info) => {
            json!({"type": "transfer_started", "transfer": transfer(info)})
        }
        TransferEvent::Progress { id, peer, progress } => json!({
            "type": "transfer_progress",
            "id": id.to_hex(),
            "peer_id": peer.to_string(),
            "bytes_done": progress.bytes_done,
            "total_bytes": progress.total_bytes,
            "files_done": progress.files_done,
        }),
        TransferEvent::Paused {
            id,
            by_peer,
            reason,
        } => json!({
            "type": "transfer_paused", "id": id.to_hex(), "by_peer": by_peer, "reason": reason,
        }),
        TransferEvent::Resumed { id } => json!({"type": "transfer_resumed", "id": id.to_hex()}),
        TransferEvent::FileCompleted { id, path } => {
            json!({"type": "transfer_file_completed", "id": id.to_hex(), "path": path})
        }
        TransferEvent::Finished(info) => {
            json!({"type": "transfer_finished", "transfer": transfer(info)})
        }
        TransferEvent::Refused {
            id,
            peer,
            pull,
            reason,
        } => json!({
            "type": "transfer_refused", "id": id.to_hex(), "peer_id": peer.to_string(),
            "pull": pull, "reason": reason,
        }),
        _ => return None,
    })
}

/// A node event (`None` for messages, which have their own streams).
pub(crate) fn event(ev: &Event) -> Option<Value> {
    Some(match ev {
        Event::Listening { addr } => json!({"type": "listening", "address": addr.to_string()}),
        Event::PeerConnected {
            peer,
            addr,
            outbound,
        } => json!({
            "type": "peer_connected", "peer_id": peer.to_string(),
            "address": addr.to_string(), "outbound": outbound,
        }),
        Event::ConnectionUpgraded { peer, method, addr } => json!({
            "type": "connection_upgraded", "peer_id": peer.to_string(),
            "method": method.to_string(), "address": addr.to_string(),
        }),
        Event::PeerDisconnected { peer, reason: r } => json!({
            "type": "peer_disconnected", "peer_id": peer.to_string(), "reason": reason(r),
        }),
        Event::PeerDiscovered { peer, addr, source } => json!({
            "type": "peer_discovered", "peer_id": peer.map(|p| p.to_string()),
            "address": addr.to_string(), "source": source,
        }),
        Event::PeerLost { peer, source } => json!({
            "type": "peer_lost", "peer_id": peer.map(|p| p.to_string()), "source": source,
        }),
        Event::NatStatusChanged {
            public_addr,
            nat_type,
        } => json!({
            "type": "nat_status_changed",
            "public_address": public_addr.map(|a| a.to_string()),
            "nat_type": serde_json::to_value(nat_type).unwrap_or(Value::Null),
        }),
        Event::ConnectAttempt {
            addr,
            method,
            upgrade,
            error,
        } => json!({
            "type": "connect_attempt", "address": addr.to_string(),
            "method": method.to_string(), "upgrade": upgrade, "error": error,
        }),
        Event::DialFailed { addr, error } => json!({
            "type": "dial_failed", "address": addr.to_string(), "error": error,
        }),
        Event::Service { service, event } => {
            if let Some(t) = event.downcast_ref::<TransferEvent>() {
                return transfer_event(t);
            }
            if let Some(g) = event.downcast_ref::<GossipEvent>() {
                return gossip_event(g);
            }
            json!({"type": "service", "service": service})
        }
        _ => return None,
    })
}

fn gossip_event(ev: &GossipEvent) -> Option<Value> {
    Some(match ev {
        GossipEvent::PeerJoined { peer, topic } => {
            json!({"type": "topic_peer_joined", "peer_id": peer.to_string(), "topic": topic})
        }
        GossipEvent::PeerLeft { peer, topic } => {
            json!({"type": "topic_peer_left", "peer_id": peer.to_string(), "topic": topic})
        }
        // Topic messages go to their subscriptions.
        _ => return None,
    })
}
