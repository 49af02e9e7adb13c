"""Circuit breaker, backoff, and configuration loading (file formats, ${ENV}, WAFERMON_* overrides)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from wafermon_sidecar.breaker import BreakerState, CircuitBreaker
from wafermon_sidecar.config import ConfigError, build_settings, load_settings
from wafermon_sidecar.delivery import backoff_delay


def test_breaker_closed_open_half_open_closed() -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_s=0.05, max_reset_s=0.2)
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and breaker.wait_s() > 0
    time.sleep(0.06)
    assert breaker.state is BreakerState.HALF_OPEN and breaker.wait_s() == 0
    breaker.record_failure()  # the trial failed: open again, for longer
    assert breaker.state is BreakerState.OPEN and breaker.reset_s == pytest.approx(0.1)
    time.sleep(0.11)
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.reset_s == pytest.approx(0.05)


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (10, 30.0), (60, 30.0)]:
        delays = {backoff_delay(attempt, 0.5, 30.0) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


def test_yaml_and_json_with_env_substitution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", "abc")
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text(
        "ingest: {port: 17001, max_batch_size: 50}\n"
        "spool: {path: /tmp/x, max_size_mb: 20}\n"
        "backends:\n"
        "  - type: webhook\n"
        "    config: {webhook_url: 'http://h/${MISSING_BUT_DEFAULTED:-x}', secret: '${HOOK_SECRET}'}\n"
    )
    settings = load_settings(yaml_file)
    assert settings.ingest.port == 17001 and settings.ingest.max_batch_size == 50
    assert settings.backends[0].name == "webhook"  # name defaults to the type
    assert settings.backends[0].config == {"webhook_url": "http://h/x", "secret": "abc"}
    json_file = tmp_path / "c.json"
    json_file.write_text('{"spool": {"path": "/tmp/y"}}')
    assert load_settings(json_file).ingest.port == 17000


def test_wafermon_env_overrides_and_cli_overrides() -> None:
    env = {
        "WAFERMON_SIDECAR_PORT": "17005",
        "WAFERMON_SIDECAR_HOST": "0.0.0.0",
        "WAFERMON_SIDECAR_TOKEN": "tok",
        "WAFERMON_SIDECAR_SPOOL_PATH": "/srv/spool",
        "WAFERMON_SIDECAR_SPOOL_MAX_SIZE_MB": "12.5",
        "WAFERMON_SIDECAR_MAX_BODY_BYTES": "2048",
        "WAFERMON_SIDECAR_LOG_LEVEL": "DEBUG",
    }
    s = build_settings({"ingest": {"port": 1}}, environ=env)
    assert (s.ingest.port, s.ingest.host, s.ingest.auth_token) == (17005, "0.0.0.0", "tok")
    assert (s.spool.path, s.spool.max_size_mb, s.ingest.max_body_bytes, s.log_level) == (
        "/srv/spool",
        12.5,
        2048,
        "DEBUG",
    )
    s = build_settings({}, environ=env, overrides={"ingest.port": 17009})
    assert s.ingest.port == 17009


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"ingest": {"prot": 1}}, "prot"),
        ({"ingest": {"port": "many"}}, "port"),
        ({"backends": [{"type": "filesystem", "name": "a b"}]}, "backends[0].name"),
        ({"backends": [{"type": "filesystem"}, {"type": "filesystem"}]}, "used twice"),
        ({"spool": {"enabled": False}}, "spool.enabled"),
        ({"backends": [{"type": "x", "config": {"k": "${NOPE_NOT_SET}"}}]}, "NOPE_NOT_SET"),
        ({"delivery": {"backoff_max_s": 30}}, "delivery.backoff_max_s must be at most 5 s"),
        ({"delivery": {"breaker_max_reset_s": 60}}, "delivery.breaker_max_reset_s must be at most 5 s"),
        ({"delivery": {"breaker_reset_s": 4, "breaker_max_reset_s": 2}}, "delivery.breaker_reset_s"),
        ({"ingest": {"max_batch_bytes": 10}}, "ingest.max_batch_bytes"),
        ({"backends": [{"type": "webhook", "max_batch_bytes": 10}]}, "backends[0].max_batch_bytes"),
    ],
)
def test_config_errors_name_the_key(doc: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_settings(doc, environ={})
    assert needle in str(err.value)
