"""Publish/subscribe among five clients, and validators."""

from __future__ import annotations

import asyncio

import rats

from conftest import connected, wait_until


async def mesh(make_client, n):
    clients = [await make_client() for _ in range(n)]
    # A line plus a chord: every client reaches every other through the mesh.
    for i in range(1, n):
        await connected(clients[i], clients[i - 1])
    await connected(clients[0], clients[-1])
    return clients


async def test_five_clients_publish_and_subscribe(make_client):
    clients = await mesh(make_client, 5)
    subs = [c.subscribe("news") for c in clients]
    # Wait until every subscriber is known to its neighbours.
    await wait_until(lambda: all(c.topic_peers("news") for c in clients), timeout=20)
    assert clients[0].topics() == ["news"]
    publisher = clients[2]
    ids = [publisher.publish("news", f"item {i}") for i in range(3)]
    assert len(set(ids)) == 3
    for c, sub in zip(clients, subs):
        if c is publisher:
            continue
        got = []
        while len(got) < 3:
            m = await asyncio.wait_for(sub.__anext__(), 20)
            got.append(m)
        assert sorted(m.data for m in got) == [b"item 0", b"item 1", b"item 2"]
        assert all(m.topic == "news" and m.peer_id == publisher.peer_id for m in got)
    for s in subs:
        s.close()


async def test_validator_rejects_and_accepts(make_client):
    a, b = await make_client(), await make_client()
    await connected(a, b)
    sub = b.subscribe("checked")
    also = a.subscribe("checked")  # kept: dropping the last stream of a topic unsubscribes
    checked = []

    async def only_even(origin, data):
        checked.append(data)
        return int(data) % 2 == 0

    b.set_validator("checked", only_even)
    await wait_until(lambda: a.topic_peers("checked") and b.topic_peers("checked"), timeout=20)
    for i in range(4):
        a.publish("checked", str(i))
    got = []
    while len(got) < 2:
        got.append((await asyncio.wait_for(sub.__anext__(), 20)).data)
    assert sorted(got) == [b"0", b"2"]  # validators run concurrently: any order
    also.close()
    await wait_until(lambda: len(checked) == 4)
