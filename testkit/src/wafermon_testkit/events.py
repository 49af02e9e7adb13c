"""Events for the tests: wafermon.event/1 dicts (one event, or a whole job story) and a Python program
that reports a job through the SDK."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any


def at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id() -> str:
    return str(uuid.uuid4())


def event(
    kind: str,
    entity_id: str,
    seq: int,
    when: datetime,
    *,
    entity_type: str = "job",
    parent_id: str | None = None,
    status: str | None = None,
    site_id: str = "fab1",
    app: str = "etch-line",
    business_key: str | None = "batch-1",
    sub_key: str | None = None,
    progress: float | None = None,
    metrics: dict[str, float] | None = None,
    metadata: dict[str, Any] | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    if status is None:
        status = "succeeded" if kind == "finished" else "running"
    body: dict[str, Any] = {
        "schema": "wafermon.event/1",
        "event_id": event_id or new_id(),
        "event_kind": kind,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "parent_id": parent_id,
        "seq": seq,
        "at": at(when),
        "site_id": site_id,
        "app": {"name": app, "version": "2.1.0"},
        "business_key": business_key,
        "sub_key": sub_key,
        "status": status,
        "metadata": metadata if metadata is not None else {"recipe": "R-17"},
        "host": "node-a",
        "pid": 4242,
        "sdk": {"lang": "python", "version": "0.1.0"},
    }
    if progress is not None:
        body["progress"] = progress
    if kind == "finished":
        body["metrics"] = metrics or {"duration_s": 12.5, "cpu_user_s": 10.1, "cpu_sys_s": 0.4, "mem_max_mb": 512.0}
        if status == "failed":
            body["error"] = {"type": "RuntimeError", "message": "boom"}
    elif metrics is not None:
        body["metrics"] = metrics
    return body


def job_story(
    job_id: str | None = None,
    *,
    start: datetime | None = None,
    progress_steps: int = 2,
    outcome: str | None = "succeeded",
    subjobs: int = 0,
    **common: Any,
) -> list[dict[str, Any]]:
    """A job's whole life: started, progress..., finished (if outcome), with sub-jobs of the same shape."""
    job_id = job_id or new_id()
    t0 = start or datetime.now(UTC) - timedelta(seconds=30)
    out = [event("started", job_id, 0, t0, **common)]
    for i in range(progress_steps):
        fraction = (i + 1) / (progress_steps + 1)
        when = t0 + timedelta(seconds=i + 1)
        out.append(
            event("progress", job_id, i + 1, when, progress=fraction, metrics={"cpu_user_s": float(i)}, **common)
        )
    for n in range(subjobs):
        sid = new_id()
        sub = {**common, "entity_type": "subjob", "parent_id": job_id, "sub_key": f"wafer-{n}"}
        out.append(event("started", sid, 0, t0 + timedelta(milliseconds=100 + n), **sub))
        out.append(event("finished", sid, 1, t0 + timedelta(seconds=2, milliseconds=n), **sub))
    if outcome is not None:
        seq = progress_steps + 1
        out.append(event("finished", job_id, seq, t0 + timedelta(seconds=progress_steps + 2), status=outcome, **common))
    return out


def sdk_job_script(business_key: str, recipe: str) -> str:
    """A Python program that reports one job through the SDK (site fab1, metadata.recipe = recipe):
    progress 0.5, then sub-jobs wafer-1 and wafer-2 each at progress 1.0; all succeed."""
    return f"""
import wafermon
with wafermon.job({business_key!r}, site_id="fab1", metadata={{"recipe": {recipe!r}}}) as job:
    job.progress(0.5)
    for wafer in ("wafer-1", "wafer-2"):
        with job.subjob(wafer) as w:
            w.progress(1.0)
"""
