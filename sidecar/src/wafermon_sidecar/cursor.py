"""One durable delivery cursor per backend: the sequence number of the next event to deliver.

Written to a temporary file, fsync'd, then renamed over the old one, so a crash leaves either the old
or the new cursor, never a torn one. A cursor may lag the truth (events are then delivered again, which
is allowed: stores de-duplicate on event_id); it never runs ahead of what the backend confirmed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class Cursor:
    def __init__(self, directory: Path, backend_name: str) -> None:
        self.path = directory / f"{backend_name}.json"
        self.seq = 0  # next event to deliver (in memory, advanced after each confirmed batch)
        self.persisted_seq = 0  # what is on disk; only this one may free spool segments

    def load(self) -> int:
        try:
            data = json.loads(self.path.read_text())
            self.seq = self.persisted_seq = int(data["seq"])
        except FileNotFoundError:
            self.seq = self.persisted_seq = 0
        return self.seq

    def exists(self) -> bool:
        return self.path.exists()

    def persist(self) -> None:
        if self.persisted_seq == self.seq and self.path.exists():
            return
        seq = self.seq
        tmp = self.path.with_suffix(".json.tmp")
        with open(tmp, "w") as fh:
            fh.write(json.dumps({"seq": seq}))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self.persisted_seq = seq
