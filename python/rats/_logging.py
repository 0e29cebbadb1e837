"""rats' log records in Python's ``logging``."""

from __future__ import annotations

import logging
import threading
from typing import Optional

from . import _rats

_lock = threading.Lock()
_thread: Optional[threading.Thread] = None
_stop: Optional[threading.Event] = None


def enable_logging(filter: str = "info") -> None:  # noqa: A002 - the name rats uses
    """Sends rats' log records to ``logging``: logger ``rats.<module>`` (for example
    ``rats.rats_core.node``), with the record's level. ``filter`` is rats' filter syntax
    (``"debug"``, ``"info,rats_core=trace"``). Calling it again replaces the filter's stream.
    Records are handed over by a daemon thread a few times a second; a flood drops the
    newest records rather than slowing rats down."""
    global _thread, _stop
    stream = _rats.log_stream(filter)
    with _lock:
        if _stop is not None:
            _stop.set()
        stop = threading.Event()
        _stop = stop
        _thread = threading.Thread(target=_pump, args=(stream, stop), name="rats-log", daemon=True)
        _thread.start()


def _pump(stream: _rats.NativeStream, stop: threading.Event) -> None:
    while not stop.is_set():
        for level, name, message in stream.take(1000):
            logging.getLogger(name).log(level, "%s", message)
        if stream.closed:
            return
        dropped = stream.dropped()
        if dropped:
            logging.getLogger("rats").warning("%d rats log records dropped", dropped)
        stop.wait(0.05)
