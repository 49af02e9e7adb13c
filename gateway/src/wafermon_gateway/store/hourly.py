"""The hourly pre-aggregate of jobs that the dashboard's overview and history read.

Three tables, keyed by the UTC hour a job was created in (see migrations.py for their columns):
- `job_hourly` (hour, site, app, status): job count, duration sum (integer microseconds, so adding
  and taking away is exact), duration count and maximum;
- `job_hourly_hist` (hour, site, app, metric, bin): how many jobs have a duration, CPU time or peak
  memory in each logarithmic bin (`BINS_PER_OCTAVE` bins per doubling: a value read back from its
  bin is within 2.2 % of the true one), for percentiles;
- `job_hourly_errors` (hour, site, app, error type): failed jobs by error type.

Each write of a job row (ingest, the liveness sweep) takes the row's old contribution away and adds
the new one in the same transaction as the row itself, so the tables always equal an aggregation
of `jobs` from scratch. A cell that loses a duration gets its maximum recomputed from `jobs`.
Policy: rows that state retention deletes from `jobs` stay counted here (history outlives them);
durations are clamped to [0, `MAX_DURATION_S`] in the sum so it cannot overflow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

BINS_PER_OCTAVE = 16
ZERO_BIN = -100_000  # values <= 0
MAX_DURATION_S = 1e9
METRICS = ("duration", "cpu", "mem")
NO_ERROR_TYPE = "(no error type)"
_LN2 = math.log(2.0)

CountKey = tuple[datetime, str, str, str]  # hour, site, app, status
HistKey = tuple[datetime, str, str, str, int]  # hour, site, app, metric, bin
ErrorKey = tuple[datetime, str, str, str]  # hour, site, app, error type


def bin_of(value: float) -> int:
    """The histogram bin of a value; the same arithmetic as the SQL backfill (ln(v) / ln(2) * bins)."""
    if value <= 0:
        return ZERO_BIN
    return math.floor(math.log(value) / _LN2 * BINS_PER_OCTAVE)


def bin_value(b: int) -> float:
    """A bin's representative value (its geometric middle; 0 for the zero bin)."""
    return 0.0 if b == ZERO_BIN else 2.0 ** ((b + 0.5) / BINS_PER_OCTAVE)


def bin_upper(b: int) -> float:
    return 0.0 if b == ZERO_BIN else 2.0 ** ((b + 1) / BINS_PER_OCTAVE)


