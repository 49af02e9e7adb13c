"""A real HTTP receiver for the tests: ``POST /v1/ingest/events:batch`` -> 202, each event stored
as one NDJSON line in OUT (appended, flushed). Prints its port on stdout once listening.

    python receiver.py OUT [PORT]
"""

from __future__ import annotations

import gzip
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_write_lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    out_path = ""

    def do_POST(self) -> None:
        if self.path != "/v1/ingest/events:batch":
            self.send_error(404)
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        text = body.decode().strip()
        events = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.split("\n") if line]
        with _write_lock, open(self.out_path, "a", encoding="utf-8") as out:
            for event in events:
                out.write(json.dumps(event) + "\n")
        reply = json.dumps({"accepted": len(events)}).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    Handler.out_path = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
