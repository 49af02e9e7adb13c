"""A job's metadata survives the events after `started`: the SDKs send metadata only when a job
starts and `{}` on every later event (core/src/encode.c), which used to replace it (the job detail
showed `{}`) and, with it, the job's declared heartbeat."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import httpx
import orjson
from test_reducer import facts

from wafermon_gateway.reducer import fold
from wafermon_testkit.events import event, new_id

TREE = {"recipe": "etch-7", "tool": {"id": "ETCH-03", "chamber": [1, 2]}, "wafermon.heartbeat_s": 5}


def _story(jid: str, start: datetime) -> list[dict[str, object]]:
    return [
        event("started", jid, 0, start, metadata=TREE),
        event("progress", jid, 1, start + timedelta(seconds=1), progress=0.5, metadata={}),
        event("finished", jid, 2, start + timedelta(seconds=2), metadata={}),
    ]


def test_empty_metadata_on_later_events_keeps_the_started_metadata_in_any_order() -> None:
    jid = new_id()
    for order in itertools.permutations(_story(jid, datetime.now(UTC))):
        state = fold(None, [facts(e) for e in order])
        assert state is not None
        assert state.metadata == TREE and state.heartbeat_s == 5.0


def test_newer_non_empty_metadata_still_replaces_older() -> None:
    jid = new_id()
    start = datetime.now(UTC)
    story = [*_story(jid, start), event("progress", jid, 3, start + timedelta(seconds=3), metadata={"step": 2})]
    for order in itertools.permutations(story):
        state = fold(None, [facts(e) for e in order])
        assert state is not None and state.metadata == {"step": 2} and state.heartbeat_s is None


async def test_job_detail_returns_the_nested_metadata(client: httpx.AsyncClient) -> None:
    jid = new_id()
    events = _story(jid, datetime.now(UTC) - timedelta(seconds=10))
    r = await client.post(
        "/v1/ingest/managed", content=orjson.dumps(events), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 200, r.text
    detail = (await client.get(f"/v1/jobs/{jid}")).json()
    assert detail["job"]["metadata"] == TREE
    listed = (await client.get("/v1/jobs")).json()["items"]
    assert [j["metadata"] for j in listed if j["id"] == jid] == [TREE]
