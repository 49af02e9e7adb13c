"""Dead-letter file per backend: events a backend permanently refused, one JSON line each with the reason.

Bounded: when the file passes half of delivery.dead_letter_max_mb it becomes `<name>.jsonl.1`
(replacing the previous one), so at most the limit is kept and the oldest lines are dropped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from pathlib import Path

import msgspec

from .fileio import write_all


class DeadLetters:
    def __init__(self, directory: Path, backend_name: str, max_bytes: int) -> None:
        self.path = directory / f"{backend_name}.jsonl"
        self.max_bytes = max_bytes
        self.rotations = 0

    def write(self, backend_name: str, items: list[tuple[int, bytes, str]]) -> None:
        """items: (seq, raw event, reason). Appended and fsync'd before the cursor moves past them."""
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        head = b'{"at":"' + now.encode() + b'","backend":' + msgspec.json.encode(backend_name)
        lines = [
            head
            + b',"seq":'
            + str(seq).encode()
            + b',"reason":'
            + msgspec.json.encode(reason)
            + b',"event":'
            + raw
            + b"}\n"
            for seq, raw, reason in items
        ]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and self.path.stat().st_size > self.max_bytes // 2:
            os.replace(self.path, self.path.with_suffix(".jsonl.1"))
            self.rotations += 1
        # Unbuffered: after a failed write nothing may stay in a buffer to be flushed behind the cut.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        try:
            before = os.fstat(fd).st_size
            try:
                write_all(fd, lines)
                os.fsync(fd)
            except OSError:
                # ENOSPC part-way: cut off the torn line, so a retry appends whole lines only.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, before)
                raise
        finally:
            os.close(fd)
