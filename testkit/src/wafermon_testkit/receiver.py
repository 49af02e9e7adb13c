"""The one stand-in HTTP receiver of the tests, run as its own process.

    python -m wafermon_testkit.receiver --out FILE [--port P] [--path PATH] [--mode MODE]
        [--ok-status 200|202] [--max-body BYTES] [--max-events N] [--secret S] [--api-key K]
        [--gateway]

It stands in for every peer the tests send events to: the sidecar's ingest (``--path
/v1/ingest/events:batch --ok-status 202``, for the core and the SDKs), a webhook (``--secret``
checks the HMAC) and the gateway's managed ingest (``--gateway``).

A body is NDJSON, a JSON array, or ``{"events": [...]}``; ``Content-Encoding: gzip`` is decoded.
Each event taken is appended to FILE as one JSON line ``{"path", "signature_ok", "raw"}``, raw
being the event's text exactly as received (an NDJSON line; an array item is re-encoded), so a
test can check the bytes a sender wrote (flushed after each request).

Modes: ok; reject = 400 for everything; fail = 500 for everything; reject-second = 207 rejecting
index 1 of each batch (the others are stored); blackhole = accept TCP connections and never read
nor answer (a hung peer). With --path, another path is answered 404.
Like the sidecar, a body over --max-body bytes (decompressed) or with more than --max-events
events is refused whole with 413 (0 = no limit). --api-key answers 401 to a request without
``Authorization: Bearer K``. --gateway rejects events whose metadata.reject is true (index and a
message naming the event) and answers 400 when it rejects every event, as the gateway does.
An ``ok`` answer is ``{"accepted", "duplicates", "rejected"}``; an event_id seen before counts as a
duplicate (it is still recorded). Prints ``ready PORT PID`` once listening.

Imported, ``Receiver`` drives it as a child process (also as ``with Receiver(...) as r:``):
``stop()`` then ``start()`` keep its port and its FILE, so a test can take the peer down and bring
it back.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from wafermon_testkit.net import free_port

MODES = ("ok", "reject", "fail", "reject-second", "blackhole")
# The sidecar's documented defaults (ingest.max_body_bytes, ingest.max_events_per_request).
SIDECAR_MAX_BODY = 16 * 1024 * 1024
SIDECAR_MAX_EVENTS = 10_000
INGEST_PATH = "/v1/ingest/events:batch"


class Receiver:
    """The receiver as a child process on a fixed port (a free one unless given).

    ``options`` become its command-line flags: ``mode="reject"`` → ``--mode reject``,
    ``gateway=True`` → ``--gateway``.
    """

    def __init__(self, out: Path, port: int | None = None, **options: Any) -> None:
        self.out = out
        self.port = port or free_port()
        self.options = options
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Starts it; returns once it listens. A port still held (a restart right after a stop) is
        retried for `timeout` seconds; then raises AssertionError."""
        args = [sys.executable, "-m", "wafermon_testkit.receiver", "--port", str(self.port), "--out", str(self.out)]
        for key, value in self.options.items():
            flag = "--" + key.replace("_", "-")
            if value is True:
                args.append(flag)
            elif value is not False and value is not None:
                args += [flag, str(value)]
        deadline = time.monotonic() + timeout
        while True:
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
            assert self.proc.stdout is not None
            line = self.proc.stdout.readline()
            if line.startswith("ready"):
                return
            self.stop()  # it exited: the port is not free yet
            assert time.monotonic() < deadline, f"the receiver did not start on port {self.port}"
            time.sleep(0.1)

    def stop(self) -> None:
        """Kills it (a peer that vanishes) and waits for it; a no-op when it is not running."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(10)
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None

    def __enter__(self) -> Receiver:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def records(self) -> list[dict[str, Any]]:
        """Everything recorded so far: ``{"path", "signature_ok", "raw"}`` dicts, in arrival order."""
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]

    def ndjson(self) -> bytes:
        """The events taken so far as NDJSON, each line the bytes the sender wrote."""
        return b"".join(str(r["raw"]).encode("utf-8", "surrogateescape") + b"\n" for r in self.records())

    def events(self) -> list[dict[str, Any]]:
        """The events taken so far, repeats included, in arrival order."""
        return [json.loads(record["raw"]) for record in self.records()]

    def event_ids(self) -> list[str]:
        return [str(event["event_id"]) for event in self.events()]

    def lines(self) -> list[tuple[str, str]]:
        """(event_id, "1" or "0" for the signature checked by --secret; "1" without one) per event."""
        return [(str(json.loads(r["raw"])["event_id"]), str(int(r["signature_ok"]))) for r in self.records()]

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """Polls events() until predicate(events) holds or `timeout` seconds pass; returns the events
        then (the caller asserts on them, so a failure shows what did arrive)."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.events()
            if predicate(events) or time.monotonic() > deadline:
                return events
            time.sleep(0.05)


