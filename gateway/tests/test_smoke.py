from __future__ import annotations

import httpx

from wafermon_testkit.events import job_story


async def test_ingest_and_list(client: httpx.AsyncClient) -> None:
    events = job_story(subjobs=2)
    r = await client.post("/v1/ingest/managed", json={"events": events, "source": "sidecar", "site_id": "fab1"})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": len(events), "duplicates": 0, "rejected": []}
    r = await client.get("/v1/jobs")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == 1 and items[0]["status"] == "succeeded", items
    r = await client.post("/v1/ingest/managed", json=events)
    assert r.json() == {"accepted": 0, "duplicates": len(events), "rejected": []}
