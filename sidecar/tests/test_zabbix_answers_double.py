"""The zabbix backend's handling of answers a real Zabbix 6.0 server cannot be made to give on demand
(a partly failed one-key request, a refused request, a garbled or missing answer), against a
protocol double: a TCP server speaking the sender protocol's framing, scripted per request."""

from __future__ import annotations

import asyncio
import json
import logging
import struct
from collections.abc import Callable
from typing import Any

import pytest
from zabbix_utils.common import ZabbixProtocol  # type: ignore[import-untyped]

from wafermon_sidecar.backends.base import Batch, PermanentError, TransientError
from wafermon_sidecar.backends.zabbix import ZabbixBackend, request_packet
from wafermon_sidecar.backends.zabbix_items import TrapperValue
from wafermon_testkit.events import job_story

Answer = Callable[[dict[str, Any]], bytes | None]  # request → answer packet, or None: hang up


def frame(body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    return struct.pack("<4sBII", b"ZBXD", 1, len(data), 0) + data


def counts(processed: int, failed: int) -> bytes:
    info = f"processed: {processed}; failed: {failed}; total: {processed + failed}; seconds spent: 0.000050"
    return frame({"response": "success", "info": info})


class SenderProtocolDouble:
    """Answers each request with `script(request)`; records every request's `data`."""

    def __init__(self, script: Answer) -> None:
        self.script = script
        self.requests: list[list[dict[str, Any]]] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"tcp://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        header = await reader.readexactly(13)
        assert header[:5] == b"ZBXD\x01", header  # the framing the protocol documents
        (length,) = struct.unpack("<I", header[5:9])
        request = json.loads(await reader.readexactly(length))
        assert request["request"] == "sender data"
        self.requests.append(request["data"])
        answer = self.script(request)
        if answer is not None:
            writer.write(answer)
            await writer.drain()
        writer.close()


def events() -> list[dict[str, Any]]:
    return job_story(progress_steps=0)  # started, finished (succeeded)


async def send(address: str, batch_events: list[dict[str, Any]], **config: Any) -> ZabbixBackend:
    backend = ZabbixBackend("zbx", {"zabbix_server": address, "host": "h", **config})
    await backend.initialize()
    await backend.send_batch(Batch([json.dumps(e).encode() for e in batch_events]))
    return backend


def test_partly_failed_one_key_request_dead_letters_its_events_as_ambiguous_double() -> None:
    three_jobs = [e for _ in range(3) for e in events()]

    def script(request: dict[str, Any]) -> bytes:
        data = request["data"]
        if data[0]["key"] == "wafer.job.started":
            return counts(len(data) - 1, 1)  # one of the three refused: which one, Zabbix does not say
        return counts(len(data), 0)

    async def run() -> PermanentError:
        double = SenderProtocolDouble(script)
        async with double as address:
            with pytest.raises(PermanentError) as caught:
                await send(address, three_jobs)
        assert {d[0]["key"] for d in double.requests} == {
            "wafer.job.started",
            "wafer.job.finished",
            "wafer.job.cpu_user_s",
            "wafer.job.cpu_sys_s",
            "wafer.job.mem_max_mb",
        }
        assert all(len({item["key"] for item in d}) == 1 for d in double.requests)  # one key per request
        assert len(double.requests) == 5  # nothing re-sent
        return caught.value

    error = asyncio.run(run())
    started = [i for i, e in enumerate(three_jobs) if e["event_kind"] == "started"]
    assert sorted(error.rejected) == started  # the finished events were delivered
    assert all("1 of 3 values for item 'wafer.job.started'" in error.rejected[i] for i in started)


def test_refused_request_dead_letters_with_the_servers_reason_double() -> None:
    refusal = frame({"response": "failed", "info": "cannot parse data"})

    async def run() -> PermanentError:
        async with SenderProtocolDouble(lambda _: refusal) as address:
            with pytest.raises(PermanentError) as caught:
                await send(address, events()[:1])
            return caught.value

    error = asyncio.run(run())
    assert list(error.rejected) == [0] and "cannot parse data" in error.rejected[0]


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (None, TransientError),  # hangs up without answering
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", TransientError),  # something else on the port
        (frame({"response": "success", "info": "all good"}), TransientError),  # no counts: retried
        (
            frame({"response": "success", "info": "processed: 1; failed: 0; total: 5; seconds spent: 0.1"}),
            PermanentError,
        ),
    ],
    ids=["hang-up", "not-zabbix", "no-counts", "wrong-total"],
)
def test_missing_or_garbled_answer_is_never_counted_as_delivered_double(
    answer: bytes | None, outcome: type[Exception]
) -> None:
    async def run() -> None:
        async with SenderProtocolDouble(lambda _: answer) as address:
            with pytest.raises(outcome) as caught:
                await send(address, events()[:1])
        if isinstance(caught.value, PermanentError):
            assert "answered for 5 values, 1 were sent" in caught.value.rejected[0]

    asyncio.run(run())


def test_silent_server_times_out_as_transient_double() -> None:
    async def run() -> None:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(30)

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            with pytest.raises(TransientError, match="TimeoutError"):
                await asyncio.wait_for(send(f"127.0.0.1:{port}", events()[:1], timeout=0.5), 10)
        finally:
            server.close()

    asyncio.run(run())


def test_values_taken_before_a_failure_are_not_sent_again_on_the_retry_double() -> None:
    batch = events()
    calls = {"n": 0}

    def script(request: dict[str, Any]) -> bytes | None:
        calls["n"] += 1
        if calls["n"] == 2:
            return None  # the second request of the first attempt gets no answer
        return counts(len(request["data"]), 0)

    async def run() -> list[list[dict[str, Any]]]:
        double = SenderProtocolDouble(script)
        async with double as address:
            backend = ZabbixBackend("zbx", {"zabbix_server": address, "host": "h"})
            await backend.initialize()
            raw = Batch([json.dumps(e).encode() for e in batch])
            with pytest.raises(TransientError):
                await backend.send_batch(raw)
            await backend.send_batch(raw)  # the worker's retry of the same batch
        return double.requests

    requests = asyncio.run(run())
    keys = [r[0]["key"] for r in requests]
    assert keys[0] == "wafer.job.started" and keys.count("wafer.job.started") == 1  # taken once, not re-sent
    assert keys[1] == keys[2] == "wafer.job.finished"  # the unanswered one is sent again
    assert len(keys) == 6  # started, finished ×2, cpu_user_s, cpu_sys_s, mem_max_mb


def test_request_framing_matches_zabbix_utils() -> None:
    """The backend frames requests itself (see zabbix.py); the bytes mean what the official library's do."""
    values = [TrapperValue("fab-β", "wafer.job.error", '{"m":"Zoë 東京\\n"}', 1760918399, 250000066)] * 3
    ours = request_packet(values)
    theirs = ZabbixProtocol.create_packet(
        {"request": "sender data", "data": [v.as_json() for v in values]}, logging.getLogger("test")
    )
    assert ours[:5] == theirs[:5] == b"ZBXD\x01"
    (length, reserved) = struct.unpack("<II", ours[5:13])
    assert length == len(ours) - 13 and reserved == 0
    assert json.loads(ours[13:]) == json.loads(theirs[13:])
