"""End to end against real `wafermon-gateway` processes (SQLite and PostgreSQL): HTTP ingest, job
queries, the SSE stream live and resumed, replays that change no row, clean shutdown, bind policy."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from conftest import free_port

from wafermon_testkit import Service, clean_env, console_script
from wafermon_testkit.events import job_story

pytestmark = pytest.mark.slow
EXE = console_script("wafermon-gateway")


class Gateway:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, dsn: str, sqlite_path: Path) -> None:
        self.proc, self.url, self.dsn, self.sqlite_path = proc, url, dsn, sqlite_path

    async def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        tables = ("apps", "jobs", "subjobs", "events", "schema_migrations")
        if self.dsn:
            conn = await asyncpg.connect(self.dsn)
            try:
                return {t: sorted(tuple(map(str, r.values())) for r in await conn.fetch(f"SELECT * FROM {t}"))
                        for t in tables}  # fmt: skip
            finally:
                await conn.close()
        with contextlib.closing(sqlite3.connect(self.sqlite_path)) as db:
            return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall()) for t in tables}


@pytest.fixture
def gateway(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Gateway]:
    dsn = request.getfixturevalue("pg_database") if backend == "postgres" else ""
    port = free_port()
    env = clean_env(WAFERMON_GATEWAY_SQLITE_PATH=str(tmp_path / "gw.db"), WAFERMON_GATEWAY_STREAM_KEEPALIVE_S="1")
    if dsn:
        env["WAFERMON_DATABASE_URL"] = dsn
    url = f"http://127.0.0.1:{port}"
    service = Service([EXE, "--port", str(port)], url, tmp_path / "gateway.log", env=env, name="the gateway").start()
    assert service.proc is not None
    try:
        yield Gateway(service.proc, url, dsn, tmp_path / "gw.db")
    finally:
        code = service.stop(15)
    # uvicorn re-raises SIGTERM after a clean shutdown, so -15 is a normal exit here.
    text = service.log()
    assert code in (0, -15) and "Application shutdown complete" in text and "Traceback" not in text, text


async def sse(url: str, headers: dict[str, str] | None = None) -> AsyncIterator[dict[str, Any]]:
    """Parse an SSE response into {id, event, data} messages."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=30)) as client, client.stream(
        "GET", url, headers=headers or {}
    ) as response:  # fmt: skip
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        message: dict[str, Any] = {}
        async for line in response.aiter_lines():
            if not line:
                if "data" in message:
                    yield message
                message = {}
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(": ")
            message[key] = orjson.loads(value) if key == "data" else value


async def collect(
    url: str,
    want: int,
    headers: dict[str, str] | None = None,
    timeout: float = 20,
    until: Callable[[dict[str, Any]], bool] | None = None,
) -> list[Any]:
    """SSE messages until `want` arrived (or one satisfies `until`), or the timeout."""
    got: list[dict[str, Any]] = []

    async def run() -> None:
        async for message in sse(url, headers):
            got.append(message)
            if len(got) >= want or (until is not None and until(message)):
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(run(), timeout)
    return got


