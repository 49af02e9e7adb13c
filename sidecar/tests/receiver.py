"""A stand-in HTTP receiver for the tests, run as its own process.

    python receiver.py --port P --out FILE [--mode ok|reject|fail] [--secret S] [--gateway] [--max-body N]

Every event it takes is written to FILE as one line: `<event_id> <signature-ok 0/1>`. Modes:
ok = 200 for everything; reject = 400 for everything; fail = 500 for everything. --gateway makes it a
stand-in for the gateway's POST /v1/ingest/managed (fake_gateway): it reads {"events", "source",
"site_id"} (or a bare array), answers {"accepted", "duplicates", "rejected"} and rejects events whose
metadata.reject is true, with their index and a message naming the event; like the gateway, it
answers 400 (with the same list) when it rejects every event. --max-body N answers 413 to a body
over N bytes, as the gateway does over its max_body_bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--mode", default="ok", choices=["ok", "reject", "fail"])
    parser.add_argument("--secret", default="")
    parser.add_argument("--gateway", action="store_true")
    parser.add_argument("--api-key", default="")
    parser.add_argument("--max-body", type=int, default=0)
    args = parser.parse_args()
    lock = threading.Lock()
    seen: set[str] = set()
    out = open(args.out, "a")  # noqa: SIM115 - lives as long as the process

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The status line and headers go out in one write and the body in another; with Nagle's
        # algorithm on, the body then waits for the client's delayed ACK (~40 ms a request).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *a: object) -> None:
            pass

        def _reply(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if args.max_body and len(body) > args.max_body:
                self._reply(413, {"error": f"the body is {len(body)} bytes; the limit is {args.max_body}"})
                return
            if args.mode == "reject":
                self._reply(400, {"error": "this stand-in rejects everything"})
                return
            if args.mode == "fail":
                self._reply(500, {"error": "this stand-in fails everything"})
                return
            if args.api_key and self.headers.get("Authorization") != f"Bearer {args.api_key}":
                self._reply(401, {"error": "bad api key"})
                return
            sig_ok = 1
            if args.secret:
                expected = "sha256=" + hmac.new(args.secret.encode(), body, hashlib.sha256).hexdigest()
                sig_ok = int(hmac.compare_digest(expected, self.headers.get("X-Wafermon-Signature", "")))
            doc = json.loads(body)
            events = doc["events"] if isinstance(doc, dict) else doc
            rejected = []
            duplicates = 0
            with lock:
                for i, event in enumerate(events):
                    if args.gateway and (event.get("metadata") or {}).get("reject") is True:
                        message = f"rejected by the stand-in: event {event['event_id']}"
                        rejected.append({"index": i, "field": "metadata", "message": message})
                        continue
                    if event["event_id"] in seen:
                        duplicates += 1
                    seen.add(event["event_id"])
                    out.write(f"{event['event_id']} {sig_ok}\n")
                out.flush()
            accepted = len(events) - len(rejected) - duplicates
            status = 400 if rejected and len(rejected) == len(events) else 200
            self._reply(status, {"accepted": accepted, "duplicates": duplicates, "rejected": rejected})

        def do_PUT(self) -> None:
            self.do_POST()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"ready {os.getpid()}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
