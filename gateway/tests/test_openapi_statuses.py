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
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from helpers import job_story
from process import sqlite_gateway

pytestmark = pytest.mark.slow
KEYS = [
    {"name": "producer", "key": "i" * 32, "scopes": ["ingest"]},
    {"name": "reader", "key": "r" * 32, "scopes": ["read"]},
    {"name": "ops", "key": "a" * 32, "scopes": ["admin"]},
]
INGEST, READ, ADMIN = ({"Authorization": "Bearer " + c * 32} for c in "ira")
Seen = set[tuple[str, str, int]]


def documented(spec: dict[str, Any]) -> Seen:
    return {
        (path, method, int(status))
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for status in operation["responses"]
    }


def check_answer(spec: dict[str, Any], path: str, method: str, r: httpx.Response) -> None:
    """The answer's status is documented and its JSON body validates against that status's schema."""
    answer = spec["paths"][path][method]["responses"].get(str(r.status_code))
    assert answer is not None, f"{method.upper()} {path} answered undocumented {r.status_code}: {r.text}"
    schema = answer.get("content", {}).get("application/json", {}).get("schema")
    if schema is not None:
        jsonschema.validate(r.json(), {"components": spec["components"], **schema},
                            cls=jsonschema.Draft202012Validator)  # fmt: skip


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
            check_answer(spec, path, method, r)
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
    return seen


async def store_outage_stand_in_statuses(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]], spec: dict[str, Any]
) -> Seen:
    seen: Seen = set()
    client = await make_client()
    store = client.app.state.runtime.store  # type: ignore[attr-defined]

    async def down(*_args: Any) -> Any:
        raise ConnectionRefusedError(111, "Connection refused")

    for name in ("ingest", "list_entities", "get_entity", "ping", "sweep", "changes", "latest_change"):
        setattr(store, name, down)
    jid = str(uuid.uuid4())
    for method, path, url_path in (
        ("post", "/v1/ingest/managed", None),
        ("get", "/v1/jobs", None),
        ("get", "/v1/subjobs", None),
        ("get", "/v1/jobs/{job_id}", f"/v1/jobs/{jid}"),
        ("get", "/v1/subjobs/{subjob_id}", f"/v1/subjobs/{jid}"),
        ("get", "/v1/stream", None),
        ("get", "/v1/healthz", None),
        ("post", "/v1/admin/maintenance", None),
    ):
        body = json.dumps(job_story()).encode() if path.startswith("/v1/ingest") else None
        r = await asyncio.wait_for(client.request(method.upper(), url_path or path, content=body), 60)
        assert r.status_code == 503, (path, r.text)
        check_answer(spec, path, method, r)
        seen.add((path, method, r.status_code))
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
