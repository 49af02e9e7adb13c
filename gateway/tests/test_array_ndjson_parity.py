"""An array body and an NDJSON body of the same items get the same verdict per item at the gateway.

Items come from wafermon_schema.samples: valid events and one of every kind of refused event. The
bulk of the examples go to the in-process app (SQLite and PostgreSQL, the `backend` fixture); one
check goes over real HTTP to a real `wafermon-gateway` process."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_e2e import Gateway, gateway  # noqa: F401 - the fixture is used by name

from wafermon_gateway.app import create_app
from wafermon_gateway.settings import Settings
from wafermon_schema.samples import bad_items, good_item

INGEST = "/v1/ingest/managed"
BAD = bad_items()
KINDS = st.sampled_from(["good", *BAD])
NDJSON = {"Content-Type": "application/x-ndjson"}


def items_of(kinds: list[str]) -> list[bytes]:
    return [good_item() if kind == "good" else BAD[kind] for kind in kinds]


def both_forms(items: list[bytes]) -> tuple[bytes, bytes]:
    return b"[" + b",".join(items) + b"]", b"\n".join(items)


def answer(r: httpx.Response) -> tuple[int, int, Any]:
    """Status, events stored or already stored, and the rejected items (the receiver's clock taken out)."""
    body = json.loads(re.sub(r"latest allowed [0-9T:.Z-]+", "latest allowed NOW", r.text))
    return r.status_code, body.get("accepted", 0) + body.get("duplicates", 0), body.get("rejected")


def expected_rejected(kinds: list[str]) -> list[tuple[int, str]]:
    return [(i, k.split(":")[1]) for i, k in enumerate(kinds) if k != "good"]


def test_property_same_verdict_per_item_in_process(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings(), background_tasks=False)
    with TestClient(app) as tc:

        @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(kinds=st.lists(KINDS, min_size=1, max_size=8))
        def same(kinds: list[str]) -> None:
            array, ndjson = both_forms(items_of(kinds))
            by_array = answer(tc.post(INGEST, content=array, headers={"Content-Type": "application/json"}))
            by_ndjson = answer(tc.post(INGEST, content=ndjson, headers=NDJSON))
            assert by_array == by_ndjson, kinds
            assert by_array[0] == (200 if "good" in kinds else 400)
            assert by_array[1] == kinds.count("good")
            assert [(p["index"], p["field"]) for p in by_array[2]] == expected_rejected(kinds)

        same()


@pytest.mark.slow
def test_same_verdict_per_item_over_http(gateway: Gateway) -> None:  # noqa: F811
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        for kinds in (["good", *BAD, "good"], list(BAD)):
            array, ndjson = both_forms(items_of(kinds))
            by_array = answer(client.post(INGEST, content=array, headers={"Content-Type": "application/json"}))
            by_ndjson = answer(client.post(INGEST, content=ndjson, headers=NDJSON))
            assert by_array == by_ndjson, kinds
            assert [(p["index"], p["field"]) for p in by_array[2]] == expected_rejected(kinds)
            assert all("`" not in p["message"] for p in by_array[2])  # our words, not the decoder's


@pytest.mark.parametrize("pretty", [False, True])
async def test_an_envelope_item_is_judged_as_the_same_array_item(client: httpx.AsyncClient, pretty: bool) -> None:
    """The managed envelope too: an event the decoder refuses (a lone surrogate, broken JSON) is refused
    alone with its index; the envelope's own fields still apply."""
    kinds = ["good", "lone surrogate:event", "good", "malformed JSON:event", "invalid UTF-8:event", "good"]
    items = items_of(kinds)
    separator = b",\n  " if pretty else b","
    envelope = b'{"source": "x", "events": [' + separator.join(items) + b'], "site_id": "fab1"}'
    by_envelope = answer(await client.post(INGEST, content=envelope, headers={"Content-Type": "application/json"}))
    by_array = answer(await client.post(INGEST, content=both_forms(items)[0]))
    assert by_envelope[0] == 200 and by_envelope[2] == by_array[2]
    assert [(p["index"], p["field"]) for p in by_envelope[2]] == expected_rejected(kinds)
    wrong_site = envelope.replace(b'"site_id": "fab1"', b'"site_id": "fab9"')
    r = await client.post(INGEST, content=wrong_site)
    assert [(p["index"], p["field"]) for p in r.json()["rejected"]] == [
        (0, "site_id"), (1, "event"), (2, "site_id"), (3, "event"), (4, "event"), (5, "site_id")
    ]  # fmt: skip
    r = await client.post(INGEST, content=envelope.replace(b'"source"', b'"surprise"'))
    assert r.status_code == 400 and r.json()["field"] == "surprise"
