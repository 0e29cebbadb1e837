"""The values rats hands to Python: peers, messages, events, transfers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, NamedTuple, Optional


class Message(NamedTuple):
    """A typed JSON message: who sent it (authenticated), its type and its decoded data."""

    peer_id: str
    kind: str
    data: Any


class TopicMessage(NamedTuple):
    """A publish/subscribe message: its topic, who published it (checked by its signature)
    and its payload."""

    topic: str
    peer_id: str
    data: bytes


@dataclass(frozen=True)
class PeerInfo:
    """A connected peer."""

    peer_id: str
    """Its id: 64 hex characters (its Ed25519 public key)."""
    address: str
    """The address of the connection (`tcp:1.2.3.4:4001`, `quic:...`)."""
    outbound: bool
    """Whether we dialled it."""
    encrypted: bool
    """Whether the connection is encrypted (Noise XX; always, unless switched off)."""
    method: str
    """How the connection was made: `direct`, `relay`, `holepunch`, `ice`, ..."""
    transport: str
    """`tcp`, `quic`, ..."""
    agent: str
    """The software the peer says it runs."""
    rtt_ms: Optional[float]
    """The last measured round-trip time, if any."""

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "PeerInfo":
        return cls(**d)


@dataclass(frozen=True)
class Event:
    """Something that happened to the client: `type` is one of `peer_connected`,
    `peer_disconnected`, `connection_upgraded`, `peer_discovered`, `peer_lost`, `listening`,
    `nat_status_changed`, `connect_attempt`, `dial_failed`, `topic_peer_joined`,
    `topic_peer_left`, `transfer_started`, `transfer_progress`, `transfer_paused`,
    `transfer_resumed`, `transfer_file_completed`, `transfer_finished`, `transfer_refused`;
    `data` holds its fields (`peer_id`, `address`, `reason`, ...)."""

    type: str
    data: Dict[str, Any] = field(default_factory=dict)

    @property
    def peer_id(self) -> Optional[str]:
        """The peer it is about, if any."""
        return self.data.get("peer_id")

    @classmethod
    def _from_json(cls, text: str) -> "Event":
        d = json.loads(text)
        return cls(type=d.pop("type", "unknown"), data=d)


@dataclass(frozen=True)
class TransferInfo:
    """A transfer's state."""

    id: str
    peer_id: str
    direction: str
    """`outgoing` or `incoming`."""
    kind: str
    """`file` or `directory`."""
    name: str
    local_path: str
    files: int
    total_bytes: int
    state: str
    """`pending`, `active`, `paused`, `waiting_for_peer`, `completed`, `failed`,
    `cancelled`."""
    error: Optional[str]
    bytes_done: int
    files_done: int

    @property
    def finished(self) -> bool:
        """Completed, failed or cancelled."""
        return self.state in ("completed", "failed", "cancelled")

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "TransferInfo":
        return cls(**d)


class Progress(NamedTuple):
    """How far a transfer got (what `Transfer.progress()` yields)."""

    bytes_done: int
    total_bytes: int
    files_done: int

    @property
    def fraction(self) -> float:
        """0.0 to 1.0."""
        return self.bytes_done / self.total_bytes if self.total_bytes else 0.0


@dataclass(frozen=True)
class OfferedFile:
    """One file of an offer."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class TransferOffer:
    """A peer offers a file or directory; the transfer-request handler decides."""

    id: str
    peer_id: str
    kind: str
    name: str
    total_bytes: int
    files: List[OfferedFile]

    @classmethod
    def _from_json(cls, text: str) -> "TransferOffer":
        d = json.loads(text)
        d["files"] = [OfferedFile(**f) for f in d["files"]]
        return cls(**d)


@dataclass(frozen=True)
class TransferResult:
    """A completed transfer: its final state and, for a single file, the SHA-256 of the file
    (rats checks every chunk and the whole file while it moves; this is the file's hash as it
    is on disk now)."""

    info: TransferInfo
    sha256: Optional[str]
