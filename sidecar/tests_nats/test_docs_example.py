"""The nats example in docs/sidecar.md loads with --check-config as written, and delivers into the
real server once its address is pointed at the test's."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml
from nats_peer import NatsServer
from sidecar_tests_conftest import REPO, SIDECAR_EXE, SidecarProc, make_events, wait_until

DOC = (REPO / "docs" / "sidecar.md").read_text()
EXAMPLE = re.search(r"<!-- doc-test-nats: config -->\n```yaml\n(.*?)```", DOC, re.DOTALL)


def test_doc_example_checks_and_delivers(
    tmp_path: Path, sidecar: Callable[..., SidecarProc], nats_server: NatsServer
) -> None:
    assert EXAMPLE is not None, "docs/sidecar.md lost its nats example"
    config = yaml.safe_load(EXAMPLE.group(1))
    config["spool"]["path"] = str(tmp_path / "spool")
    path = tmp_path / "sidecar.yaml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [SIDECAR_EXE, "--config", str(path), "--check-config"],
        capture_output=True,
        text=True,
        env={"NATS_PASSWORD": "s"},
    )
    assert done.returncode == 0, done.stderr
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
