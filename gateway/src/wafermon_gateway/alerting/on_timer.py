"""Windowed rules, evaluated on a timer from the jobs table: failure_rate, long_running, memory, lost,
orphaned, silence. Each returns the groups (site, app) firing now; the caller resolves the others."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from .db import AlertDb
from .findings import Finding, group_key, job_item
from .model import DAYS, FailureRateParams, LongRunningParams, MemoryParams, Rule, SilenceParams, WindowParams
from .on_sidecars import ingest_lag, sidecar_silent

_COLUMNS = "entity_id, site_id, app_name, business_key, status, error, host, started_at, created_at, duration_s"
_ROW_CAP = 20000  # a window scan reads at most this many rows (newest first); the count says so if cut


def _pg_id(db: AlertDb) -> str:
    return _COLUMNS.replace("entity_id", "entity_id::text AS entity_id") if db.postgres else _COLUMNS


def _loads(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


async def _rows(db: AlertDb, where: str, *params: Any, extra: str = "", table: str = "jobs") -> list[dict[str, Any]]:
    rows = await db.fetch(
        f"SELECT {_pg_id(db)}{extra} FROM {table} WHERE {where} ORDER BY updated_at DESC LIMIT {_ROW_CAP}", *params
    )
    for r in rows:
        r["error"] = _loads(r.get("error"))
        for c in ("started_at", "created_at"):
            r[c] = db.text_time(r.get(c))
    return rows


def _grouped(rule: Rule, rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if rule.scope.matches(r["site_id"], r["app_name"], r["business_key"]):
            groups.setdefault((r["site_id"], r["app_name"]), []).append(r)
    return groups


def _finding(rule: Rule, site: str, app: str, summary: str, rows: list[dict[str, Any]]) -> Finding:
    return Finding(rule.name, group_key(rule.name, site, app), {"site_id": site, "app": app}, True, summary,
                   [job_item(r) for r in rows], mode="replace")  # fmt: skip


async def failure_rate(rule: Rule, db: AlertDb, now: datetime) -> list[Finding]:
    p: FailureRateParams = rule.typed_params()
    since = db.moment(now - timedelta(seconds=p.window_s))
    rows = await _rows(db, "status IN ('succeeded', 'failed', 'cancelled') AND updated_at >= ?", since)
    out = []
    for (site, app), group in _grouped(rule, rows).items():
        failed = [r for r in group if r["status"] == "failed"]
        rate = len(failed) / len(group)
        if len(group) >= p.min_jobs and rate > p.threshold:
            text = f"{rule.name}: {len(failed)} of {len(group)} jobs of {app} at {site} failed ({rate:.0%})"
            out.append(_finding(rule, site, app, text, failed))
    return out


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


async def long_running(rule: Rule, db: AlertDb, now: datetime) -> list[Finding]:
    p: LongRunningParams = rule.typed_params()
    rows = await _rows(db, "status = 'running'")
    out = []
    for (site, app), group in _grouped(rule, rows).items():
        limit = p.limit_s
        if limit is None:
            history = await db.fetch(
                "SELECT duration_s FROM jobs WHERE app_name = ? AND site_id = ? AND status = 'succeeded' "
                f"AND duration_s IS NOT NULL ORDER BY updated_at DESC LIMIT {int(p.history)}",
                app, site,
            )  # fmt: skip
            if len(history) < p.min_history:
                continue
            limit = (p.p95_factor or 1.0) * p95([float(h["duration_s"]) for h in history])
        too_long = [
            r for r in group
            if (r["started_at"] or r["created_at"]) and
            (now - datetime.fromisoformat(r["started_at"] or r["created_at"])).total_seconds() > limit
        ]  # fmt: skip
        if too_long:
            text = f"{rule.name}: {len(too_long)} job(s) of {app} at {site} running longer than {limit:.0f} s"
            out.append(_finding(rule, site, app, text, too_long))
    return out


async def memory(rule: Rule, db: AlertDb, now: datetime) -> list[Finding]:
    p: MemoryParams = rule.typed_params()
    since = db.moment(now - timedelta(seconds=p.window_s))
    rows = await _rows(db, "updated_at >= ?", since, extra=", metrics")
    heavy = []
    for r in rows:
        peak = (_loads(r.pop("metrics")) or {}).get("mem_max_mb")
        if isinstance(peak, int | float) and peak > p.limit_mb:
            r["peak_mb"] = peak
            heavy.append(r)
    out = []
    for (site, app), group in _grouped(rule, heavy).items():
        top = max(r["peak_mb"] for r in group)
        text = f"{rule.name}: {len(group)} job(s) of {app} at {site} over {p.limit_mb:g} MB (peak {top:g} MB)"
        out.append(_finding(rule, site, app, text, group))
    return out


async def overlay(rule: Rule, db: AlertDb, now: datetime) -> list[Finding]:
    """lost and orphaned: jobs and sub-jobs showing that status, updated within the window (an orphan
    is a sub-job still running after its job ended; it is listed with its own id)."""
    p: WindowParams = rule.typed_params()
    since = db.moment(now - timedelta(seconds=p.window_s))
    rows = []
    for table in ("jobs", "subjobs"):
        rows += await _rows(db, "status = ? AND updated_at >= ?", rule.kind, since, table=table)
    return [
        _finding(rule, site, app, f"{rule.name}: {len(group)} job(s) of {app} at {site} are {rule.kind}", group)
        for (site, app), group in _grouped(rule, rows).items()
    ]


def in_hours(p: SilenceParams, now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(p.tz))
    if p.hours is not None and local.hour not in p.hours:
        return False
    return p.days is None or DAYS[local.weekday()] in p.days


async def silence(rule: Rule, db: AlertDb, now: datetime) -> list[Finding]:
    """Apps (and sites) the scope matches whose newest job is older than the window. An app never
    seen cannot fall silent: the rule watches apps the store knows."""
    p: SilenceParams = rule.typed_params()
    if not in_hours(p, now):
        return []
    rows = await db.fetch("SELECT site_id, app_name, max(created_at) AS newest FROM jobs GROUP BY site_id, app_name")
    out = []
    for r in rows:
        if not rule.scope.matches(r["site_id"], r["app_name"], None if rule.scope.business_key is None else ""):
            continue
        newest = datetime.fromisoformat(str(db.text_time(r["newest"])))
        quiet = (now - newest).total_seconds()
        if quiet > p.window_s:
            text = f"{rule.name}: no job from {r['app_name']} at {r['site_id']} for {quiet:.0f} s"
            out.append(Finding(rule.name, group_key(rule.name, r["site_id"], r["app_name"]),
                               {"site_id": r["site_id"], "app": r["app_name"]}, True, text, [], "replace"))  # fmt: skip
    return out


WINDOWED = {
    "failure_rate": failure_rate,
    "long_running": long_running,
    "memory": memory,
    "lost": overlay,
    "orphaned": overlay,
    "silence": silence,
    "ingest_lag": ingest_lag,
    "sidecar_silent": sidecar_silent,
}
