"""Aggregate reads for the dashboard (overview and history), in each backend's SQL dialect.

Both backends return the same row shapes, so stats.py folds them without knowing which store it
has. Whole hours are read from the hourly pre-aggregate (hourly.py: a few rows per hour, site and
app however many jobs there were); only the partial hours at a window's edges, and anything
filtered by business key (which the pre-aggregate does not keep), read `jobs` itself. Percentiles
from the pre-aggregate come from its histograms (within 2.2 %); from `jobs` they are exact
(PostgreSQL computes them, SQLite hands raw values to Python, bounded by `HISTORY_ROW_LIMIT`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from . import hourly
from .base import Store

HISTORY_ROW_LIMIT = 200_000


@dataclass(frozen=True, slots=True)
class Scope:
    """Which jobs an aggregate covers: created in [since, until), optionally one site/app/key."""

    since: datetime
    until: datetime
    step_s: int  # bucket width in seconds, buckets counted from `since`
    site_id: str | None = None
    app: str | None = None
    business_key: str | None = None
    origin: datetime | None = None  # where bucket 0 starts, if not at `since`


@dataclass(frozen=True, slots=True)
class OverviewRows:
    # (site_id, app_name, status, count, duration_sum, duration_count, duration_max)
    groups: list[tuple[str, str, str, int, float, int, float | None]]
    # (bucket index, status, count)
    buckets: list[tuple[int, str, int]]


@dataclass(frozen=True, slots=True)
class HistoryRows:
    # bucket index -> {"jobs", "failed", "duration_p50", "duration_p95", "cpu_p50", "cpu_p95", "mem_p50", "mem_max"}
    buckets: dict[int, dict[str, float | int | None]]
    # (kind, error type, count), most frequent first
    errors: list[tuple[str, str, int]]
    truncated: bool


def _conditions(scope: Scope, param: Any, time: Any, column: str = "created_at") -> list[str]:
    out = [f"{column} >= {param(time(scope.since))}", f"{column} < {param(time(scope.until))}"]
    for column, value in (("site_id", scope.site_id), ("app_name", scope.app), ("business_key", scope.business_key)):
        if value is not None:
            out.append(f"{column} = {param(value)}")
    return out


class _Sql:
    """Placeholder numbering per backend: $n for asyncpg, ? for sqlite3."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.params: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}" if self.postgres else "?"


def _time_pg(moment: datetime) -> datetime:
    return moment


def _time_sqlite(moment: datetime) -> str:
    from ..liveness import iso

    return iso(moment)


def _bucket_expr(sql: _Sql, scope: Scope, column: str = "created_at") -> str:
    origin = scope.origin or scope.since
    if sql.postgres:
        since, step = sql(origin), sql(float(scope.step_s))
        return f"floor(extract(epoch FROM {column} - {since}::timestamptz)::float8 / {step}::float8)::int"
    # Whole seconds in integers: julianday's floating days put an exact hour just below 1 bucket.
    since = _time_sqlite(origin)
    seconds = f"CAST(strftime('%s', {column}) AS INTEGER) - CAST(strftime('%s', {sql(since)}) AS INTEGER)"
    return f"(({seconds}) / {sql(scope.step_s)})"


