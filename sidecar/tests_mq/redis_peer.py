"""A real Redis server for the tests: Debian's redis-server started as the test's own process (not the
system service) on a free loopback port, its data in a temp dir, with the append-only file on so
stop() and start() again keep the streams (a restart mid-stream)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import redis
from tls_certs import TlsFiles

from wafermon_testkit import free_port, wait_until

START_TIMEOUT_S = 60.0


def peer_version() -> str:
    """The installed redis-server's version, e.g. 7.0.15."""
    done = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
    return next((w.split("=", 1)[1] for w in done.stdout.split() if w.startswith("v=")), "unknown")


class RedisServer:
    def __init__(self, workdir: Path, tls: TlsFiles | None = None) -> None:
        """With `tls`: TLS only (no plain port), clients need not present a certificate."""
        self.workdir = workdir
        self.tls = tls
        self.port = free_port()
        self.log_path = workdir / "redis-server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        if self.tls is not None:
            return f"rediss://localhost:{self.port}/0"  # the name its certificate holds
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        if self.tls is not None:
            return redis.Redis(host="localhost", port=self.port, socket_timeout=30, ssl=True,
                               ssl_ca_certs=str(self.tls.ca))  # fmt: skip
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=30)

    def start(self) -> None:
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
            "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no",
            "--logfile", str(self.log_path), "--maxmemory", "256mb", "--maxmemory-policy", "noeviction",
        ]  # fmt: skip
        if self.tls is not None:
            command += ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(self.tls.cert),
                        "--tls-key-file", str(self.tls.key), "--tls-ca-cert-file", str(self.tls.ca),
                        "--tls-auth-clients", "no"]  # fmt: skip
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_until(self._ready, START_TIMEOUT_S, f"redis-server on port {self.port} (log: {self.log_path})", 0.1)

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""
            raise RuntimeError(f"redis-server exited with {self.proc.returncode}: {tail}")
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.exceptions.RedisError:
            return False

    def stop(self) -> None:
        """SIGTERM: the server writes its append-only file and exits; the data stays for start()."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
