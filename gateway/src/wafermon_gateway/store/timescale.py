"""TimescaleDB statements: the events hypertable, compression and the retention policy.

Kept as plain SQL builders so the exact statements are unit-tested without a TimescaleDB server
(Debian 12 does not package the extension; the tests run native partitioning on a real server).
"""

from __future__ import annotations

DETECT_SQL = "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')"


def _hours(value: float) -> str:
    return f"INTERVAL '{float(value):g} hours'"


def setup_sql(partition_hours: int, retention_hours: float, compress_after_hours: float) -> list[str]:
    """Turn an existing plain `events` table into a compressed hypertable with retention."""
    return [
        f"SELECT create_hypertable('events', 'at', chunk_time_interval => {_hours(partition_hours)})",
        "ALTER TABLE events SET (timescaledb.compress, timescaledb.compress_segmentby = 'job_id',"
        " timescaledb.compress_orderby = 'at, seq')",
        f"SELECT add_compression_policy('events', {_hours(compress_after_hours)})",
        *retention_sql(retention_hours),
    ]


def retention_sql(retention_hours: float) -> list[str]:
    """Applied at every start so a changed retention setting takes effect."""
    return [
        "SELECT remove_retention_policy('events', if_exists => true)",
        f"SELECT add_retention_policy('events', {_hours(retention_hours)})",
    ]
