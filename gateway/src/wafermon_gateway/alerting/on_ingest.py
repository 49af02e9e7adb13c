"""Event-driven rules: job_failed (at once, or after N consecutive failures; resolved after M successes).

Only jobs that reached a terminal status in this batch count: a replayed `finished` event of a job
the store already held as terminal is not a new failure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..batch import Prepared
from ..reducer import TERMINAL
from .db import AlertDb
from .findings import Finding, group_key, job_item
from .model import JobFailedParams, Rule
from .repo import AlertRepo


async def prior_terminal(db: AlertDb, events: list[Prepared]) -> set[str]:
    """Ids of jobs finishing in this batch that the store already holds as terminal."""
    ids = sorted(
        {p.facts.entity_id for p in events if p.facts.entity_type == "job" and p.facts.event_kind == "finished"}
    )
    if not ids:
        return set()
    found: set[str] = set()
    terminal = tuple(TERMINAL)
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        if db.postgres:
            rows = await db.fetch(
                "SELECT entity_id::text AS entity_id, base_status FROM jobs WHERE entity_id = ANY(?::uuid[])", chunk
            )
        else:
            marks = ",".join("?" for _ in chunk)
            rows = await db.fetch(f"SELECT entity_id, base_status FROM jobs WHERE entity_id IN ({marks})", *chunk)
        found |= {str(r["entity_id"]) for r in rows if r["base_status"] in terminal}
    return found


def newly_finished(events: list[Prepared], already: set[str]) -> list[dict[str, Any]]:
    """One record per job that finished in this batch and was not terminal before (first finish wins)."""
    out: dict[str, dict[str, Any]] = {}
    for p in events:
        f = p.facts
        if f.entity_type != "job" or f.event_kind != "finished" or f.entity_id in already or f.entity_id in out:
            continue
        out[f.entity_id] = {
            "entity_id": f.entity_id, "site_id": f.site_id, "app_name": f.app_name, "business_key": f.business_key,
            "status": f.status, "error": f.error, "host": f.host, "metrics": f.metrics or {}, "at": f.at,
        }  # fmt: skip
    return list(out.values())


async def job_failed(rule: Rule, finished: list[dict[str, Any]], repo: AlertRepo, now: datetime) -> list[Finding]:
    params: JobFailedParams = rule.typed_params()
    relevant = [j for j in finished if rule.scope.matches(j["site_id"], j["app_name"], j["business_key"])]
    relevant.sort(key=lambda j: str(j["at"]))
    findings: dict[str, Finding] = {}
    consecutive = params.consecutive > 1
    for job in relevant:
        # Consecutive counting is per app and business key; plain mode groups per site and app.
        parts = (job["site_id"], job["app_name"], job["business_key"] if consecutive else None)
        key = group_key(rule.name, *parts)
        scope = {"site_id": parts[0], "app": parts[1]} | ({"business_key": parts[2]} if consecutive else {})
        failures, successes = await repo.streak(key)
        if job["status"] == "failed":
            failures, successes = failures + 1, 0
        elif job["status"] == "succeeded":
            failures, successes = 0, successes + 1
        await repo.set_streak(key, failures, successes, now)
        if job["status"] == "failed" and failures >= params.consecutive:
            finding = findings.setdefault(key, Finding(rule.name, key, scope, True, mode="add"))
            finding.firing = True
            finding.items.append(job_item(job))
            what = f"{failures} consecutive failures" if consecutive else "job failed"
            finding.summary = f"{rule.name}: {what} of {parts[1]} at {parts[0]}"
        elif successes >= params.recovery_after:
            findings[key] = Finding(rule.name, key, scope, False, f"{rule.name}: {parts[1]} at {parts[0]} recovered")
    return list(findings.values())
