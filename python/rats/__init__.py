"""rats: peer-to-peer networking for Python.

Peers find each other (DHT, mDNS, peer exchange), connect through NATs, talk over encrypted
connections (typed JSON, text and binary messages), publish to topics (GossipSub) and move
files and directories, on rats' Rust engine::

    import asyncio, rats

    async def main():
        async with rats.Client(local_only=True) as a, rats.Client(local_only=True) as b:
            peer = await a.connect(b.address)
            async with b.messages("chat") as inbox:
                await a.send(peer, "chat", {"text": "hello"})
                async for msg in inbox:
                    print(msg.peer_id[:8], msg.data)
                    break

    asyncio.run(main())

``rats.Client`` is the asyncio API; ``rats.sync.Client`` is a blocking one for scripts.
Errors are ``rats.RatsError`` and its subclasses. ``rats.enable_logging()`` sends rats' log
records to the ``logging`` module.
"""

from __future__ import annotations

import atexit

from . import _rats
from ._client import Client, IceSession, Transfer
from ._logging import enable_logging
from ._rats import (
    ConfigError,
    ConnectError,
    NotRunningError,
    ProtocolError,
    RatsError,
    TransferError,
)
from ._streams import Stream
from ._types import (
    Event,
    Message,
    OfferedFile,
    PeerInfo,
    Progress,
    TopicMessage,
    TransferInfo,
    TransferOffer,
    TransferResult,
)

__version__: str = _rats.__version__

__all__ = [
    "Client",
    "ConfigError",
    "ConnectError",
    "Event",
    "IceSession",
    "Message",
    "NotRunningError",
    "OfferedFile",
    "PeerInfo",
    "Progress",
    "ProtocolError",
    "RatsError",
    "Stream",
    "TopicMessage",
    "Transfer",
    "TransferError",
    "TransferInfo",
    "TransferOffer",
    "TransferResult",
    "enable_logging",
]

# At exit rats' threads stop handing results to Python (the interpreter is going away).
atexit.register(_rats._shutdown)
