"""GET /v1/stats/overview and /v1/stats/history (the dashboard's aggregates) on both backends:
counts and series that match the ingested jobs, percentiles, errors by type, strict parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from wafermon_testkit.events import job_story

INGEST = "/v1/ingest/managed"


async def _ingest(client: httpx.AsyncClient, events: list[dict[str, object]]) -> None:
    r = await client.post(INGEST, content=orjson.dumps(events), headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text


async def test_overview_counts_series_and_top_apps(client: httpx.AsyncClient) -> None:
    start = datetime.now(UTC) - timedelta(minutes=30)
    events = []
    for n in range(3):
        events += job_story(start=start + timedelta(seconds=n), app="etch", site_id="fab1", outcome="succeeded")
    events += job_story(start=start, app="etch", site_id="fab2", outcome="failed")
    events += job_story(start=start, app="litho", site_id="fab2", outcome=None)
    events += job_story(start=start - timedelta(days=3), app="old", site_id="fab1")  # outside the window
    await _ingest(client, events)
    body = (await client.get("/v1/stats/overview?window=1h")).json()
    # The unfinished job has been silent for 30 min: lost.
    assert body["counts"] == {"running": 0, "succeeded": 3, "failed": 1, "cancelled": 0, "lost": 1, "orphaned": 0}
    assert {s["site_id"]: s["jobs"] for s in body["by_site"]} == {"fab1": 3, "fab2": 2}
    apps = {a["app"]: a for a in body["by_app"]}
    assert set(apps) == {"etch", "litho"} and apps["etch"]["failure_rate"] == pytest.approx(0.25)
    assert sum(p["jobs"] for p in body["series"]) == 5 and sum(p["counts"]["failed"] for p in body["series"]) == 1
    assert [a["app"] for a in body["most_failing_apps"]] == ["etch"]
    assert body["slowest_apps"][0]["app"] == "etch" and body["slowest_apps"][0]["mean_duration_s"] == 12.5
    fab2 = (await client.get("/v1/stats/overview?window=1h&site_id=fab2")).json()
    assert fab2["counts"]["failed"] == 1 and fab2["counts"]["succeeded"] == 0


async def test_history_percentiles_and_errors_by_type(client: httpx.AsyncClient) -> None:
    start = datetime.now(UTC) - timedelta(days=2)
    events = []
    for n, duration in enumerate((10.0, 20.0, 30.0, 40.0)):
        metrics = {"duration_s": duration, "cpu_user_s": duration / 2, "cpu_sys_s": 1.0, "mem_max_mb": 100.0 * (n + 1)}
        story = job_story(start=start + timedelta(minutes=n), app="etch", outcome="failed" if n == 3 else "succeeded")
        story[-1]["metrics"] = metrics
        events += story
    await _ingest(client, events)
    body = (await client.get("/v1/stats/history?app=etch&window=7d&bucket=week")).json()
    points = [p for p in body["series"] if p["jobs"]]
    assert sum(p["jobs"] for p in points) == 4 and sum(p["failed"] for p in points) == 1
    if len(points) == 1:  # the four jobs fall in one week unless the run straddles a Monday
        # By app: from the hourly pre-aggregate's histograms, within 2.2 % (the maximum: a bin's upper edge).
        (p,) = points
        assert p["duration_p50"] == pytest.approx(25.0, rel=0.022) and p["duration_p95"] == pytest.approx(
            38.5, rel=0.022
        )
        assert p["cpu_p50"] == pytest.approx(13.5, rel=0.022) and 400.0 <= p["mem_max"] <= 400.0 * 1.045
    assert body["errors"] == [{"kind": "job", "type": "RuntimeError", "count": 1}]
    # By business key: exact, from the jobs themselves.
    body = (await client.get("/v1/stats/history?business_key=batch-1&window=7d&bucket=week")).json()
    points = [p for p in body["series"] if p["jobs"]]
    assert sum(p["jobs"] for p in points) == 4
    if len(points) == 1:
        (p,) = points
        assert p["duration_p50"] == pytest.approx(25.0) and p["duration_p95"] == pytest.approx(38.5)
        assert p["cpu_p50"] == pytest.approx(13.5) and p["mem_max"] == pytest.approx(400.0)
    assert body["errors"] == [{"kind": "job", "type": "RuntimeError", "count": 1}]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("/v1/stats/overview?bogus=1", "bogus"),
        ("/v1/stats/overview?window=24x", "window"),
        ("/v1/stats/overview?since=yesterday", "since"),
        ("/v1/stats/overview?window=1h&since=2026-01-01T00:00:00Z", "window"),
        ("/v1/stats/overview?window=99999d", "since"),
        ("/v1/stats/history?window=7d", "app"),
        ("/v1/stats/history?app=a&bucket=month", "bucket"),
        ("/v1/stats/history?app=a&window=400d&bucket=hour", "bucket"),
    ],
)
async def test_bad_parameters_are_400_naming_the_field(client: httpx.AsyncClient, query: str, field: str) -> None:
    r = await client.get(query)
    assert r.status_code == 400 and r.json()["field"] == field, r.text


async def test_stats_need_the_read_scope(make_client: object) -> None:
    keys = [{"name": "ing", "key": "k-ingest-0123456789", "scopes": ["ingest"]},
            {"name": "rd", "key": "k-read-0123456789ab", "scopes": ["read"]}]  # fmt: skip
    client = await make_client(api_keys=keys)  # type: ignore[operator]
    assert (await client.get("/v1/stats/overview")).status_code == 401
    r = await client.get("/v1/stats/overview", headers={"Authorization": "Bearer k-ingest-0123456789"})
    assert r.status_code == 403
    r = await client.get("/v1/stats/overview", headers={"Authorization": "Bearer k-read-0123456789ab"})
    assert r.status_code == 200
    assert (await client.get("/ui/")).status_code == 200  # the page itself holds no data
