"""HTTP API in-process (httpx ASGITransport), the same cases on both stores."""

from __future__ import annotations

import gzip
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from wafermon_testkit.events import event, job_story, new_id

ClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]
INGEST = "/v1/ingest/managed"


async def post_events(client: httpx.AsyncClient, events: list[dict[str, Any]]) -> dict[str, Any]:
    r = await client.post(INGEST, json={"events": events, "source": "sidecar", "site_id": "fab1"})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


# --- ingest ----------------------------------------------------------------------------------


async def test_ingest_forms_envelope_array_ndjson_gzip(client: httpx.AsyncClient) -> None:
    a, b, c, d = (job_story() for _ in range(4))
    assert (await post_events(client, a))["accepted"] == len(a)
    r = await client.post(INGEST, content=orjson.dumps(b), headers={"Content-Type": "application/json"})
    assert r.json() == {"accepted": len(b), "duplicates": 0, "rejected": []}
    ndjson = b"\n".join(orjson.dumps(e) for e in c)
    r = await client.post(INGEST, content=ndjson, headers={"Content-Type": "application/x-ndjson"})
    assert r.json()["accepted"] == len(c)
    r = await client.post(INGEST, content=gzip.compress(orjson.dumps({"events": d})),
                          headers={"Content-Encoding": "gzip"})  # fmt: skip
    assert r.json()["accepted"] == len(d)
    r = await client.get("/v1/jobs?limit=10")
    assert len(r.json()["items"]) == 4


