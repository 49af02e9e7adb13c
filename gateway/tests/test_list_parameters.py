"""The list and stream endpoints document exactly the query parameters they accept, each described.

Both sides come from one declaration (query.FILTERS, query.PAGING, routes/stream.STREAM_PARAMETERS): the
400 for an unknown parameter names the accepted ones, and /openapi.json lists the documented ones.
"""

from __future__ import annotations

import re

import httpx
import pytest

# Parsing does not depend on the store: SQLite only.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

# The stream takes the sub-job filters with kind=subjob; the lists each take their kind's own.
ENDPOINTS = [("/v1/jobs", ""), ("/v1/subjobs", ""), ("/v1/stream", "kind=subjob&")]


def _accepted(message: str) -> set[str]:
    match = re.fullmatch(r"unknown query parameter 'zz_unknown'; allowed: (.*)", message)
    assert match, message
    return set(match.group(1).split(", "))


@pytest.mark.parametrize(("path", "query"), ENDPOINTS)
async def test_documented_parameters_are_the_accepted_ones(client: httpx.AsyncClient, path: str, query: str) -> None:
    r = await client.get(f"{path}?{query}zz_unknown=1")
    assert r.status_code == 400
    assert r.json()["field"] == "zz_unknown"
    documented = (await client.get("/openapi.json")).json()["paths"][path]["get"]["parameters"]
    assert {p["name"] for p in documented} == _accepted(r.json()["error"])
    for p in documented:
        assert p["in"] == "query" and p["required"] is False, p
        assert p.get("description"), f"{path}: {p['name']} has no description"


async def test_the_job_list_does_not_document_the_sub_job_filters(client: httpx.AsyncClient) -> None:
    documented = (await client.get("/openapi.json")).json()["paths"]["/v1/jobs"]["get"]["parameters"]
    assert {"parent_id", "sub_key"}.isdisjoint(p["name"] for p in documented)
    r = await client.get("/v1/jobs?parent_id=00000000-0000-4000-8000-000000000000")
    assert r.status_code == 400 and r.json()["field"] == "parent_id"
