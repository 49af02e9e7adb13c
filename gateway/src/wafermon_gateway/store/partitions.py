"""Native range partitions of the events table (PostgreSQL without TimescaleDB).

Partitions are aligned on multiples of partition_hours since the Unix epoch (UTC midnight for the
default 24 h), named events_pYYYYMMDDHH, created ahead of time by maintenance and on demand by
ingest, and dropped whole once their upper bound is older than the retention horizon: dropping a
partition is instant and leaves no bloat, unlike DELETE.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

LIST_SQL = """
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'events'::regclass
"""
_UPPER = re.compile(r"TO \('([^']+)'\)")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def partition_start(moment: datetime, hours: int) -> datetime:
    step = timedelta(hours=hours)
    return _EPOCH + ((moment.astimezone(UTC) - _EPOCH) // step) * step


def partition_name(start: datetime) -> str:
    return f"events_p{start:%Y%m%d%H}"


def create_sql(start: datetime, hours: int) -> str:
    end = start + timedelta(hours=hours)
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(start)} PARTITION OF events "
        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )


def starts_between(first: datetime, last: datetime, hours: int) -> list[datetime]:
    out: list[datetime] = []
    current = partition_start(first, hours)
    while current <= last:
        out.append(current)
        current += timedelta(hours=hours)
    return out


def upper_bound(bound_expr: str) -> datetime | None:
    match = _UPPER.search(bound_expr)
    if not match:
        return None  # DEFAULT partition or a bound we did not create: leave it alone
    return datetime.fromisoformat(match.group(1)).astimezone(UTC)


def to_drop(partitions: list[tuple[str, str]], horizon: datetime) -> list[str]:
    """Names of partitions whose every row is older than the horizon."""
    names = []
    for name, expr in partitions:
        upper = upper_bound(expr)
        if upper is not None and upper <= horizon:
            names.append(name)
    return sorted(names)
