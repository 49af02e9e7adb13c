"""json backend (the seeds' "JSON export"): one record per event in `wafer_events_YYYYMMDD[HH].jsonl[.gz]`.

A record is export_record.json_record: the flat fields, then the whole event under "event"
(normative in conformance/backends/json.md). Layouts:

- pretty_print false: JSON Lines, one compact record per line (UTF-8, unicode kept).
- pretty_print true: `.json` files holding the records one after the other, each indented by two
  spaces and ending in "\\n}\\n" (a stream of JSON texts, as `jq` and `json.JSONDecoder.raw_decode`
  read them). Not a JSON array: an array would have to be rewritten at every append, which a crash
  could tear anywhere; this stays append-only, and "\\n}\\n" at column 0 marks where a record ends.
- compression gzip (or the seeds' `true`): each append is one complete gzip member (appended members
  are one valid gzip stream); a torn member is cut on open like a torn line.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec

from .base import ConfigurationError, config_struct
from .export_record import FIELDS, json_line
from .file_export import DEFAULT_DEDUP_WINDOW, FileExportBackend, Item, Rotation
from .torn_tail import CHUNK, gzip_intact_length

log = logging.getLogger(__name__)

PRETTY_END = b"\n}\n"


class JsonConfig(msgspec.Struct, forbid_unknown_fields=True):
    output_dir: str
    rotation: Rotation = "daily"
    pretty_print: bool = False
    # "none" | "gzip"; the seeds write true / false for the same
    compression: str | bool = "none"
    dedup_window: int = DEFAULT_DEDUP_WINDOW


class _Id(msgspec.Struct):
    event_id: str = ""


_id_decoder = msgspec.json.Decoder(_Id)
_any = msgspec.json.Decoder()


def last_end(fd: int, size: int, end_mark: bytes) -> int:
    """Bytes up to and including the last `end_mark` (0 when there is none), read backwards from the end."""
    end = size
    while end > 0:
        start = max(end - CHUNK, 0)
        # read len(end_mark)-1 bytes past the chunk too, so a mark across the chunk edge is found
        stop = min(end + len(end_mark) - 1, size)
        found = os.pread(fd, stop - start, start).rfind(end_mark)
        if found >= 0:
            return start + found + len(end_mark)
        end = start
    return 0


class JsonBackend(FileExportBackend):
    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        settings = config_struct(JsonConfig, config, name)
        super().__init__(name, config, settings.output_dir, settings.rotation, settings.dedup_window)
        self.settings = settings
        compression = settings.compression
        if compression not in ("none", "gzip", True, False):
            raise ConfigurationError(
                f'backend {name!r}: config.compression must be "none" or "gzip" (or false / true), got {compression!r}'
            )
        self.gzip = compression is True or compression == "gzip"
        self.end_mark = PRETTY_END if settings.pretty_print else b"\n"
        self.extension = (".json" if settings.pretty_print else ".jsonl") + (".gz" if self.gzip else "")

    def encode(self, items: list[Item], new_file: bool) -> bytes:
        if self.settings.pretty_print:
            records = ({**dict(zip(FIELDS, values, strict=True)), "event": _any.decode(raw)} for raw, values in items)
            data = "".join(json.dumps(r, ensure_ascii=False, indent=2) + "\n" for r in records).encode()
        else:
            data = b"".join([json_line(values, raw) + b"\n" for raw, values in items])
        return gzip.compress(data, compresslevel=6) if self.gzip else data

    def intact_length(self, fd: int, size: int) -> int | None:
        if self.gzip:
            return gzip_intact_length(fd, size)
        return last_end(fd, size, self.end_mark)

    def _chunks(self, fd: int, path: Path) -> Iterator[bytes]:
        """The file's (uncompressed) bytes in chunks; for gzip, up to the first corrupt member."""
        os.lseek(fd, 0, os.SEEK_SET)
        raw = io.FileIO(fd, "r", closefd=False)
        if not self.gzip:
            while chunk := raw.read(CHUNK):
                yield chunk
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
            try:
                while chunk := stream.read(CHUNK):
                    yield chunk
            except (OSError, EOFError, zlib.error) as exc:
                log.warning(
                    "backend %s: %s is unreadable past some point (%s); ids after it not read", self.name, path, exc
                )

    def stored_ids(self, fd: int, path: Path) -> Iterator[str]:
        """Ids of the records, split at their end marks; a record that does not decode is passed over."""
        pending = b""
        closing = b"\n}" if self.settings.pretty_print else b""
        for chunk in self._chunks(fd, path):
            parts = (pending + chunk).split(self.end_mark)
            pending = parts.pop()
            for part in parts:
                try:
                    event_id = _id_decoder.decode(part + closing).event_id
                except msgspec.DecodeError:
                    continue
                if event_id:
                    yield event_id
