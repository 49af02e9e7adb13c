"""The elasticsearch example in docs/sidecar.md loads with --check-config as written, and delivers
into the real node once its URL, CA file and password are pointed at the test's."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml
from opensearch_peer import OpenSearchNode
from sidecar_tests_conftest import REPO, SIDECAR_EXE, SidecarProc, make_events, wait_until

DOC = (REPO / "docs" / "sidecar.md").read_text()
EXAMPLE = re.search(r"<!-- doc-test-opensearch: config -->\n```yaml\n(.*?)```", DOC, re.DOTALL)


def test_doc_example_checks_and_delivers(
    tmp_path: Path, sidecar: Callable[..., SidecarProc], opensearch: OpenSearchNode
) -> None:
    assert EXAMPLE is not None, "docs/sidecar.md lost its elasticsearch example"
    config = yaml.safe_load(EXAMPLE.group(1))
    config["spool"]["path"] = str(tmp_path / "spool")
    ca = tmp_path / "ca.pem"  # the CA file must exist to be checked; any readable PEM does
    ca.write_text(Path("/etc/ssl/certs/ca-certificates.crt").read_text())
    backend = config["backends"][0]
    backend["config"]["ca_file"] = str(ca)
    path = tmp_path / "sidecar.yaml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True, env={"ES_PASSWORD": "s"}
    )
    assert done.returncode == 0, done.stderr
    # The same block against the test's node: plain HTTP there, no auth (the security plugin is absent).
    test_config = dict(backend["config"], elasticsearch_url=opensearch.url)
    for key in ("username", "password", "ca_file"):
        test_config.pop(key)
    sc = sidecar([{**backend, "config": test_config}])
    events = make_events(20)
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("analytics") == 0, 60, "delivery")
    assert opensearch.count("fab1-wafer-*") == 20
