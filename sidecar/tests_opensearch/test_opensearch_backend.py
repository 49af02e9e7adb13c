"""The elasticsearch backend against a real OpenSearch node (started once per session): a mixed
batch read back field by field, replays, a node stopped mid-stream, a permanently bad item."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opensearch_peer import OpenSearchNode
from sidecar_tests_conftest import SIDECAR_EXE, SidecarProc, wait_until
from stage_fixtures import ride_out_outage

from wafermon_sidecar.backends.elasticsearch import index_name, to_document
from wafermon_testkit.events import event, job_story


def es_backend(node: OpenSearchNode, prefix: str, **extra: Any) -> dict[str, Any]:
    return {"type": "elk", "name": "search", "config": {"elasticsearch_url": node.url, "index_prefix": prefix, **extra}}


def mixed_events() -> list[dict[str, Any]]:
    """Jobs with sub-jobs, a failed job, unicode and nested metadata, over two UTC days."""
    day1 = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)
    events = job_story(start=day1, subjobs=2, metadata={"recipe": "R-17", "lot": {"id": "L-9", "wafers": [1, 2]}})
    events += job_story(start=day1 + timedelta(hours=3), outcome="failed", app="gravure-ätz", site_id="fab-β")
    events.append(
        event(
            "finished", str(uuid.uuid4()), 1, day1, metadata={"operator": "Zoë 東京", "deep": {"a": {"b": {"c": 1.5}}}}
        )
    )
    return events


def test_mixed_batch_reads_back_field_by_field(sidecar: Callable[..., SidecarProc], opensearch: OpenSearchNode) -> None:
    events = mixed_events()
    sc = sidecar([es_backend(opensearch, "mixed")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("search") == 0, 60, "delivery to OpenSearch")
    assert sc.health()["backends"]["search"]["state"] == "ok"
    days = {index_name("mixed", e["at"]) for e in events}
    assert days == {"mixed-2026.03.01", "mixed-2026.03.02"}  # the event's own UTC day
    for e in events:
        doc = opensearch.get(f"/{index_name('mixed', e['at'])}/_doc/{e['event_id']}")
        assert doc["found"] and doc["_version"] == 1, doc
        source = doc["_source"]
        assert source == to_document(e)
        assert source["event"] == e
        assert source["timestamp"] == e["at"] and source["app_name"] == e["app"]["name"]
        assert source["site_id"] == e["site_id"] and source["status"] == e["status"]
        assert source["entity_type"] == e["entity_type"] and source["event_kind"] == e["event_kind"]
        for metric in ("duration_s", "cpu_user_s", "mem_max_mb"):
            assert source.get(metric) == (e.get("metrics") or {}).get(metric)
    mapping = opensearch.get("/mixed-2026.03.01/_mapping")["mixed-2026.03.01"]["mappings"]
    props = mapping["properties"]
    assert props["event_id"]["type"] == "keyword" and props["timestamp"]["type"] == "date"
    assert props["duration_s"]["type"] == "double"
    assert props["event"]["properties"]["metadata"]["type"] == "flat_object"
    opensearch.request("POST", "/mixed-*/_refresh")
    found = opensearch.request(
        "POST", "/mixed-*/_search", {"query": {"term": {"event.metadata.operator": "Zoë 東京"}}}
    )["hits"]["hits"]
    assert [h["_id"] for h in found] == [events[-1]["event_id"]]  # metadata is searchable


def test_replay_leaves_the_count_and_versions_unchanged(
    sidecar: Callable[..., SidecarProc], opensearch: OpenSearchNode
) -> None:
    events = mixed_events()
    sc = sidecar([es_backend(opensearch, "replay")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("search") == 0, 60, "first delivery")
    assert opensearch.count("replay-*") == len(events)
    assert sc.post(events).status_code == 202  # the same events again
    wait_until(lambda: sc.lag("search") == 0, 60, "the replay")
    backend = sc.health()["backends"]["search"]
    assert backend["state"] == "ok" and backend.get("dead_lettered_events", 0) == 0
    assert opensearch.count("replay-*") == len(events)
    versions = {opensearch.get(f"/{index_name('replay', e['at'])}/_doc/{e['event_id']}")["_version"] for e in events}
    assert versions == {1}  # create: refused as duplicates, never rewritten


def test_permanently_bad_item_is_dead_lettered_and_neighbours_delivered(
    sidecar: Callable[..., SidecarProc], opensearch: OpenSearchNode
) -> None:
    events = job_story(subjobs=1)
    # Lucene refuses a term over 32766 bytes: this metadata value can never be indexed.
    bad = event("finished", str(uuid.uuid4()), 1, datetime.now(UTC), metadata={"blob": "x" * 40000})
    batch = [*events[:2], bad, *events[2:]]
    sc = sidecar([es_backend(opensearch, "badone")])
    assert sc.post(batch).status_code == 202
    wait_until(lambda: sc.lag("search") == 0, 60, "delivery past the bad item")
    status = sc.health()["backends"]["search"]
    assert status["dead_lettered_events"] == 1
    lines = [json.loads(x) for x in (sc.spool_dir / "deadletter" / "search.jsonl").read_text().splitlines()]
    assert [x["event"]["event_id"] for x in lines] == [bad["event_id"]]
    assert "the cluster refused the document (HTTP 400)" in lines[0]["reason"]
    assert opensearch.count("badone-*") == len(events)
    for e in events:
        assert opensearch.get(f"/{index_name('badone', e['at'])}/_doc/{e['event_id']}")["found"]


def test_node_stopped_mid_stream_lags_alone_then_everything_arrives_once(
    sidecar: Callable[..., SidecarProc], opensearch: OpenSearchNode, tmp_path: Path
) -> None:
    sc = sidecar(
        [
            {"type": "filesystem", "name": "files", "config": {"path": str(tmp_path / "files")}},
            {**es_backend(opensearch, "outage", timeout=3), "name": "search"},
        ],
        ingest={"max_batch_size": 100},
    )
    everything = ride_out_outage(sc, "search", tmp_path / "files", opensearch.stop, opensearch.start).everything
    assert opensearch.count("outage-*") == len(everything)  # _id = event_id: once each
    docs = opensearch.request(
        "POST",
        "/_mget",
        {"docs": [{"_index": index_name("outage", e["at"]), "_id": e["event_id"]} for e in everything]},
    )["docs"]
    assert all(d["found"] and d["_version"] == 1 for d in docs)


def test_seed_elk_example_loads_with_check_config(tmp_path: Path) -> None:
    seed = {  # the seeds' `elk` integration example as written, the host name changed
        "type": "elk",
        "name": "elasticsearch",
        "enabled": True,
        "config": {
            "elasticsearch_url": "http://127.0.0.1:9200",
            "index_prefix": "wafer-monitor",
            "username": "elastic",
            "password": "changeme",
        },
    }
    api_key = {
        "type": "elk",
        "name": "keyed",
        "config": {"elasticsearch_url": "https://es:9200", "api_key": "${ES_KEY}"},
    }
    path = tmp_path / "sidecar.json"
    path.write_text(json.dumps({"spool": {"path": str(tmp_path / "spool")}, "backends": [seed, api_key]}))
    done = subprocess.run(
        [SIDECAR_EXE, "--config", str(path), "--check-config"],
        capture_output=True,
        text=True,
        env={"ES_KEY": "aWQ6a2V5"},
    )
    assert done.returncode == 0, done.stderr
    seed["config"]["index_prefix"] = "Wafer Monitor"  # a bad value: named in our own words
    path.write_text(json.dumps({"spool": {"path": str(tmp_path / "spool")}, "backends": [seed]}))
    done = subprocess.run([SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True)
    assert done.returncode != 0 and "config.index_prefix" in done.stderr and "elasticsearch" in done.stderr
