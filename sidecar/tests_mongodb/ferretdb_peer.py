"""A real FerretDB server for the tests (the MongoDB wire protocol; not MongoDB itself): the binary
built from FerretDB's Go module by sidecar/peers/ferretdb/fetch.sh, its SQLite backend in a temp
dir, a free loopback port; stop() and start() again keep the data (a restart mid-stream)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from wafermon_testkit import free_port, wait_until
from wafermon_testkit.peers import laid_out

REPO = Path(__file__).resolve().parents[2]
PEER = REPO / "sidecar" / "peers" / "ferretdb"
START_TIMEOUT_S = 60.0


def peer_version() -> str:
    for line in (PEER / "fetch.sh").read_text().splitlines():
        if line.startswith("version="):
            return line.split("=", 1)[1]
    raise RuntimeError("sidecar/peers/ferretdb/fetch.sh names no version")


def binary() -> Path:
    """The FerretDB binary, built first when it is missing (fetch.sh)."""
    dest = REPO / "var" / "peers" / f"ferretdb-{peer_version()}"
    laid_out([str(PEER / "fetch.sh"), str(dest)], dest / "ferretdb", "FerretDB")
    return dest / "ferretdb"


class FerretDb:
    def __init__(self, workdir: Path) -> None:
        self.exe = binary()
        self.workdir = workdir
        self.port = free_port()
        self.data = workdir / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "ferretdb.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._client: MongoClient[dict[str, Any]] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self) -> None:
        command = [
            str(self.exe),
            "--handler=sqlite",
            f"--sqlite-url=file:{self.data}/",
            f"--listen-addr=127.0.0.1:{self.port}",
            "--debug-addr=-",  # no debug HTTP listener (its default port may be taken)
            "--telemetry=disable",
            "--log-level=warn",
            f"--state-dir={self.workdir}",
        ]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_until(self._ready, START_TIMEOUT_S, f"FerretDB to answer on {self.uri} (log: {self.log_path})", 0.2)

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"FerretDB exited with {self.proc.returncode}: {tail}")
        try:
            self.client().admin.command("ping")
        except PyMongoError:
            return False
        return True

    def client(self) -> MongoClient[dict[str, Any]]:
        """A synchronous client for reading back (the tests' own, not the backend's)."""
        if self._client is None:
            self._client = MongoClient(self.uri, serverSelectionTimeoutMS=2000, tz_aware=True)
        return self._client

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self.stop()