async def test_partial_batch_reports_rejected_by_index_and_field(client: httpx.AsyncClient) -> None:
    good = job_story()
    bad_type = dict(good[0], event_id=new_id(), seq="one")
    unknown = dict(good[0], event_id=new_id(), colour="blue")
    wrong_site = dict(good[0], event_id=new_id(), site_id="fab9")
    bad_date = dict(good[0], event_id=new_id(), at="2026-02-30T10:00:00.000000Z")
    future = dict(
        good[0], event_id=new_id(), at=(datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    )
    body = orjson.dumps({"events": [*good, bad_type, unknown, wrong_site, bad_date, future], "site_id": "fab1"})
    nul = body.replace(b'"recipe":"R-17"', b'"recipe":"R\\u0000"', 1)
    r = await client.post(INGEST, content=body)
    assert r.status_code == 200
    out = r.json()
    assert out["accepted"] == len(good)
    n = len(good)
    assert [(p["index"], p["field"]) for p in out["rejected"]] == [
        (n, "seq"), (n + 1, "colour"), (n + 2, "site_id"), (n + 3, "at"), (n + 4, "at")
    ]  # fmt: skip
    r = await client.post(INGEST, content=nul)
    assert r.status_code == 200 and r.json()["rejected"][0] == {
        "index": 0,
        "field": "metadata.recipe",
        "message": "metadata.recipe holds a NUL character (\\u0000), which no store can keep",
    }


@pytest.mark.parametrize(
    ("body", "headers", "status", "field"),
    [
        (b"", {}, 400, "body"),
        (b"{not json", {}, 400, "event"),
        (b"[1, 2", {}, 400, "body"),
        (b'{"events": 5}', {}, 400, "events"),
        (b'{"events": [], "extra": 1}', {}, 400, "extra"),
        (b'{"events": [], "site_id": 7}', {}, 400, "site_id"),
        (b"[{}]", {}, 400, "schema"),
        (b'["x"]', {}, 400, "event"),
        (b"null", {}, 400, "event"),
        (b"\xff\xfe", {}, 400, "event"),
        (b"[]", {"Content-Encoding": "br"}, 415, "Content-Encoding"),
        (b"not gzip", {"Content-Encoding": "gzip"}, 400, "Content-Encoding"),
        (gzip.compress(b"[]")[:-6], {"Content-Encoding": "gzip"}, 400, "Content-Encoding"),
    ],
)
async def test_bad_bodies_are_4xx_naming_the_problem(
    client: httpx.AsyncClient, body: bytes, headers: dict[str, str], status: int, field: str
) -> None:
    r = await client.post(INGEST, content=body, headers=headers)
    assert r.status_code == status, r.text
    out = r.json()
    assert out["field"] == field, out
    assert out["error"]


async def test_empty_array_is_fine(client: httpx.AsyncClient) -> None:
    r = await client.post(INGEST, content=b"[]")
    assert r.json() == {"accepted": 0, "duplicates": 0, "rejected": []}


async def test_size_limits(make_client: ClientFactory) -> None:
    client = await make_client(max_body_bytes=4096, max_decoded_bytes=8192, max_events_per_batch=3)
    r = await client.post(INGEST, content=b"[" + b" " * 5000 + b"]")
    assert r.status_code == 413 and r.json()["field"] == "body"
    bomb = gzip.compress(b"[" + b" " * 100_000 + b"]")
    assert len(bomb) < 4096
    r = await client.post(INGEST, content=bomb, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413 and "decompressed" in r.json()["error"]
    r = await client.post(INGEST, json=job_story(progress_steps=3))
    assert r.status_code == 413 and r.json()["field"] == "events"
    huge = event("started", new_id(), 0, datetime.now(UTC), metadata={"blob": "x" * 100_000})
    client2 = await make_client()
    r = await client2.post(INGEST, json=[huge])
    assert r.status_code == 400 and "limit is 98304" in r.json()["rejected"][0]["message"]


# --- queries ---------------------------------------------------------------------------------


async def seed(client: httpx.AsyncClient) -> dict[str, list[dict[str, Any]]]:
    now = datetime.now(UTC)
    stories = {
        "ok": job_story(start=now - timedelta(seconds=50), subjobs=2, site_id="fab1", app="etch", business_key="b-1"),
        "fail": job_story(start=now - timedelta(seconds=40), outcome="failed", site_id="fab1", app="litho",
                          business_key="b-2"),
        "run": job_story(start=now - timedelta(seconds=30), outcome=None, site_id="fab2", app="etch",
                         business_key="b-3"),
    }  # fmt: skip
    for story in stories.values():
        r = await client.post(INGEST, json=story)
        assert r.status_code == 200 and not r.json()["rejected"], r.text
    return stories


async def ids(client: httpx.AsyncClient, url: str) -> list[str]:
    r = await client.get(url)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


async def test_job_filters_and_sort(client: httpx.AsyncClient) -> None:
    s = await seed(client)
    ok, fail, run = (s[k][0]["entity_id"] for k in ("ok", "fail", "run"))
    assert await ids(client, "/v1/jobs") == [run, fail, ok]  # default -created_at
    assert await ids(client, "/v1/jobs?sort=created_at") == [ok, fail, run]
    assert await ids(client, "/v1/jobs?site_id=fab1") == [fail, ok]
    assert await ids(client, "/v1/jobs?app=etch") == [run, ok]
    assert await ids(client, "/v1/jobs?status=failed,running") == [run, fail]
    assert await ids(client, "/v1/jobs?status=failed&status=succeeded") == [fail, ok]
    assert await ids(client, "/v1/jobs?business_key=b-2") == [fail]
    assert await ids(client, "/v1/jobs?host=node-a&site_id=fab2") == [run]
    t = s["run"][0]["at"]
    assert await ids(client, f"/v1/jobs?until={t}") == [fail, ok]
    assert await ids(client, f"/v1/jobs?since={t}") == [run]
    assert await ids(client, "/v1/jobs?since=2999-01-01T00:00:00Z") == []
    subs = await client.get(f"/v1/subjobs?parent_id={ok}&sort=created_at")
    assert [i["sub_key"] for i in subs.json()["items"]] == ["wafer-0", "wafer-1"]
    assert await ids(client, "/v1/subjobs?sub_key=wafer-1") == [subs.json()["items"][1]["id"]]
    item = (await client.get("/v1/jobs?business_key=b-1")).json()["items"][0]
    assert item["status"] == "succeeded" and item["metrics"]["mem_max_mb"] == 512.0 and item["duration_s"] == 12.5


async def test_cursor_pagination_complete_and_stable_under_inserts(client: httpx.AsyncClient) -> None:
    base = datetime.now(UTC) - timedelta(minutes=5)
    all_ids = []
    for i in range(23):
        story = job_story(start=base + timedelta(seconds=i), progress_steps=0)
        all_ids.append(story[0]["entity_id"])
        await client.post(INGEST, json=story)
    seen: list[str] = []
    url = "/v1/jobs?limit=5&sort=-created_at"
    pages = 0
    while url:
        r = await client.get(url)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [i["id"] for i in body["items"]]
        pages += 1
        if pages == 2:  # newer jobs arrive while paging: they must not shift the pages
            for _ in range(3):
                await client.post(INGEST, json=job_story(progress_steps=0))
        cursor = body["next_cursor"]
        url = f"/v1/jobs?limit=5&sort=-created_at&cursor={cursor}" if cursor else ""
    assert seen == list(reversed(all_ids))
    assert pages == 5


async def test_limits_and_cursor_misuse(client: httpx.AsyncClient) -> None:
    await seed(client)
    r = await client.get("/v1/jobs?limit=1001")
    assert r.status_code == 400 and "1 to 1000" in r.json()["error"] and r.json()["field"] == "limit"
    r = await client.get("/v1/jobs?limit=1")
    cursor = r.json()["next_cursor"]
    r = await client.get(f"/v1/jobs?limit=1&sort=updated_at&cursor={cursor}")
    assert r.status_code == 400 and "different query" in r.json()["error"]
    r = await client.get(f"/v1/subjobs?cursor={cursor}")
    assert r.status_code == 400


async def test_job_detail_with_subjobs_and_timeline(client: httpx.AsyncClient) -> None:
    s = await seed(client)
    jid = s["ok"][0]["entity_id"]
    r = await client.get(f"/v1/jobs/{jid}")
    assert r.status_code == 200
    body = r.json()
    assert body["job"]["id"] == jid and body["job"]["status"] == "succeeded"
    assert len(body["subjobs"]) == 2 and not body["subjobs_truncated"]
    assert [t["event"]["event_id"] for t in body["timeline"]] == [
        e["event_id"] for e in sorted(s["ok"], key=lambda e: (e["at"], e["entity_type"], e["seq"]))
    ]
    sub = body["subjobs"][0]["id"]
    r = await client.get(f"/v1/subjobs/{sub}")
    assert r.status_code == 200 and r.json()["subjob"]["parent_id"] == jid
    assert (await client.get(f"/v1/jobs/{new_id()}")).status_code == 404
    r = await client.get("/v1/jobs/not-a-uuid")
    assert r.status_code == 400 and r.json()["field"] == "job_id"
    assert (await client.get(f"/v1/jobs/{jid}?x=1")).status_code == 400


async def test_liveness_visible_in_queries(make_client: ClientFactory) -> None:
    client = await make_client(heartbeat_s=1, lost_after_missed=1)
    jid = new_id()
    await client.post(INGEST, json=[event("started", jid, 0, datetime.now(UTC) - timedelta(seconds=0.5))])
    assert (await client.get(f"/v1/jobs/{jid}")).json()["job"]["status"] == "running"
    import asyncio

    await asyncio.sleep(0.6)
    r = await client.post("/v1/admin/maintenance")
    assert r.status_code == 200 and r.json()["liveness_changes"] == 1
    assert await ids(client, "/v1/jobs?status=lost") == [jid]


# --- operations ------------------------------------------------------------------------------


async def test_healthz_metrics_openapi(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/healthz")
    assert r.status_code == 200 and r.json()["store"]["reachable"] is True
    assert r.json()["ingest"]["lag_s"] is None
    await seed(client)
    r = await client.get("/v1/healthz")
    assert r.json()["ingest"]["lag_s"] >= 0 and r.json()["ingest"]["seconds_since_last_batch"] >= 0
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert 'wafermon_gateway_events_total{outcome="accepted"}' in r.text
    assert 'wafermon_gateway_http_requests_total{route="/v1/jobs",status="200"}' not in r.text
    await client.get("/v1/jobs")
    assert 'route="/v1/jobs",status="200"' in (await client.get("/metrics")).text
    spec = (await client.get("/openapi.json")).json()
    for path in ("/v1/ingest/managed", "/v1/jobs", "/v1/jobs/{job_id}", "/v1/subjobs", "/v1/stream", "/v1/healthz",
                 "/metrics"):  # fmt: skip
        assert path in spec["paths"], path
    assert any(p["name"] == "business_key" for p in spec["paths"]["/v1/jobs"]["get"]["parameters"])


async def test_healthz_reports_unreachable_store(client: httpx.AsyncClient) -> None:
    store = client.app.state.runtime.store  # type: ignore[attr-defined]

    async def broken() -> None:
        raise ConnectionError("database went away")

    store.ping = broken
    r = await client.get("/v1/healthz")
    assert r.status_code == 503 and r.json()["store"]["error"] == "ConnectionError: database went away"


# --- auth ------------------------------------------------------------------------------------

KEYS = [
    {"name": "sidecar", "key": "i" * 32, "scopes": ["ingest"]},
    {"name": "dash", "key": "r" * 32, "scopes": ["read"]},
    {"name": "ops", "key": "a" * 32, "scopes": ["admin"]},
]


@pytest.mark.parametrize(
    ("method", "path", "key", "status"),
    [
        ("POST", INGEST, None, 401),
        ("POST", INGEST, "wrong" * 8, 401),
        ("POST", INGEST, "r" * 32, 403),
        ("POST", INGEST, "i" * 32, 200),
        ("POST", INGEST, "a" * 32, 200),
        ("GET", "/v1/jobs", None, 401),
        ("GET", "/v1/jobs", "i" * 32, 403),
        ("GET", "/v1/jobs", "r" * 32, 200),
        ("GET", "/v1/subjobs", "a" * 32, 200),
        ("GET", "/metrics", "r" * 32, 200),
        ("GET", "/metrics", None, 401),
        ("GET", "/v1/stream", "i" * 32, 403),
        ("POST", "/v1/admin/maintenance", "r" * 32, 403),
        ("POST", "/v1/admin/maintenance", "a" * 32, 200),
        ("GET", "/v1/healthz", None, 200),
    ],
)
async def test_api_key_scopes(make_client: ClientFactory, method: str, path: str, key: str | None, status: int) -> None:
    client = await make_client(api_keys=KEYS)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    r = await client.request(method, path, headers=headers, content=b"[]" if method == "POST" else None)
    assert r.status_code == status, r.text
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer" and r.json()["field"] == "Authorization"


async def test_open_on_loopback_without_keys(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/jobs")).status_code == 200
    assert (await client.post(INGEST, content=b"[]")).status_code == 200


@pytest.mark.parametrize("depth", [500, 40_000])
async def test_deeply_nested_metadata(client: httpx.AsyncClient, depth: int) -> None:
    base = orjson.dumps(event("started", new_id(), 0, datetime.now(UTC)))
    raw = base.replace(b'"metadata":{', b'"metadata":{"deep":' + b"[" * depth + b"]" * depth + b",", 1)
    r = await client.post(INGEST, content=b"[" + raw + b"]")
    assert r.status_code < 500, r.text
    if depth > 10_000:
        assert r.status_code == 400 and "nested too deeply" in r.text
    r = await client.post(INGEST, content=b'{"events": ' + b"[" * depth + b"]" * depth + b"}")
    assert r.status_code == 400


async def test_store_outage_is_503_not_500(client: httpx.AsyncClient) -> None:
    store = client.app.state.runtime.store  # type: ignore[attr-defined]

    async def down(*_args: Any) -> Any:
        raise ConnectionRefusedError(111, "Connection refused")

    store.ingest = down
    store.list_entities = down
    r = await client.post(INGEST, json=job_story())
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert r.json()["error"] == "store unavailable: ConnectionRefusedError"
    assert (await client.get("/v1/jobs")).status_code == 503
