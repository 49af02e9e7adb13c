"""A real HTTP receiver for the core's integration tests: the sidecar's ingest contract, nothing more.

    python receiver.py PORT OUT_FILE [--mode ok|reject-second|refuse]

POST /v1/ingest/events:batch with NDJSON (optionally gzip) → every line appended to OUT_FILE and
fsync'd, then 202. Modes: "reject-second" answers 207 rejecting index 1 of each batch (the others
are stored); "refuse" answers 400 for everything. Prints "ready" once listening.

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """This script as a child process; stop() and start() keep its port and output file."""

    def __init__(self, port: int, out: Path, mode: str = "ok") -> None:
        self.port, self.out, self.mode = port, out, mode
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, str(self.port), str(self.out), "--mode", self.mode],
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


def main() -> None:
    port, out = int(sys.argv[1]), sys.argv[2]
    Handler.out_path = out
    if "--mode" in sys.argv:
        Handler.mode = sys.argv[sys.argv.index("--mode") + 1]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