def ingest_receiver(
    out: Path,
    port: int | None = None,
    mode: str = "ok",
    max_body: int = SIDECAR_MAX_BODY,
    max_events: int = SIDECAR_MAX_EVENTS,
) -> Receiver:
    """A receiver (not started) that keeps the sidecar's ingest contract, as the core and the SDKs
    see it: POST /v1/ingest/events:batch only, 202 (207 naming rejected events), the sidecar's
    limits."""
    return Receiver(out, port, path=INGEST_PATH, ok_status=202, mode=mode, max_body=max_body, max_events=max_events)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m wafermon_testkit.receiver")
    parser.add_argument("--out", required=True, help="where each event taken is appended")
    parser.add_argument("--port", type=int, default=0, help="0: a free port, printed on the ready line")
    parser.add_argument("--path", default="", help="the only path answered; others get 404")
    parser.add_argument("--mode", default="ok", choices=MODES)
    parser.add_argument("--ok-status", type=int, default=200, help="the status of a batch taken whole")
    parser.add_argument("--max-body", type=int, default=0, help="bytes (decompressed); 0: no limit")
    parser.add_argument("--max-events", type=int, default=0, help="events in one request; 0: no limit")
    parser.add_argument("--secret", default="", help="check X-Wafermon-Signature (HMAC-SHA256 of the body)")
    parser.add_argument("--api-key", default="", help="require Authorization: Bearer KEY")
    parser.add_argument("--gateway", action="store_true", help="reject events whose metadata.reject is true")
    return parser.parse_args(argv)


def _split(body: bytes) -> list[bytes]:
    """The events of a body as JSON texts: NDJSON lines, or the items of an array or of {"events"}."""
    try:
        doc = json.loads(body)
    except ValueError:  # NDJSON of two events or more
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("events"), list):
        doc = doc["events"]
    if isinstance(doc, list):
        return [json.dumps(item).encode() for item in doc]
    return [line for line in body.split(b"\n") if line.strip()]


def _serve(args: argparse.Namespace) -> None:
    lock = threading.Lock()
    seen: set[str] = set()
    out = open(args.out, "ab")  # noqa: SIM115 - lives as long as the process

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the core and the sidecar expect
        # The status line and headers go out in one write and the body in another; with Nagle's
        # algorithm on, the body then waits for the client's delayed ACK (~40 ms a request).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *a: object) -> None:
            pass

        def _reply(self, status: int, payload: dict[str, object]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            if args.path and self.path != args.path:
                self._reply(404, {"error": f"no route {self.path}"})
                return
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
            items = _split(body)
            if (args.max_body and len(body) > args.max_body) or (args.max_events and len(items) > args.max_events):
                limits = f"{args.max_body or 'no limit of'} bytes, {args.max_events or 'no limit of'} events"
                self._reply(413, {"error": f"{len(body)} bytes, {len(items)} events: over the limit of {limits}"})
                return
            if args.mode == "reject":
                self._reply(400, {"error": "the test receiver rejects everything", "accepted": 0, "rejected": []})
                return
            if args.mode == "fail":
                self._reply(500, {"error": "the test receiver fails everything"})
                return
            if args.api_key and self.headers.get("Authorization") != f"Bearer {args.api_key}":
                self._reply(401, {"error": "bad api key"})
                return
            signature_ok = True
            if args.secret:
                expected = "sha256=" + hmac.new(args.secret.encode(), raw, hashlib.sha256).hexdigest()
                signature_ok = hmac.compare_digest(expected, self.headers.get("X-Wafermon-Signature", ""))
            rejected: list[dict[str, object]] = []
            duplicates = 0
            with lock:
                for index, item in enumerate(items):
                    event = json.loads(item)  # a malformed event would be a sender's bug: fail loudly
                    if args.mode == "reject-second" and index == 1:
                        rejected.append({"index": 1, "field": "metadata", "message": "test receiver rejects index 1"})
                        continue
                    if args.gateway and (event.get("metadata") or {}).get("reject") is True:
                        message = f"rejected by the stand-in: event {event['event_id']}"
                        rejected.append({"index": index, "field": "metadata", "message": message})
                        continue
                    if event.get("event_id") in seen:
                        duplicates += 1
                    seen.add(event.get("event_id"))
                    text = item.decode("utf-8", "surrogateescape")
                    record = {"path": self.path, "signature_ok": signature_ok, "raw": text}
                    out.write(json.dumps(record).encode() + b"\n")
                out.flush()
            accepted = len(items) - len(rejected) - duplicates
            if args.gateway:  # like the gateway: 400 only when it takes none of them
                status = 400 if rejected and len(rejected) == len(items) else args.ok_status
            else:  # like the sidecar's ingest: 207 names the events it did not take
                status = 207 if rejected else args.ok_status
            self._reply(status, {"accepted": accepted, "duplicates": duplicates, "rejected": rejected})

        def do_PUT(self) -> None:
            self.do_POST()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"ready {server.server_address[1]} {os.getpid()}", flush=True)
    server.serve_forever()


def _blackhole(port: int) -> None:
    """Accepts connections and keeps them open, never reading or answering."""
    listener = socket.create_server(("127.0.0.1", port))
    held = []
    print(f"ready {listener.getsockname()[1]} {os.getpid()}", flush=True)
    while True:
        conn, _ = listener.accept()
        held.append(conn)


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    if args.mode == "blackhole":
        _blackhole(args.port)
    _serve(args)


if __name__ == "__main__":
    main()
