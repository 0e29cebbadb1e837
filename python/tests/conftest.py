"""Fixtures: clients on 127.0.0.1 with nothing that reaches other machines (no DHT, mDNS,
STUN, port mapping or hole punching), closed after each test."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Awaitable, Callable, List

import pytest

import rats

LOCAL = {"local_only": True, "listen": ["tcp:127.0.0.1:0"]}


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., Awaitable[rats.Client]]]:
    """``await make_client(**settings)``: a started local client, closed at the end."""
    made: List[rats.Client] = []

    async def make(**settings: object) -> rats.Client:
        c = rats.Client(**{**LOCAL, **settings})  # type: ignore[arg-type]
        await c.start()
        made.append(c)
        return c

    yield make
    for c in made:
        await c.close()


async def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """Polls ``cond`` until it is true; fails the test after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting for a condition")
        await asyncio.sleep(0.01)


async def connected(a: rats.Client, b: rats.Client) -> str:
    """Connects ``a`` to ``b``, waits until both see it; returns b's peer id."""
    peer = await a.connect(b.address)
    await wait_until(lambda: b.peer_info(a.peer_id) is not None)
    return peer
