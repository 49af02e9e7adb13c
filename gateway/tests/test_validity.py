"""What the validator accepts, both stores keep; what they cannot keep, the validator refuses by name.

wafermon_schema is the one authority for "is this event valid" (the sidecar asks it too), so an event
accepted here must never meet a 5xx further down: not in the reducer, not in the liveness deadline,
not in SQLite or PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wafermon_gateway.app import create_app
from wafermon_gateway.liveness import NEVER, deadline
from wafermon_gateway.reducer import EntityState
from wafermon_gateway.settings import Settings
from wafermon_schema import MAX_HEARTBEAT_S, Accepted, check_event
from wafermon_testkit.events import event, job_story, new_id

INGEST = "/v1/ingest/managed"
HEARTBEAT = "metadata.wafermon.heartbeat_s"


@pytest.mark.parametrize(
    "metadata", [{"wafermon.heartbeat_s": 1e20}, {"wafermon.heartbeat_s": 2**63}, {"wafermon": {"heartbeat_s": 1e300}}]
)
async def test_a_huge_heartbeat_is_refused_by_name_and_its_neighbours_stored(
    client: httpx.AsyncClient, metadata: dict[str, Any]
) -> None:
    story = job_story(outcome=None)
    bad = event("heartbeat", story[0]["entity_id"], 9, datetime.now(UTC), metadata=metadata)
    r = await client.post(INGEST, json=[*story, bad])
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == len(story)
    assert [(p["index"], p["field"]) for p in r.json()["rejected"]] == [(len(story), HEARTBEAT)]
    r = await client.post(INGEST, json=[bad])
    assert r.status_code == 400 and r.json()["field"] == HEARTBEAT, r.text
    job = (await client.get(f"/v1/jobs/{story[0]['entity_id']}")).json()["job"]
    assert job["status"] == "running" and job["last_seq"] == len(story) - 1


def test_an_impossible_allowance_makes_a_deadline_of_never() -> None:
    """A row stored before the bound existed (or any path around validation) must not raise."""
    state = EntityState(entity_id=new_id(), entity_type="job", updated_at="2026-11-23T08:15:30.123456Z")
    for heartbeat in (1e20, float(2**63), 1e300, float("inf")):
        state.heartbeat_s = heartbeat
        assert deadline(state, 60.0, 3.0) == NEVER
    state.heartbeat_s = float(MAX_HEARTBEAT_S)
    assert deadline(state, 60.0, 3.0) == "2027-02-21T08:15:30.123456Z"  # 90 days later


def _at(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.strftime('%m-%dT%H:%M:%S.%f')}Z"


numbers = (
    st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0.0, -0.0, 5e-324, 1.7976931348623157e308, 2**63, 2**64, -(2**63) - 1, 1e20])
)
# NUL has a rule of its own; a rare draw adds it (candidate_events), so most examples are accepted.
characters = st.characters(codec="utf-8", exclude_characters="\x00")
texts = st.text(characters, max_size=30)
values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=10,
)
heartbeats = st.none() | st.floats(0.001, MAX_HEARTBEAT_S) | st.sampled_from([MAX_HEARTBEAT_S + 1, 0, "60", True, 1e20])
# Number texts JSON allows that a decoder may turn into something else (0.0, a huge int): raw, not via json.dumps.
RAW_NUMBERS = [
    "1.5",
    "-2.5e-300",
    "1e-16383",
    "-1e-400",
    "1e-20000",  # refused: jsonb cannot hold it
    "0." + "0" * 500 + "1",
    "1" * 300,
    "0.5e-16383",  # refused
    "1.5E+300",
    "-0.0e-5",
    "123456789" * 40,
]


@st.composite
def candidate_events(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["started", "progress", "heartbeat", "finished"]))
    status = draw(st.sampled_from(["succeeded", "failed", "cancelled"])) if kind == "finished" else "running"
    when = datetime.now() - timedelta(seconds=draw(st.integers(0, 10**6)))
    if draw(st.sampled_from(range(5))) == 4:  # now and then anywhere in the calendar (before 1970, the future: refused)
        when = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
    metadata: dict[str, Any] = draw(st.dictionaries(texts, values, max_size=4))
    heartbeat, where = draw(heartbeats), draw(st.sampled_from(range(4)))
    if where == 0:
        metadata["wafermon.heartbeat_s"] = heartbeat
    elif where == 1:
        metadata["wafermon"] = {"heartbeat_s": heartbeat}
    if draw(st.sampled_from(range(10))) == 9:  # rare draws: sampled_from, as integers() favours its bounds
        metadata["nul"] = "a\x00b"
    metadata["raw"] = "RAWNUMBER"
    subjob = draw(st.booleans())
    body: dict[str, Any] = {
        "schema": "wafermon.event/1",
        "event_id": new_id(),
        "event_kind": kind,
        "entity_type": "subjob" if subjob else "job",
        "entity_id": new_id(),
        "parent_id": new_id() if subjob else None,
        "seq": draw(st.integers(0, 2**53 - 1)),
        "at": _at(when),
        "site_id": draw(st.text(characters, min_size=1, max_size=128)),
        "app": {"name": draw(st.text(characters, min_size=1, max_size=128)), "version": draw(texts)},
        "business_key": draw(st.none() | st.text(characters, max_size=256)),
        "status": status,
        "metadata": metadata,
        "host": draw(st.text(characters, min_size=1, max_size=255)),
        "pid": draw(st.integers(0, 2**32 - 1)),
        "sdk": {"lang": "python", "version": "0.1.0"},
    }
    if kind != "started" and draw(st.booleans()):
        body["progress"] = draw(st.floats(0, 1))
    if kind == "finished" or draw(st.booleans()):
        body["metrics"] = {"duration_s": draw(st.floats(0, allow_infinity=False)), "mem_max_mb": 1.5}
    if status == "failed":
        body["error"] = {
            "type": draw(st.text(characters, min_size=1, max_size=256)),
            "message": draw(st.text(characters, max_size=300)),
        }
    raw_number = draw(st.sampled_from(RAW_NUMBERS))
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode().replace(b'"RAWNUMBER"', raw_number.encode())


def test_every_event_the_validator_accepts_is_stored_without_a_5xx(make_settings: Callable[..., Settings]) -> None:
    """Property, on SQLite and on a real PostgreSQL (the `backend` fixture): accepted means stored and readable."""
    app = create_app(make_settings(), background_tasks=False)
    stored = 0
    with TestClient(app) as tc:

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(raw=candidate_events())
        def each(raw: bytes) -> None:
            nonlocal stored
            verdict = check_event(0, raw, now=datetime.now(UTC))
            r = tc.post(INGEST, content=raw, headers={"Content-Type": "application/json"})
            assert r.status_code < 500, (raw[:2000], r.text)
            if not isinstance(verdict, Accepted):
                assert r.status_code == 400 and r.json()["field"] == verdict.field, r.text
                return
            assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
            kind = "jobs" if verdict.event.entity_type == "job" else "subjobs"
            got = tc.get(f"/v1/{kind}/{verdict.event.entity_id}")
            assert got.status_code == 200, got.text
            stored += 1

        each()
        assert tc.post("/v1/admin/maintenance").status_code == 200
    print(f"stored {stored} of 150 examples")
    assert stored >= 50  # the strategy must reach accepted events, or the property proves nothing
