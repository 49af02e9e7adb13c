"""What an evaluation found: a group (rule + scope) that fires with its jobs, or that is clear."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Finding:
    rule: str
    key: str  # stable per (rule, scope group): the same key while the condition lasts
    scope: dict[str, Any]
    firing: bool
    summary: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)
    # "add": items accumulate (event rules); "replace": items are the current set (windowed rules).
    mode: str = "add"


def group_key(rule: str, *parts: str | None) -> str:
    return "|".join([rule, *[p or "" for p in parts]])


def job_item(row: dict[str, Any]) -> dict[str, Any]:
    """The fields of a job an alert message lists."""
    error = row.get("error")
    return {
        "job_id": str(row.get("entity_id") or row.get("job_id")),
        "site_id": row.get("site_id"),
        "app": row.get("app_name") or row.get("app"),
        "business_key": row.get("business_key"),
        "status": row.get("status"),
        "error": error,
        "host": row.get("host"),
    }
