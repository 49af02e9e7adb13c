"""wafermon_gateway_batches_total counts each ingest answer under the status actually sent, read from
the /metrics of a real gateway process (a 503 from a locked store once showed up as "500")."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from pathlib import Path

import httpx
import pytest

from wafermon_testkit import sqlite_gateway
from wafermon_testkit.events import job_story

pytestmark = pytest.mark.slow
INGEST = "/v1/ingest/managed"


def batches_by_status(metrics_text: str) -> dict[str, float]:
    found = re.findall(r'^wafermon_gateway_batches_total\{status="(\d+)"\} (\S+)$', metrics_text, re.M)
    return {status: float(count) for status, count in found}


def test_every_batch_is_counted_under_the_status_it_was_answered_with(tmp_path: Path) -> None:
    sent: list[int] = []
    with sqlite_gateway(tmp_path, api_keys='[{"name": "p", "key": "' + "k" * 32 + '", "scopes": ["admin"]}]') as url:
        auth = {"Authorization": "Bearer " + "k" * 32}
        with httpx.Client(base_url=url, timeout=60) as client:
            for headers, content in (
                (auth, httpx.Request("POST", "/", json=job_story()).content),  # 200
                (auth, b"not json"),  # 400
                ({}, b"[]"),  # 401
                (auth | {"Content-Encoding": "br"}, b"[]"),  # 415
            ):
                sent.append(client.post(INGEST, content=content, headers=headers).status_code)
            # Another writer holds the database: the store is unavailable and the gateway answers 503
            # once its busy timeout runs out.
            with contextlib.closing(sqlite3.connect(tmp_path / "gw.db", isolation_level=None)) as blocker:
                blocker.execute("BEGIN EXCLUSIVE")
                r = client.post(INGEST, json=job_story(), headers=auth)
                blocker.execute("ROLLBACK")
            assert r.status_code == 503, r.text
            sent.append(r.status_code)
            counted = batches_by_status(client.get("/metrics", headers=auth).text)
    assert sorted(sent) == [200, 400, 401, 415, 503]
    assert counted == {str(status): 1.0 for status in sent}, counted
