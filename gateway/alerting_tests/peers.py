"""Real peers for the alerting tests: an HTTP receiver that verifies the webhook HMAC (and, named so,
a Slack-shaped test double), an aiosmtpd SMTP server with STARTTLS and AUTH, Prometheus Alertmanager
from Debian, and a real wafermon-gateway process."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

EXE = Path(sys.executable).with_name("wafermon-gateway")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class HttpReceiver:
    """Records POSTed JSON bodies with arrival times; rejects (401) a webhook whose HMAC is wrong.
    stop() closes the port so senders see connection refused, start() listens on it again."""

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.port = free_port()
        self.received: list[tuple[float, dict[str, Any], dict[str, str]]] = []
        self.bad_signatures = 0
        self.delay_s = 0.0  # answer this late (a slow receiver widens any window for a double send)
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> HttpReceiver:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if outer.secret is not None:
                    expected = "sha256=" + hmac.new(outer.secret.encode(), body, hashlib.sha256).hexdigest()
                    if not hmac.compare_digest(expected, self.headers.get("X-Wafermon-Signature", "")):
                        outer.bad_signatures += 1
                        self.send_response(401)
                        self.end_headers()
                        return
                outer.received.append((time.monotonic(), json.loads(body), dict(self.headers)))
                time.sleep(outer.delay_s)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class SlackTestDouble(HttpReceiver):
    """Stands in for Slack's incoming-webhook endpoint (Slack itself cannot run here)."""


class SmtpServer:
    """aiosmtpd with STARTTLS required and AUTH PLAIN/LOGIN (user alert / password pw) after TLS."""

    def __init__(self, workdir: Path) -> None:
        self.cert, key = workdir / "smtp.crt", workdir / "smtp.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(self.cert),
             "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True, capture_output=True,
        )  # fmt: skip
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, key)
        self.port = free_port()
        self.messages: list[tuple[float, Envelope]] = []
        outer = self

        class Handler:
            async def handle_DATA(self, _server: Any, _session: Session, envelope: Envelope) -> str:
                outer.messages.append((time.monotonic(), envelope))
                return "250 OK"

        def authenticate(_server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and data.login == b"alert" and data.password == b"pw"
            return AuthResult(success=ok)

        self.controller = Controller(
            Handler(), hostname="127.0.0.1", port=self.port, tls_context=context, require_starttls=True,
            authenticator=authenticate, auth_required=True, auth_require_tls=True,
        )  # fmt: skip

    def config(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "from": "wafermon@example.org", "to": ["ops@example.org"],
                "starttls": True, "username": "alert", "password": "pw", "cafile": str(self.cert)}  # fmt: skip


class Alertmanager:
    """Debian's prometheus-alertmanager on a free port with its own config and storage dir."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        config = workdir / "alertmanager.yml"
        config.write_text("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n")
        storage = workdir / "am-data"
        storage.mkdir()
        self.log = (workdir / "alertmanager.log").open("wb")
        self.proc = subprocess.Popen(
            ["prometheus-alertmanager", f"--config.file={config}", f"--storage.path={storage}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_until(self._ready, 30, "alertmanager to start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _ready(self) -> bool:
        try:
            return httpx.get(self.url + "/-/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def alerts(self, **params: str) -> list[dict[str, Any]]:
        return list(httpx.get(self.url + "/api/v2/alerts", params=params, timeout=5).json())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


class GatewayProcess:
    """A wafermon-gateway started with a JSON config file on a free port (SQLite in workdir)."""

    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.config_file = workdir / "gateway.json"
        self.config_file.write_text(json.dumps({"sqlite_path": str(workdir / "gw.db"), **config}))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GatewayProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WAFERMON_")}
        log = (self.workdir / "gateway.log").open("ab")
        self.proc = subprocess.Popen([str(EXE), "--config", str(self.config_file), "--port", str(self.port)],
                                     env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        log.close()

        def up() -> bool:
            assert self.proc is not None and self.proc.poll() is None, (self.workdir / "gateway.log").read_text()
            try:
                return httpx.get(self.url + "/v1/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, 30, "the gateway to start")
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            terminate(self.proc)

    def ingest(self, events: list[dict[str, Any]]) -> None:
        r = httpx.post(self.url + "/v1/ingest/managed", json={"events": events}, timeout=10)
        assert r.status_code == 200 and not r.json()["rejected"], r.text

    def get(self, path: str, **params: str) -> Any:
        r = httpx.get(self.url + path, params=params, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()


class SidecarProcess:
    """A real wafermon-sidecar delivering to a gateway through its managed_api backend (heartbeat every
    heartbeat_s when given), plus any extra backends (YAML list items); kill9() and start() again."""

    def __init__(self, workdir: Path, gateway_url: str, heartbeat_s: float | None = None,
                 extra_backends: str = "") -> None:  # fmt: skip
        self.workdir = workdir
        self.port = free_port()
        self.config = workdir / "sidecar.yaml"
        beat = f", heartbeat_interval_s: {heartbeat_s}" if heartbeat_s is not None else ""
        self.config.write_text(
            f"ingest: {{host: 127.0.0.1, port: {self.port}, flush_interval: 0.05}}\n"
            f"spool: {{path: {workdir / 'sidecar-spool'}, max_size_mb: 64}}\n"
            f'backends:\n  - {{type: managed_api, name: gateway, config: {{url: "{gateway_url}"{beat}}}}}\n'
            + extra_backends
        )
        self.start()

    def start(self) -> SidecarProcess:
        self.log = (self.workdir / "sidecar.log").open("ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("WAFERMON_")}
        self.proc = subprocess.Popen([str(EXE.with_name("wafermon-sidecar")), "--config", str(self.config)], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip

        def up() -> bool:
            assert self.proc.poll() is None, (self.workdir / "sidecar.log").read_text()
            try:
                return httpx.get(self.url + "/v1/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, 30, "the sidecar to start")
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            terminate(self.proc)
        self.log.close()
