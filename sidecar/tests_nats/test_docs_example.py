"""The nats example in docs/sidecar.md loads with --check-config as written, and delivers into the
real server once its address is pointed at the test's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nats_peer import NatsServer
from sidecar_tests_conftest import SidecarProc, make_events, wait_until
from stage_fixtures import checked_doc_example


def test_doc_example_checks_and_delivers(
    tmp_path: Path, sidecar: Callable[..., SidecarProc], nats_server: NatsServer
) -> None:
    config = checked_doc_example("nats", tmp_path, NATS_PASSWORD="s")
    # The same block against the test's server: plain TCP, no user (it has neither TLS nor accounts).
    backend = config["backends"][0]
    test_config = {**backend["config"], "servers": [nats_server.url]}
    for key in ("user", "password", "ca_file"):
        test_config.pop(key)
    sc = sidecar([{**backend, "config": test_config}])
    events = make_events(20)
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag(backend["name"]) == 0, 60, "delivery")
    info = nats_server.stream_info(test_config["stream"])
    assert info.state.messages == 20
    assert info.config.duplicate_window == test_config["duplicate_window_s"]
