"""A real NATS server with JetStream for the tests: nats-server built from its Go module by
sidecar/peers/nats/fetch.sh (into var/peers/), its JetStream store in a temp dir, free loopback
ports, max_payload lowered to 64 KiB (so a too-large message is cheap to make). stop() and start()
again keep the store (a restart mid-stream)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import nats

from wafermon_testkit import free_port, wait_until
from wafermon_testkit.peers import laid_out
from wafermon_testkit.pki import Pki

REPO = Path(__file__).resolve().parents[2]
FETCH = REPO / "sidecar" / "peers" / "nats" / "fetch.sh"
START_TIMEOUT_S = 60.0
MAX_PAYLOAD = 65536


def peer_version() -> str:
    match = re.search(r"^version=(v[0-9.]+)$", FETCH.read_text(), re.MULTILINE)
    assert match, "sidecar/peers/nats/fetch.sh lost its version line"
    return match.group(1)


def server_binary() -> Path:
    """The nats-server binary, built by fetch.sh first when it is missing."""
    binary = REPO / "var" / "peers" / f"nats-server-{peer_version()}" / "nats-server"
    laid_out([str(FETCH)], binary, "NATS")
    return binary


class NatsServer:
    """tls: when given, clients must speak TLS and show a certificate of that CA (mutual TLS)."""

    def __init__(self, workdir: Path, tls: Pki | None = None) -> None:
        self.binary = server_binary()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.monitor_port = free_port()
        self.log_path = workdir / "nats-server.log"
        self.conf = workdir / "nats-server.conf"
        conf = f"max_payload: {MAX_PAYLOAD}\n"
        if tls is not None:
            conf += (
                f'tls {{\n  cert_file: "{tls.server_cert}"\n  key_file: "{tls.server_key}"\n'
                f'  ca_file: "{tls.ca}"\n  verify: true\n}}\n'
            )
        self.conf.write_text(conf)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            str(self.binary),
            "-c", str(self.conf),
            "-js", "-sd", str(self.workdir / "jetstream"),
            "-a", "127.0.0.1", "-p", str(self.port),
            "-m", str(self.monitor_port),
            "-l", str(self.log_path),
        ]  # fmt: skip
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        wait_until(self._ready, START_TIMEOUT_S, f"nats-server to answer on {self.url} (log: {self.log_path})", 0.1)

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
            tail = self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""
            raise RuntimeError(f"nats-server exited with {self.proc.returncode}: {err} {tail}")
        try:
            url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def backend_config(self, stream: str, **extra: Any) -> dict[str, Any]:
        return {
            "servers": [self.url],
            "stream": stream,
            "subject": f"{stream.lower()}.{{site}}.{{entity_type}}.{{event_kind}}",
            **extra,
        }

    def messages(self, stream: str) -> list[dict[str, Any]]:
        """Every message of `stream`, in order: seq, subject, headers, data."""

        async def read() -> list[dict[str, Any]]:
            nc = await nats.connect(self.url)
            try:
                js = nc.jetstream()
                info = await js.stream_info(stream)
                out = []
                for seq in range(info.state.first_seq, info.state.last_seq + 1):
                    msg = await js.get_msg(stream, seq)
                    out.append({"seq": msg.seq, "subject": msg.subject, "headers": msg.headers, "data": msg.data})
                return out
            finally:
                await nc.close()

        return asyncio.run(read())

    def stream_info(self, stream: str) -> Any:
        async def info() -> Any:
            nc = await nats.connect(self.url)
            try:
                return await nc.jetstream().stream_info(stream)
            finally:
                await nc.close()

        return asyncio.run(info())
