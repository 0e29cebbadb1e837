"""The blocking facade."""

from __future__ import annotations

import rats.sync

LOCAL = {"local_only": True, "listen": ["tcp:127.0.0.1:0"]}


def test_two_sync_clients_chat():
    with rats.sync.Client(**LOCAL) as a, rats.sync.Client(**LOCAL) as b:
        got = []

        @b.on("chat")
        def chat(peer_id, data):
            got.append((peer_id, data))

        peer = a.connect(b.address, timeout=10)
        assert peer == b.peer_id
        a.send(peer, "chat", {"text": "hi"})
        a.send(peer, "ping", 1)
        for msg in b.messages("ping", timeout=10):
            assert msg.data == 1
            break
        import time

        deadline = time.time() + 10
        while not got and time.time() < deadline:
            time.sleep(0.01)
        assert got == [(a.peer_id, {"text": "hi"})]
        assert [p.peer_id for p in a.peers()] == [b.peer_id]
