"""The whole path: Python SDK (C core) -> sidecar -> gateway -> GET /v1/jobs and the SSE stream.

Uses the repository's other components as they are installed; skipped (with the reason) when the
SDK's compiled core or the sidecar is not available, so the gateway stage does not depend on them.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import free_port
from test_e2e import Gateway, collect, gateway  # noqa: F401 - the fixture is used by name

from wafermon_testkit import Service, clean_env
from wafermon_testkit.events import sdk_job_script

pytestmark = pytest.mark.slow
sdk = pytest.importorskip("wafermon._wafermon", reason="Python SDK core not built")
pytest.importorskip("wafermon_sidecar", reason="sidecar not installed")

JOB_SCRIPT = sdk_job_script("batch-e2e", "R-9")


@pytest.fixture
def sidecar(gateway: Gateway, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    port = free_port()
    config = {
        "ingest": {"host": "127.0.0.1", "port": port, "flush_interval": 0.05},
        "spool": {"path": str(tmp_path / "spool")},
        "backends": [{"type": "managed_api", "name": "gateway", "config": {"url": gateway.url}}],
    }
    (tmp_path / "sidecar.json").write_text(json.dumps(config))
    argv = [sys.executable, "-m", "wafermon_sidecar", "--config", str(tmp_path / "sidecar.json")]
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "sidecar.log"
    with Service(argv, url, log, env=clean_env(), ready=lambda status: status < 500, timeout=30, name="the sidecar"):
        yield url


async def test_sdk_to_sidecar_to_gateway(gateway: Gateway, sidecar: str, tmp_path: Path) -> None:  # noqa: F811
    def done(message: dict[str, Any]) -> bool:
        return bool(message["data"]["business_key"] == "batch-e2e" and message["data"]["status"] == "succeeded")

    live = asyncio.create_task(collect(gateway.url + "/v1/stream?kind=job", want=100, timeout=30, until=done))
    await asyncio.sleep(0.5)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAFERMON_")}
    env |= {"WAFERMON_MODE": "sidecar", "WAFERMON_SIDECAR_URL": sidecar, "WAFERMON_APP_NAME": "e2e-app",
            "WAFERMON_SPOOL_DIR": str(tmp_path / "sdk-spool")}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", JOB_SCRIPT], env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        job = None
        for _ in range(200):
            items = (await client.get("/v1/jobs", params={"business_key": "batch-e2e"})).json()["items"]
            if items and items[0]["status"] == "succeeded":
                job = items[0]
                break
            await asyncio.sleep(0.1)
        assert job is not None, "the job never reached the gateway as succeeded"
        assert job["site_id"] == "fab1" and job["app"]["name"] == "e2e-app"
        assert job["metrics"]["duration_s"] >= 0 and "cpu_user_s" in job["metrics"] and job["duration_s"] is not None
        detail = (await client.get(f"/v1/jobs/{job['id']}")).json()
        assert sorted(s["sub_key"] for s in detail["subjobs"]) == ["wafer-1", "wafer-2"]
        assert {s["status"] for s in detail["subjobs"]} == {"succeeded"}
    messages = await live
    statuses = [m["data"]["status"] for m in messages if m["data"]["id"] == job["id"]]
    assert statuses and statuses[-1] == "succeeded"


async def test_what_the_gateway_refuses_the_sidecar_refuses_first(
    gateway: Gateway,  # noqa: F811
    sidecar: str,
) -> None:
    """The issue's inputs (`at` 2026-13-45T99:99:99, a NUL, a heartbeat of 1e20, ...): the producer hears
    207 naming the field at the first hop, the good events beside them reach the gateway, and nothing is
    dead-lettered on the way (the sidecar and the gateway ask the same authority)."""
    from wafermon_schema.samples import bad_items, good_item

    bad = bad_items()
    goods = [good_item(), good_item()]
    body = b"\n".join([goods[0], *bad.values(), goods[1]])
    async with httpx.AsyncClient(base_url=sidecar, timeout=30) as client:
        r = await client.post("/v1/ingest/events:batch", content=body, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 207, r.text
    assert r.json()["accepted"] == 2
    assert [(p["index"], p["field"]) for p in r.json()["rejected"]] == [
        (i + 1, kind.split(":")[1]) for i, kind in enumerate(bad)
    ]
    wanted = {json.loads(g)["entity_id"] for g in goods}
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        for _ in range(200):
            found = {j["id"] for j in (await client.get("/v1/jobs", params={"limit": 100})).json()["items"]}
            if wanted <= found:
                break
            await asyncio.sleep(0.1)
        assert wanted <= found, "the valid events never reached the gateway"
    health = httpx.get(sidecar + "/v1/healthz", timeout=10).json()
    assert health["backends"]["gateway"]["dead_lettered_events"] == 0, health
