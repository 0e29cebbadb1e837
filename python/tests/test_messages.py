"""Two and three clients in one process: every message kind, handlers, events, errors."""

from __future__ import annotations

import asyncio
import json

import pytest

import rats

from conftest import connected, wait_until


async def test_json_text_and_bytes_both_ways(make_client):
    a, b = await make_client(), await make_client()
    peer_b = await connected(a, b)
    assert peer_b == b.peer_id and len(peer_b) == 64
    info = a.peer_info(peer_b)
    assert info is not None and info.outbound and info.encrypted and info.method == "direct"
    assert [p.peer_id for p in b.peers()] == [a.peer_id]

    async with b.messages("chat") as chat, b.texts() as texts, b.binaries() as blobs:
        await a.send(peer_b, "chat", {"text": "hello", "n": [1, 2]})
        await a.send_text(peer_b, "plain text")
        await a.send_bytes(peer_b, b"\x00\x01binary\xff")
        await a.send_bytes(peer_b, memoryview(b"view"))
        msg = await chat.__anext__()
        assert msg == rats.Message(a.peer_id, "chat", {"text": "hello", "n": [1, 2]})
        assert await texts.__anext__() == (a.peer_id, "plain text")
        assert await blobs.__anext__() == (a.peer_id, b"\x00\x01binary\xff")
        assert await blobs.__anext__() == (a.peer_id, b"view")

    # And back, through decorated handlers (one plain, one async).
    got = []

    @a.on("reply")
    def on_reply(peer_id, data):
        got.append(("reply", peer_id, data))

    @a.on_bytes
    async def on_bytes(peer_id, data):
        await asyncio.sleep(0)
        got.append(("bytes", peer_id, data))

    await b.send(a.peer_id, "reply", ["ok"])
    await b.send_bytes(a.peer_id, bytes(range(256)))
    await wait_until(lambda: len(got) == 2)
    assert ("reply", b.peer_id, ["ok"]) in got
    assert ("bytes", b.peer_id, bytes(range(256))) in got


async def test_many_messages_arrive_in_order(make_client):
    a, b = await make_client(), await make_client()
    peer = await connected(a, b)
    n = 20000
    async with b.binaries() as inbox:
        async def send():
            for i in range(n):
                await a.send_bytes(peer, i.to_bytes(4, "little"))

        task = asyncio.create_task(send())
        i = 0
        async for _peer, data in inbox:
            assert int.from_bytes(data, "little") == i
            i += 1
            if i == n:
                break
        await task


async def test_three_clients_broadcast(make_client):
    hub, x, y = await make_client(), await make_client(), await make_client()
    await connected(x, hub)
    await connected(y, hub)
    async with x.messages("news") as xs, y.messages("news") as ys:
        assert hub.broadcast("news", {"v": 1}) == 2
        assert (await xs.__anext__()).data == {"v": 1}
        assert (await ys.__anext__()).data == {"v": 1}
    async with x.texts() as xt:
        assert hub.broadcast_text("all") == 2
        assert await xt.__anext__() == (hub.peer_id, "all")
    async with y.binaries() as yb:
        assert hub.broadcast_bytes(b"raw") == 2
        assert await yb.__anext__() == (hub.peer_id, b"raw")


async def test_events_for_connect_and_disconnect(make_client):
    a, b = await make_client(), await make_client()
    async with b.events() as events:
        await connected(a, b)
        ev = await asyncio.wait_for(_next_of(events, "peer_connected"), 10)
        assert ev.peer_id == a.peer_id and ev.data["outbound"] is False
        assert b.disconnect(a.peer_id)
        ev = await asyncio.wait_for(_next_of(events, "peer_disconnected"), 10)
        assert ev.peer_id == a.peer_id


async def _next_of(events, kind):
    async for ev in events:
        if ev.type == kind:
            return ev


async def test_bad_arguments_raise_before_anything_is_sent(make_client):
    a, b = await make_client(), await make_client()
    peer = await connected(a, b)
    with pytest.raises(TypeError):
        await a.send_bytes(peer, "not bytes")
    with pytest.raises(TypeError):
        await a.send_text(peer, b"not text")
    with pytest.raises(TypeError):
        await a.send(123, "chat", {})
    with pytest.raises(ValueError):
        await a.send("zz" * 32, "chat", {})
    with pytest.raises(TypeError):
        await a.send(peer, "chat", {"x": object()})
    with pytest.raises(TypeError):
        rats.Client(port="80")
    with pytest.raises(ValueError):
        rats.Client(port=70000)
    with pytest.raises(ValueError):
        await a.connect("not an address")
    with pytest.raises(rats.ConfigError):
        await rats.Client(local_only=True, config={"no_such_key": 1}).start()


async def test_connect_errors_are_connect_errors(make_client):
    a, b = await make_client(), await make_client(protocol="other")
    # Another application protocol: the hello is refused.
    with pytest.raises(rats.ProtocolError):
        await a.connect(b.address)
    addr = b.address
    await b.close()
    with pytest.raises(rats.ConnectError):
        await a.connect(addr)
    # Nobody listens there any more.
    stranger = (await make_client()).peer_id
    with pytest.raises(rats.ConnectError):
        await a.send_text(stranger, "not connected")


async def test_closed_client_raises_not_running(make_client):
    a = await make_client()
    await a.close()
    await a.close()  # twice is fine
    with pytest.raises(rats.NotRunningError):
        a.peers()
    with pytest.raises(rats.NotRunningError):
        await a.connect("127.0.0.1:1")


async def test_close_from_own_handler_and_handler_errors(make_client, caplog):
    a, b = await make_client(), await make_client()
    peer = await connected(a, b)
    seen = []

    @b.on("boom")
    def boom(peer_id, data):
        raise RuntimeError("handler failure")

    @b.on("stop")
    async def stop(peer_id, data):
        seen.append(data)
        await b.close()
        seen.append("closed")

    await a.send(peer, "boom", 1)
    # The failure is logged and the client goes on.
    await wait_until(lambda: any(r.exc_info and "handler failure" in str(r.exc_info[1]) for r in caplog.records))
    await a.send(peer, "stop", 2)
    await wait_until(lambda: seen == [2, "closed"])
    assert not b.running


async def test_peer_info_json_fields(make_client):
    a, b = await make_client(), await make_client()
    peer = await connected(a, b)
    info = a.peer_info(peer)
    assert info.address.startswith("tcp:127.0.0.1:")
    assert info.transport == "tcp"
    assert json.dumps(a.peers()[0].__dict__)
