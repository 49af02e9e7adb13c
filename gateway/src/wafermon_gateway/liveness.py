"""Liveness rules: when a running job counts as lost, and what status a row shows.

A running entity is `lost` once its newest event is older than its allowance (its own
`wafermon.heartbeat_s`, else the configured heartbeat, times `lost_after_missed`). A sub-job still
running (or lost) after its parent job reached a terminal status is `orphaned`. Both are overlays on
the reduced status: any later event recomputes the row, and a `finished` event always wins.
The stores apply these rules at ingest (so a row is right when written) and in a periodic sweep
(because time passing alone turns a silent job lost).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .reducer import TERMINAL, EntityState

# The latest deadline a row can hold: "never lost" for an allowance that reaches past the calendar.
NEVER = "9999-12-31T23:59:59.999999Z"

ALL_STATUSES = ("running", "succeeded", "failed", "cancelled", "lost", "orphaned")


def iso(moment: datetime) -> str:
    # Not strftime: "%Y" does not zero-pad years before 1000 on glibc, which breaks fixed-width ordering.
    m = moment.astimezone(UTC)
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}.{m.microsecond:06d}Z"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def allowance_s(state: EntityState, default_heartbeat_s: float, missed: float) -> float:
    return (state.heartbeat_s or default_heartbeat_s) * missed


def deadline(state: EntityState, default_heartbeat_s: float, missed: float) -> str:
    """The moment a still-running entity becomes lost if nothing newer arrives; NEVER when that lies
    beyond what a date can hold (validation bounds heartbeats, but a row stored before it did may not be)."""
    try:
        return iso(parse_iso(state.updated_at) + timedelta(seconds=allowance_s(state, default_heartbeat_s, missed)))
    except (OverflowError, ValueError):  # (ValueError: a non-finite allowance)
        return NEVER


def effective_status(base_status: str, previous_status: str | None, deadline_at: str, now: str) -> str:
    """The status a row shows after new events were folded in.

    Terminal beats everything (a late `finished` wins). An orphan stays orphaned: its parent is
    terminal and stays so. Otherwise the row is running unless its deadline already passed.
    """
    if base_status in TERMINAL:
        return base_status
    if previous_status == "orphaned":
        return "orphaned"
    return "lost" if deadline_at < now else "running"
