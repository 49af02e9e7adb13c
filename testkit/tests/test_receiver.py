"""The stand-in receiver answers and records as its docstring says: every test tree relies on it."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wafermon_testkit import Receiver, ingest_receiver

EVENTS = [{"event_id": f"e{i}", "metadata": {}} for i in range(3)]


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


def ndjson(events: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[Receiver]]:
    receivers: list[Receiver] = []
    yield receivers
    for receiver in receivers:
        receiver.stop()


def start(started: list[Receiver], receiver: Receiver) -> Receiver:
    started.append(receiver)
    receiver.start()
    return receiver


def test_ingest_contract_takes_ndjson_gzip_and_keeps_the_bytes(tmp_path: Path, started: list[Receiver]) -> None:
    r = start(started, ingest_receiver(tmp_path / "out"))
    body = b'{"event_id": "e0",  "x": 1.50}\n' + ndjson(EVENTS[1:])
    assert post(r.url + "/v1/ingest/events:batch", gzip.compress(body), {"Content-Encoding": "gzip"}) == (
        202,
        {"accepted": 3, "duplicates": 0, "rejected": []},
    )
    assert r.ndjson() == body  # the sender's bytes, spacing and number format included
    assert post(r.url + "/elsewhere", body)[0] == 404
    assert r.event_ids() == ["e0", "e1", "e2"]


def test_limits_modes_and_a_restart_on_the_same_port(tmp_path: Path, started: list[Receiver]) -> None:
    r = start(started, ingest_receiver(tmp_path / "out", max_events=2, mode="reject-second"))
    assert post(r.url + "/v1/ingest/events:batch", ndjson(EVENTS))[0] == 413
    status, answer = post(r.url + "/v1/ingest/events:batch", ndjson(EVENTS[:2]))
    assert status == 207 and [p["index"] for p in answer["rejected"]] == [1]
    assert r.event_ids() == ["e0"]
    port = r.port
    r.stop()
    r.start()
    assert r.port == port and r.event_ids() == ["e0"]  # the same port and file after a restart
    refusing = start(started, Receiver(tmp_path / "refused", mode="reject"))
    assert post(refusing.url + "/hook", json.dumps(EVENTS).encode())[0] == 400 and refusing.events() == []


def test_webhook_signature_and_gateway_stand_in(tmp_path: Path, started: list[Receiver]) -> None:
    hook = start(started, Receiver(tmp_path / "hook", secret="s3"))
    body = json.dumps(EVENTS[:1]).encode()
    signature = "sha256=" + hmac.new(b"s3", body, hashlib.sha256).hexdigest()
    assert post(hook.url + "/hook", body, {"X-Wafermon-Signature": signature})[0] == 200
    assert post(hook.url + "/hook", body, {"X-Wafermon-Signature": "sha256=00"}) == (
        200,
        {"accepted": 0, "duplicates": 1, "rejected": []},
    )
    assert hook.lines() == [("e0", "1"), ("e0", "0")]
    gateway = start(started, Receiver(tmp_path / "gw", gateway=True, api_key="k"))
    doc = {"events": [EVENTS[0], {"event_id": "bad", "metadata": {"reject": True}}], "source": "t"}
    assert post(gateway.url + "/v1/ingest/managed", json.dumps(doc).encode())[0] == 401
    status, answer = post(gateway.url + "/v1/ingest/managed", json.dumps(doc).encode(), {"Authorization": "Bearer k"})
    assert status == 200 and answer["accepted"] == 1 and answer["rejected"][0]["index"] == 1
    assert "bad" in answer["rejected"][0]["message"] and gateway.event_ids() == ["e0"]
