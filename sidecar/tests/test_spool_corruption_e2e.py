"""A real sidecar killed with -9 holding three acknowledged batches A, B, C on its spool; one bit of B's
payload flipped on disk; restarted: a real receiver gets A and C, the loss of B alone is logged (segment,
offset, bytes) and counted in /metrics."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from conftest import ReceiverProc, SidecarProc, make_events, wait_until

from wafermon_sidecar.framing import HEADER_SIZE, decode_header


def _records(segment: Path) -> list[tuple[int, int]]:
    """(offset, total length) of each record of a segment file."""
    data, pos, found = segment.read_bytes(), 0, []
    while pos < len(data):
        header = decode_header(data[pos : pos + HEADER_SIZE])
        assert header is not None, f"{segment.name}: no record at byte {pos}"
        found.append((pos, HEADER_SIZE + header.length))
        pos += HEADER_SIZE + header.length
    return found


def test_a_bit_flipped_in_one_batch_loses_only_that_batch_after_kill_9(
    sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc]
) -> None:
    hook = receiver("hook", start=False)  # down while A, B, C are spooled: they stay on the spool
    sc = sidecar([{"type": "webhook", "name": "hook", "config": {"webhook_url": hook.url}}])
    batches = {name: make_events(20) for name in "ABC"}
    for events in batches.values():  # one request each: one spool record each
        assert sc.post(events).status_code == 202
    sc.kill()

    segment = sorted((sc.spool_dir / "segments").glob("*.seg"))[-1]
    records = _records(segment)
    assert len(records) == 3
    b_offset, b_length = records[1]
    data = bytearray(segment.read_bytes())
    data[b_offset + HEADER_SIZE + b_length // 2] ^= 0x04  # one bit in the middle of B's payload
    segment.write_bytes(bytes(data))

    hook.start()
    sc.start()
    wait_until(lambda: sc.lag("hook") == 0, 60, "delivery after the restart")
    received = set(hook.event_ids())
    ids = {name: {e["event_id"] for e in events} for name, events in batches.items()}
    assert ids["A"] <= received and ids["C"] <= received, "a valid batch after the damaged one was lost"
    assert not ids["B"] & received

    log = sc.log()
    assert re.search(
        rf"spool segment {segment.name}: skipped {b_length} bytes of a corrupt record at byte {b_offset} "
        r"\(events 20\.\.39 lost\)",
        log,
    ), log
    assert "truncating" not in log
    metrics = sc.client.get("/metrics").text
    assert re.search(r"^wafermon_sidecar_spool_corrupt_records_skipped_total 1\.0$", metrics, re.M)
    assert re.search(rf"^wafermon_sidecar_spool_corrupt_bytes_skipped_total {b_length}\.0$", metrics, re.M)
    assert re.search(r"^wafermon_sidecar_spool_corrupt_events_lost_total 20\.0$", metrics, re.M)
