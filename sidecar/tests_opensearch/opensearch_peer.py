"""A real single-node OpenSearch cluster for the tests: the node home laid out by
sidecar/peers/opensearch/fetch.sh (Maven Central's jars), a data directory in a temp dir, free
loopback ports, a small heap; stop() and start() again keep the data (a restart mid-stream)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from wafermon_testkit import free_port, wait_until
from wafermon_testkit.peers import JAVA, LEAN_JVM_OPTIONS, laid_out, pom_property

REPO = Path(__file__).resolve().parents[2]
PEER = REPO / "sidecar" / "peers" / "opensearch"
JVM_OPTIONS = ["-Xms512m", "-Xmx512m", *LEAN_JVM_OPTIONS]
START_TIMEOUT_S = 180.0


def peer_version() -> str:
    return pom_property(PEER / "pom.xml", "opensearch.version")


def node_home() -> Path:
    """The cached node home, fetched from Maven Central first when it is missing (fetch.sh)."""
    home = REPO / "var" / "peers" / f"opensearch-{peer_version()}"
    laid_out([str(PEER / "fetch.sh"), str(home)], home / ".complete", "OpenSearch")
    return home


class OpenSearchNode:
    def __init__(self, workdir: Path) -> None:
        self.home = node_home()
        self.workdir = workdir
        self.http_port = free_port()
        self.transport_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "opensearch.log"
        conf = workdir / "config"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "log4j2.properties").write_text((self.home / "config" / "log4j2.properties").read_text())
        (workdir / "tmp").mkdir(exist_ok=True)
        (conf / "opensearch.yml").write_text(
            "\n".join(
                [
                    "cluster.name: wafermon-test",
                    "node.name: peer",
                    f"path.data: {workdir / 'data'}",
                    f"path.logs: {workdir / 'logs'}",
                    "network.host: 127.0.0.1",
                    f"http.port: {self.http_port}",
                    f"transport.port: {self.transport_port}",
                    "discovery.type: single-node",
                    "node.processors: 1",
                    "cluster.routing.allocation.disk.threshold_enabled: false",
                    "action.auto_create_index: true",
                    "",
                ]
            )
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        conf = self.workdir / "config"
        command = [
            str(JAVA),
            *JVM_OPTIONS,
            # JNA finds no native library (none unpacked, none from the system): the node cannot
            # tell it runs as root and starts anyway (tests run as root in containers).
            "-Djna.nosys=true",
            "-Djna.noclasspath=true",
            "-Djna.nounpack=true",
            f"-Djava.io.tmpdir={self.workdir / 'tmp'}",
            f"-Dopensearch.path.home={self.home}",
            f"-Dopensearch.path.conf={conf}",
            "-Dopensearch.distribution.type=tar",
            "-Dlog4j2.disable.jmx=true",
            "-cp",
            f"{self.home / 'lib'}/*",
            "org.opensearch.bootstrap.OpenSearch",
        ]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_until(self._ready, START_TIMEOUT_S, f"OpenSearch to answer on {self.url} (log: {self.log_path})", 0.5)

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"OpenSearch exited with {self.proc.returncode}: {tail}")
        try:
            health = self.get("/_cluster/health")
        except OSError:
            return False
        return health.get("status") in ("green", "yellow")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return {"_http_status": exc.code, **json.loads(exc.read() or b"{}")}

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def count(self, index: str) -> int:
        self.request("POST", f"/{index}/_refresh")
        return int(self.get(f"/{index}/_count").get("count", -1))
