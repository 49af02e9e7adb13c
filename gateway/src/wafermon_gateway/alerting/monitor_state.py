"""A monitor's state from its runs at a given moment (pure: the clock is a parameter, so tests control it).

- missed: the latest expected start (cron slot, or last start + interval) plus the start grace has
  passed with no run started since that slot minus the grace (early starts count);
- overdue: a run still running past max_runtime_s (each such run listed);
- failing: the newest failure_threshold finished runs all failed, until recovery_threshold successes;
- too_often: two starts closer than min_gap_s within the last expected period.
Several can hold at once; each is its own alert. Runs are tracked one by one by job id, so
overlapping runs and runs longer than a day are each seen.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter  # type: ignore[import-untyped]

from .monitor_model import Monitor


@dataclass(slots=True)
class Verdict:
    states: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # state -> runs that show it
    expected_at: str | None = None

    @property
    def state(self) -> str:
        for name in ("overdue", "missed", "failing", "too_often"):
            if name in self.states:
                return name
        return "ok"


def _start(run: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(run["started_at"] or run["created_at"]))


def last_expected(monitor: Monitor, now: datetime, anchor: datetime) -> datetime | None:
    """The latest start the schedule asked for at or before now - grace (None if none since anchor)."""
    limit = now - timedelta(seconds=monitor.start_grace_s)
    s = monitor.schedule
    if s.interval_s is not None:
        due = anchor + timedelta(seconds=s.interval_s)
        return due if due <= limit else None
    assert s.cron is not None
    slot: datetime = croniter(s.cron, limit.astimezone(ZoneInfo(s.tz))).get_prev(datetime)
    return slot if slot > anchor else None


def period_s(monitor: Monitor, now: datetime) -> float:
    s = monitor.schedule
    if s.interval_s is not None:
        return s.interval_s
    assert s.cron is not None
    it = croniter(s.cron, now.astimezone(ZoneInfo(s.tz)))
    a: datetime = it.get_next(datetime)
    b: datetime = it.get_next(datetime)
    return (b - a).total_seconds()


def evaluate(monitor: Monitor, runs: list[dict[str, Any]], now: datetime, created_at: datetime,
             failing_before: bool) -> Verdict:  # fmt: skip
    """runs: {job_id, status, started_at, finished_at, created_at, ...} newest first."""
    v = Verdict()
    starts = sorted(((_start(r), r) for r in runs), key=lambda pair: pair[0])
    last_start = starts[-1][0] if starts else None
    # Interval schedules count from the newest start (or the monitor's creation); cron from its slots.
    anchor = last_start if (monitor.schedule.interval_s is not None and last_start) else created_at
    expected = last_expected(monitor, now, anchor)
    if expected is not None:
        v.expected_at = expected.isoformat()
        early = expected - timedelta(seconds=monitor.start_grace_s)
        if not any(start >= early for start, _r in starts):
            v.states["missed"] = []
    if monitor.max_runtime_s is not None:
        over = [r for start, r in starts if r["status"] == "running"
                and (now - start).total_seconds() > monitor.max_runtime_s]  # fmt: skip
        if over:
            v.states["overdue"] = over
    finished = [r for _s, r in reversed(starts) if r["status"] in ("succeeded", "failed", "cancelled", "lost")]
    streak_failed = 0
    for r in finished:
        if r["status"] == "succeeded":
            break
        streak_failed += 1
    streak_ok = 0
    for r in finished:
        if r["status"] != "succeeded":
            break
        streak_ok += 1
    if streak_failed >= monitor.failure_threshold or (failing_before and 0 < streak_ok < monitor.recovery_threshold):
        v.states["failing"] = finished[: max(streak_failed, 1)] if streak_failed else []
    if monitor.min_gap_s is not None:
        window = now - timedelta(seconds=period_s(monitor, now))
        recent = [(s, r) for s, r in starts if s >= window]
        close = [r for (a, _ra), (b, r) in itertools.pairwise(recent) if (b - a).total_seconds() < monitor.min_gap_s]
        if close:
            v.states["too_often"] = close
    return v
