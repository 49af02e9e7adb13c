"""One durable delivery cursor per backend: the sequence number of the next event to deliver.

Written to a temporary file, fsync'd, then renamed over the old one, so a crash leaves either the old
or the new cursor, never a torn one. When the disk is full the rename path cannot allocate the
temporary file, so the cursor is then overwritten in place: it is a fixed 64-byte record (one sector,
written by one pwrite), which needs no new space, so delivery can still free spool segments.
A cursor may lag the truth (events are then delivered again, which is allowed: stores de-duplicate on
event_id); it never runs ahead of what the backend confirmed.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

RECORD_SIZE = 64


def _record(seq: int) -> bytes:
    return json.dumps({"seq": seq}).encode().ljust(RECORD_SIZE - 1) + b"\n"


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
        try:
            self._replace(seq)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT) or not self.path.exists():
                raise
            self._overwrite(seq)
        self.persisted_seq = seq

    def _replace(self, seq: int) -> None:
        tmp = self.path.with_suffix(".json.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(_record(seq))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, self.path)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _overwrite(self, seq: int) -> None:
        fd = os.open(self.path, os.O_WRONLY)
        try:
            os.pwrite(fd, _record(seq), 0)
            os.fsync(fd)
        finally:
            os.close(fd)
