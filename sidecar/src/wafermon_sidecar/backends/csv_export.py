"""csv backend (the seeds' "CSV export"): one row per event in `wafer_events_YYYYMMDD[HH].csv`.

Columns: export_record.FIELDS (normative in conformance/backends/csv.md), the header row once per file
when include_headers is true. Rows are written by Python's csv module (quotes where needed, doubled
quotes inside, "\\n" line ends, UTF-8 without BOM). Files, fsync, torn tails and replays: file_export.py.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec

from .base import ConfigurationError, TransientError, config_struct
from .export_record import EVENT_ID_COLUMN, FIELDS, csv_cells_of
from .file_export import DEFAULT_DEDUP_WINDOW, FileExportBackend, Item, Rotation
from .torn_tail import csv_intact_length

log = logging.getLogger(__name__)


class CsvConfig(msgspec.Struct, forbid_unknown_fields=True):
    output_dir: str
    rotation: Rotation = "daily"
    include_headers: bool = True
    delimiter: str = ","
    dedup_window: int = DEFAULT_DEDUP_WINDOW


class CsvBackend(FileExportBackend):
    extension = ".csv"

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        settings = config_struct(CsvConfig, config, name)
        delimiter = settings.delimiter
        if len(delimiter) != 1 or delimiter in '"\r\n':
            raise ConfigurationError(
                f"backend {name!r}: config.delimiter must be one character other than a double quote or a "
                f"line break, got {delimiter!r}"
            )
        super().__init__(name, config, settings.output_dir, settings.rotation, settings.dedup_window)
        self.settings = settings

    def _writer(self, out: io.StringIO) -> Any:
        return csv.writer(out, delimiter=self.settings.delimiter, lineterminator="\r\n")

    def encode(self, items: list[Item], new_file: bool) -> bytes:
        out = io.StringIO()
        writer = self._writer(out)
        if new_file and self.settings.include_headers:
            writer.writerow(FIELDS)
        writer.writerows(csv_cells_of(values) for _, values in items)
        return out.getvalue().encode()

    def intact_length(self, fd: int, size: int) -> int | None:
        return csv_intact_length(fd, size)

    def _rows(self, fd: int, path: Path) -> Iterator[list[str]]:
        os.lseek(fd, 0, os.SEEK_SET)  # reads only: O_APPEND writes still go to the end
        raw = io.FileIO(fd, "r", closefd=False)
        text = io.TextIOWrapper(io.BufferedReader(raw, 1 << 20), encoding="utf-8", errors="replace", newline="")
        try:
            yield from csv.reader(text, delimiter=self.settings.delimiter)
        except csv.Error as exc:  # not our writing (a field over the csv module's limit, ...): stop there
            log.warning(
                "backend %s: cannot read rows of %s past a point (%s); ids after it not read", self.name, path, exc
            )
        finally:
            text.detach()

    def stored_ids(self, fd: int, path: Path) -> Iterator[str]:
        """Ids from the event_id column of every row; refuses (TransientError) a file whose header row is
        not this backend's, so two column layouts never end up in one file."""
        for number, row in enumerate(self._rows(fd, path)):
            if number == 0 and row == FIELDS:
                continue
            if number == 0 and self.settings.include_headers:
                raise TransientError(
                    f"{path} does not start with this backend's header row (another column "
                    "list or delimiter); move it away or point config.output_dir elsewhere"
                )
            if len(row) > EVENT_ID_COLUMN:
                yield row[EVENT_ID_COLUMN]
