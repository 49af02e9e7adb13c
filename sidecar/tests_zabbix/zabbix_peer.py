"""A real Zabbix server 6.0 for the tests: Debian's zabbix-server-pgsql over a private PostgreSQL
(wafermon_testkit.postgres), the schema from the package's own SQL scripts, a host with trapper items
inserted by SQL before the server starts, the server on a free loopback port in a temp dir; values
are read back from the history tables with psql. stop() and start() again keep the database (a
restart mid-stream)."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from wafermon_testkit import wait_until
from wafermon_testkit.postgres import FAST, Postgres

ZABBIX_SERVER = Path("/usr/sbin/zabbix_server")
SQL_DIR = Path("/usr/share/zabbix-server-pgsql")
PSQL = "/usr/bin/psql"
START_TIMEOUT_S = 120.0
HOST = "wafer-monitor"
#: the item value types of Zabbix (items.value_type) and the history table of each
FLOAT, CHAR, LOG, UNSIGNED, TEXT = 0, 1, 2, 3, 4
HISTORY_TABLE = {
    FLOAT: "history",
    CHAR: "history_str",
    LOG: "history_log",
    UNSIGNED: "history_uint",
    TEXT: "history_text",
}

#: the trapper items the docs tell users to create (docs/sidecar.md `### zabbix`), key → value type
DOCUMENTED_ITEMS = {
    "wafer.job.started": UNSIGNED,
    "wafer.job.finished": FLOAT,
    "wafer.job.failed": UNSIGNED,
    "wafer.job.error": TEXT,
    "wafer.job.cpu_user_s": FLOAT,
    "wafer.job.cpu_sys_s": FLOAT,
    "wafer.job.mem_max_mb": FLOAT,
    "wafer.subjob.started": UNSIGNED,
    "wafer.subjob.finished": FLOAT,
    "wafer.subjob.failed": UNSIGNED,
    "wafer.subjob.error": TEXT,
    "wafer.subjob.cpu_user_s": FLOAT,
    "wafer.subjob.cpu_sys_s": FLOAT,
    "wafer.subjob.mem_max_mb": FLOAT,
}


def listen_port() -> int:
    """A free loopback port Zabbix accepts as ListenPort (1024-32767, below Linux's ephemeral range,
    so free_port() cannot pick it)."""
    for _ in range(200):
        port = random.randint(20000, 32767)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-32767 for the Zabbix server")


@dataclass(frozen=True)
class HistoryRow:
    clock: int
    ns: int
    value: str


class ZabbixServer:
    """One Zabbix server and its database. `hosts` maps a host name to its trapper items (key → value type)."""

    def __init__(self, workdir: Path, hosts: dict[str, dict[str, int]]) -> None:
        if not ZABBIX_SERVER.exists():
            raise RuntimeError(
                f"{ZABBIX_SERVER} is missing: apt-get install zabbix-server-pgsql (scripts/bootstrap.sh)"
            )
        self.workdir = workdir
        self.hosts = hosts
        # initdb runs as the postgres user, which cannot enter pytest's private tmp dirs
        self.pg_parent = Path(tempfile.mkdtemp(prefix="wafermon-zabbix-pg-"))
        self.pg = Postgres(self.pg_parent / "pg", FAST)
        self.port = listen_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "zabbix_server.log"
        self.conf_path = workdir / "zabbix_server.conf"
        self.itemids: dict[tuple[str, str], int] = {}

    @property
    def address(self) -> str:
        """`host:port` of the trapper."""
        return f"127.0.0.1:{self.port}"

    def version(self) -> str:
        out = subprocess.run([str(ZABBIX_SERVER), "-V"], capture_output=True, text=True, check=True).stdout
        return out.split("\n", 1)[0].rsplit(" ", 1)[-1]

    # -- database --------------------------------------------------------------------------------

    def psql(self, sql: str, database: str = "zabbix") -> str:
        """Runs `sql` (unaligned, tuples only); RuntimeError with psql's message when it fails."""
        done = subprocess.run(
            [PSQL, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", *self._connection(database)],
            input=sql,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr[-2000:]}")
        return done.stdout

    def _connection(self, database: str) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.pg.port), "-U", "postgres", "-d", database]

    def _create_database(self) -> None:
        self.pg.init()
        self.psql("CREATE DATABASE zabbix ENCODING 'UTF8' TEMPLATE template0;", "postgres")
        for script in ("schema.sql.gz", "images.sql.gz", "data.sql.gz"):
            sql = subprocess.run(["zcat", str(SQL_DIR / script)], capture_output=True, check=True).stdout
            self.psql(sql.decode() + "\n")
        statements = ["INSERT INTO hstgrp (groupid, name, uuid) VALUES (900000, 'wafermon tests', '');"]
        hostid, itemid = 900100, 900200
        for host, items in self.hosts.items():
            hostid += 1
            statements.append(
                f"INSERT INTO hosts (hostid, host, name, status, uuid) VALUES ({hostid}, '{host}', '{host}', 0, '');"
                f"INSERT INTO hosts_groups (hostgroupid, hostid, groupid) VALUES ({hostid}, {hostid}, 900000);"
            )
            for key, value_type in items.items():
                itemid += 1
                self.itemids[(host, key)] = itemid
                statements.append(
                    "INSERT INTO items (itemid, type, hostid, name, key_, value_type, delay, history, trends,"
                    f" status, uuid) VALUES ({itemid}, 2, {hostid}, '{key}', '{key}', {value_type}, '0', '90d',"
                    f" '365d', 0, '');"
                    f"INSERT INTO item_rtdata (itemid) VALUES ({itemid});"
                )
        self.psql("BEGIN;" + "".join(statements) + "COMMIT;")

    def history(self, host: str, key: str) -> list[HistoryRow]:
        """The stored values of one item in time order."""
        itemid = self.itemids[(host, key)]
        value_type = self.hosts[host][key]
        out = self.psql(
            f"SELECT clock, ns, value FROM {HISTORY_TABLE[value_type]} WHERE itemid = {itemid} ORDER BY clock, ns;"
        )
        rows = []
        for line in out.splitlines():
            clock, ns, value = line.split("|", 2)
            rows.append(HistoryRow(int(clock), int(ns), value))
        return rows

    def count(self, host: str) -> int:
        """All history rows of the host's items."""
        return sum(len(self.history(host, key)) for key in self.hosts[host])

    def clear_history(self) -> None:
        self.psql("".join(f"DELETE FROM {table};" for table in sorted(set(HISTORY_TABLE.values()))))

    # -- server ----------------------------------------------------------------------------------

    def _write_config(self) -> None:
        settings = {
            "ListenIP": "127.0.0.1",
            "ListenPort": str(self.port),
            "PidFile": str(self.workdir / "zabbix_server.pid"),
            "LogFile": str(self.log_path),
            "LogFileSize": "0",
            "SocketDir": str(self.workdir),
            "DBHost": "127.0.0.1",
            "DBPort": str(self.pg.port),
            "DBName": "zabbix",
            "DBUser": "postgres",
            "AllowRoot": "1",  # the tests run as root in containers
            "CacheUpdateFrequency": "1",
            "HistoryStorageDateIndex": "0",
            "Timeout": "4",
            # two shared cores: only what trapper items need
            "StartPollers": "0",
            "StartPollersUnreachable": "0",
            "StartPingers": "0",
            "StartDiscoverers": "0",
            "StartHTTPPollers": "0",
            "StartTimers": "1",
            "StartEscalators": "1",
            "StartAlerters": "1",
            "StartTrappers": "2",
            "StartPreprocessors": "1",
            "StartDBSyncers": "1",
            "StartLLDProcessors": "1",
            "StartReportWriters": "0",
            "StartHistoryPollers": "1",
            "StartProxyPollers": "0",
            "StartVMwareCollectors": "0",
            "StartSNMPTrapper": "0",
            "StartODBCPollers": "0",
            "HousekeepingFrequency": "0",
            "CacheSize": "16M",
            "HistoryCacheSize": "16M",
            "HistoryIndexCacheSize": "4M",
            "TrendCacheSize": "4M",
            "ValueCacheSize": "8M",
        }
        self.conf_path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))

    def init(self) -> None:
        """Creates the database and starts the server; on failure everything started is stopped."""
        try:
            self._create_database()
            self._write_config()
            self.start()
        except BaseException:
            self.destroy()
            raise

    def start(self) -> None:
        log = (self.workdir / "zabbix_server.stdout").open("ab")
        self.proc = subprocess.Popen(
            [str(ZABBIX_SERVER), "-f", "-c", str(self.conf_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_until(
            self._ready, START_TIMEOUT_S, f"Zabbix server to listen on {self.address} (log: {self.log_path})", 0.2
        )

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""
            raise RuntimeError(f"zabbix_server exited with {self.proc.returncode}: {tail}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM to the server's process group (it flushes its history cache first), then waits."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            self.pg.destroy()
            subprocess.run(["rm", "-rf", str(self.pg_parent)], check=False)