async def test_end_to_end(gateway: Gateway) -> None:
    job = job_story(subjobs=2, progress_steps=1, outcome=None)
    finished = job_story(job[0]["entity_id"], progress_steps=1)[-1]
    finished["at"] = max(e["at"] for e in job)
    jid = job[0]["entity_id"]
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        # a live subscriber sees the job as it happens
        live = asyncio.create_task(collect(gateway.url + "/v1/stream?kind=job", want=2))
        await asyncio.sleep(0.5)
        r = await client.post("/v1/ingest/managed", json={"events": job, "source": "sidecar", "site_id": "fab1"})
        assert r.json() == {"accepted": len(job), "duplicates": 0, "rejected": []}
        r = await client.get("/v1/jobs", params={"site_id": "fab1"})
        assert [(j["id"], j["status"]) for j in r.json()["items"]] == [(jid, "running")]
        await asyncio.sleep(0.3)
        r = await client.post("/v1/ingest/managed", json=[finished])
        assert r.json()["accepted"] == 1
        messages = await live
        assert [(m["event"], m["data"]["id"], m["data"]["status"]) for m in messages] == [
            ("job", jid, "running"), ("job", jid, "succeeded")
        ]  # fmt: skip
        # GET /v1/jobs shows the final status and metrics
        item = (await client.get("/v1/jobs")).json()["items"][0]
        assert item["status"] == "succeeded" and item["metrics"] == finished["metrics"] and item["duration_s"] == 12.5
        detail = (await client.get(f"/v1/jobs/{jid}")).json()
        assert len(detail["subjobs"]) == 2 and len(detail["timeline"]) == len(job) + 1
        # a reconnecting client resumes after the last id it saw (Last-Event-ID) and gets the rest
        first_id = messages[0]["id"]
        resumed = await collect(gateway.url + "/v1/stream", want=1, headers={"Last-Event-ID": first_id}, timeout=5)
        assert resumed and resumed[-1]["data"]["status"] == "succeeded" and int(resumed[0]["id"]) > int(first_id)
        replayed_all = await collect(gateway.url + "/v1/stream?after=0&kind=subjob", want=2, timeout=5)
        assert {m["data"]["parent_id"] for m in replayed_all} == {jid}
        # replaying every batch twice changes no row
        before = await gateway.dump()
        for _ in range(2):
            r = await client.post("/v1/ingest/managed", json={"events": job, "source": "sidecar", "site_id": "fab1"})
            assert r.json() == {"accepted": 0, "duplicates": len(job), "rejected": []}
            assert (await client.post("/v1/ingest/managed", json=[finished])).json()["duplicates"] == 1
        assert await gateway.dump() == before
        assert len(before["events"]) == len(job) + 1 and len(before["jobs"]) == 1 and len(before["subjobs"]) == 2
        metrics = (await client.get("/metrics")).text
        assert f'wafermon_gateway_events_total{{outcome="duplicate"}} {2.0 * (len(job) + 1)}' in metrics


async def test_stream_rejects_bad_filters_and_sql(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=5) as client:
        for params in ({"status": "'; DROP TABLE jobs; --"}, {"kind": "jobs"}, {"since": "1 OR 1=1"},
                       {"parent_id": "x"}, {"after": "-1"}, {"bogus": "1"}):  # fmt: skip
            r = await client.get("/v1/stream", params=params)
            assert r.status_code == 400 and r.json()["error"], (params, r.text)
    # a free-text filter with SQL in it is just a value: the stream opens and shows nothing of it
    job = job_story()
    task = asyncio.create_task(
        collect(gateway.url + "/v1/stream?site_id=%27%3B%20DROP%20TABLE%20jobs%3B--", 1, timeout=3)
    )
    await asyncio.sleep(0.3)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=5) as client:
        await client.post("/v1/ingest/managed", json=job)
        assert await task == []
        assert len((await client.get("/v1/jobs")).json()["items"]) == 1


def test_non_loopback_without_keys_refuses_to_start(tmp_path: Path) -> None:
    env = clean_env(WAFERMON_GATEWAY_SQLITE_PATH=str(tmp_path / "x.db"))
    done = subprocess.run([EXE, "--host", "0.0.0.0", "--port", str(free_port())], env=env,
                          capture_output=True, timeout=30)  # fmt: skip
    assert done.returncode == 2
    assert b"refusing to listen on 0.0.0.0 without API keys" in done.stderr
    done = subprocess.run([EXE, "--config", str(tmp_path / "missing.toml")], env=env, capture_output=True,
                          timeout=30)  # fmt: skip
    assert done.returncode == 2 and b"cannot read config file" in done.stderr


async def test_sigterm_with_open_stream_exits_promptly(tmp_path: Path) -> None:
    env = clean_env(WAFERMON_GATEWAY_SQLITE_PATH=str(tmp_path / "s.db"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    service = Service([EXE, "--port", str(port)], url, tmp_path / "gateway.log", env=env, name="the gateway").start()
    proc = service.proc
    assert proc is not None
    try:
        stream = asyncio.create_task(collect(url + "/v1/stream", want=1, timeout=60))
        await asyncio.sleep(0.5)
        started = time.monotonic()
        proc.terminate()
        code = await asyncio.to_thread(proc.wait, 30)
        assert time.monotonic() - started < 15 and code in (0, -15)
        # the client sees the connection end (EventSource then reconnects) instead of hanging
        with contextlib.suppress(httpx.RemoteProtocolError):
            await stream
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
