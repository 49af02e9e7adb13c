"""GET /v1/jobs?business_key_contains=: case-insensitive substring search on both backends, with
the user's % and _ taken literally (not as LIKE wildcards), and a clear 400 for a too-short text."""

from __future__ import annotations

import httpx
import orjson
import pytest

from wafermon_testkit.events import job_story

KEYS = ("LOT-100%", "lot-100x", "lot_2", "lot-2", "lotX2", "wafer\\9", "other")


async def _keys(client: httpx.AsyncClient, query: str) -> set[str]:
    r = await client.get(f"/v1/jobs?{query}")
    assert r.status_code == 200, r.text
    return {j["business_key"] for j in r.json()["items"]}


async def test_contains_is_case_insensitive_and_wildcards_are_literal(client: httpx.AsyncClient) -> None:
    events = [e for key in KEYS for e in job_story(business_key=key)]
    r = await client.post(
        "/v1/ingest/managed", content=orjson.dumps(events), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 200, r.text
    assert await _keys(client, "business_key_contains=lot-100") == {"LOT-100%", "lot-100x"}
    assert await _keys(client, "business_key_contains=100%25") == {"LOT-100%"}  # % is not "anything"
    assert await _keys(client, "business_key_contains=t_2") == {"lot_2"}  # _ is not "any one character"
    assert await _keys(client, "business_key_contains=r%5C9") == {"wafer\\9"}  # a backslash is literal too
    assert await _keys(client, "business_key_contains=LOT") == {"LOT-100%", "lot-100x", "lot_2", "lot-2", "lotX2"}
    assert await _keys(client, "business_key_contains=lot&business_key=lot-2") == {"lot-2"}
    assert await _keys(client, "business_key_contains=nothing") == set()


@pytest.mark.parametrize("value", ["ab", "x" * 257, "lot%0A"])
async def test_bad_search_text_is_400_naming_the_parameter(client: httpx.AsyncClient, value: str) -> None:
    r = await client.get(f"/v1/jobs?business_key_contains={value}")
    assert r.status_code == 400 and r.json()["field"] == "business_key_contains", r.text
