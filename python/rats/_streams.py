"""Async iterators over the native streams: many items per wake-up of the event loop."""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Deque, Generic, Optional, TypeVar

from . import _rats

T = TypeVar("T")

_BATCH = 4096


class Stream(Generic[T]):
    """An async iterator over what rats delivers (messages, topic messages, events).

    It ends when the stream is closed (`close()`, or the client closes). Use it in
    `async for`, or as an async context manager that closes it::

        async with client.messages("chat") as messages:
            async for msg in messages:
                ...
    """

    __slots__ = ("_native", "_buf", "_convert", "__weakref__")

    def __init__(self, native: _rats.NativeStream, convert: Optional[Callable[[Any], T]] = None):
        self._native = native
        self._buf: Deque[Any] = deque()
        self._convert = convert

    def __aiter__(self) -> "Stream[T]":
        return self

    async def __anext__(self) -> T:
        buf = self._buf
        if not buf:
            native = self._native
            while True:
                items = native.take(_BATCH)
                if items:
                    buf.extend(items)
                    break
                if native.closed:
                    raise StopAsyncIteration
                await native.wait()
        item = buf.popleft()
        convert = self._convert
        return convert(item) if convert is not None else item

    def take_nowait(self, max_items: int = _BATCH) -> "list[Any]":
        """What is queued now (up to `max_items`), without waiting."""
        out = [self._buf.popleft() for _ in range(min(max_items, len(self._buf)))]
        if len(out) < max_items:
            out.extend(self._native.take(max_items - len(out)))
        if self._convert is not None:
            out = [self._convert(i) for i in out]
        return out

    @property
    def dropped(self) -> int:
        """Items a lossy stream (events) dropped because it was not read fast enough, since
        the last look. Message streams drop nothing: they hold the sender instead."""
        return self._native.dropped()

    def close(self) -> None:
        """Ends the stream (what is queued is dropped with it)."""
        self._native.close()
        self._buf.clear()

    async def aclose(self) -> None:
        """Ends the stream."""
        self.close()

    async def __aenter__(self) -> "Stream[T]":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

