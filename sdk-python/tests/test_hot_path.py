"""The C hot path (wafermon._speedups: wafermon.job, JobScope.__enter__/__exit__, the Job handle)
behaves exactly as the Python API it stands in for: same checks and errors, same events."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
from conftest import FileSink

import wafermon
from wafermon import _speedups


def kinds(sink: FileSink) -> list[tuple[str, str | None]]:
    return [(e["event_kind"], e.get("status")) for e in sink.events()]


def test_job_is_the_c_function_with_the_documented_signature() -> None:
    import inspect

    assert wafermon.job is _speedups.job
    assert str(inspect.signature(wafermon.job)) == "(business_key=None, /, *, site_id=None, metadata=None, client=None)"
    assert "with wafermon.job" in (wafermon.job.__doc__ or "")


def test_scope_from_c_and_from_python_emit_the_same(sink: FileSink) -> None:
    with wafermon.job("k", site_id="fab9", metadata={"a": [1, "ü"]}, client=sink.client) as job:
        assert isinstance(job, wafermon.Job)
        assert job.business_key == "k" and job.sub_key is None and job.parent is None
        assert job.client is sink.client
    with wafermon.JobScope("k", site_id="fab9", metadata={"a": [1, "ü"]}, client=sink.client):
        pass
    started = [e for e in sink.events() if e["event_kind"] == "started"]
    assert len(started) == 2
    for event in started:
        assert (event["business_key"], event["site_id"], event["metadata"]) == ("k", "fab9", {"a": [1, "ü"]})


def test_empty_metadata_and_none_values(sink: FileSink) -> None:
    with wafermon.job(None, site_id=None, metadata={}, client=sink.client):
        pass
    event = sink.events()[0]
    assert event["business_key"] is None and event["metadata"] == {}
    assert event["site_id"] == "fab-test"  # the configured site


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((5,), {}, wafermon.InvalidArgumentError, "business_key must be a str"),
        (("k",), {"site_id": b"fab"}, wafermon.InvalidArgumentError, "site_id must be a str"),
        (("a\0b",), {}, wafermon.EncodingError, "business_key contains a NUL"),
        (("bad \udc80",), {}, wafermon.EncodingError, "business_key is not valid UTF-8"),
        (("k",), {"site_id": "\ud800"}, wafermon.EncodingError, "site_id is not valid UTF-8"),
        (("k",), {"metadata": [1]}, wafermon.MetadataError, "must be a mapping"),
        (("k",), {"metadata": {"x": object()}}, wafermon.MetadataError, "metadata"),
        (("k",), {"site": "fab"}, TypeError, "unexpected keyword argument 'site'"),
        (("k", "fab"), {}, TypeError, "positional argument"),
    ],
)
def test_bad_arguments_raise_at_the_call_and_emit_nothing(
    sink: FileSink, args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        wafermon.job(*args, client=sink.client, **kwargs)
    with pytest.raises(error, match=match):
        sink.client.job(*args, **kwargs)
    assert sink.events() == []


def test_bare_decorator_goes_through_the_python_fallback(sink: FileSink) -> None:
    wafermon.configure(sink.config)
    try:

        @wafermon.job
        def nightly_report() -> int:
            return 7

        assert nightly_report() == 7
        wafermon.flush(10)
    finally:
        wafermon.shutdown(5)
    keys = {e["business_key"] for e in sink.events(flush=False)}
    assert any(k and k.endswith("nightly_report") for k in keys)


def test_closed_client_raises_closed_error(sink: FileSink) -> None:
    scope = sink.client.job("k")
    sink.client.close(5)
    with pytest.raises(wafermon.ClosedError, match="closed"), scope:
        pass


def test_failure_and_reentry_pop_in_order(sink: FileSink) -> None:
    scope = sink.client.job("outer")
    with scope as first:
        with scope as second:
            assert first is not second
        with pytest.raises(ValueError, match="boom"), scope:
            raise ValueError("boom")
    with pytest.raises(RuntimeError, match="exited more often than entered"):
        scope.__exit__(None, None, None)
    finished = [e for e in sink.events() if e["event_kind"] == "finished"]
    assert [e["status"] for e in finished] == ["succeeded", "failed", "succeeded"]
    assert finished[1]["error"]["type"] == "ValueError"


def test_handle_owned_by_the_c_type(sink: FileSink) -> None:
    job = sink.client.start("k")
    ref = weakref.ref(job)  # the compatibility layer keeps weak references to jobs
    assert job._ptr == job._ptr  # made once, cached
    assert int(wafermon._native.ffi.cast("uintptr_t", job._ptr)) == job._addr
    assert job in [o for o in gc.get_objects() if type(o) is wafermon.Job]  # the exit scan sees it
    del job
    gc.collect()
    assert ref() is None
    # A handle collected while running is finished as cancelled by the core.
    assert kinds(sink) == [("started", "running"), ("finished", "cancelled")]


def test_job_core_refuses_a_null_address(sink: FileSink) -> None:
    with pytest.raises(ValueError, match="address must not be 0"):
        wafermon.Job(0, sink.client, "k", None, None)
