"""Shared by the gateway benchmarks: a throwaway PostgreSQL server and a gateway process.

Not part of the test suite; run the benchmarks by hand (see docs/gateway.md, "Benchmarks").
Set WAFERMON_BENCH_DATABASE_URL to use an existing server (databases are created in it) instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx

PG_BINDIR = Path(os.environ.get("WAFERMON_PG_BINDIR", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A DSN to an admin database; a private server (default settings, fsync on) unless one is given."""
    given = os.environ.get("WAFERMON_BENCH_DATABASE_URL")
    if given:
        yield given
        return
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="wafermon-bench-pg-"))
    base.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", free_port()
    subprocess.run([*as_pg, str(PG_BINDIR / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                    "-E", "UTF8", "--locale=C"], check=True, capture_output=True)  # fmt: skip
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c shared_buffers=512MB -c max_wal_size=4GB"
    subprocess.run([*as_pg, str(PG_BINDIR / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w",
                    "-o", options, "start"], check=True, capture_output=True)  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_pg, str(PG_BINDIR / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


async def create_database(admin_dsn: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return admin_dsn.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def gateway_process(dsn: str, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAFERMON_")}
    env |= {"WAFERMON_DATABASE_URL": dsn, "WAFERMON_GATEWAY_LOG_LEVEL": "warning"} | (extra_env or {})
    exe = Path(sys.executable).with_name("wafermon-gateway")
    proc = subprocess.Popen([str(exe), "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/v1/healthz", timeout=2).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gateway did not start")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
