"""Appending many buffers to a file without joining them first."""

from __future__ import annotations

import os

IOV_MAX = os.sysconf("SC_IOV_MAX") if "SC_IOV_MAX" in os.sysconf_names else 1024


def write_all(fd: int, parts: list[bytes]) -> None:
    """os.writev of every part, however many there are and however little each call writes. (Joining them
    would copy every byte once more, holding the GIL; writev releases it.)"""
    pending: list[bytes | memoryview] = list(parts)
    while pending:
        chunk = pending[:IOV_MAX]
        written = os.writev(fd, chunk)
        done = 0
        while done < len(chunk) and written >= len(chunk[done]):
            written -= len(chunk[done])
            done += 1
        pending = pending[done:]
        if written:
            pending[0] = memoryview(pending[0])[written:]
