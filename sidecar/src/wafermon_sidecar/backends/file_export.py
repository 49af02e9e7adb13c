"""What the csv and json export backends share: files named by event time, append + fsync, torn-tail
cut, and de-duplication on event_id (see docs/sidecar.md "csv and json exports").

- Naming: `wafer_events_YYYYMMDD[HH].<ext>` from the event's own `at` (UTC), so a replayed event lands in
  the file that already holds it. The name is built from validated digits only.
- Durability: each file's new rows are written and fdatasync'd (and the directory fsync'd when the file
  is new) before send_batch returns, so the delivery cursor never moves past what is not on disk.
- Crash: the first append to a file in this process cuts a torn tail (half a row, line, record or gzip
  member); a failed write is cut back at once and the file is checked again before the next one.
- Replays: the backend remembers the event ids of the last `dedup_window` records it wrote or found
  in the files it appends to (read from each file on its first append after a start) and skips an
  event whose id it remembers. Bounded policy: an event replayed after more than `dedup_window`
  newer records is written again (its event_id column tells the copies apart). One writer per
  output_dir: two sidecars appending to one directory lock each other out of torn-tail cutting, but
  do not see each other's ids.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import logging
import os
from abc import abstractmethod
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from ..fileio import write_all
from .base import Backend, Batch, ConfigurationError, PermanentError, TransientError
from .export_record import EVENT_ID_COLUMN, FIELDS, flat_values

log = logging.getLogger(__name__)

FILE_PREFIX = "wafer_events_"
DEFAULT_DEDUP_WINDOW = 100_000
MAX_DEDUP_WINDOW = 10_000_000
Rotation = Literal["hourly", "daily", "none"]
#: one event: its JSON bytes as the spool holds them, and its flat values (export_record.FIELDS order)
Item = tuple[bytes, list[Any]]
TIMESTAMP_COLUMN = FIELDS.index("timestamp")


class IdWindow:
    """The last `capacity` event ids seen, oldest evicted first; a membership test is one set lookup."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._order: collections.deque[str] = collections.deque()
        self._ids: set[str] = set()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, event_id: str) -> None:
        if event_id in self._ids or self.capacity == 0:
            return
        self._ids.add(event_id)
        self._order.append(event_id)
        while len(self._order) > self.capacity:
            self._ids.discard(self._order.popleft())


def period_stamp(at: Any, rotation: Rotation) -> str | None:
    """`YYYYMMDD` (daily), `YYYYMMDDHH` (hourly) or "" (none) from an RFC 3339 UTC `at`
    ("2026-12-01T04:58:15.123456Z"); None when `at` is not of that shape."""
    if not isinstance(at, str) or len(at) < 20 or at[4] != "-" or at[7] != "-" or at[10] != "T" or at[-1] != "Z":
        return None
    stamp = at[0:4] + at[5:7] + at[8:10] + at[11:13]
    if not (stamp.isascii() and stamp.isdigit()):
        return None
    return {"hourly": stamp, "daily": stamp[:8], "none": ""}[rotation]


