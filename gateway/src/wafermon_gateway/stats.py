"""The dashboard's aggregates: strict parameters in, JSON-ready summaries out.

GET /v1/stats/overview and /v1/stats/history (routes/stats.py) parse their query here, ask the
store for grouped rows (store/stats.py) and fold them into the shapes documented in
docs/dashboard.md. Windows are bounded (`MAX_WINDOW`) and split into at most `MAX_BUCKETS` buckets,
so no request can ask for an unbounded scan or an unbounded answer.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.datastructures import QueryParams

from .liveness import ALL_STATUSES, iso
from .query import QueryError
from .store.base import Store
from .store.hourly import floor_hour
from .store.stats import OverviewRows, Scope, history, overview

MAX_WINDOW = timedelta(days=400)
MAX_BUCKETS = 400
TOP_APPS = 8
# Bucket widths the overview picks from: the smallest that gives at most ~60 buckets; past
# `SUB_HOUR_MAX_S` whole hours only, aligned to UTC hours, so the hourly pre-aggregate answers.
NICE_STEPS_S = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)
SUB_HOUR_MAX_S = 6 * 3600
HISTORY_STEPS_S = {"hour": 3600, "day": 86400, "week": 7 * 86400}
_DURATION = re.compile(r"([1-9][0-9]{0,4})([mhdw])")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _single(params: QueryParams, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise QueryError(name, f"{name} may be given only once")
    return values[0] if values else None


def _moment(name: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(name, f"{name} must be an RFC 3339 time such as 2026-01-31T12:00:00Z") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _text(name: str, value: str, limit: int) -> str:
    if not value or len(value) > limit or _CONTROL.search(value):
        raise QueryError(name, f"{name} must be 1..{limit} characters without control characters")
    return value


def parse_scope(params: QueryParams, allowed_extra: set[str], now: datetime, default_window: str) -> Scope:
    """since/until or window (e.g. 24h, 7d, 4w; ending now), plus site_id/app/business_key filters."""
    names = {"since", "until", "window", "site_id", "app", "business_key"} | allowed_extra
    for name in params:
        if name not in names:
            raise QueryError(name[:64], f"unknown query parameter {name[:64]!r}; allowed: {', '.join(sorted(names))}")
    until_text = _single(params, "until")
    until = _moment("until", until_text) if until_text is not None else now
    since_text, window = _single(params, "since"), _single(params, "window")
    if since_text is not None and window is not None:
        raise QueryError("window", "give either since or window, not both")
    if since_text is not None:
        since = _moment("since", since_text)
    else:
        match = _DURATION.fullmatch(window or default_window)
        if match is None:
            raise QueryError("window", "window must be a number and a unit m, h, d or w, e.g. 24h or 7d")
        since = until - timedelta(seconds=int(match[1]) * _UNIT_S[match[2]])
    if since >= until:
        raise QueryError("since", "since must be before until")
    if until - since > MAX_WINDOW:
        raise QueryError("since", f"the time range may span at most {MAX_WINDOW.days} days")
    filters: dict[str, str | None] = {}
    for name, limit in (("site_id", 128), ("app", 128), ("business_key", 256)):
        value = _single(params, name)
        filters[name] = _text(name, value, limit) if value is not None else None
    span = (until - since).total_seconds()
    step = next((s for s in NICE_STEPS_S if span / s <= 60 and (s >= 3600 or span <= SUB_HOUR_MAX_S)), NICE_STEPS_S[-1])
    origin = floor_hour(since) if step >= 3600 else since
    return Scope(since, until, step, filters["site_id"], filters["app"], filters["business_key"], origin)


def _counts() -> dict[str, int]:
    return dict.fromkeys(ALL_STATUSES, 0)


def fold_overview(rows: OverviewRows, scope: Scope) -> dict[str, Any]:
    """Counts by status overall, per site and per app; a per-bucket series; the slowest and most failing apps."""
    total = _counts()
    sites: dict[str, dict[str, int]] = {}
    apps: dict[str, dict[str, Any]] = {}
    for site, app, status, n, dsum, dn, dmax in rows.groups:
        total[status] = total.get(status, 0) + n
        per_site = sites.setdefault(site, _counts())
        per_site[status] = per_site.get(status, 0) + n
        a = apps.setdefault(app, {"counts": _counts(), "dsum": 0.0, "dn": 0, "dmax": None})
        a["counts"][status] = a["counts"].get(status, 0) + n
        a["dsum"] += dsum
        a["dn"] += dn
        if dmax is not None:
            a["dmax"] = dmax if a["dmax"] is None else max(a["dmax"], dmax)
    app_rows = []
    for name, a in apps.items():
        jobs = sum(a["counts"].values())
        finished = a["counts"]["succeeded"] + a["counts"]["failed"] + a["counts"]["cancelled"]
        app_rows.append(
            {
                "app": name,
                "counts": a["counts"],
                "jobs": jobs,
                "failure_rate": a["counts"]["failed"] / finished if finished else None,
                "mean_duration_s": a["dsum"] / a["dn"] if a["dn"] else None,
                "max_duration_s": a["dmax"],
            }
        )
    origin = scope.origin or scope.since
    n_buckets = min(MAX_BUCKETS, int(-(-(scope.until - origin).total_seconds() // scope.step_s)))
    series: list[dict[str, Any]] = [
        {"start": iso(origin + timedelta(seconds=i * scope.step_s)), "counts": _counts()} for i in range(n_buckets)
    ]
    for b, status, n in rows.buckets:
        if 0 <= b < n_buckets:
            series[b]["counts"][status] = series[b]["counts"].get(status, 0) + n
    for point in series:
        c = point["counts"]
        finished = c["succeeded"] + c["failed"] + c["cancelled"]
        point["jobs"] = sum(c.values())
        point["failure_rate"] = c["failed"] / finished if finished else None
    timed = [a for a in app_rows if a["mean_duration_s"] is not None]
    failing = [a for a in app_rows if a["counts"]["failed"]]
    return {
        "since": iso(scope.since),
        "until": iso(scope.until),
        "bucket_s": scope.step_s,
        "counts": total,
        "by_site": [{"site_id": s, "counts": c, "jobs": sum(c.values())} for s, c in sorted(sites.items())],
        "by_app": sorted(app_rows, key=lambda a: a["app"]),
        "series": series,
        "slowest_apps": sorted(timed, key=lambda a: -a["mean_duration_s"])[:TOP_APPS],
        "most_failing_apps": sorted(failing, key=lambda a: (-a["counts"]["failed"], a["app"]))[:TOP_APPS],
    }


async def overview_view(store: Store, params: QueryParams, now: datetime) -> dict[str, Any]:
    scope = parse_scope(params, set(), now, "24h")
    return fold_overview(await overview(store, scope), scope)


async def history_view(store: Store, params: QueryParams, now: datetime) -> dict[str, Any]:
    """Per day/week/hour bucket: job count, failures, duration/CPU/memory percentiles; errors by type."""
    scope = parse_scope(params, {"bucket"}, now, "30d")
    if scope.app is None and scope.business_key is None:
        raise QueryError("app", "history needs app or business_key")
    bucket = _single(params, "bucket") or "day"
    if bucket not in HISTORY_STEPS_S:
        raise QueryError("bucket", "bucket must be hour, day or week")
    step = HISTORY_STEPS_S[bucket]
    # Align buckets to UTC midnight (and Monday for weeks) so they read as calendar days/weeks.
    start = scope.since.replace(hour=0, minute=0, second=0, microsecond=0) if step >= 86400 else scope.since
    start = start.replace(minute=0, second=0, microsecond=0)
    if bucket == "week":
        start -= timedelta(days=start.weekday())
    if (scope.until - start).total_seconds() / step > MAX_BUCKETS:
        raise QueryError("bucket", f"at most {MAX_BUCKETS} buckets: choose a larger bucket or a shorter range")
    aligned = Scope(start, scope.until, step, scope.site_id, scope.app, scope.business_key)
    rows = await history(store, aligned)
    points = [
        {"start": iso(start + timedelta(seconds=b * step)), **{k: v for k, v in values.items()}}
        for b, values in sorted(rows.buckets.items())
    ]
    return {
        "since": iso(start),
        "until": iso(scope.until),
        "bucket": bucket,
        "app": scope.app,
        "business_key": scope.business_key,
        "site_id": scope.site_id,
        "series": points,
        "errors": [{"kind": k, "type": t, "count": n} for k, t, n in rows.errors],
        "truncated": rows.truncated,
    }
