"""Where the intact part of an append-only file ends, so the torn tail a crash mid-append left can be cut.

Only the last append can be torn (a batch counts as delivered once its write and fsync returned, so a
torn batch is always delivered again whole); cutting the tail therefore never loses a delivered event.
"""

from __future__ import annotations

import os
import zlib

CHUNK = 1 << 20


def jsonl_intact_length(fd: int, size: int) -> int:
    """Bytes up to and including the last newline (0 when there is none). Reads backwards from the end."""
    end = size
    while end > 0:
        start = max(end - CHUNK, 0)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


def csv_intact_length(fd: int, size: int) -> int:
    """Bytes up to the last newline that ends a row: one outside quotes (an even count of '"' before it,
    since a quoted field doubles its own quotes). A newline inside a quoted field does not end a row,
    so the whole file is read once, counting quotes."""
    intact = 0
    quotes = 0  # '"' seen before the current chunk
    offset = 0
    while offset < size:
        chunk = os.pread(fd, min(CHUNK, size - offset), offset)
        if not chunk:
            break
        newline = chunk.rfind(b"\n")
        while newline >= 0:
            if (quotes + chunk.count(b'"', 0, newline)) % 2 == 0:
                intact = offset + newline + 1
                break
            newline = chunk.rfind(b"\n", 0, newline)
        quotes += chunk.count(b'"')
        offset += len(chunk)
    return intact


def gzip_intact_length(fd: int, size: int) -> int | None:
    """End of the last complete gzip member (0 when there is none), or None when a member before the
    tail is corrupt: then the file is not merely torn, and cutting it could drop good members."""
    intact = 0
    offset = 0
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    while offset < size:
        data = os.pread(fd, min(CHUNK, size - offset), offset)
        if not data:
            break
        base = offset  # file offset of data[0]
        offset += len(data)
        while data:
            try:
                inflater.decompress(data, CHUNK)  # the output is dropped: only where members end matters
            except zlib.error:
                return None
            if inflater.eof:
                rest = inflater.unused_data
                intact = base = base + len(data) - len(rest)
                data = rest
                inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            else:
                tail = inflater.unconsumed_tail
                base += len(data) - len(tail)
                data = tail
    return intact