def check_window(name: str, window: int) -> None:
    if not 0 <= window <= MAX_DEDUP_WINDOW:
        raise ConfigurationError(f"backend {name!r}: config.dedup_window must be 0..{MAX_DEDUP_WINDOW}, got {window}")


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileExportBackend(Backend):
    """Base of the csv and json exports; a subclass says how records are encoded and read back."""

    def __init__(self, name: str, config: Mapping[str, Any], output_dir: str, rotation: Rotation, window: int) -> None:
        super().__init__(name, config)
        if not output_dir:
            raise ConfigurationError(f"backend {name!r}: config.output_dir is required")
        check_window(name, window)
        self.directory = Path(output_dir)
        self.rotation = rotation
        self.window = IdWindow(window)
        self.last_file: str | None = None
        self.skipped_duplicates = 0
        self._checked: set[str] = set()  # files whose tail was checked and ids read in this process

    # --- what a format defines ----------------------------------------------------------------------

    #: the file name's ending, e.g. ".csv" or ".jsonl.gz"
    extension: str = ""

    @abstractmethod
    def encode(self, items: list[Item], new_file: bool) -> bytes:
        """The bytes that append these events (their JSON bytes and flat values) to a file (new_file: the
        file is empty)."""

    @abstractmethod
    def intact_length(self, fd: int, size: int) -> int | None:
        """Where the file's last whole record ends (None: corrupt before its end, leave it as it is)."""

    @abstractmethod
    def stored_ids(self, fd: int, path: Path) -> Iterable[str]:
        """The event ids of the records in the file, oldest first (the file holds whole records only)."""

    # --- the shared part ----------------------------------------------------------------------------

    def file_name(self, stamp: str) -> str:
        return f"{FILE_PREFIX}{stamp}{self.extension}" if stamp else f"{FILE_PREFIX.rstrip('_')}{self.extension}"

    async def initialize(self) -> None:
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)

    async def send_batch(self, batch: Batch) -> None:
        try:
            await asyncio.to_thread(self._write, batch)
        except OSError as exc:  # disk full, permissions: may clear up, so retry rather than drop
            raise TransientError(f"cannot write to {self.directory}: {exc.strerror or exc}") from exc

    def _write(self, batch: Batch) -> None:
        by_file: dict[str, list[Item]] = {}
        rejected: dict[int, str] = {}
        for index, raw in enumerate(batch.raw):
            values = flat_values(raw)
            stamp = None if values is None else period_stamp(values[TIMESTAMP_COLUMN], self.rotation)
            if values is None or stamp is None or not isinstance(values[EVENT_ID_COLUMN], str):
                rejected[index] = "the event has no usable `at` (RFC 3339 UTC) or `event_id` to file it by"
                continue
            by_file.setdefault(self.file_name(stamp), []).append((raw, values))
        for file_name, items in by_file.items():  # in the order of the batch's first event per file
            self._append(self.directory / file_name, items)
        if rejected:
            raise PermanentError(f"{len(rejected)} event(s) cannot be filed", rejected)

    def _append(self, path: Path, items: list[Item]) -> None:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except FileNotFoundError:  # output_dir removed while running: make it again
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # another writer's append in flight is not a torn tail
            if path.name not in self._checked:
                self._open_existing(fd, path)
            fresh: list[Item] = []
            batch_ids: set[str] = set()
            for item in items:
                event_id = item[1][EVENT_ID_COLUMN]
                if event_id in self.window or event_id in batch_ids:
                    self.skipped_duplicates += 1
                    continue
                batch_ids.add(event_id)
                fresh.append(item)
            if not fresh:
                return
            before = os.fstat(fd).st_size
            data = self.encode(fresh, new_file=before == 0)
            try:
                write_all(fd, [data])
                os.fdatasync(fd)
                if before == 0:
                    fsync_directory(path.parent)  # the new file's name is durable too
            except OSError:
                self._checked.discard(path.name)  # check the tail again before the next append
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, before)  # nothing half-written stays behind
                raise
            for _, values in fresh:
                self.window.add(values[EVENT_ID_COLUMN])
        finally:
            os.close(fd)
        self.last_file = str(path)

    def _open_existing(self, fd: int, path: Path) -> None:
        """Cut a torn tail, then remember the ids the file already holds (the newest `dedup_window`)."""
        size = os.fstat(fd).st_size
        if size:
            intact = self.intact_length(fd, size)
            if intact is None:
                log.warning("backend %s: %s is corrupt before its end; appending after it as it is", self.name, path)
            elif intact < size:
                log.warning("backend %s: cutting a torn tail of %d byte(s) from %s", self.name, size - intact, path)
                os.ftruncate(fd, intact)
                os.fdatasync(fd)
            if self.window.capacity:
                recent: collections.deque[str] = collections.deque(maxlen=self.window.capacity)
                recent.extend(self.stored_ids(fd, path))
                for event_id in recent:
                    self.window.add(event_id)
        self._checked.add(path.name)

    async def health(self) -> dict[str, Any]:
        return {
            "output_dir": str(self.directory),
            "writable": os.access(self.directory, os.W_OK),
            "rotation": self.rotation,
            "last_file": self.last_file,
            "remembered_ids": len(self.window),
            "skipped_duplicates": self.skipped_duplicates,
        }

    async def close(self) -> None:
        return None
