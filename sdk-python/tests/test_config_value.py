"""The configuration as the core resolved it (``Client.config_value``), and the queue-full
contract: with ``queue.when_full = "drop"`` an emit into a full queue is counted, never raised."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import direct_config

import wafermon


def test_config_value_is_the_layered_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "wafermon.json"
    file.write_text(json.dumps({"exit_flush_timeout": 0.7, "queue": {"size": 77}, "batch_size": 9}))
    monkeypatch.setenv("WAFERMON_CONFIG", str(file))
    monkeypatch.setenv("WAFERMON_QUEUE_SIZE", "78")
    config = {**direct_config(tmp_path), "batch_size": 11}
    del config["exit_flush_timeout"]
    with wafermon.Client(config) as client:
        assert client.exit_flush_timeout == 0.7  # from the file: the core did the layering
        assert client.config_value("queue.size") == 78  # the variable beats the file
        assert client.config_value("batch_size") == 11  # the caller beats both
        assert client.config_value("queue.when_full") == "spool"  # the default
        assert client.config_value("sidecar.token") is None
        assert client.config_value("direct_backends[0].path") == str(tmp_path / "out")
        with pytest.raises(wafermon.ConfigError, match=r'unknown key "queue\.colour"'):
            client.config_value("queue.colour")
    with pytest.raises(wafermon.ClosedError):
        client.config_value("mode")


def test_exit_flush_timeout_follows_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAFERMON_EXIT_FLUSH_TIMEOUT", "1.25")
    config = direct_config(tmp_path)
    del config["exit_flush_timeout"]
    with wafermon.Client(config) as client:
        assert client.exit_flush_timeout == 1.25


def test_queue_full_with_drop_is_counted_not_raised(tmp_path: Path) -> None:
    # A batch larger than the queue and a long interval: nothing drains until the flush.
    config = {
        **direct_config(tmp_path),
        "queue": {"size": 5, "when_full": "drop"},
        "batch_size": 1000,
        "flush_interval": 60,
    }
    with wafermon.Client(config) as client:
        for _ in range(10):  # 20 events into a queue of 5: no QueueFullError from any of them
            with client.job("dropping"):
                pass
        stats = client.stats()
        assert (stats["emitted"], stats["dropped"]) == (5, 15)
        client.flush(10)
        assert client.stats()["delivered"] == 5