async def _fetch(store: Store, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    if store.name == "postgres":
        return [tuple(r.values()) for r in await store.pool.fetch(sql, *params)]  # type: ignore[attr-defined]
    rows: list[tuple[Any, ...]] = await store._run(lambda: [tuple(r) for r in store.conn.execute(sql, params)])  # type: ignore[attr-defined]
    return rows


def _split(scope: Scope) -> tuple[list[Scope], Scope | None]:
    """The partial hours at the window's edges (read from jobs) and the whole hours between them
    (read from the pre-aggregate), or the whole window as an edge when it spans no whole hour."""
    first, last = hourly.ceil_hour(scope.since), hourly.floor_hour(scope.until)
    scope = replace(scope, origin=scope.origin or scope.since)
    if scope.business_key is not None or first >= last:
        return [scope], None
    edges = [replace(scope, until=first)] if scope.since < first else []
    if last < scope.until:
        edges.append(replace(scope, since=last))
    return edges, replace(scope, since=first, until=last)


def _overview_sql(postgres: bool, scope: Scope) -> tuple[tuple[str, list[Any]], tuple[str, list[Any]]]:
    time = _time_pg if postgres else _time_sqlite
    groups = _Sql(postgres)
    where = " AND ".join(_conditions(scope, groups, time))
    groups_sql = (
        "SELECT site_id, app_name, status, count(*) AS n, coalesce(sum(duration_s), 0) AS dsum, "
        f"count(duration_s) AS dn, max(duration_s) AS dmax FROM jobs WHERE {where} GROUP BY site_id, app_name, status"
    )
    buckets = _Sql(postgres)
    bucket = _bucket_expr(buckets, scope)
    where = " AND ".join(_conditions(scope, buckets, time))
    buckets_sql = f"SELECT {bucket} AS b, status, count(*) AS n FROM jobs WHERE {where} GROUP BY 1, 2"
    return (groups_sql, groups.params), (buckets_sql, buckets.params)


def _metric_pg(name: str) -> str:
    return f"CASE WHEN jsonb_typeof(metrics->'{name}') = 'number' THEN (metrics->>'{name}')::float8 END"


def _metric_sqlite(name: str) -> str:
    return f"CASE WHEN json_type(metrics, '$.{name}') IN ('real', 'integer') THEN json_extract(metrics, '$.{name}') END"


async def overview(store: Store, scope: Scope) -> OverviewRows:
    """Grouped counts and buckets; from the pre-aggregate when buckets are whole hours."""
    if scope.step_s % 3600:
        return await _overview_jobs(store, scope)
    edges, whole = _split(scope)
    parts = [await _overview_jobs(store, edge) for edge in edges]
    if whole is not None:
        parts.append(await _overview_hourly(store, whole))
    return OverviewRows([g for p in parts for g in p.groups], [b for p in parts for b in p.buckets])


async def _overview_hourly(store: Store, scope: Scope) -> OverviewRows:
    postgres = store.name == "postgres"
    time = _time_pg if postgres else _time_sqlite
    groups = _Sql(postgres)
    where = " AND ".join(_conditions(scope, groups, time, "hour"))
    g = await _fetch(
        store,
        "SELECT site_id, app_name, status, sum(jobs), sum(duration_sum_us) / 1e6, sum(duration_n), max(duration_max) "
        f"FROM job_hourly WHERE {where} GROUP BY site_id, app_name, status HAVING sum(jobs) <> 0",
        groups.params,
    )
    buckets = _Sql(postgres)
    bucket = _bucket_expr(buckets, scope, "hour")
    where = " AND ".join(_conditions(scope, buckets, time, "hour"))
    b = await _fetch(
        store, f"SELECT {bucket}, status, sum(jobs) FROM job_hourly WHERE {where} GROUP BY 1, 2", buckets.params
    )
    return OverviewRows(
        groups=[(str(r[0]), str(r[1]), str(r[2]), int(r[3]), float(r[4] or 0), int(r[5]), r[6]) for r in g],
        buckets=[(int(r[0]), str(r[1]), int(r[2])) for r in b],
    )


async def _overview_jobs(store: Store, scope: Scope) -> OverviewRows:
    postgres = store.name == "postgres"
    (g_sql, g_params), (b_sql, b_params) = _overview_sql(postgres, scope)
    if postgres:
        pool = store.pool  # type: ignore[attr-defined]
        # Two statements on two pooled connections at once: each scans the same index range.
        g_rows, b_rows = await asyncio.gather(pool.fetch(g_sql, *g_params), pool.fetch(b_sql, *b_params))
        g = [tuple(r.values()) for r in g_rows]
        b = [tuple(r.values()) for r in b_rows]
    else:
        g, b = await store._run(_sqlite_pair, store, g_sql, g_params, b_sql, b_params)  # type: ignore[attr-defined]
    return OverviewRows(
        groups=[(str(r[0]), str(r[1]), str(r[2]), int(r[3]), float(r[4] or 0), int(r[5]), r[6]) for r in g],
        buckets=[(int(r[0]), str(r[1]), int(r[2])) for r in b],
    )


def _sqlite_pair(store: Any, a_sql: str, a_params: list[Any], b_sql: str, b_params: list[Any]) -> tuple[list, list]:  # type: ignore[type-arg]
    conn = store.conn
    return (
        [tuple(r) for r in conn.execute(a_sql, a_params).fetchall()],
        [tuple(r) for r in conn.execute(b_sql, b_params).fetchall()],
    )


_CPU = "({u} + coalesce({s}, 0))"


async def history(store: Store, scope: Scope) -> HistoryRows:
    """Per bucket: jobs, failures, percentiles; errors by type. From the pre-aggregate for whole
    hours of an app (percentiles from histograms), exactly from jobs for a business key."""
    edges, whole = _split(scope)
    if whole is not None:
        return await _history_hourly(store, edges, whole)
    postgres = store.name == "postgres"
    return await (_history_pg(store, scope) if postgres else store._run(_history_sqlite, store, scope))  # type: ignore[attr-defined]


async def _history_pg(store: Store, scope: Scope) -> HistoryRows:
    sql = _Sql(True)
    bucket = _bucket_expr(sql, scope)
    where = " AND ".join(_conditions(scope, sql, _time_pg))
    cpu = _CPU.format(u=_metric_pg("cpu_user_s"), s=_metric_pg("cpu_sys_s"))
    mem = _metric_pg("mem_max_mb")
    main = f"""
SELECT b, count(*) AS jobs, count(*) FILTER (WHERE status = 'failed') AS failed,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_s) AS duration_p50,
  percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_s) AS duration_p95,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu) AS cpu_p50,
  percentile_cont(0.95) WITHIN GROUP (ORDER BY cpu) AS cpu_p95,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY mem) AS mem_p50, max(mem) AS mem_max
FROM (SELECT {bucket} AS b, status, duration_s, {cpu} AS cpu, {mem} AS mem FROM jobs WHERE {where}) j
GROUP BY b ORDER BY b"""
    err_sql = _Sql(True)
    err_where = " AND ".join(_conditions(scope, err_sql, _time_pg))
    errors = f"""
SELECT kind, type, count(*) AS n FROM (
  SELECT 'job' AS kind, coalesce(error->>'type', '(no error type)') AS type FROM jobs
    WHERE status = 'failed' AND {err_where}
  UNION ALL
  SELECT 'subjob', coalesce(error->>'type', '(no error type)') FROM subjobs
    WHERE status = 'failed' AND {err_where}
) e GROUP BY kind, type ORDER BY n DESC, kind, type LIMIT 50"""
    pool = store.pool  # type: ignore[attr-defined]
    rows, err_rows = await asyncio.gather(pool.fetch(main, *sql.params), pool.fetch(errors, *err_sql.params))
    buckets = {int(r["b"]): {k: v for k, v in dict(r).items() if k != "b"} for r in rows}
    return HistoryRows(buckets, [(str(r[0]), str(r[1]), int(r[2])) for r in err_rows], truncated=False)


def _quantile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont."""
    if not values:
        return None
    values = sorted(values)
    pos = q * (len(values) - 1)
    low = int(pos)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (pos - low)


def _history_sqlite(store: Any, scope: Scope) -> HistoryRows:
    sql = _Sql(False)
    bucket = _bucket_expr(sql, scope)
    where = " AND ".join(_conditions(scope, sql, _time_sqlite))
    cpu = _CPU.format(u=_metric_sqlite("cpu_user_s"), s=_metric_sqlite("cpu_sys_s"))
    mem = _metric_sqlite("mem_max_mb")
    query = (
        f"SELECT {bucket} AS b, status, duration_s, {cpu} AS cpu, {mem} AS mem FROM jobs WHERE {where} "
        f"LIMIT {HISTORY_ROW_LIMIT + 1}"
    )
    rows = store.conn.execute(query, sql.params).fetchall()
    truncated = len(rows) > HISTORY_ROW_LIMIT
    grouped: dict[int, list[Any]] = {}
    for row in rows[:HISTORY_ROW_LIMIT]:
        grouped.setdefault(int(row[0]), []).append(row)
    buckets: dict[int, dict[str, float | int | None]] = {}
    for b, members in sorted(grouped.items()):
        durations = [r[2] for r in members if r[2] is not None]
        cpus = [r[3] for r in members if r[3] is not None]
        mems = [r[4] for r in members if r[4] is not None]
        buckets[b] = {
            "jobs": len(members),
            "failed": sum(1 for r in members if r[1] == "failed"),
            "duration_p50": _quantile(durations, 0.5),
            "duration_p95": _quantile(durations, 0.95),
            "cpu_p50": _quantile(cpus, 0.5),
            "cpu_p95": _quantile(cpus, 0.95),
            "mem_p50": _quantile(mems, 0.5),
            "mem_max": max(mems) if mems else None,
        }
    err_sql = _Sql(False)
    err_where = " AND ".join(_conditions(scope, err_sql, _time_sqlite))
    err_where2 = " AND ".join(_conditions(scope, err_sql, _time_sqlite))
    errors = store.conn.execute(
        f"""SELECT kind, type, count(*) AS n FROM (
  SELECT 'job' AS kind, coalesce(json_extract(error, '$.type'), '(no error type)') AS type FROM jobs
    WHERE status = 'failed' AND {err_where}
  UNION ALL
  SELECT 'subjob', coalesce(json_extract(error, '$.type'), '(no error type)') FROM subjobs
    WHERE status = 'failed' AND {err_where2}
) e GROUP BY kind, type ORDER BY n DESC, kind, type LIMIT 50""",
        err_sql.params,
    ).fetchall()
    return HistoryRows(buckets, [(str(r[0]), str(r[1]), int(r[2])) for r in errors], truncated)


def _error_type_sql(postgres: bool) -> str:
    if postgres:
        return f"CASE WHEN jsonb_typeof(error->'type') = 'string' THEN error->>'type' ELSE '{hourly.NO_ERROR_TYPE}' END"
    return (
        f"CASE WHEN json_type(error, '$.type') = 'text' THEN json_extract(error, '$.type') "
        f"ELSE '{hourly.NO_ERROR_TYPE}' END"
    )


async def _failures(store: Store, scope: Scope, table: str) -> list[tuple[str, int]]:
    postgres = store.name == "postgres"
    sql = _Sql(postgres)
    where = " AND ".join(_conditions(scope, sql, _time_pg if postgres else _time_sqlite))
    query = f"SELECT {_error_type_sql(postgres)}, count(*) FROM {table} WHERE status = 'failed' AND {where} GROUP BY 1"
    rows = await _fetch(store, query, sql.params)
    return [(str(r[0]), int(r[1])) for r in rows]


async def _history_hourly(store: Store, edges: list[Scope], whole: Scope) -> HistoryRows:
    postgres = store.name == "postgres"
    time = _time_pg if postgres else _time_sqlite
    counts: dict[int, list[int]] = {}  # bucket -> [jobs, failed]
    hists: dict[int, dict[str, dict[int, int]]] = {}  # bucket -> metric -> bin -> jobs

    def add_value(b: int, metric: str, bin_: int, n: int) -> None:
        per = hists.setdefault(b, {}).setdefault(metric, {})
        per[bin_] = per.get(bin_, 0) + n

    sql = _Sql(postgres)
    bucket = _bucket_expr(sql, whole, "hour")
    where = " AND ".join(_conditions(whole, sql, time, "hour"))
    for b, jobs, failed in await _fetch(
        store,
        f"SELECT {bucket}, sum(jobs), sum(CASE WHEN status = 'failed' THEN jobs ELSE 0 END) FROM job_hourly "
        f"WHERE {where} GROUP BY 1",
        sql.params,
    ):
        cell = counts.setdefault(int(b), [0, 0])
        cell[0] += int(jobs)
        cell[1] += int(failed)
    sql = _Sql(postgres)
    bucket = _bucket_expr(sql, whole, "hour")
    where = " AND ".join(_conditions(whole, sql, time, "hour"))
    for b, metric, bin_, n in await _fetch(
        store, f"SELECT {bucket}, metric, bin, sum(n) FROM job_hourly_hist WHERE {where} GROUP BY 1, 2, 3", sql.params
    ):
        add_value(int(b), str(metric), int(bin_), int(n))
    sql = _Sql(postgres)
    where = " AND ".join(_conditions(whole, sql, time, "hour"))
    errors: dict[tuple[str, str], int] = {}
    for kind, n in await _fetch(
        store, f"SELECT error_type, sum(n) FROM job_hourly_errors WHERE {where} GROUP BY 1", sql.params
    ):
        errors[("job", str(kind))] = errors.get(("job", str(kind)), 0) + int(n)
    metric = _metric_pg if postgres else _metric_sqlite
    cpu = _CPU.format(u=metric("cpu_user_s"), s=metric("cpu_sys_s"))
    for edge in edges:
        sql = _Sql(postgres)
        bucket = _bucket_expr(sql, edge)
        where = " AND ".join(_conditions(edge, sql, time))
        query = f"SELECT {bucket}, status, duration_s, {cpu}, {metric('mem_max_mb')} FROM jobs WHERE {where}"
        rows = await _fetch(store, query, sql.params)
        for b, status, *values in rows:
            cell = counts.setdefault(int(b), [0, 0])
            cell[0] += 1
            cell[1] += status == "failed"
            for name, value in zip(hourly.METRICS, values, strict=True):
                if value is not None:
                    add_value(int(b), name, hourly.bin_of(float(value)), 1)
        for kind, n in await _failures(store, edge, "jobs"):
            errors[("job", kind)] = errors.get(("job", kind), 0) + n
    everything = replace(whole, since=min([whole.since, *(e.since for e in edges)]),
                         until=max([whole.until, *(e.until for e in edges)]))  # fmt: skip
    for kind, n in await _failures(store, everything, "subjobs"):
        errors[("subjob", kind)] = errors.get(("subjob", kind), 0) + n
    buckets: dict[int, dict[str, float | int | None]] = {}
    for b in sorted(set(counts) | set(hists)):
        jobs, failed = counts.get(b, [0, 0])
        h = hists.get(b, {})
        if not jobs and not h:
            continue  # cells emptied by status moves
        mem = {k: v for k, v in h.get("mem", {}).items() if v}
        buckets[b] = {
            "jobs": jobs,
            "failed": failed,
            "duration_p50": hourly.hist_quantile(h.get("duration", {}), 0.5),
            "duration_p95": hourly.hist_quantile(h.get("duration", {}), 0.95),
            "cpu_p50": hourly.hist_quantile(h.get("cpu", {}), 0.5),
            "cpu_p95": hourly.hist_quantile(h.get("cpu", {}), 0.95),
            "mem_p50": hourly.hist_quantile(mem, 0.5),
            "mem_max": hourly.bin_upper(max(mem)) if mem else None,
        }
    top = sorted(((k, t, n) for (k, t), n in errors.items() if n), key=lambda e: (-e[2], e[0], e[1]))[:50]
    return HistoryRows(buckets, top, truncated=False)
