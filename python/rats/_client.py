"""`rats.Client`: rats for asyncio."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import os
import warnings
import weakref
from pathlib import Path
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

from . import _rats
from ._streams import Stream
from ._types import (
    Event,
    Message,
    PeerInfo,
    Progress,
    TopicMessage,
    TransferInfo,
    TransferOffer,
    TransferResult,
)

__all__ = ["Client", "Transfer", "IceSession"]

_log = logging.getLogger("rats")

BytesLike = Union[bytes, bytearray, memoryview]
PathLike = Union[str, "os.PathLike[str]"]
F = TypeVar("F", bound=Callable[..., Any])

_DEFAULT_CAPACITY = 8192
_SHARE_FROM = 64 * 1024
_FOREVER = 10.0 * 365 * 24 * 3600


def _peer(peer_id: object) -> str:
    if not isinstance(peer_id, str):
        raise TypeError(f"peer_id must be a str (64 hex characters), not {type(peer_id).__name__}")
    return peer_id


def _bytes(data: object) -> Union[bytes, bytearray]:
    if isinstance(data, (bytes, bytearray)):
        return data
    if isinstance(data, memoryview):
        return data.tobytes()
    raise TypeError(f"data must be bytes, bytearray or memoryview, not {type(data).__name__}")


def _text(text: object, what: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, not {type(text).__name__}")
    return text


def _json(data: Any) -> str:
    try:
        return json.dumps(data, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise TypeError(f"data is not JSON-serializable: {e}") from None


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """Calls a handler that may be a plain function or a coroutine function."""
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


class Client:
    """A rats peer for asyncio.

    Create it with keyword settings, start it with ``async with`` (or ``await start()`` and
    ``await close()``)::

        async with rats.Client(port=0, dht=False, mdns=False, nat=False) as client:
            peer = await client.connect("127.0.0.1:4001")
            await client.send(peer, "chat", {"text": "hello"})

    Settings (all keyword-only, all optional):
        port: TCP port to listen on (0: any free port; default 0).
        listen: addresses to listen on instead (``["tcp:127.0.0.1:0", "quic:0.0.0.0:4001"]``;
            ``[]``: do not listen).
        protocol, protocol_version: the application protocol; peers with another name do not
            connect.
        data_dir: a directory for the identity (a stable peer id), ``config.json`` and the
            peer store.
        max_peers: most connections at once.
        dht, mdns, nat: DHT discovery, mDNS discovery, NAT traversal (STUN, port mapping, hole
            punching). On by default; ``local_only=True`` switches all three off (tests,
            LAN-only tools).
        peer_exchange: learn peers from peers (default on).
        encryption: Noise encryption (default on; off is for debugging only).
        config: more settings as ``config.json`` spells them (``{"transfer": {...}}``).

    Every method that waits is a coroutine; the rest return at once. Handlers
    (``@client.on(...)``) run on the event loop and may be plain or ``async`` functions;
    they may call the client, including ``await client.close()``.
    """

    def __init__(
        self,
        *,
        port: Optional[int] = None,
        listen: Optional[Sequence[str]] = None,
        protocol: Optional[str] = None,
        protocol_version: Optional[str] = None,
        data_dir: Optional[PathLike] = None,
        max_peers: Optional[int] = None,
        dht: bool = True,
        mdns: bool = True,
        nat: bool = True,
        peer_exchange: bool = True,
        encryption: bool = True,
        local_only: bool = False,
        config: Optional[Dict[str, Any]] = None,
    ) -> None:
        if port is not None and (not isinstance(port, int) or isinstance(port, bool)):
            raise TypeError("port must be an int")
        if port is not None and not 0 <= port <= 65535:
            raise ValueError(f"port out of range: {port}")
        if listen is not None and (
            isinstance(listen, str) or not all(isinstance(a, str) for a in listen)
        ):
            raise TypeError("listen must be a list of address strings")
        if max_peers is not None and (not isinstance(max_peers, int) or max_peers < 1):
            raise ValueError("max_peers must be a positive int")
        if config is not None and not isinstance(config, dict):
            raise TypeError("config must be a dict")
        for name, value in (("protocol", protocol), ("protocol_version", protocol_version)):
            if value is not None:
                _text(value, name)
        self._settings: Dict[str, Any] = {
            "port": port,
            "listen": list(listen) if listen is not None else None,
            "protocol": protocol,
            "protocol_version": protocol_version,
            "data_dir": os.fspath(data_dir) if data_dir is not None else None,
            "max_peers": max_peers,
            "dht": bool(dht) and not local_only,
            "mdns": bool(mdns) and not local_only,
            "nat": bool(nat) and not local_only,
            "peer_exchange": bool(peer_exchange),
            "encryption": bool(encryption),
            "config": dict(config or {}),
        }
        self._native: Optional[_rats.NativeClient] = None
        self._tasks: "set[asyncio.Task[Any]]" = set()
        self._streams: "weakref.WeakSet[Stream[Any]]" = weakref.WeakSet()
        self._transfers: Dict[str, "Transfer"] = {}
        self._transfer_events: Optional[Stream[Event]] = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> "Client":
        """Starts the client (listening, discovery). Raises ``ConfigError`` for refused
        settings."""
        if self._native is not None:
            return self
        self._native = await _rats.NativeClient.start(json.dumps(self._settings))
        return self

    async def close(self) -> None:
        """Stops the client: connections close, streams end, handlers stop. Safe to call
        twice, and from inside a handler."""
        native, self._native = self._native, None
        if native is None:
            return
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        for s in list(self._streams):
            s.close()
        await native.close()
        others = [t for t in self._tasks if t is not current]
        if others:
            await asyncio.gather(*others, return_exceptions=True)

    async def __aenter__(self) -> "Client":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __del__(self) -> None:
        native = getattr(self, "_native", None)
        if native is not None:
            warnings.warn(
                "rats.Client was not closed; closing it now (use `async with` or close())",
                ResourceWarning,
                stacklevel=2,
            )
            try:
                native.close_blocking(5.0)
            except Exception:  # noqa: BLE001 - nothing can be raised from __del__
                pass

    @property
    def _n(self) -> _rats.NativeClient:
        native = self._native
        if native is None:
            raise _rats.NotRunningError("the client is not started (or closed)")
        return native

    @property
    def running(self) -> bool:
        """Whether the client is started and not closed."""
        return self._native is not None

    @property
    def peer_id(self) -> str:
        """Our peer id (64 hex characters)."""
        return self._n.peer_id

    @property
    def listen_addresses(self) -> List[str]:
        """Where we listen (``tcp:127.0.0.1:40123``, ...)."""
        return self._n.listen_addrs()

    @property
    def address(self) -> str:
        """The first listen address as ``host:port`` (for ``connect``)."""
        addrs = self.listen_addresses
        if not addrs:
            raise _rats.RatsError("the client does not listen")
        return addrs[0].split(":", 1)[1]

    # ------------------------------------------------------------------ peers

    async def connect(self, address: str) -> str:
        """Connects to ``host:port`` (or ``tcp:...``/``quic:...``); returns the peer id.
        Raises ``ConnectError`` (``ProtocolError`` when the other side is not a rats peer of
        this protocol)."""
        return await self._n.connect(_text(address, "address"))

    def disconnect(self, peer_id: str) -> bool:
        """Closes the connection to a peer; whether it was connected."""
        return self._n.disconnect(_peer(peer_id))

    def peers(self) -> List[PeerInfo]:
        """Connected peers."""
        return [PeerInfo._from(d) for d in json.loads(self._n.peers())]

    def peer_info(self, peer_id: str) -> Optional[PeerInfo]:
        """A connected peer, or None."""
        text = self._n.peer_info(_peer(peer_id))
        return PeerInfo._from(json.loads(text)) if text is not None else None

    @property
    def peer_count(self) -> int:
        """Number of connected peers."""
        return self._n.peer_count()

    # ------------------------------------------------------------------ messages

    async def send(self, peer_id: str, kind: str, data: Any) -> None:
        """Sends a typed JSON message (``data``: anything ``json.dumps`` takes) to a peer;
        waits only while its send queue is full."""
        n, p, k, j = self._n, _peer(peer_id), _text(kind, "kind"), _json(data)
        if not n.try_send_json(p, k, j):
            await n.send_json(p, k, j)

    async def send_text(self, peer_id: str, text: str) -> None:
        """Sends a text message to a peer."""
        n, p, t = self._n, _peer(peer_id), _text(text)
        if not n.try_send_text(p, t):
            await n.send_text(p, t)

    async def send_bytes(self, peer_id: str, data: BytesLike) -> None:
        """Sends a binary message to a peer. A large ``bytes`` object is sent without being
        copied (do not expect to reuse a ``bytearray``'s memory before this returns)."""
        n, p, d = self._n, _peer(peer_id), _bytes(data)
        # Small messages go through the queue at once (copied); large ones are handed over
        # whole.
        if len(d) >= _SHARE_FROM or not n.try_send_bytes(p, d):
            await n.send_bytes(p, d)

    def broadcast(self, kind: str, data: Any) -> int:
        """Sends a typed JSON message to every connected peer; how many got it queued."""
        return self._n.broadcast_json(_text(kind, "kind"), _json(data))

    def broadcast_text(self, text: str) -> int:
        """Sends a text message to every connected peer; how many."""
        return self._n.broadcast_text(_text(text))

    def broadcast_bytes(self, data: BytesLike) -> int:
        """Sends a binary message to every connected peer; how many."""
        return self._n.broadcast_bytes(_bytes(data))

    def _track(self, stream: Stream[Any]) -> Stream[Any]:
        self._streams.add(stream)
        return stream

    def messages(self, kind: str, *, capacity: int = _DEFAULT_CAPACITY) -> "Stream[Message]":
        """Typed JSON messages of type ``kind``, as they arrive::

            async for msg in client.messages("chat"):
                print(msg.peer_id, msg.data)

        Up to ``capacity`` messages wait for the loop; beyond, the senders wait (nothing is
        dropped). Close the stream (or leave its ``async with``) when done."""

        def convert(item: Tuple[str, str, str]) -> Message:
            return Message(item[0], item[1], json.loads(item[2]))

        return self._track(Stream(self._n.json_stream(_text(kind, "kind"), capacity), convert))

    def texts(self, *, capacity: int = _DEFAULT_CAPACITY) -> "Stream[Tuple[str, str]]":
        """Text messages as ``(peer_id, text)`` tuples."""
        return self._track(Stream(self._n.text_stream(capacity)))

    def binaries(self, *, capacity: int = _DEFAULT_CAPACITY) -> "Stream[Tuple[str, bytes]]":
        """Binary messages as ``(peer_id, data)`` tuples."""
        return self._track(Stream(self._n.bytes_stream(capacity)))

    def events(self, *, capacity: int = 1024) -> "Stream[Event]":
        """What happens to the client (peers connecting and leaving, discovery, NAT,
        transfers), as ``Event`` values. Lossy: a reader that falls more than ``capacity``
        events behind loses the newest (``stream.dropped`` counts them)."""
        return self._track(Stream(self._n.event_stream(capacity), Event._from_json))

    def _run_handler(self, stream: Stream[Any], handler: Callable[..., Any], unpack: bool) -> None:
        async def pump() -> None:
            async for item in stream:
                try:
                    if unpack:
                        await _call(handler, *item)
                    else:
                        await _call(handler, item)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - a handler's error must not end the pump
                    _log.exception("rats: exception in handler %r", handler)

        task = asyncio.get_running_loop().create_task(pump())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def on(self, kind: str) -> Callable[[F], F]:
        """Decorator: calls the function for every typed message of ``kind`` with
        ``(peer_id, data)``; plain or ``async`` (awaited in order)::

            @client.on("chat")
            async def chat(peer_id: str, data: dict) -> None:
                ...
        """

        def register(fn: F) -> F:
            stream = self.messages(kind)
            self._run_handler(stream, lambda m: fn(m.peer_id, m.data), unpack=False)
            return fn

        return register

    def on_text(self, fn: F) -> F:
        """Decorator: calls ``fn(peer_id, text)`` for every text message."""
        self._run_handler(self.texts(), fn, unpack=True)
        return fn

    def on_bytes(self, fn: F) -> F:
        """Decorator: calls ``fn(peer_id, data)`` for every binary message."""
        self._run_handler(self.binaries(), fn, unpack=True)
        return fn

    def on_event(self, fn: F) -> F:
        """Decorator: calls ``fn(event)`` for every ``Event``."""
        self._run_handler(self.events(), fn, unpack=False)
        return fn

    # ------------------------------------------------------------------ publish/subscribe

    def subscribe(self, topic: str, *, capacity: int = _DEFAULT_CAPACITY) -> "Stream[TopicMessage]":
        """Subscribes to a topic; iterate the result for its messages. Closing the last
        stream of a topic unsubscribes."""

        def convert(item: Tuple[str, str, bytes]) -> TopicMessage:
            return TopicMessage(item[1], item[0], item[2])

        return self._track(Stream(self._n.subscribe(_text(topic, "topic"), capacity), convert))

    def publish(self, topic: str, data: Union[BytesLike, str]) -> str:
        """Publishes to a topic (``str`` is sent as UTF-8); returns the message id."""
        payload = data.encode() if isinstance(data, str) else _bytes(data)
        return self._n.publish(_text(topic, "topic"), payload)

    def topics(self) -> List[str]:
        """Topics we subscribe to."""
        return self._n.topics()

    def topic_peers(self, topic: str) -> List[str]:
        """Peers known to subscribe to ``topic``."""
        return self._n.topic_peers(_text(topic, "topic"))

    def set_validator(
        self,
        topic: str,
        validator: Callable[[str, bytes], Union[bool, str, Awaitable[Union[bool, str]]]],
    ) -> None:
        """Checks every message of ``topic`` before it is delivered or forwarded:
        ``validator(origin_peer_id, data)`` returns True/"accept", False/"reject" (the
        forwarding peer is penalised) or "ignore"; plain or ``async``. An exception or no
        answer within a minute ignores the message."""
        stream: Stream[Any] = self._track(Stream(self._n.validation_stream(_text(topic, "topic"), 1024)))
        native = self._n

        async def pump() -> None:
            async for origin, request, data in stream:
                try:
                    verdict = await _call(validator, origin, data)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001
                    _log.exception("rats: exception in the validator of %r", topic)
                    verdict = "ignore"
                if verdict is True:
                    verdict = "accept"
                elif verdict is False or verdict is None:
                    verdict = "reject"
                try:
                    native.answer_validation(request, str(verdict))
                except (ValueError, _rats.RatsError):
                    native.answer_validation(request, "ignore")

        task = asyncio.get_running_loop().create_task(pump())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ transfers

    def _watch_transfers(self) -> None:
        if self._transfer_events is not None:
            return
        stream = self.events(capacity=65536)
        self._transfer_events = stream

        async def pump() -> None:
            async for ev in stream:
                tid = ev.data.get("id") or ev.data.get("transfer", {}).get("id")
                t = self._transfers.get(tid) if tid else None
                if t is not None:
                    t._event(ev)

        task = asyncio.get_running_loop().create_task(pump())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _transfer(self, tid: str) -> "Transfer":
        t = self._transfers.get(tid)
        if t is None:
            t = self._transfers[tid] = Transfer(self, tid)
        return t

    async def send_file(self, peer_id: str, path: PathLike, *, name: Optional[str] = None) -> "Transfer":
        """Offers a file to a peer (it accepts or refuses); returns the ``Transfer``."""
        self._watch_transfers()
        tid = await self._n.send_file(_peer(peer_id), os.fspath(path), name, False, True)
        return self._transfer(tid)

    async def send_directory(
        self, peer_id: str, path: PathLike, *, name: Optional[str] = None, recursive: bool = True
    ) -> "Transfer":
        """Offers a directory tree to a peer; returns the ``Transfer``."""
        self._watch_transfers()
        tid = await self._n.send_file(_peer(peer_id), os.fspath(path), name, True, bool(recursive))
        return self._transfer(tid)

    async def request_file(self, peer_id: str, remote_path: str, local_path: PathLike) -> "Transfer":
        """Asks a peer for one of the files it shares, saved at ``local_path``."""
        self._watch_transfers()
        tid = await self._n.request_file(_peer(peer_id), _text(remote_path, "remote_path"), os.fspath(local_path), False)
        return self._transfer(tid)

    async def request_directory(self, peer_id: str, remote_path: str, local_path: PathLike) -> "Transfer":
        """Asks a peer for one of the directories it shares, saved under ``local_path``."""
        self._watch_transfers()
        tid = await self._n.request_file(_peer(peer_id), _text(remote_path, "remote_path"), os.fspath(local_path), True)
        return self._transfer(tid)

    def on_transfer_request(
        self,
        handler: Callable[[TransferOffer], Union[PathLike, None, bool, Awaitable[Union[PathLike, None, bool]]]],
    ) -> Callable[..., Any]:
        """Decides on offered files and directories (also usable as a decorator):
        ``handler(offer)`` returns the path to save it at (accept), or None/False (refuse);
        plain or ``async``. Without a handler every offer is refused."""
        self._watch_transfers()
        stream: Stream[TransferOffer] = self._track(Stream(self._n.offer_stream(256), TransferOffer._from_json))
        native = self._n

        async def pump() -> None:
            async for offer in stream:
                self._transfer(offer.id)
                try:
                    answer = await _call(handler, offer)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001
                    _log.exception("rats: exception in the transfer-request handler")
                    native.answer_offer(offer.id, None, f"error: {e}")
                    continue
                if answer is None or answer is False:
                    native.answer_offer(offer.id, None, "refused")
                else:
                    native.answer_offer(offer.id, os.fspath(answer), None)

        task = asyncio.get_running_loop().create_task(pump())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return handler

    def transfers(self) -> List[TransferInfo]:
        """Live transfers, then the last finished ones."""
        return [TransferInfo._from(d) for d in json.loads(self._n.transfers())]

    # ------------------------------------------------------------------ discovery, NAT

    async def find_peers(self, info_hash: str) -> List[str]:
        """Peers announced for ``info_hash`` (40 hex characters) on the DHT, as
        ``host:port``."""
        return await self._n.find_peers(_text(info_hash, "info_hash"))

    async def announce(self, info_hash: str) -> int:
        """Announces us for ``info_hash`` on the DHT; how many nodes took it."""
        return await self._n.announce(_text(info_hash, "info_hash"))

    def dht_status(self) -> Optional[Dict[str, Any]]:
        """The DHT's state, or None when it is off."""
        text = self._n.dht_status()
        return json.loads(text) if text is not None else None

    async def start_mdns(self, name: Optional[str] = None) -> None:
        """Starts mDNS discovery on the local network (discovered peers come as
        ``peer_discovered`` events)."""
        await self._n.start_mdns(name)

    async def stop_mdns(self) -> None:
        """Stops mDNS discovery."""
        await self._n.stop_mdns()

    @property
    def mdns_running(self) -> bool:
        """Whether mDNS discovery runs."""
        return self._n.mdns_running()

    async def public_address(self) -> str:
        """Our public ``ip:port`` as the configured STUN servers see it."""
        return await self._n.public_address()

    async def nat_type(self) -> str:
        """The NAT in front of us: ``open``, ``full-cone``, ``restricted-cone``,
        ``port-restricted-cone``, ``symmetric``, ..."""
        return await self._n.nat_type()

    async def create_ice_offer(self, *, controlling: bool = True) -> "IceSession":
        """Starts an ICE session (for connections whose signalling the application does):
        send ``session.offer`` to the other side, then ``await session.connect(their_offer)``."""
        session, offer = await self._n.create_ice_offer(bool(controlling))
        return IceSession(self, session, offer)


class IceSession:
    """An ICE session: our ``offer`` (JSON text) for the other side."""

    def __init__(self, client: Client, session: int, offer: str) -> None:
        self._client = client
        self._session = session
        self.offer: str = offer

    async def connect(self, remote_offer: str) -> str:
        """Connects to the side that sent ``remote_offer``; returns its peer id."""
        return await self._client._n.connect_ice(self._session, _text(remote_offer, "remote_offer"))


class Transfer:
    """A file or directory transfer: follow it with ``progress()``, steer it with
    ``pause()``/``resume()``/``cancel()``, and ``await result()`` for the outcome."""

    def __init__(self, client: Client, transfer_id: str) -> None:
        self._client = client
        self.id: str = transfer_id
        self._progress: "asyncio.Queue[Optional[Progress]]" = asyncio.Queue(maxsize=256)
        self._done = False

    def __repr__(self) -> str:
        return f"<rats.Transfer {self.id[:12]}>"

    def _event(self, ev: Event) -> None:
        if self._done:
            return
        if ev.type == "transfer_progress":
            p = Progress(ev.data["bytes_done"], ev.data["total_bytes"], ev.data["files_done"])
            if self._progress.full():
                # Progress is a snapshot: the newest matters.
                self._progress.get_nowait()
            self._progress.put_nowait(p)
        elif ev.type == "transfer_finished":
            info = ev.data["transfer"]
            if self._progress.full():
                self._progress.get_nowait()
            self._progress.put_nowait(Progress(info["bytes_done"], info["total_bytes"], info["files_done"]))
            self._done = True
            if self._progress.full():
                self._progress.get_nowait()
            self._progress.put_nowait(None)

    async def progress(self):  # type: ignore[no-untyped-def]
        """Yields ``Progress`` as the transfer moves, until it is finished (for tqdm or
        rich: ``bar.update(p.bytes_done - bar.n)``)."""
        while True:
            info = self.info()
            if info is not None and info.finished and self._progress.empty():
                return
            p = await self._progress.get()
            if p is None:
                return
            yield p

    def info(self) -> Optional[TransferInfo]:
        """The transfer's state now (None before the other side accepted an offer to us)."""
        text = self._client._n.transfer_info(self.id)
        return TransferInfo._from(json.loads(text)) if text is not None else None

    def pause(self) -> None:
        """Pauses the transfer (both sides keep what they have)."""
        self._client._n.pause_transfer(self.id)

    def resume(self) -> None:
        """Resumes a paused transfer."""
        self._client._n.resume_transfer(self.id)

    def cancel(self) -> None:
        """Cancels the transfer on both sides."""
        self._client._n.cancel_transfer(self.id)

    async def result(self, timeout: Optional[float] = None) -> TransferResult:
        """Waits until the transfer is finished; raises ``TransferError`` if it failed or
        was cancelled, or when ``timeout`` seconds pass first."""
        text = await self._client._n.wait_transfer(self.id, _FOREVER if timeout is None else float(timeout))
        info = TransferInfo._from(json.loads(text))
        if info.state != "completed":
            raise _rats.TransferError(
                f"transfer {self.id[:12]} {info.state}" + (f": {info.error}" if info.error else "")
            )
        digest = None
        if info.kind == "file":
            digest = await asyncio.get_running_loop().run_in_executor(None, _sha256, info.local_path)
        return TransferResult(info, digest)


def _sha256(path: str) -> Optional[str]:
    p = Path(path)
    if not p.is_file():
        return None
    h = hashlib.sha256()
    with p.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
