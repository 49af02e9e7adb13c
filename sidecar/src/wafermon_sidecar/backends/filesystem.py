"""filesystem backend: append events to local files (JSON Lines or CSV), rotated hourly/daily.

File names are built only from a sanitised prefix and the UTC delivery time, never from event content,
so no event can steer a write outside `path`. Each batch is appended and fsync'd before send_batch
returns, so the delivery cursor never runs ahead of the disk; the first write to a file after a start
cuts the torn tail a crash mid-append may have left (see torn_tail.py), and a write that fails part-way
(disk full) is cut back at once, so the retried batch never lands after half a record.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import fcntl
import gzip
import io
import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from ..fileio import write_all
from .base import Backend, Batch, ConfigurationError, TransientError, config_struct
from .torn_tail import csv_intact_length, gzip_intact_length, jsonl_intact_length

log = logging.getLogger(__name__)

CSV_COLUMNS = [
    "event_id", "event_kind", "entity_type", "entity_id", "parent_id", "seq", "at", "site_id",
    "app_id", "app_name", "app_version", "business_key", "sub_key", "status", "progress",
    "duration_s", "cpu_user_s", "cpu_sys_s", "mem_max_mb", "error_type", "error_message",
    "host", "pid", "sdk_lang", "sdk_version", "trace_id", "span_id", "metadata",
]  # fmt: skip
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class FilesystemConfig(msgspec.Struct, forbid_unknown_fields=True):
    path: str
    format: Literal["jsonl", "csv"] = "jsonl"
    rotation: Literal["hourly", "daily", "none"] = "daily"
    compression: Literal["gzip", "none"] = "none"
    prefix: str = "wafermon-events"
    fsync: bool = True


def safe_component(text: str) -> str:
    """A file-name component that cannot climb out of its directory or hide as a dot file."""
    cleaned = _UNSAFE.sub("_", text).lstrip(".")
    return cleaned[:100] or "events"


def csv_row(event: Mapping[str, Any]) -> list[str]:
    app = event.get("app") or {}
    metrics = event.get("metrics") or {}
    error = event.get("error") or {}
    sdk = event.get("sdk") or {}
    trace = event.get("trace") or {}
    values: list[Any] = [
        event.get("event_id"), event.get("event_kind"), event.get("entity_type"), event.get("entity_id"),
        event.get("parent_id"), event.get("seq"), event.get("at"), event.get("site_id"),
        app.get("id"), app.get("name"), app.get("version"), event.get("business_key"), event.get("sub_key"),
        event.get("status"), event.get("progress"), metrics.get("duration_s"), metrics.get("cpu_user_s"),
        metrics.get("cpu_sys_s"), metrics.get("mem_max_mb"), error.get("type"), error.get("message"),
        event.get("host"), event.get("pid"), sdk.get("lang"), sdk.get("version"), trace.get("trace_id"),
        trace.get("span_id"), json.dumps(event.get("metadata") or {}, ensure_ascii=False, sort_keys=True),
    ]  # fmt: skip
    return ["" if v is None else str(v) for v in values]


class FilesystemBackend(Backend):
    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self.settings = config_struct(FilesystemConfig, config, name)
        if not self.settings.path:
            raise ConfigurationError(f"backend {name!r}: config.path is required")
        self.directory = Path(self.settings.path)
        self.prefix = safe_component(self.settings.prefix)
        self.last_file: str | None = None
        self._checked: set[Path] = set()

    async def initialize(self) -> None:
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)

    def file_for(self, now: dt.datetime) -> Path:
        stamp = {"hourly": now.strftime("-%Y%m%d-%H"), "daily": now.strftime("-%Y%m%d"), "none": ""}
        suffix = "." + self.settings.format + (".gz" if self.settings.compression == "gzip" else "")
        return self.directory / f"{self.prefix}{stamp[self.settings.rotation]}{suffix}"

    def _encode(self, batch: Batch, new_file: bool) -> bytes:
        if self.settings.format == "jsonl":
            return batch.ndjson()
        out = io.StringIO()
        minimal = csv.writer(out, lineterminator="\n")
        # The csv module quotes only the line terminator's own characters, but a reader ends a row at a
        # bare "\r" as well: a row with one anywhere is written with every field quoted.
        quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
        if new_file:
            minimal.writerow(CSV_COLUMNS)
        for row in map(csv_row, batch.events()):
            (quoted if any("\r" in cell for cell in row) else minimal).writerow(row)
        return out.getvalue().encode()

    def _parts(self, batch: Batch, new_file: bool) -> list[bytes]:
        if self.settings.format == "jsonl" and self.settings.compression == "none":
            return batch.ndjson_parts()  # the spool's blocks as they are: no copy
        data = self._encode(batch, new_file)
        if self.settings.compression == "gzip":
            # Each batch is its own gzip member; concatenated members are one valid gzip stream.
            data = gzip.compress(data, compresslevel=6)
        return [data]

    def _write(self, batch: Batch) -> None:
        target = self.file_for(dt.datetime.now(dt.UTC))
        # Read-write: the first write to a file in this process reads its tail to cut a torn one.
        fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            # Two backends (or two sidecars) pointed at one file take turns, so neither cuts the
            # other's append in flight as a torn tail.
            fcntl.flock(fd, fcntl.LOCK_EX)
            if target not in self._checked:
                self._cut_torn_tail(fd, target)
            before = os.fstat(fd).st_size
            parts = self._parts(batch, new_file=before == 0)
            try:
                write_all(fd, parts)
                if self.settings.fsync:
                    os.fdatasync(fd)
            except OSError:  # disk full part-way, I/O error: no torn record may stay for the next append
                self._checked.discard(target)  # should the cut fail too, the next write cuts the torn tail
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, before)
                raise
            self._checked.add(target)  # only now: a failed first write checks the tail again
        finally:
            os.close(fd)
        self.last_file = str(target)

    def _cut_torn_tail(self, fd: int, target: Path) -> None:
        """A crash mid-append can leave half a line, row or gzip member at the end; cut it (that batch
        was never confirmed, so it is delivered again whole) so the file holds whole records only."""
        size = os.fstat(fd).st_size
        if size == 0:
            return
        intact: int | None
        if self.settings.compression == "gzip":
            intact = gzip_intact_length(fd, size)
        elif self.settings.format == "csv":
            intact = csv_intact_length(fd, size)
        else:
            intact = jsonl_intact_length(fd, size)
        if intact is None:
            log.warning("backend %s: %s is corrupt before its end; appending after it as it is", self.name, target)
        elif intact < size:
            log.warning("backend %s: cutting a torn tail of %d byte(s) from %s", self.name, size - intact, target)
            os.ftruncate(fd, intact)

    async def send_batch(self, batch: Batch) -> None:
        try:
            await asyncio.to_thread(self._write, batch)
        except OSError as exc:  # disk full, permissions: may clear up, so retry rather than drop
            raise TransientError(f"cannot write to {self.directory}: {exc.strerror or exc}") from exc

    async def health(self) -> dict[str, Any]:
        return {
            "path": str(self.directory),
            "writable": os.access(self.directory, os.W_OK),
            "format": self.settings.format,
            "last_file": self.last_file,
        }

    async def close(self) -> None:
        return None
