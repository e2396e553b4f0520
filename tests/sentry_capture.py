"""The real sentry_sdk with a transport that keeps in memory what it would send."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

DSN = "http://public@127.0.0.1:9/1"  # nothing listens there, and nothing is sent anyway


class MemoryTransport(Transport):
    """Keeps every envelope the client would send."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []
        self._lock = threading.Lock()

    def capture_envelope(self, envelope: Envelope) -> None:
        with self._lock:
            self.envelopes.append(envelope)

    def items(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            envelopes = list(self.envelopes)
        return [
            item.payload.json
            for envelope in envelopes
            for item in envelope.items
            if item.type == kind and item.payload.json is not None
        ]

    def events(self) -> list[dict[str, Any]]:
        return self.items("event")

    def transactions(self) -> list[dict[str, Any]]:
        return self.items("transaction")


class FileTransport(Transport):
    """Writes each item of a kind in *kinds* that the client sends to a file of its own in
    the directory ``SENTRY_DIR`` names, with the id of the process that sent it (``pid``): the
    apps that tests serve from several processes report through it."""

    def __init__(self, kinds: tuple[str, ...] = ("event",)) -> None:
        super().__init__(None)
        self.kinds = kinds
        self.directory = Path(os.environ["SENTRY_DIR"])

    def capture_envelope(self, envelope: Envelope) -> None:
        for item in envelope.items:
            if item.type in self.kinds and item.payload.json is not None:
                path = self.directory / f"{os.getpid()}-{uuid.uuid4().hex}.json"
                path.write_text(json.dumps({**item.payload.json, "pid": os.getpid()}))


def capture() -> Iterator[MemoryTransport]:
    """Initialise sentry_sdk with a :class:`MemoryTransport`, and reset it afterwards; a test
    module makes it a fixture (``transport = pytest.fixture(capture, name="transport")``)."""
    memory = MemoryTransport()
    sentry_sdk.init(dsn=DSN, transport=memory)
    try:
        yield memory
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)  # inactive for the tests that follow


def flushed_events(memory: MemoryTransport) -> list[dict[str, Any]]:
    """The events sent so far, once the client has sent what it holds."""
    sentry_sdk.flush(1)
    return memory.events()
