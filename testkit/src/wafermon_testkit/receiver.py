"""The test side of the stand-in receiver (wafermon_testkit.receiver_server, whose docstring gives
its flags, answers and records): ``Receiver`` runs it as a child process on a fixed port, reads what
it recorded, and is a context manager. ``stop()`` then ``start()`` keep its port and its file, so a
test can take the peer down and bring it back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wafermon_testkit.child_server import ChildServer

# The sidecar's documented defaults (ingest.max_body_bytes, ingest.max_events_per_request).
SIDECAR_MAX_BODY = 16 * 1024 * 1024
SIDECAR_MAX_EVENTS = 10_000
INGEST_PATH = "/v1/ingest/events:batch"


class Receiver(ChildServer):
    """The receiver as a child process on a fixed port (a free one unless given).

    ``options`` become its command-line flags: ``mode="reject"`` → ``--mode reject``,
    ``gateway=True`` → ``--gateway``.
    """

    module = "wafermon_testkit.receiver_server"
    what = "receiver"

    def __init__(self, out: Path, port: int | None = None, **options: Any) -> None:
        super().__init__(port, options)
        self.out = out

    def own_args(self) -> list[str]:
        return ["--out", str(self.out)]

    def records(self) -> list[dict[str, Any]]:
        """Everything recorded so far: ``{"path", "signature_ok", "raw"}`` dicts, in arrival order."""
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]

    def ndjson(self) -> bytes:
        """The events taken so far as NDJSON, each line the bytes the sender wrote."""
        return b"".join(str(r["raw"]).encode("utf-8", "surrogateescape") + b"\n" for r in self.records())

    def events(self) -> list[dict[str, Any]]:
        """The events taken so far, repeats included, in arrival order."""
        return [json.loads(record["raw"]) for record in self.records()]

    def event_ids(self) -> list[str]:
        return [str(event["event_id"]) for event in self.events()]

    def lines(self) -> list[tuple[str, str]]:
        """(event_id, "1" or "0" for the signature checked by --secret; "1" without one) per event."""
        return [(str(json.loads(r["raw"])["event_id"]), str(int(r["signature_ok"]))) for r in self.records()]

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """Polls events() until predicate(events) holds or `timeout` seconds pass; returns the events
        then (the caller asserts on them, so a failure shows what did arrive)."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.events()
            if predicate(events) or time.monotonic() > deadline:
                return events
            time.sleep(0.05)


def ingest_receiver(
    out: Path,
    port: int | None = None,
    mode: str = "ok",
    max_body: int = SIDECAR_MAX_BODY,
    max_events: int = SIDECAR_MAX_EVENTS,
) -> Receiver:
    """A receiver (not started) that keeps the sidecar's ingest contract, as the core and the SDKs
    see it: POST /v1/ingest/events:batch only, 202 (207 naming rejected events), the sidecar's
    limits."""
    return Receiver(out, port, path=INGEST_PATH, ok_status=202, mode=mode, max_body=max_body, max_events=max_events)
