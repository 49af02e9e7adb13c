"""The elasticsearch backend's per-item handling of `_bulk` answers, against a bulk-answer TEST DOUBLE
(an aiohttp server replaying recorded OpenSearch 2.19 item answers): a real cluster cannot be made to
answer 429 or 503 for chosen items on demand. The real-cluster tests are in sidecar/tests_opensearch."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from test_http_client import Pki, pki, serve, server_tls  # noqa: F401  (pki: a fixture)

from wafermon_sidecar.backends import Batch, PermanentError, TransientError
from wafermon_sidecar.backends.elasticsearch import ElasticsearchBackend
from wafermon_sidecar.config import build_settings
from wafermon_testkit.events import event

# Item answers as OpenSearch 2.19.6 gave them (trimmed to the fields the backend reads).
CREATED = {"status": 201, "result": "created"}
DUPLICATE = {"status": 409, "error": {"type": "version_conflict_engine_exception", "reason": "document already exists"}}
BUSY = {"status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "rejected execution"}}
UNAVAILABLE = {
    "status": 503,
    "error": {"type": "unavailable_shards_exception", "reason": "primary shard is not active"},
}
BLOCKED = {
    "status": 403,
    "error": {"type": "cluster_block_exception", "reason": "index [x] blocked by: [FORBIDDEN/8/index write (api)]"},
}
BAD = {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "failed to parse field [x]"}}

Decide = Callable[[int, str], dict[str, Any]]  # (call number, event id) → item answer


def run_against_bulk_double(decide: Decide, batches: list[Batch]) -> tuple[list[list[str]], list[BaseException | None]]:
    """Sends each batch once through the backend; returns the event ids of every `_bulk` request and
    what each send_batch raised (None: delivered)."""
    requests: list[list[str]] = []

    async def bulk(request: web.Request) -> web.Response:
        lines = (await request.read()).decode().splitlines()
        ids = [json.loads(line)["create"]["_id"] for line in lines[::2]]
        requests.append(ids)
        items = [{"create": {"_id": i, **decide(len(requests), i)}} for i in ids]
        return web.json_response({"took": 1, "errors": True, "items": items})

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"acknowledged": True})

    async def main() -> list[BaseException | None]:
        app = web.Application()
        app.router.add_post("/_bulk", bulk)
        app.router.add_put("/_index_template/{name}", ok)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        backend = ElasticsearchBackend(
            "es", {"elasticsearch_url": f"http://127.0.0.1:{port}", "metadata_type": "flat_object", "item_retries": 2}
        )
        await backend.initialize()
        outcomes: list[BaseException | None] = []
        for batch in batches:
            try:
                await backend.send_batch(batch)
                outcomes.append(None)
            except (TransientError, PermanentError) as exc:
                outcomes.append(exc)
        await backend.close()
        await runner.cleanup()
        return outcomes

    return requests, asyncio.run(main())


def make_batch(n: int) -> tuple[Batch, list[str]]:
    events = [event("started", str(uuid.uuid4()), 0, datetime.now(UTC)) for _ in range(n)]
    return Batch([json.dumps(e).encode() for e in events]), [e["event_id"] for e in events]


def test_bulk_double_retries_only_the_429_403_and_5xx_items() -> None:
    batch, ids = make_batch(6)
    flaky = {ids[1]: BUSY, ids[3]: BLOCKED, ids[4]: UNAVAILABLE}
    requests, outcomes = run_against_bulk_double(
        lambda call, i: flaky.get(i, CREATED) if call == 1 else CREATED, [batch]
    )
    assert outcomes == [None]
    assert requests == [ids, [ids[1], ids[3], ids[4]]]  # the good items were not sent again


def test_bulk_double_dead_letters_4xx_items_alone_and_counts_409_as_delivered() -> None:
    batch, ids = make_batch(4)
    answers = {ids[0]: DUPLICATE, ids[2]: BAD}
    requests, outcomes = run_against_bulk_double(lambda call, i: answers.get(i, CREATED), [batch])
    assert requests == [ids]
    error = outcomes[0]
    assert isinstance(error, PermanentError) and list(error.rejected) == [2]
    assert "HTTP 400" in error.rejected[2] and "mapper_parsing_exception" in error.rejected[2]


def test_bulk_double_items_still_busy_after_retries_raise_transient_and_the_taken_are_not_resent() -> None:
    batch, ids = make_batch(5)
    requests, outcomes = run_against_bulk_double(
        lambda call, i: BUSY if i == ids[3] and call <= 3 else CREATED, [batch, batch]
    )
    first, second = outcomes
    assert isinstance(first, TransientError) and "1 of 5" in str(first) and "es_rejected_execution" in str(first)
    assert second is None
    assert requests == [ids, [ids[3]], [ids[3]], [ids[3]]]  # the worker's retry sent only the busy one


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"index_prefix": "Upper"}, "config.index_prefix"),
        ({"index_prefix": "_hidden"}, "config.index_prefix"),
        ({"username": "elastic"}, "config.username and config.password"),
        ({"api_key": "k", "username": "u", "password": "p"}, "config.api_key"),
        ({"elasticsearch_url": "es:9200"}, "config.elasticsearch_url"),
        ({"index_prefx": "x"}, "index_prefx"),
    ],
)
def test_bad_config_names_the_key(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match="backend 'es'") as info:
        ElasticsearchBackend("es", {"elasticsearch_url": "http://127.0.0.1:9200", **config})
    assert key in str(info.value)


@pytest.mark.parametrize(
    ("auth", "header"),
    [
        ({"username": "elastic", "password": "${ES_PASSWORD}"}, "Basic ZWxhc3RpYzpjaGFuZ2VtZQ=="),
        ({"api_key": "${ES_PASSWORD}"}, "ApiKey changeme"),
    ],
)
def test_bulk_double_over_https_with_a_ca_file_and_auth(pki: Pki, auth: dict[str, str], header: str) -> None:  # noqa: F811
    seen: list[tuple[str, str | None]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append((request.path, request.headers.get("Authorization")))
        if request.path == "/_bulk":
            lines = (await request.read()).decode().splitlines()
            items = [{"create": {"_id": json.loads(a)["create"]["_id"], **CREATED}} for a in lines[::2]]
            return web.json_response({"took": 1, "errors": False, "items": items})
        return web.json_response({"version": {"distribution": "opensearch", "number": "2.19.6"}})

    async def run() -> None:
        async with serve(handle, server_tls(pki, require_client_cert=False)) as port:
            block = {"elasticsearch_url": f"https://127.0.0.1:{port}", "ca_file": str(pki.ca), **auth}
            settings = build_settings(
                {"backends": [{"type": "elk", "config": block}]}, environ={"ES_PASSWORD": "changeme"}
            )
            backend = ElasticsearchBackend("es", settings.backends[0].config)
            await backend.initialize()
            try:
                await backend.send_batch(make_batch(3)[0])
            finally:
                await backend.close()
            assert backend.metadata_type == "flat_object"  # asked of the cluster's GET /

    asyncio.run(run())
    assert [path for path, _ in seen] == ["/", "/_index_template/wafermon-events", "/_bulk"]
    assert {auth_header for _, auth_header in seen} == {header}


def test_bulk_double_answering_no_json_is_a_transient_error_that_says_so() -> None:
    async def run() -> str:
        async def handle(request: web.Request) -> web.Response:
            return web.Response(text="<html>gateway page</html>", content_type="text/html")

        async with serve(handle) as port:
            backend = ElasticsearchBackend("es", {"elasticsearch_url": f"http://127.0.0.1:{port}"})
            await backend.initialize()
            try:
                await backend.send_batch(make_batch(2)[0])
            except TransientError as exc:
                return str(exc)
            finally:
                await backend.close()
        return "delivered"

    message = asyncio.run(run())
    assert "answered something other than a JSON object" in message and "gateway page" in message
