"""A schedule monitor declared from code (``monitor=``) travels in the job's started event under the
reserved metadata key ``wafermon.monitor``, beside the job's own metadata."""

from __future__ import annotations

import pytest
from conftest import FileSink

import wafermon

DECLARATION = {"schedule": "0 2 * * *", "tz": "Europe/Berlin", "max_runtime_s": 3600}


def _started(sink: FileSink) -> dict[str, object]:
    [started] = [e for e in sink.events() if e["event_kind"] == "started" and e["entity_type"] == "job"]
    return started


def test_wafermon_job_puts_the_monitor_on_the_started_event(default_sink: FileSink) -> None:
    with wafermon.job("nightly-backup", monitor=DECLARATION):
        pass
    assert _started(default_sink)["metadata"] == {"wafermon.monitor": DECLARATION}


def test_client_job_merges_the_monitor_into_the_metadata(sink: FileSink) -> None:
    with sink.client.job("nightly-backup", metadata={"recipe": "r7"}, monitor={"interval_s": 60, "name": "nb"}):
        pass
    assert _started(sink)["metadata"] == {"recipe": "r7", "wafermon.monitor": {"interval_s": 60, "name": "nb"}}


def test_as_a_decorator_too(default_sink: FileSink) -> None:
    @wafermon.job("hourly", monitor={"interval_s": 3600})
    def work() -> int:
        return 7

    assert work() == 7
    assert _started(default_sink)["metadata"] == {"wafermon.monitor": {"interval_s": 3600}}


def test_without_a_monitor_nothing_is_added(default_sink: FileSink) -> None:
    with wafermon.job("plain", metadata={"a": 1}, monitor=None):
        pass
    assert _started(default_sink)["metadata"] == {"a": 1}


def test_a_monitor_that_is_not_a_mapping_is_refused_in_our_words(default_sink: FileSink) -> None:
    with pytest.raises(wafermon.InvalidArgumentError, match="monitor must be a mapping"):
        wafermon.job("x", monitor="0 2 * * *")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="monitr"):
        wafermon.job("x", monitr={})  # type: ignore[call-overload]
