"""The one stand-in HTTP receiver of the tests, run as its own process.

    python -m wafermon_testkit.receiver_server --out FILE [--port P] [--path PATH] [--mode MODE]
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

``wafermon_testkit.receiver.Receiver`` drives it as a child process from a test.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import hmac
import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("ok", "reject", "fail", "reject-second", "blackhole")
# The gateway's route for a sidecar's own reports (docs/sidecar.md, "Heartbeat"): answered, not recorded.
HEARTBEAT_PATH = "/v1/sidecars/heartbeat"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m wafermon_testkit.receiver_server")
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
            if self.path == HEARTBEAT_PATH:  # a sidecar reporting itself to its gateway: not an event
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self._reply(200, {"sidecar_id": "", "first": False})
                return
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
