"""An array body and an NDJSON body of the same items get the same verdict per item.

Items come from wafermon_schema.samples: valid events and one of every kind of refused event (schema,
rules beyond it, encoding, malformed JSON, not an object, too big, too deep). The bulk of the examples
run in-process through validation.judge (what the ingest route calls), with the native check and
without it (the authority alone); one check runs over real HTTP against a real sidecar process."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import SidecarProc
from hypothesis import given, settings
from hypothesis import strategies as st

from wafermon_schema.samples import bad_items, good_item
from wafermon_sidecar import validation
from wafermon_sidecar.validation import batch

BAD = bad_items()
NOW = datetime.now(UTC)
KINDS = st.sampled_from(["good", *BAD])


def items_of(kinds: list[str]) -> list[bytes]:
    return [good_item() if kind == "good" else BAD[kind] for kind in kinds]


def both_forms(items: list[bytes]) -> tuple[bytes, bytes]:
    return b"[" + b",".join(items) + b"]", b"\n".join(items)


def verdict(body: bytes) -> tuple[int, list[dict[str, object]], bytes]:
    judged = validation.judge(body, NOW)
    return judged.accepted, [p.as_dict() for p in judged.problems], judged.payload


@pytest.fixture(params=["native", "authority"])
def fast_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """The native check in front (as built), or the authority alone."""
    saved = batch._native
    if request.param == "authority":
        batch._native = None
    try:
        yield str(request.param)
    finally:
        batch._native = saved


def test_every_kind_alone_beside_good_items(fast_path: str) -> None:
    for kind, bad in BAD.items():
        array, ndjson = both_forms([good_item(), bad, good_item()])
        accepted, problems, payload = verdict(array)
        assert (accepted, problems, payload) == verdict(ndjson), kind
        assert accepted == 2 and [(p["index"], p["field"]) for p in problems] == [(1, kind.split(":")[1])], kind


@settings(max_examples=300, deadline=None)
@given(kinds=st.lists(KINDS, min_size=1, max_size=8))
def test_property_same_verdict_per_item_in_process(kinds: list[str]) -> None:
    for native in (batch._native, None):
        saved = batch._native
        batch._native = native
        try:
            array, ndjson = both_forms(items_of(kinds))
            got = verdict(array)
            assert got == verdict(ndjson), kinds
            assert got[0] == kinds.count("good")
            assert [p["index"] for p in got[1]] == [i for i, k in enumerate(kinds) if k != "good"]
        finally:
            batch._native = saved


def fs_backend(out: Path) -> list[dict[str, Any]]:
    return [{"type": "filesystem", "name": "files", "config": {"path": str(out)}}]


def same_clock(text: str) -> Any:
    """The answer with the receiver's clock (in the future-`at` message) taken out: two requests differ."""
    return json.loads(re.sub(r"latest allowed [0-9T:.Z-]+", "latest allowed NOW", text))


def test_same_verdict_per_item_over_http(sidecar: Callable[..., SidecarProc], tmp_path: Path) -> None:
    sc = sidecar(fs_backend(tmp_path / "out"))
    for kinds in (["good", *BAD, "good"], list(BAD), ["good", "lone surrogate:event", "good"]):
        array, ndjson = both_forms(items_of(kinds))
        by_array = sc.post(array)
        by_ndjson = sc.post(ndjson, headers={"Content-Type": "application/x-ndjson"})
        assert (by_array.status_code, same_clock(by_array.text)) == (by_ndjson.status_code, same_clock(by_ndjson.text))
        assert by_array.status_code == (400 if "good" not in kinds else 207), by_array.text
        rejected = by_array.json()["rejected"]
        assert [(p["index"], p["field"]) for p in rejected] == [
            (i, k.split(":")[1]) for i, k in enumerate(kinds) if k != "good"
        ]
        assert all("`" not in p["message"] for p in rejected)  # our words, not the decoder's
