"""Real peers for the alerting tests: an HTTP receiver that verifies the webhook HMAC (and, named so,
a Slack-shaped test double), an aiosmtpd SMTP server with STARTTLS and AUTH, Prometheus Alertmanager
from Debian, and a real wafermon-gateway process."""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from wafermon_testkit import Service, clean_env, console_script, free_port, wait_until

__all__ = ["wait_until"]  # the test kit's, for the test module


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
        argv = ["prometheus-alertmanager", f"--config.file={config}", f"--storage.path={storage}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="]  # fmt: skip
        self.service = Service(argv, self.url, workdir / "alertmanager.log", health_path="/-/ready", timeout=30)
        self.service.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alerts(self, **params: str) -> list[dict[str, Any]]:
        return list(httpx.get(self.url + "/api/v2/alerts", params=params, timeout=5).json())

    def stop(self) -> None:
        self.service.stop(10)


class GatewayProcess:
    """A wafermon-gateway started with a JSON config file on a free port (SQLite in workdir)."""

    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.config_file = workdir / "gateway.json"
        self.config_file.write_text(json.dumps({"sqlite_path": str(workdir / "gw.db"), **config}))
        argv = [console_script("wafermon-gateway"), "--config", str(self.config_file), "--port", str(self.port)]
        self.service = Service(argv, self.url, workdir / "gateway.log", env=clean_env(), timeout=30, name="the gateway")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GatewayProcess:
        self.service.start()
        return self

    def kill9(self) -> None:
        self.service.kill9()

    def stop(self) -> None:
        self.service.stop(15)

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
        argv = [console_script("wafermon-sidecar"), "--config", str(self.config)]
        self.service = Service(argv, self.url, workdir / "sidecar.log", env=clean_env(), timeout=30, name="the sidecar")
        self.start()

    def start(self) -> SidecarProcess:
        """Starts it (again, after kill9 or stop) and waits until it answers /v1/healthz."""
        self.service.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill9(self) -> None:
        self.service.kill9()

    def stop(self) -> None:
        self.service.stop(15)
