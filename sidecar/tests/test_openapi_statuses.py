"""The sidecar's OpenAPI document against a real sidecar: every documented (path, method, status) is
produced by a request here, every status these requests got is documented, and each JSON answer
validates against the schema documented for it."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable

from conftest import SidecarProc, make_events

from wafermon_testkit.openapi import check_answer, documented

TOKEN = "t" * 32
BATCH, ONE = "/v1/ingest/events:batch", "/v1/ingest/events"


def test_every_documented_status_is_real_and_every_answer_is_documented(
    sidecar: Callable[..., SidecarProc],
) -> None:
    # No backend: nothing frees the spool, so a small spool fills and ingest answers 503.
    sc = sidecar(
        [],
        ingest={"auth_token": TOKEN, "max_events_per_request": 50, "max_body_bytes": 65536},
        spool={"max_size_mb": 0.1},
    )
    spec = sc.client.get("/openapi.json").json()
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    seen: set[tuple[str, str, int]] = set()

    def send(method: str, path: str, content: bytes | None = None, headers: dict[str, str] | None = None) -> int:
        r = sc.client.request(method.upper(), path, content=content, headers=auth if headers is None else headers)
        check_answer(spec, path, method, r.status_code, r.text)
        seen.add((path, method, r.status_code))
        return r.status_code

    def events(n: int) -> bytes:
        return json.dumps(make_events(n)).encode()

    bad_event = json.dumps(make_events(1)[0] | {"at": "yesterday"}).encode()
    for path in (BATCH, ONE):
        one = json.dumps(make_events(1)[0]).encode()
        body = events(2) if path == BATCH else one
        assert send("post", path, body) == 202
        assert send("post", path, b"[" + one + b"," + bad_event + b"]" if path == BATCH else bad_event) in (207, 400)
        assert send("post", path, b"{not json") == 400
        assert send("post", path, body, {"Content-Type": "application/json"}) == 401
        assert send("post", path, body, auth | {"Authorization": "Bearer wrong"}) == 403
        assert send("post", path, body, auth | {"Content-Encoding": "br"}) == 415
        assert send("post", path, gzip.compress(body), auth | {"Content-Encoding": "gzip"}) == 202
    assert send("post", BATCH, events(51)) == 413  # over ingest.max_events_per_request
    assert send("post", ONE, b" " * (17 * 1024 * 1024)) == 413  # over ingest.max_body_bytes (64 KiB here)
    for path in (BATCH, ONE):  # fill the spool until it refuses
        body = events(50) if path == BATCH else json.dumps(make_events(1)[0]).encode()
        assert 503 in (send("post", path, body) for _ in range(1000)), f"{path} never answered 503"
    for path in ("/v1/healthz", "/v1/integrations", "/metrics", "/openapi.json"):
        assert send("get", path, headers={}) == 200

    assert seen == documented(spec), {"undocumented": seen - documented(spec), "never seen": documented(spec) - seen}
