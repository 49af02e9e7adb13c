"""A real PostgreSQL cluster for tests: initdb into a temp dir, started on a free loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

PG_BINDIR = Path(os.environ.get("WAFERMON_PG_BINDIR", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """A PostgreSQL cluster initdb'd into a temp dir on a free port; stop() and start() it at will.

    initdb refuses to run as root, so as root the server runs as the `postgres` user.
    """

    def __init__(self) -> None:
        if not (PG_BINDIR / "initdb").exists():
            pytest.fail(f"PostgreSQL server binaries not found in {PG_BINDIR} (apt-get install postgresql)")
        self.as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.base = Path(tempfile.mkdtemp(prefix="wafermon-pg-"))
        self.base.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        self.data, self.log = self.base / "data", self.base / "server.log"
        self.port = free_port()
        subprocess.run(
            [*self.as_pg, str(PG_BINDIR / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            check=True, capture_output=True,
        )  # fmt: skip

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=300"
        )
        started = subprocess.run(
            [*self.as_pg, str(PG_BINDIR / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-o", options,
             "start"],
            capture_output=True,
        )  # fmt: skip
        if started.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            pytest.fail(f"postgres did not start: {started.stderr.decode()} {log}")

    def stop(self, mode: str = "immediate") -> None:
        subprocess.run([*self.as_pg, str(PG_BINDIR / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"],
                       capture_output=True)  # fmt: skip

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
