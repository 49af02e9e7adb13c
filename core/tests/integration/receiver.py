"""A real HTTP receiver for the core's integration tests: the sidecar's ingest contract, nothing more.

    python receiver.py PORT OUT_FILE [--mode ok|reject-second|refuse|blackhole]
                                     [--max-body BYTES] [--max-events N]

POST /v1/ingest/events:batch with NDJSON (optionally gzip) → every line appended to OUT_FILE and
fsync'd, then 202. Modes: "reject-second" answers 207 rejecting index 1 of each batch (the others
are stored); "refuse" answers 400 for everything; "blackhole" accepts TCP connections and never
reads or answers (a hung sidecar). Like the sidecar, a body over --max-body bytes (decompressed;
default 16 MiB) or with more than --max-events lines (default 10000) is refused whole with 413.
Prints "ready" once listening.

Imported, it offers ``Receiver`` (this script as a child process) and ``free_port``: the core's
integration tests and the conformance runner both drive it that way.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# The sidecar's documented defaults (ingest.max_body_bytes, ingest.max_events_per_request).
MAX_BODY = 16 * 1024 * 1024
MAX_EVENTS = 10_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """This script as a child process; stop() and start() keep its port and output file."""

    def __init__(
        self, port: int, out: Path, mode: str = "ok", max_body: int = MAX_BODY, max_events: int = MAX_EVENTS
    ) -> None:
        self.port, self.out, self.mode = port, out, mode
        self.max_body, self.max_events = max_body, max_events
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                *(sys.executable, __file__, str(self.port), str(self.out), "--mode", self.mode),
                *("--max-body", str(self.max_body), "--max-events", str(self.max_events)),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def stop(self) -> None:
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def events(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the core expects
    out_path = ""
    mode = "ok"
    max_body = MAX_BODY
    max_events = MAX_EVENTS

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        if self.path != "/v1/ingest/events:batch":
            self._answer(404, {"error": f"no route {self.path}"})
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        lines = [line for line in body.split(b"\n") if line.strip()]
        if len(body) > self.max_body or len(lines) > self.max_events:
            limits = f"{self.max_body} bytes, {self.max_events} events"
            self._answer(413, {"error": f"{len(body)} bytes, {len(lines)} events: over the limit of {limits}"})
            return
        if self.mode == "refuse":
            self._answer(400, {"error": "refused by test receiver", "accepted": 0, "rejected": []})
            return
        rejected = []
        keep = lines
        if self.mode == "reject-second" and len(lines) > 1:
            rejected = [{"index": 1, "field": "metadata", "message": "test receiver rejects index 1"}]
            keep = [line for i, line in enumerate(lines) if i != 1]
        with open(self.out_path, "ab") as f:
            for line in keep:
                json.loads(line)  # a malformed line would be a core bug: fail loudly
                f.write(line + b"\n")
            f.flush()
            os.fsync(f.fileno())
        self._answer(207 if rejected else 202, {"accepted": len(keep), "rejected": rejected})

    def _answer(self, code: int, payload: dict[str, object]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def blackhole(port: int) -> None:
    """Accepts connections and keeps them open, never reading or answering."""
    listener = socket.create_server(("127.0.0.1", port))
    held = []
    print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        held.append(conn)


def option(name: str, default: str) -> str:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def main() -> None:
    port, out = int(sys.argv[1]), sys.argv[2]
    Handler.out_path = out
    Handler.mode = option("--mode", "ok")
    Handler.max_body = int(option("--max-body", str(MAX_BODY)))
    Handler.max_events = int(option("--max-events", str(MAX_EVENTS)))
    if Handler.mode == "blackhole":
        blackhole(port)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
