"""Rules over sidecar heartbeats, on the timer: ingest_lag (a backend's backlog over a threshold, per
host and backend) and sidecar_silent (a sidecar that missed N of its own reporting intervals)."""

from __future__ import annotations

import fnmatch
from datetime import datetime

import msgspec

from .db import AlertDb
from .findings import Finding, group_key
from .model import IngestLagParams, Rule, SidecarSilentParams
from .sidecars import Sidecars


def _match(pattern: str | None, value: str) -> bool:
    return pattern is None or fnmatch.fnmatchcase(value, pattern)


async def ingest_lag(rule: Rule, db: AlertDb, now: datetime) -> list[Finding]:
    p: IngestLagParams = rule.typed_params()
    out = []
    for row in await Sidecars(db).rows():
        if not _match(p.host, row["host"]):
            continue
        report = msgspec.json.decode(row["report"])
        for b in report.get("backends", []):
            if not _match(p.backend, b["name"]):
                continue
            age = b.get("oldest_age_s")
            over = []
            if p.max_events is not None and b["lag_events"] > p.max_events:
                over.append(f"{b['lag_events']} events behind (limit {p.max_events})")
            if p.max_age_s is not None and age is not None and age > p.max_age_s:
                over.append(f"oldest waiting {age:.0f} s (limit {p.max_age_s:g} s)")
            if over:
                scope = {"host": row["host"], "sidecar_id": row["sidecar_id"], "backend": b["name"]}
                text = f"{rule.name}: sidecar on {row['host']}, backend {b['name']}: {', '.join(over)}"
                key = group_key(rule.name, row["sidecar_id"], b["name"])
                out.append(Finding(rule.name, key, scope, True, text, [], "replace"))
    return out


async def sidecar_silent(rule: Rule, db: AlertDb, now: datetime) -> list[Finding]:
    p: SidecarSilentParams = rule.typed_params()
    out = []
    for row in await Sidecars(db).rows():
        if not _match(p.host, row["host"]):
            continue
        silent = (now - datetime.fromisoformat(row["last_seen_at"])).total_seconds()
        allowed = p.missed_intervals * float(row["interval_s"])
        if silent > allowed:
            scope = {"host": row["host"], "sidecar_id": row["sidecar_id"]}
            text = (f"{rule.name}: the sidecar on {row['host']} ({row['sidecar_id']}) has not reported for "
                    f"{silent:.0f} s ({p.missed_intervals:g} intervals of {float(row['interval_s']):g} s)")  # fmt: skip
            out.append(Finding(rule.name, group_key(rule.name, row["sidecar_id"]), scope, True, text, [], "replace"))
    return out
