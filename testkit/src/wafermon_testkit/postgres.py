"""A throwaway PostgreSQL server: initdb into a temporary directory, pg_ctl on a free loopback port.

initdb refuses to run as root, so as root the server runs as the `postgres` user. The server
binaries are Debian's (``postgresql`` package); WAFERMON_PG_BINDIR points elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from wafermon_testkit.net import free_port

PG_BINDIR = Path(os.environ.get("WAFERMON_PG_BINDIR", "/usr/lib/postgresql/15/bin"))
#: Settings for a test server whose data may be lost: no fsync, no full-page writes.
FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class PostgresError(RuntimeError):
    """initdb or pg_ctl failed; the message carries their output and the server log's tail."""


class Postgres:
    """A private server in `base` (created; must not exist). ``init()`` creates and starts it;
    ``stop(mode)``/``start()`` keep its data and port; ``destroy()`` stops it and removes `base`.

    `options` are extra ``postgres`` command-line settings (e.g. FAST, ``-c max_connections=300``).
    """

    def __init__(self, base: Path, options: str = "") -> None:
        if not (PG_BINDIR / "initdb").exists():
            raise PostgresError(f"PostgreSQL server binaries not found in {PG_BINDIR} (apt-get install postgresql)")
        self.as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.base, self.options = base, options
        base.parent.chmod(base.parent.stat().st_mode | 0o755)  # the postgres user must reach it
        base.mkdir()
        base.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(base, "postgres", "postgres")
        self.data, self.log, self.port = base / "data", base / "server.log", free_port()
        #: the admin database of the server, as a libpq URL
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        done = subprocess.run([*self.as_pg, *argv], capture_output=True, text=True)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PostgresError(f"{Path(argv[0]).name} failed: {done.stdout}{done.stderr}{log}")

    def _ctl(self, *args: str) -> None:
        self._run(str(PG_BINDIR / "pg_ctl"), "-D", str(self.data), *args)

    def init(self) -> Postgres:
        self._run(str(PG_BINDIR / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C", "--no-sync")  # fmt: skip
        self.start()
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 {self.options}"
        self._ctl("-l", str(self.log), "-w", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop -m `mode` (smart, fast or immediate), waiting for it."""
        self._ctl("-m", mode, "-w", "stop")

    def destroy(self, mode: str = "fast") -> None:
        """Stops it (errors ignored: it may be down already) and removes its directory."""
        subprocess.run([*self.as_pg, str(PG_BINDIR / "pg_ctl"), "-D", str(self.data), "-m", mode, "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(self.base, ignore_errors=True)


@contextmanager
def postgres_server(options: str = "", stop_mode: str = "fast") -> Iterator[str]:
    """A private server for the duration of the block; yields the DSN of its admin database."""
    parent = Path(tempfile.mkdtemp(prefix="wafermon-pg-"))
    server = Postgres(parent / "pg", options)
    try:
        server.init()
        yield server.dsn
    finally:
        server.destroy(stop_mode)
        shutil.rmtree(parent, ignore_errors=True)
