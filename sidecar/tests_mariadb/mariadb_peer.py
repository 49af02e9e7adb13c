"""A real MariaDB server for the tests: Debian's mariadb-server (installed by scripts/bootstrap.sh, not
run as a service), its data directory made by mariadb-install-db in a temp dir, started as this test
session's own process on a free loopback port with its socket in the temp dir, TLS offered with a
certificate of the test's own CA, and users of its own with grants on one database (the backend never
connects as root): `wafermon` (password), `wafermon_tls` (password, REQUIRE SSL) and
`wafermon_x509` (REQUIRE X509: a client certificate of that CA). stop() and start() again keep the
data (a restart mid-stream)."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pymysql

from wafermon_testkit import free_port, wait_until
from wafermon_testkit.pki import make_pki

START_TIMEOUT_S = 120.0
USER = "wafermon"
PASSWORD = "test-secret"
DATABASE = "wafermon"


def peer_version() -> str:
    done = subprocess.run(["mariadbd", "--version"], capture_output=True, text=True, check=True)
    return done.stdout.split("Ver ", 1)[1].split("-", 1)[0]


class MariaDbServer:
    def __init__(self, workdir: Path) -> None:
        for program in ("mariadbd", "mariadb-install-db"):
            if shutil.which(program) is None:
                raise RuntimeError(f"{program} is missing: scripts/bootstrap.sh installs Debian's mariadb-server")
        self.workdir = workdir
        self.datadir = workdir / "data"
        self.socket = workdir / "mariadb.sock"
        self.port = free_port()
        self.log_path = workdir / "mariadb.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.pki = make_pki(workdir / "pki")
        self._install()

    def _install(self) -> None:
        command = [
            "mariadb-install-db",
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--user={pwd.getpwuid(os.geteuid()).pw_name}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed ({done.returncode}): {done.stderr[-2000:]}")

    def start(self) -> None:
        command = [
            "mariadbd",
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--pid-file={self.workdir / 'mariadb.pid'}",
            f"--log-error={self.log_path}",
            "--skip-name-resolve",
            # Small: two cores and little memory shared with everything else.
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=32M",
            "--performance-schema=OFF",
            f"--ssl-ca={self.pki.ca}",
            f"--ssl-cert={self.pki.server_cert}",
            f"--ssl-key={self.pki.server_key}",
        ]
        if os.geteuid() == 0:
            command.append("--user=root")
        self.proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        wait_until(self._ready, START_TIMEOUT_S, f"MariaDB to answer on port {self.port} (log: {self.log_path})", 0.2)
        with self.root() as db, db.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{DATABASE}` CHARACTER SET utf8mb4")
            accounts = [(USER, "127.0.0.1", "NONE"), (USER, "localhost", "NONE")]  # localhost: over the socket
            accounts += [(f"{USER}_tls", "127.0.0.1", "SSL"), (f"{USER}_x509", "127.0.0.1", "X509")]
            for user, host, require in accounts:
                cur.execute(f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY '{PASSWORD}' REQUIRE {require}")
                cur.execute(f"GRANT ALL PRIVILEGES ON `{DATABASE}`.* TO '{user}'@'{host}'")

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""
            raise RuntimeError(f"mariadbd exited with {self.proc.returncode}: {tail}")
        try:
            with self.root():
                return True
        except pymysql.err.OperationalError:
            return False

    def root(self) -> Any:
        """A connection as root over the socket (set-up and reading back)."""
        return pymysql.connect(unix_socket=str(self.socket), user="root", autocommit=True, charset="utf8mb4")

    def connect(self) -> Any:
        """A connection as the test user, to the test database (reading back)."""
        return pymysql.connect(
            host="127.0.0.1", port=self.port, user=USER, password=PASSWORD, database=DATABASE,
            autocommit=True, charset="utf8mb4",
        )  # fmt: skip

    def query(self, sql: str, args: Any = None) -> list[dict[str, Any]]:
        with self.connect() as db, db.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())

    def count(self, table: str) -> int:
        return int(self.query(f"SELECT COUNT(*) AS n FROM `{table}`")[0]["n"])

    def backend_config(self, **extra: Any) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "user": USER,
            "password": PASSWORD,
            "database": DATABASE,
            **extra,
        }

    def stop(self) -> None:
        """A clean shutdown (SIGTERM, as mariadb-admin shutdown does), SIGKILL after 60 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
