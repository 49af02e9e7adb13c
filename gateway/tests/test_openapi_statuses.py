"""The gateway's OpenAPI document: every documented (path, method, status) is produced by a request
here, every status these requests got is documented, and each JSON answer validates against the
schema documented for it.

A real gateway process answers everything but the store-outage 503s; those come from an in-process
app whose store methods raise ConnectionRefusedError (store_outage_stand_in), since reads from a
SQLite file cannot be made to fail from outside (the real-lock 503 of ingest is in
test_batches_metric.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from wafermon_testkit import sqlite_gateway
from wafermon_testkit.events import job_story
from wafermon_testkit.openapi import Operation, check_answer, documented

pytestmark = pytest.mark.slow
KEYS = [
    {"name": "producer", "key": "i" * 32, "scopes": ["ingest"]},
    {"name": "reader", "key": "r" * 32, "scopes": ["read"]},
    {"name": "ops", "key": "a" * 32, "scopes": ["admin"]},
]
INGEST, READ, ADMIN = ({"Authorization": "Bearer " + c * 32} for c in "ira")
Seen = set[Operation]
Sender = Callable[..., int]


@contextlib.contextmanager
def open_stream(url: str) -> Iterator[None]:
    """Holds one SSE connection open (in a thread) until the block ends."""
    connected, done = threading.Event(), threading.Event()

    def hold() -> None:
        with httpx.Client(timeout=30) as client, client.stream("GET", url + "/v1/stream", headers=READ) as r:
            assert r.status_code == 200
            connected.set()
            done.wait(60)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert connected.wait(30), "the first stream did not connect"
    try:
        yield
    finally:
        done.set()
        thread.join(30)


def real_process_statuses(tmp_path: Path, spec_out: list[dict[str, Any]]) -> Seen:
    seen: Seen = set()
    settings = {"api_keys": json.dumps(KEYS), "max_body_bytes": str(256 * 1024), "max_stream_clients": "1"}
    with sqlite_gateway(tmp_path, **settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        spec = client.get("/openapi.json").json()
        spec_out.append(spec)

        def send(method: str, path: str, url_path: str | None = None, **kwargs: Any) -> int:
            r = client.request(method.upper(), url_path or path, **kwargs)
            check_answer(spec, path, method, r.status_code, r.text)
            seen.add((path, method, r.status_code))
            return r.status_code

        story = job_story(subjobs=1)
        job_id = story[0]["entity_id"]
        subjob_id = next(e["entity_id"] for e in story if e["entity_type"] == "subjob")
        ingest = "/v1/ingest/managed"
        assert send("post", ingest, json=story, headers=INGEST) == 200
        assert send("post", ingest, content=b"not json", headers=INGEST) == 400
        assert send("post", ingest, json=story) == 401
        assert send("post", ingest, json=story, headers=READ) == 403
        assert send("post", ingest, content=b" " * (300 * 1024), headers=INGEST) == 413
        assert send("post", ingest, content=b"[]", headers=INGEST | {"Content-Encoding": "br"}) == 415
        for path, one in (("/v1/jobs", f"/v1/jobs/{job_id}"), ("/v1/subjobs", f"/v1/subjobs/{subjob_id}")):
            assert send("get", path, headers=READ) == 200
            assert send("get", path, params={"bogus": "1"}, headers=READ) == 400
            assert send("get", path) == 401
            assert send("get", path, headers=INGEST) == 403
            template = path + ("/{job_id}" if path == "/v1/jobs" else "/{subjob_id}")
            assert send("get", template, one, headers=READ) == 200
            assert send("get", template, path + "/not-a-uuid", headers=READ) == 400
            assert send("get", template, one) == 401
            assert send("get", template, one, headers=INGEST) == 403
            assert send("get", template, f"{path}/{uuid.uuid4()}", headers=READ) == 404
        stream = "/v1/stream"
        assert send("get", stream, params={"kind": "nope"}, headers=READ) == 400
        assert send("get", stream) == 401
        assert send("get", stream, headers=INGEST) == 403
        with open_stream(url):  # the one allowed client: the next is refused
            seen.add((stream, "get", 200))
            assert send("get", stream, headers=READ) == 503
        assert send("get", "/v1/healthz") == 200
        assert send("get", "/metrics", headers=READ) == 200
        assert send("get", "/metrics") == 401
        assert send("get", "/metrics", headers=INGEST) == 403
        maintenance = "/v1/admin/maintenance"
        assert send("post", maintenance, headers=ADMIN) == 200
        assert send("post", maintenance) == 401
        assert send("post", maintenance, headers=READ) == 403
        alerting_statuses(send, client)
        sidecar_statuses(send)
        dashboard_statuses(send)
    return seen


HOOK = {"name": "hook", "type": "webhook", "config": {"url": "http://127.0.0.1:9/never"}}
RULE = {"name": "fails", "kind": "job_failed", "notify": ["hook"]}
MONITOR = {"name": "hourly", "match": {"app": "backup"}, "schedule": {"interval_s": 3600}}
BIG = b" " * (300 * 1024)


def crud_statuses(send: Sender, base: str, body: dict[str, Any], reader: dict[str, str]) -> None:
    """Every status of one create/list/get/replace/delete family (rules, notifiers or monitors);
    reader is the key that may list and get (changes always need admin)."""
    item, one, name = base + "/{name}", f"{base}/{body['name']}", body["name"]
    outsider = INGEST if reader is READ else READ
    assert send("post", base, json=body, headers=ADMIN) == 201
    assert send("post", base, json=body, headers=ADMIN) == 409
    assert send("post", base, json={"name": name}, headers=ADMIN) == 400
    assert send("post", base, json=body) == 401
    assert send("post", base, json=body, headers=READ) == 403
    assert send("post", base, content=BIG, headers=ADMIN) == 413
    assert send("get", base, headers=reader) == 200
    assert send("get", base) == 401
    assert send("get", base, headers=outsider) == 403
    assert send("get", item, one, headers=reader) == 200
    assert send("get", item, one) == 401
    assert send("get", item, one, headers=outsider) == 403
    assert send("get", item, base + "/nobody", headers=reader) == 404
    assert send("put", item, one, json=body, headers=ADMIN) == 200
    assert send("put", item, base + "/other", json=body, headers=ADMIN) == 400  # name differs from the URL
    assert send("put", item, one, json=body) == 401
    assert send("put", item, one, json=body, headers=READ) == 403
    assert send("put", item, one, content=BIG, headers=ADMIN) == 413
    assert send("delete", item, one) == 401
    assert send("delete", item, one, headers=READ) == 403
    assert send("delete", item, base + "/nobody", headers=ADMIN) == 404


def alerting_statuses(send: Sender, client: httpx.Client) -> None:
    notifiers, rules, monitors = "/v1/alerting/notifiers", "/v1/alerting/rules", "/v1/monitors"
    crud_statuses(send, notifiers, HOOK, ADMIN)
    crud_statuses(send, rules, RULE, ADMIN)
    crud_statuses(send, monitors, MONITOR, READ)
    assert send("delete", notifiers + "/{name}", notifiers + "/hook", headers=ADMIN) == 409  # the rule uses it
    # A job_failed rule fires on a failed job: its alert can be read, acknowledged and silenced.
    assert send("post", "/v1/ingest/managed", json=job_story(outcome="failed"), headers=INGEST) == 200
    alerts, item = "/v1/alerts", "/v1/alerts/{alert_id}"
    deadline = time.monotonic() + 60  # generous: group_wait_s and a loaded machine
    while not (firing := client.get(alerts, params={"state": "firing"}, headers=READ).json()["alerts"]):
        assert time.monotonic() < deadline, "the job_failed rule did not fire"
        time.sleep(0.2)
    one, nobody = f"{alerts}/{firing[0]['alert_id']}", f"{alerts}/{uuid.uuid4()}"
    assert send("get", alerts, headers=READ) == 200
    assert send("get", alerts, params={"state": "asleep"}, headers=READ) == 400
    assert send("get", alerts) == 401
    assert send("get", alerts, headers=INGEST) == 403
    assert send("get", item, one, headers=READ) == 200
    assert send("get", item, one) == 401
    assert send("get", item, one, headers=INGEST) == 403
    assert send("get", item, nobody, headers=READ) == 404
    ack, silence = item + "/ack", item + "/silence"
    assert send("post", ack, one + "/ack") == 401
    assert send("post", ack, one + "/ack", headers=READ) == 403
    assert send("post", ack, nobody + "/ack", headers=ADMIN) == 404
    assert send("post", ack, one + "/ack", headers=ADMIN) == 200
    assert send("post", ack, one + "/ack", headers=ADMIN) == 409  # acknowledged already
    assert send("post", silence, one + "/silence", json={"duration_s": 60}, headers=ADMIN) == 200
    assert send("post", silence, one + "/silence", json={"duration_s": -1}, headers=ADMIN) == 400
    assert send("post", silence, one + "/silence", json={"duration_s": 60}) == 401
    assert send("post", silence, one + "/silence", json={"duration_s": 60}, headers=READ) == 403
    assert send("post", silence, nobody + "/silence", json={"duration_s": 60}, headers=ADMIN) == 404
    assert send("post", silence, one + "/silence", content=BIG, headers=ADMIN) == 413
    for method, path in (("get", "/v1/alerting/outbox"), ("post", "/v1/alerting/evaluate")):
        assert send(method, path, headers=ADMIN) == 200
        assert send(method, path) == 401
        assert send(method, path, headers=READ) == 403
    # Deleting in order: the rule, then its notifier; a new name through PUT is a 201.
    for base, body in ((rules, RULE), (notifiers, HOOK), (monitors, MONITOR)):
        assert send("delete", base + "/{name}", f"{base}/{body['name']}", headers=ADMIN) == 204
    for base, body in ((notifiers, HOOK), (rules, {**RULE, "notify": []}), (monitors, MONITOR)):
        assert send("put", base + "/{name}", f"{base}/{body['name']}", json=body, headers=ADMIN) == 201


HEARTBEAT = {"sidecar_id": "sc-1", "host": "tool-7", "version": "0.1.0", "uptime_s": 3.5, "interval_s": 30,
             "backends": [{"name": "gw", "type": "managed_api", "lag_events": 0, "lag_bytes": 0}]}  # fmt: skip


def sidecar_statuses(send: Sender) -> None:
    heartbeat, sidecars = "/v1/sidecars/heartbeat", "/v1/sidecars"
    assert send("post", heartbeat, json=HEARTBEAT, headers=INGEST) == 200
    assert send("post", heartbeat, json={**HEARTBEAT, "interval_s": 0}, headers=INGEST) == 400
    assert send("post", heartbeat, json=HEARTBEAT) == 401
    assert send("post", heartbeat, json=HEARTBEAT, headers=READ) == 403
    assert send("post", heartbeat, content=BIG, headers=INGEST) == 413
    assert send("get", sidecars, headers=READ) == 200
    assert send("get", sidecars) == 401
    assert send("get", sidecars, headers=INGEST) == 403


def dashboard_statuses(send: Sender) -> None:
    for path in ("/v1/stats/overview", "/v1/stats/history"):
        assert send("get", path, params={"app": "etch-line"}, headers=READ) == 200
        assert send("get", path, params={"bogus": "1"}, headers=READ) == 400
        assert send("get", path) == 401
        assert send("get", path, headers=INGEST) == 403


async def store_outage_stand_in_statuses(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]], spec: dict[str, Any]
) -> Seen:
    seen: Seen = set()
    client = await make_client()
    store = client.app.state.runtime.store  # type: ignore[attr-defined]

    async def down(*_args: Any) -> Any:
        raise ConnectionRefusedError(111, "Connection refused")

    # _run carries every SQLite statement of the alerting tables and the dashboard's aggregates.
    for name in ("ingest", "list_entities", "get_entity", "ping", "sweep", "changes", "latest_change", "_run"):
        setattr(store, name, down)
    jid = str(uuid.uuid4())
    rule = {**RULE, "notify": []}
    bodies: dict[str, Any] = {
        "/v1/ingest/managed": job_story(),
        "/v1/alerts/{alert_id}/silence": {"duration_s": 60},
        "/v1/alerting/rules": rule,
        "/v1/alerting/rules/{name}": rule,
        "/v1/alerting/notifiers": HOOK,
        "/v1/alerting/notifiers/{name}": HOOK,
        "/v1/monitors": MONITOR,
        "/v1/monitors/{name}": MONITOR,
        "/v1/sidecars/heartbeat": HEARTBEAT,
    }
    # Every operation that documents 503, on an existing-looking resource.
    names = {
        "/v1/alerting/rules/{name}": "fails",
        "/v1/alerting/notifiers/{name}": "hook",
        "/v1/monitors/{name}": "hourly",
    }
    params = {"/v1/stats/history": {"app": "etch-line"}}
    for path, method in sorted(
        (p, m) for p, ops in spec["paths"].items() for m, op in ops.items() if "503" in op["responses"]
    ):
        url_path = path.format(job_id=jid, subjob_id=jid, alert_id=jid, name=names.get(path, ""))
        body = json.dumps(bodies[path]).encode() if path in bodies else None
        request = client.request(method.upper(), url_path, content=body, params=params.get(path))
        r = await asyncio.wait_for(request, 60)
        assert r.status_code == 503, (path, r.text)
        check_answer(spec, path, method, r.status_code, r.text)
        seen.add((path, method, r.status_code))
    delattr(store, "_run")  # the store comes back, so the app's shutdown can close it
    return seen


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_every_documented_status_is_real_and_every_answer_is_documented(
    tmp_path: Path, make_client: Callable[..., Awaitable[httpx.AsyncClient]]
) -> None:
    specs: list[dict[str, Any]] = []
    seen = await asyncio.to_thread(real_process_statuses, tmp_path, specs)
    seen |= await store_outage_stand_in_statuses(make_client, specs[0])
    listed = documented(specs[0])
    assert seen == listed, {"undocumented": seen - listed, "never seen": listed - seen}
    assert not any(status == 422 for _, _, status in listed)
