"""Properties: any JSON-able metadata round-trips through the C encoder, and every event the SDK
emits validates against the conformance schema (wafermon_schema, the fast validator, and the
JSON Schema file itself)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import FileSink, read_jsonl_dir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wafermon_schema.validate import check_batch

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "conformance/schema/event-v1.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

# Lone surrogates are not UTF-8, and NUL is refused by the core's JSON parser: test_bad_input
# covers both; every other character is fair game.
CHARS = st.characters(codec="utf-8", exclude_characters="\0")
text = st.text(CHARS, max_size=20)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=12
)
metadata = st.dictionaries(text, json_values, max_size=6)
keys = st.none() | st.text(CHARS, min_size=1, max_size=40)


@pytest.fixture(scope="module")
def shared_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FileSink]:
    sink = FileSink(tmp_path_factory.mktemp("props"))
    yield sink
    sink.client.close(5)


def emitted_for(sink: FileSink, job_id: str) -> list[dict[str, Any]]:
    sink.client.flush(10)
    return [e for e in read_jsonl_dir(sink.dir) if e["entity_id"] == job_id]


def assert_valid(event: dict[str, Any]) -> None:
    accepted, problems = check_batch(json.dumps(event).encode())
    assert problems == [] and len(accepted) == 1, problems
    VALIDATOR.validate(event)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(meta=metadata, progress_meta=metadata, finish_meta=metadata)
def test_metadata_round_trips_through_the_c_encoder(
    shared_sink: FileSink, meta: dict[str, Any], progress_meta: dict[str, Any], finish_meta: dict[str, Any]
) -> None:
    job = shared_sink.client.start("prop", metadata=meta)
    job.progress(None, progress_meta)
    job.succeed(finish_meta)
    started, progress, finished = emitted_for(shared_sink, job.id)
    assert started["metadata"] == meta
    assert progress["metadata"] == progress_meta
    assert finished["metadata"] == finish_meta


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    business_key=keys,
    sub_key=keys,
    site=st.none() | st.text(CHARS, min_size=1, max_size=30),
    fraction=st.none() | st.floats(0, 1),
    outcome=st.sampled_from(["succeed", "fail", "cancel", "exception"]),
    meta=metadata,
)
def test_every_emitted_event_validates(
    shared_sink: FileSink,
    business_key: str | None,
    sub_key: str | None,
    site: str | None,
    fraction: float | None,
    outcome: str,
    meta: dict[str, Any],
) -> None:
    try:
        with shared_sink.client.job(business_key, site_id=site, metadata=meta) as job:
            sub = job.subjob(sub_key, metadata=meta)
            sub.progress(fraction, meta)
            sub.heartbeat()
            if outcome == "succeed":
                sub.succeed(meta)
            elif outcome == "fail":
                sub.fail("Custom.Error", "message ✓ with unicode", meta)
            elif outcome == "cancel":
                sub.cancel(meta)
            else:
                raise LookupError(f"broken {business_key!r}")
    except LookupError:
        pass
    events = emitted_for(shared_sink, job.id) + emitted_for(shared_sink, sub.id)
    assert len(events) >= 5
    for event in events:
        assert_valid(event)
