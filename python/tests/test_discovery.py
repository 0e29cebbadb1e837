"""The DHT through the Python API, on a private two-node DHT on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket

import rats

from conftest import wait_until


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dht_settings(port: int, bootstrap: list) -> dict:
    # The DHT on, bound to loopback, bootstrapping only from our own node; nothing else that
    # reaches the network.
    return {
        "local_only": False,
        "dht": True,
        "mdns": False,
        "nat": False,
        "config": {
            "dht": {
                "port": port,
                "bind_v4": "127.0.0.1",
                "ipv6": False,
                "bootstrap": bootstrap,
                "fast_interval_secs": 1,
            }
        },
    }


async def test_announce_and_find_on_a_local_dht(make_client):
    port_a = free_udp_port()
    a = await make_client(**dht_settings(port_a, []))
    b = await make_client(**dht_settings(free_udp_port(), [f"127.0.0.1:{port_a}"]))
    status = b.dht_status()
    assert status is not None and status["running"]
    await wait_until(lambda: b.dht_status()["routing_table_size"] >= 1, timeout=20)
    info_hash = "ab" * 20
    stored = await b.announce(info_hash)
    assert stored >= 1
    found = []
    for _ in range(20):
        found = await a.find_peers(info_hash)
        if found:
            break
        await asyncio.sleep(0.5)
    b_port = b.address.rsplit(":", 1)[1]
    assert any(addr.endswith(":" + b_port) for addr in found), found
    assert a.dht_status()["running"]


async def test_dht_off_means_not_running_and_bad_hashes_are_value_errors(make_client):
    c = await make_client()
    assert c.dht_status() is None
    try:
        await c.find_peers("ab" * 20)
    except rats.RatsError:
        pass
    else:
        raise AssertionError("find_peers worked with the DHT off")
    d = await make_client(**dht_settings(free_udp_port(), []))
    try:
        await d.find_peers("not a hash")
    except ValueError:
        pass
    else:
        raise AssertionError("a bad info hash was taken")
