"""Derives the events a scenario must produce from its steps, and compares what arrived."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_SITE = "conformance-site"


@dataclass
class Entity:
    name: str
    entity_type: str
    parent: str | None
    business_key: str | None
    sub_key: str | None
    site_id: str
    events: list[dict[str, Any]] = field(default_factory=list)


def expected_entities(steps: list[dict[str, Any]]) -> dict[str, Entity]:
    """Entities by scenario name, each with the events it must emit (without ids and times)."""
    entities: dict[str, Entity] = {}
    for step in steps:
        if "expect_error" in step:
            continue
        op = step["op"]
        metadata = step.get("metadata", {})
        if op == "start":
            e = Entity(step["as"], "job", None, step.get("business_key"), None, step.get("site_id") or DEFAULT_SITE)
            entities[e.name] = e
            e.events.append({"event_kind": "started", "status": "running", "metadata": metadata})
        elif op in ("subjob", "fork_child"):
            parent = entities[step["parent"]]
            e = Entity(step["as"], "subjob", parent.name, parent.business_key, step.get("sub_key"), parent.site_id)
            entities[e.name] = e
            e.events.append({"event_kind": "started", "status": "running", "metadata": metadata})
            if op == "fork_child":
                e.events.append({"event_kind": "finished", "status": "succeeded", "metadata": {}, "error": None})
        elif op == "progress":
            event: dict[str, Any] = {"event_kind": "progress", "status": "running", "metadata": metadata}
            if step.get("fraction") is not None:
                event["progress"] = step["fraction"]
            entities[step["job"]].events.append(event)
        elif op == "heartbeat":
            entities[step["job"]].events.append({"event_kind": "heartbeat", "status": "running", "metadata": {}})
        elif op in ("succeed", "cancel", "fail"):
            status = {"succeed": "succeeded", "cancel": "cancelled", "fail": "failed"}[op]
            error = {"type": step["error_type"], "message": step.get("error_message") or ""} if op == "fail" else None
            entities[step["job"]].events.append(
                {"event_kind": "finished", "status": status, "metadata": metadata, "error": error}
            )
    return entities


def compare(entities: dict[str, Entity], ids: dict[str, str], received: list[dict[str, Any]], lang: str) -> list[str]:
    """Problems found, field by field; empty when the received events are exactly the expected ones."""
    problems: list[str] = []
    seen_event_ids = [e["event_id"] for e in received]
    if len(set(seen_event_ids)) != len(seen_event_ids):
        problems.append(f"duplicate event_id among {len(seen_event_ids)} events")
    by_entity: dict[str, list[dict[str, Any]]] = {}
    for e in received:
        by_entity.setdefault(e["entity_id"], []).append(e)
        if e["sdk"]["lang"] != lang:
            problems.append(f"sdk.lang is {e['sdk']['lang']!r}, expected {lang!r}")
    # Entities whose id the testee did not report (a fork child's sub-job) are found by sub_key.
    for name, ent in entities.items():
        if name not in ids:
            for entity_id, evs in by_entity.items():
                if evs[0].get("sub_key") == ent.sub_key and entity_id not in ids.values():
                    ids[name] = entity_id
    expected_total = sum(len(ent.events) for ent in entities.values())
    if len(received) != expected_total:
        problems.append(f"{len(received)} events arrived, expected {expected_total}")
    for name, ent in entities.items():
        got = sorted(by_entity.get(ids.get(name, ""), []), key=lambda e: e["seq"])
        if len(got) != len(ent.events):
            problems.append(f"{name}: {len(got)} events arrived, expected {len(ent.events)}")
            continue
        for seq, (want, have) in enumerate(zip(ent.events, got, strict=True)):
            where = f"{name} event {seq} ({want['event_kind']})"
            checks: dict[str, Any] = {
                "seq": seq,
                "entity_type": ent.entity_type,
                "business_key": ent.business_key,
                "sub_key": ent.sub_key,
                "site_id": ent.site_id,
                "parent_id": ids.get(ent.parent) if ent.parent else None,
                **want,
            }
            for key, value in checks.items():
                if have.get(key) != value:
                    problems.append(f"{where}: {key} is {have.get(key)!r:.200}, expected {value!r:.200}")
            if "progress" not in want and "progress" in have:
                problems.append(f"{where}: unexpected progress {have['progress']!r}")
            if want["event_kind"] == "finished":
                metrics = have.get("metrics") or {}
                if set(metrics) != {"duration_s", "cpu_user_s", "cpu_sys_s", "mem_max_mb"}:
                    problems.append(f"{where}: metrics {metrics!r}")
    return problems
