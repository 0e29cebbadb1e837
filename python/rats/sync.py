"""A blocking facade over ``rats.Client`` for scripts that do not use asyncio.

The client runs on a private event loop in a daemon thread; every method blocks until it is
done or ``timeout`` seconds pass (``TimeoutError``). Handlers registered with ``on``,
``on_text`` and ``on_bytes`` run on that thread::

    import rats.sync

    with rats.sync.Client(local_only=True) as client:
        peer = client.connect("127.0.0.1:4001", timeout=10)
        client.send(peer, "chat", {"text": "hi"})
        for msg in client.messages("chat", timeout=30):
            print(msg.data)
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any, Callable, Coroutine, Iterator, List, Optional, Tuple, TypeVar

from ._client import Client as AsyncClient
from ._client import PathLike
from ._streams import Stream
from ._types import Message, PeerInfo, TopicMessage, TransferOffer, TransferResult

__all__ = ["Client"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_TIMEOUT = 30.0


class Client:
    """A rats peer with blocking methods; takes the same keyword settings as
    ``rats.Client``. Use it in ``with`` (or call ``close()``)."""

    def __init__(self, **settings: Any) -> None:
        self._client = AsyncClient(**settings)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="rats-sync", daemon=True)
        self._thread.start()
        try:
            self._run(self._client.start(), DEFAULT_TIMEOUT)
        except BaseException:
            self._stop_loop()
            raise

    def _run(self, coro: Coroutine[Any, Any, T], timeout: Optional[float]) -> T:
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return fut.result(timeout)
        except TimeoutError:
            fut.cancel()
            raise
        except KeyboardInterrupt:
            fut.cancel()
            raise

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        async def run() -> T:
            return fn(*args)

        return self._run(run(), DEFAULT_TIMEOUT)

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()

    def close(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Stops the client and its thread."""
        if self._loop.is_closed():
            return
        try:
            self._run(self._client.close(), timeout)
        finally:
            self._stop_loop()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def peer_id(self) -> str:
        """Our peer id."""
        return self._client.peer_id

    @property
    def address(self) -> str:
        """The first listen address as ``host:port``."""
        return self._client.address

    @property
    def listen_addresses(self) -> List[str]:
        """Where we listen."""
        return self._client.listen_addresses

    def connect(self, address: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Connects; returns the peer id."""
        return self._run(self._client.connect(address), timeout)

    def disconnect(self, peer_id: str) -> bool:
        """Closes the connection to a peer."""
        return self._call(self._client.disconnect, peer_id)

    def peers(self) -> List[PeerInfo]:
        """Connected peers."""
        return self._call(self._client.peers)

    def send(self, peer_id: str, kind: str, data: Any, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Sends a typed JSON message."""
        self._run(self._client.send(peer_id, kind, data), timeout)

    def send_text(self, peer_id: str, text: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Sends a text message."""
        self._run(self._client.send_text(peer_id, text), timeout)

    def send_bytes(self, peer_id: str, data: bytes, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Sends a binary message."""
        self._run(self._client.send_bytes(peer_id, data), timeout)

    def broadcast(self, kind: str, data: Any) -> int:
        """Sends a typed JSON message to every peer; how many."""
        return self._call(self._client.broadcast, kind, data)

    def publish(self, topic: str, data: Any) -> str:
        """Publishes to a topic; the message id."""
        return self._call(self._client.publish, topic, data)

    def _iterate(self, make: Callable[[], Stream[T]], timeout: Optional[float]) -> Iterator[T]:
        stream: Stream[T] = self._call(make)
        items: "queue.Queue[Tuple[bool, Any]]" = queue.Queue(maxsize=1024)

        async def pump() -> None:
            try:
                async for item in stream:
                    while True:
                        try:
                            items.put_nowait((True, item))
                            break
                        except queue.Full:
                            await asyncio.sleep(0.01)
            finally:
                items.put((False, None))

        fut = asyncio.run_coroutine_threadsafe(pump(), self._loop)
        try:
            while True:
                try:
                    ok, item = items.get(timeout=timeout)
                except queue.Empty:
                    return
                if not ok:
                    return
                yield item
        finally:
            self._loop.call_soon_threadsafe(stream.close)
            fut.cancel()

    def messages(self, kind: str, timeout: Optional[float] = None) -> Iterator[Message]:
        """Typed messages of ``kind`` as they arrive; ends after ``timeout`` seconds without
        one (``None``: never) or when the client closes."""
        return self._iterate(lambda: self._client.messages(kind), timeout)

    def texts(self, timeout: Optional[float] = None) -> Iterator[Tuple[str, str]]:
        """Text messages ``(peer_id, text)``."""
        return self._iterate(self._client.texts, timeout)

    def subscribe(self, topic: str, timeout: Optional[float] = None) -> Iterator[TopicMessage]:
        """Subscribes; yields the topic's messages (ends as ``messages`` does)."""
        return self._iterate(lambda: self._client.subscribe(topic), timeout)

    def on(self, kind: str) -> Callable[[F], F]:
        """Decorator: ``fn(peer_id, data)`` for every typed message of ``kind`` (on the
        client's thread)."""

        def register(fn: F) -> F:
            self._call(lambda: self._client.on(kind)(fn))
            return fn

        return register

    def on_text(self, fn: F) -> F:
        """Decorator: ``fn(peer_id, text)`` for every text message."""
        self._call(self._client.on_text, fn)
        return fn

    def on_bytes(self, fn: F) -> F:
        """Decorator: ``fn(peer_id, data)`` for every binary message."""
        self._call(self._client.on_bytes, fn)
        return fn

    def on_transfer_request(self, handler: Callable[[TransferOffer], Any]) -> Callable[[TransferOffer], Any]:
        """Decides on offered files (see ``rats.Client.on_transfer_request``)."""
        self._call(self._client.on_transfer_request, handler)
        return handler

    def send_file(self, peer_id: str, path: PathLike, timeout: float = 3600.0) -> TransferResult:
        """Sends a file and waits until it is done; the result (raises ``TransferError``)."""

        async def run() -> TransferResult:
            t = await self._client.send_file(peer_id, path)
            return await t.result(timeout)

        return self._run(run(), timeout + 5)
