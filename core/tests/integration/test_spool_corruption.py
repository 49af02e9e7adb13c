"""The core's spool with one damaged record in the middle: a real emitter spools batches while the
receiver is down, one bit of a middle record's payload is flipped on disk, and a second process
replays the spool to the real receiver: every event but the damaged record's arrives."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from conftest import Receiver, client_env
from test_delivery import run_emitter

HEADERS = {b"WMSPOOL2": struct.Struct("<4xIII"), b"WMSPOOL1": struct.Struct("<III")}  # length, count, CRC


def records(segment: Path) -> list[tuple[int, bytes]]:
    """(payload offset, payload) of each record of a segment (spool_format.h)."""
    data = segment.read_bytes()
    header = HEADERS[data[:8]]
    found, pos = [], 8
    while pos < len(data):
        length, _count, _crc = header.unpack_from(data, pos)
        found.append((pos + header.size, data[pos + header.size : pos + header.size + length]))
        pos += header.size + length
    return found


def event_ids(payload: bytes) -> set[str]:
    return {json.loads(line)["event_id"] for line in payload.splitlines() if line}


def test_a_flipped_bit_mid_segment_loses_only_that_record(receiver: Receiver, emitter: Path, tmp_path: Path) -> None:
    env = client_env(receiver.url, tmp_path / "spool")
    receiver.stop()
    _, stats = run_emitter(emitter, env, "emit", "30", "10")  # three flushes while the receiver is down
    assert stats["spooled"] == 60 and stats["delivered"] == 0
    segments = sorted((tmp_path / "spool").rglob("seg-*.wms"), key=lambda p: p.stat().st_size)
    segment = segments[-1]
    found = records(segment)
    assert len(found) >= 3, f"{segment}: {len(found)} records"
    offset, damaged = found[len(found) // 2]
    data = bytearray(segment.read_bytes())
    data[offset + len(damaged) // 2] ^= 0x08
    segment.write_bytes(bytes(data))
    everything = set().union(*(event_ids(p) for _, p in found))
    lost = event_ids(damaged)

    receiver.start()
    _, stats = run_emitter(emitter, env, "drain", "30")
    assert stats["spool_pending"] == 0 and stats["corrupt"] == 1
    received = {e["event_id"] for e in receiver.events()}
    assert received == everything - lost, f"{len(everything - lost - received)} events after the damage lost"
