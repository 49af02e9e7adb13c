"""Bad input raises at the call, names the field, and emits nothing."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from conftest import FileSink, direct_config

import wafermon


def assert_nothing_emitted(sink: FileSink) -> None:
    assert sink.events() == []
    assert sink.client.stats()["emitted"] == 0


@pytest.mark.parametrize(
    ("metadata", "where"),
    [
        ({"ok": 1, "when": {1, 2}}, "metadata['when'] is a set"),
        ({"a": {"b": [1, object()]}}, "metadata['a']['b'][1] is a object"),
        ({"a": {3: "x"}}, "metadata['a']: key 3 is a int"),
        ({"x": math.nan}, "metadata['x'] is nan"),
        ({"x": [math.inf]}, "metadata['x'][0] is inf"),
        ({"x": {"y": 2**63}}, "metadata['x']['y'] is an integer outside the signed 64-bit range"),
        ({"x": -(2**70)}, "metadata['x'] is an integer outside the signed 64-bit range"),
        ({"x": {"a\0b": 1}}, "metadata['x']: key 'a\\x00b' contains a NUL"),
        ({"x": ["ok", "a\0"]}, "metadata['x'][1] contains a NUL"),
        ({"x": ["\udc80"]}, "metadata['x'][0] is not valid UTF-8"),
        ({"\ud800": 1}, "metadata: key '\\ud800' is not valid UTF-8"),
    ],
)
def test_non_json_metadata_names_the_key(sink: FileSink, metadata: dict[str, Any], where: str) -> None:
    with pytest.raises(wafermon.MetadataError) as info:
        sink.client.job("b", metadata=metadata)
    assert where in str(info.value)
    with pytest.raises(TypeError):  # also a TypeError, as json.dumps would raise
        sink.client.start("b", metadata=metadata)
    assert_nothing_emitted(sink)


def test_metadata_must_be_a_mapping(sink: FileSink) -> None:
    with pytest.raises(wafermon.MetadataError, match="must be a mapping"):
        sink.client.start("b", metadata=[1, 2])  # type: ignore[arg-type]
    assert_nothing_emitted(sink)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"business_key": 5}, "business_key"), ({"site_id": b"fab"}, "site_id")],
)
def test_wrong_types_name_the_field(sink: FileSink, kwargs: dict[str, Any], field: str) -> None:
    key = kwargs.pop("business_key", "b")
    with pytest.raises(wafermon.InvalidArgumentError, match=field):
        sink.client.job(key, **kwargs)
    assert_nothing_emitted(sink)


def test_bad_strings(sink: FileSink) -> None:
    with pytest.raises(wafermon.EncodingError, match="business_key contains a NUL"):
        sink.client.start("a\0b")
    with pytest.raises(wafermon.EncodingError, match="business_key is not valid UTF-8"):
        sink.client.start("bad \udc80")
    assert_nothing_emitted(sink)
    job = sink.client.start("b")
    with pytest.raises(wafermon.EncodingError, match="sub_key is not valid UTF-8"):
        job.subjob("\ud800")
    job.succeed()
    assert [e["event_kind"] for e in sink.events()] == ["started", "finished"]


def test_too_large_and_out_of_range(sink: FileSink) -> None:
    with pytest.raises(wafermon.TooLargeError, match="business_key is 300 bytes"):
        sink.client.start("k" * 300)
    with pytest.raises(wafermon.TooLargeError, match="metadata"):
        sink.client.start("b", metadata={"blob": "x" * 70000})
    assert_nothing_emitted(sink)
    job = sink.client.start("b")
    with pytest.raises(wafermon.InvalidArgumentError, match="progress must be between 0 and 1"):
        job.progress(1.5)
    with pytest.raises(wafermon.InvalidArgumentError, match="fraction must be a number"):
        job.progress("half")  # type: ignore[arg-type]
    with pytest.raises(wafermon.InvalidArgumentError, match=r"unknown|must be one of"):
        job.set_metric("gpu_s", 1.0)
    job.succeed()
    assert [e["event_kind"] for e in sink.events()] == ["started", "finished"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"mode": "sideways"}, '"mode" must be "sidecar" or "direct"'),
        ({"bogus": 1}, 'unknown key "bogus"'),
        ({"sidecar": {"url": "ftp://x"}}, '"sidecar.url" must start with http'),
        ({"queue": {"size": "big"}}, '"queue.size" must be an integer'),
        ({"mode": "direct"}, 'needs at least one entry in "direct_backends"'),
        ({"sdk": {"lang": "c"}}, '"sdk" is set by the Python SDK'),
        ({"app": {"name": {1, 2}}}, '"app" cannot be written as JSON'),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, config: dict[str, Any], message: str) -> None:
    with pytest.raises(wafermon.ConfigError) as info:
        wafermon.Client({"spool": {"path": str(tmp_path / "spool")}, **config})
    assert message in str(info.value)


def test_bad_config_file(tmp_path: Path) -> None:
    path = tmp_path / "wafermon.json"
    path.write_text('{"mode": "direct",')
    with pytest.raises(wafermon.ConfigError, match="invalid JSON"):
        wafermon.Client(path)
    with pytest.raises(wafermon.ConfigError, match="cannot read"):
        wafermon.Client(tmp_path / "missing.json")


def test_bad_configure_keeps_the_previous_default(default_sink: FileSink) -> None:
    before = wafermon.default_client()
    with pytest.raises(wafermon.ConfigError, match="batch_size"):
        wafermon.configure(default_sink.config, batch_size=0)
    assert wafermon.default_client() is before


def test_config_from_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "wafermon.json"
    path.write_text(json.dumps(direct_config(tmp_path)))
    with wafermon.Client(path) as client, client.job("from-file"):
        pass
    monkeypatch.setenv("WAFERMON_CONFIG", str(path))
    monkeypatch.setenv("WAFERMON_SITE_ID", "fab-env")
    with wafermon.Client() as client, client.job("from-env"):
        pass
    monkeypatch.setenv("WAFERMON_QUEUE_SIZE", "many")
    with pytest.raises(wafermon.ConfigError, match="WAFERMON_QUEUE_SIZE: must be an integer"):
        wafermon.Client()
    from conftest import read_jsonl_dir

    events = read_jsonl_dir(tmp_path / "out")
    assert [(e["business_key"], e["site_id"]) for e in events if e["event_kind"] == "finished"] == [
        ("from-file", "fab-test"),
        ("from-env", "fab-env"),
    ]