def hist_quantile(counts: dict[int, int], q: float) -> float | None:
    """percentile_cont over a histogram: linear between the two closest ranks' bin values."""
    total = sum(counts.values())
    if total <= 0:
        return None
    pos = q * (total - 1)
    low_rank, high_rank = int(pos), min(int(pos) + 1, total - 1)
    low = high = None
    seen = 0
    for b in sorted(counts):
        seen += counts[b]
        if low is None and seen > low_rank:
            low = bin_value(b)
        if seen > high_rank:
            high = bin_value(b)
            break
    assert low is not None and high is not None
    return low + (high - low) * (pos - low_rank)


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    floor = floor_hour(moment)
    return floor if floor == moment else floor + timedelta(hours=1)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _json(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def error_type(error: Any) -> str:
    kind = error.get("type") if isinstance(error, dict) else None
    return kind if isinstance(kind, str) else NO_ERROR_TYPE


def duration_us(duration: float) -> int:
    return math.floor(min(max(duration, 0.0), MAX_DURATION_S) * 1e6 + 0.5)


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one jobs row adds to the pre-aggregate."""

    hour: datetime
    site_id: str
    app_name: str
    status: str
    duration: float | None
    error_type: str | None  # only for failed jobs
    values: tuple[tuple[str, float], ...]  # (metric, value) for the histograms

    @classmethod
    def of(cls, row: dict[str, Any]) -> Contribution:
        """From a jobs row as the stores normalise it (ISO or datetime times, JSON as text or objects)."""
        created = row["created_at"]
        created = datetime.fromisoformat(created) if isinstance(created, str) else created
        metrics = _json(row["metrics"]) or {}
        values: list[tuple[str, float]] = []
        duration = _number(row["duration_s"])
        if duration is not None:
            values.append(("duration", duration))
        user, system = _number(metrics.get("cpu_user_s")), _number(metrics.get("cpu_sys_s"))
        if user is not None:
            values.append(("cpu", user + (system if system is not None else 0.0)))
        mem = _number(metrics.get("mem_max_mb"))
        if mem is not None:
            values.append(("mem", mem))
        failed = row["status"] == "failed"
        error = _json(row["error"]) if row["error"] is not None else None
        return cls(
            hour=floor_hour(created),
            site_id=row["site_id"],
            app_name=row["app_name"],
            status=row["status"],
            duration=duration,
            error_type=error_type(error) if failed else None,
            values=tuple(values),
        )


@dataclass(slots=True)
class Deltas:
    """Changes to apply to the three tables; `recompute` lists count cells that lost a duration."""

    counts: dict[CountKey, list[Any]] = field(default_factory=dict)  # [jobs, dsum_us, dn, max added]
    hist: dict[HistKey, int] = field(default_factory=dict)
    errors: dict[ErrorKey, int] = field(default_factory=dict)
    recompute: set[CountKey] = field(default_factory=set)

    def add(self, c: Contribution, sign: int) -> None:
        key = (c.hour, c.site_id, c.app_name, c.status)
        cell = self.counts.setdefault(key, [0, 0, 0, None])
        cell[0] += sign
        if c.duration is not None:
            cell[1] += sign * duration_us(c.duration)
            cell[2] += sign
            if sign > 0:
                cell[3] = c.duration if cell[3] is None else max(cell[3], c.duration)
            else:
                self.recompute.add(key)
        for metric, value in c.values:
            hkey = (c.hour, c.site_id, c.app_name, metric, bin_of(value))
            self.hist[hkey] = self.hist.get(hkey, 0) + sign
        if c.error_type is not None:
            ekey = (c.hour, c.site_id, c.app_name, c.error_type)
            self.errors[ekey] = self.errors.get(ekey, 0) + sign

    def change(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        """One row's write: its old contribution out, its new one in (either may be None)."""
        before = Contribution.of(old) if old is not None else None
        after = Contribution.of(new) if new is not None else None
        if before == after:
            return
        if before is not None:
            self.add(before, -1)
        if after is not None:
            self.add(after, +1)

    def count_rows(self) -> list[tuple[Any, ...]]:
        return [(*k, v[0], v[1], v[2], v[3]) for k, v in sorted(self.counts.items()) if v[0] or v[1] or v[2] or v[3]]

    def hist_rows(self) -> list[tuple[Any, ...]]:
        return [(*k, n) for k, n in sorted(self.hist.items()) if n]

    def error_rows(self) -> list[tuple[Any, ...]]:
        return [(*k, n) for k, n in sorted(self.errors.items()) if n]


def from_scratch(rows: list[dict[str, Any]]) -> Deltas:
    """The pre-aggregate of these jobs rows computed afresh (maxima exact), for tests and checks."""
    out = Deltas()
    for row in rows:
        out.add(Contribution.of(row), +1)
    return out


# --- SQL, per backend ---------------------------------------------------------------------------
TABLES = ("job_hourly", "job_hourly_hist", "job_hourly_errors")


def ddl(postgres: bool) -> list[str]:
    """The three tables; hour is timestamptz on PostgreSQL, ISO-8601 text on SQLite."""
    hour, big, real = ("timestamptz", "bigint", "double precision") if postgres else ("TEXT", "INTEGER", "REAL")
    return [
        f"CREATE TABLE job_hourly (hour {hour} NOT NULL, site_id text NOT NULL, app_name text NOT NULL,"
        f" status text NOT NULL, jobs {big} NOT NULL, duration_sum_us {big} NOT NULL, duration_n {big} NOT NULL,"
        f" duration_max {real}, PRIMARY KEY (hour, site_id, app_name, status))",
        "CREATE INDEX job_hourly_app ON job_hourly (app_name, hour)",
        f"CREATE TABLE job_hourly_hist (hour {hour} NOT NULL, site_id text NOT NULL, app_name text NOT NULL,"
        f" metric text NOT NULL, bin integer NOT NULL, n {big} NOT NULL,"
        " PRIMARY KEY (app_name, hour, site_id, metric, bin))",
        f"CREATE TABLE job_hourly_errors (hour {hour} NOT NULL, site_id text NOT NULL, app_name text NOT NULL,"
        f" error_type text NOT NULL, n {big} NOT NULL, PRIMARY KEY (app_name, hour, site_id, error_type))",
    ]


def _metric_pg(name: str) -> str:
    return f"CASE WHEN jsonb_typeof(metrics->'{name}') = 'number' THEN (metrics->>'{name}')::float8 END"


def _metric_sqlite(name: str) -> str:
    return f"CASE WHEN json_type(metrics, '$.{name}') IN ('real', 'integer') THEN json_extract(metrics, '$.{name}') END"


def backfill(postgres: bool) -> list[str]:
    """Statements that fill the (empty) tables from `jobs`, with the same arithmetic as `Contribution`.
    SQLite needs the connection's `wafermon_bin` function (bin_of) registered."""
    if postgres:
        hour = "date_trunc('hour', created_at, 'UTC')"
        dus = "floor(least(greatest(duration_s, 0::float8), 1e9::float8) * 1e6::float8 + 0.5::float8)::bigint"
        b = f"CASE WHEN v <= 0 THEN {ZERO_BIN} ELSE floor(ln(v) / ln(2::float8) * {BINS_PER_OCTAVE}::float8)::int END"
        metric = _metric_pg
        etype = f"CASE WHEN jsonb_typeof(error->'type') = 'string' THEN error->>'type' ELSE '{NO_ERROR_TYPE}' END"
    else:
        hour = "substr(created_at, 1, 13) || ':00:00.000000Z'"
        dus = "CAST(min(max(duration_s, 0.0), 1e9) * 1e6 + 0.5 AS INTEGER)"
        b = "wafermon_bin(v)"
        metric = _metric_sqlite
        etype = (
            f"CASE WHEN json_type(error, '$.type') = 'text' THEN json_extract(error, '$.type') "
            f"ELSE '{NO_ERROR_TYPE}' END"
        )
    cpu = f"({metric('cpu_user_s')} + coalesce({metric('cpu_sys_s')}, 0))"
    values = " UNION ALL ".join(
        f"SELECT {hour} AS hour, site_id, app_name, '{name}' AS metric, {expr} AS v FROM jobs"
        for name, expr in (("duration", "duration_s"), ("cpu", cpu), ("mem", metric("mem_max_mb")))
    )
    return [
        f"INSERT INTO job_hourly SELECT {hour}, site_id, app_name, status, count(*), coalesce(sum({dus}), 0),"
        " count(duration_s), max(duration_s) FROM jobs GROUP BY 1, 2, 3, 4",
        f"INSERT INTO job_hourly_hist SELECT hour, site_id, app_name, metric, {b}, count(*) FROM ({values}) m"
        " WHERE v IS NOT NULL GROUP BY 1, 2, 3, 4, 5",
        f"INSERT INTO job_hourly_errors SELECT {hour}, site_id, app_name, {etype}, count(*) FROM jobs"
        " WHERE status = 'failed' GROUP BY 1, 2, 3, 4",
    ]


def apply_sql(postgres: bool) -> tuple[str, str, str, str]:
    """(counts upsert, histogram upsert, errors upsert, maximum recompute) with the backend's placeholders."""

    def p(n: int) -> str:
        return ", ".join(f"${i}" for i in range(1, n + 1)) if postgres else ", ".join("?" * n)

    later = "greatest(h.duration_max, EXCLUDED.duration_max)" if postgres else (
        "CASE WHEN excluded.duration_max IS NULL THEN h.duration_max WHEN h.duration_max IS NULL "
        "THEN excluded.duration_max ELSE max(h.duration_max, excluded.duration_max) END"
    )  # fmt: skip
    counts = (
        f"INSERT INTO job_hourly AS h VALUES ({p(8)}) ON CONFLICT (hour, site_id, app_name, status) DO UPDATE SET "
        "jobs = h.jobs + EXCLUDED.jobs, duration_sum_us = h.duration_sum_us + EXCLUDED.duration_sum_us, "
        f"duration_n = h.duration_n + EXCLUDED.duration_n, duration_max = {later}"
    )
    hist = (
        f"INSERT INTO job_hourly_hist AS h VALUES ({p(6)}) ON CONFLICT (app_name, hour, site_id, metric, bin) "
        "DO UPDATE SET n = h.n + EXCLUDED.n"
    )
    errors = (
        f"INSERT INTO job_hourly_errors AS h VALUES ({p(5)}) ON CONFLICT (app_name, hour, site_id, error_type) "
        "DO UPDATE SET n = h.n + EXCLUDED.n"
    )
    if postgres:
        recompute = (
            "UPDATE job_hourly SET duration_max = (SELECT max(duration_s) FROM jobs WHERE created_at >= $1 "
            "AND created_at < $2 AND site_id = $3 AND app_name = $4 AND status = $5) "
            "WHERE hour = $1 AND site_id = $3 AND app_name = $4 AND status = $5"
        )
    else:
        recompute = (
            "UPDATE job_hourly SET duration_max = (SELECT max(duration_s) FROM jobs WHERE created_at >= ?1 "
            "AND created_at < ?2 AND site_id = ?3 AND app_name = ?4 AND status = ?5) "
            "WHERE hour = ?1 AND site_id = ?3 AND app_name = ?4 AND status = ?5"
        )
    return counts, hist, errors, recompute


def statements(d: Deltas, postgres: bool) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """(SQL, parameter rows) pairs to run in order for these deltas (times in the backend's type)."""
    from ..liveness import iso

    def t(moment: datetime) -> Any:
        return moment if postgres else iso(moment)

    counts, hist, errors, recompute = apply_sql(postgres)
    out = [
        (counts, [(t(r[0]), *r[1:]) for r in d.count_rows()]),
        (hist, [(t(r[0]), *r[1:]) for r in d.hist_rows()]),
        (errors, [(t(r[0]), *r[1:]) for r in d.error_rows()]),
        (recompute, [(t(k[0]), t(k[0] + timedelta(hours=1)), *k[1:]) for k in sorted(d.recompute)]),
    ]
    return [(sql, rows) for sql, rows in out if rows]
