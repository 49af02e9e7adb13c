"""A PROTOCOL DOUBLE of Grafana Loki's push API, run as its own process. Not Loki: Loki is AGPL and
cannot be a dependency of this project, so the loki backend's tests run against this stand-in, which
keeps to what Loki documents for `POST /loki/api/v1/push` (JSON form) and is stricter where it can be.

    python -m wafermon_testkit.loki_double_server --store FILE [--port P] [--tenant-required]
        [--max-line-bytes N] [--reject-old-after-s S] [--creation-grace-s S] [--ordered-writes]
        [--out-of-order-window-s S] [--basic-auth USER:PASS] [--bearer TOKEN]

What it checks, in Loki's order (distributor, then ingester):
- auth (a stand-in for the proxy in front of Loki, which has none of its own): --basic-auth / --bearer
  → 401 without the right `Authorization`;
- tenant: with --tenant-required (Loki's `auth_enabled: true`) a push without `X-Scope-OrgID` → 401
  "no org id", several tenants (`a|b`) → 400, a tenant ID breaking Loki's rules (at most 150 bytes of
  `[A-Za-z0-9!_.*'()-]`, not `.` or `..`) → 400; without it every entry goes to tenant `fake`, as in
  Loki's single-tenant mode;
- `Content-Type: application/json` (the protobuf form is not spoken here) → else 400;
  `Content-Encoding: gzip` is decoded, identity accepted, anything else → 415;
- the body against PUSH_SCHEMA (only `streams`; each stream only `stream` and `values`; each value
  `[timestamp, line]` or `[timestamp, line, {structured metadata}]`; the timestamp a STRING of decimal
  nanoseconds within int64) → 400 naming the place;
- each stream's labels: valid Prometheus label names (`[a-zA-Z_][a-zA-Z0-9_]*`, not `__`-prefixed),
  at least one, at most 15, names ≤ 1024 and values ≤ 2048 bytes, no empty value → the whole stream
  is ignored with the reason;
- each entry: line ≤ --max-line-bytes (Loki's `max_line_size`, 256 KB) bytes, not older than
  --reject-old-after-s (`reject_old_samples_max_age`, 1 week), not newer than now + --creation-grace-s
  (`creation_grace_period`, 10 min); within one push the entries of a stream must be in time order
  (stricter than Loki's default) → "entry out of order";
- against what it holds: with --ordered-writes (Loki's `unordered_writes: false`) an entry older than
  the stream's newest → "entry out of order" (an exact repeat of the last line is ignored silently);
  by default (unordered writes) an entry more than --out-of-order-window-s (`max_chunk_age / 2`, 1 h)
  behind the stream's newest → "entry too far behind".
Identical (tenant, stream, timestamp, line) entries are stored once, as Loki de-duplicates them.

Answers: 204 when every entry was taken (or was a duplicate); like Loki, 400 with one text line per
ignored entry when some were not — the others of the push ARE stored. `POST /double/faults`
`{"status", "count", "retry_after", "message"}` answers the next `count` pushes with that status (and
Retry-After) without looking at them. `GET /ready` → 200. `GET /double/requests` lists every push
seen (`{"at", "status", "entries", "gzip", "tenant"}`).

Every stored entry is appended to --store as one JSON line `{"tenant", "stream", "ts", "line"}`,
flushed per push, and read back at start (the de-duplication survives a restart, as Loki's WAL
makes it). Prints `ready PORT PID` once listening. `wafermon_testkit.loki_double.LokiDouble` drives it.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import re
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jsonschema

PUSH_PATH = "/loki/api/v1/push"
INT64_MAX = 2**63 - 1
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
TENANT_ID = re.compile(r"^[A-Za-z0-9!_.*'()-]{1,150}$")
MAX_LABELS = 15  # max_label_names_per_series
MAX_LABEL_NAME_BYTES = 1024  # max_length_label_name
MAX_LABEL_VALUE_BYTES = 2048  # max_length_label_value

PUSH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["streams"],
    "additionalProperties": False,
    "properties": {
        "streams": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["stream", "values"],
                "additionalProperties": False,
                "properties": {
                    "stream": {"type": "object", "additionalProperties": {"type": "string"}},
                    "values": {
                        "type": "array",
                        "items": {
                            "type": "array",
                            "minItems": 2,
                            "maxItems": 3,
                            "prefixItems": [
                                {"type": "string", "pattern": "^(0|[1-9][0-9]{0,18})$"},
                                {"type": "string"},
                                {"type": "object", "additionalProperties": {"type": "string"}},
                            ],
                        },
                    },
                },
            },
        }
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(PUSH_SCHEMA)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m wafermon_testkit.loki_double_server")
    parser.add_argument("--store", required=True, help="stored entries, one JSON line each (read back at start)")
    parser.add_argument("--port", type=int, default=0, help="0: a free port, printed on the ready line")
    parser.add_argument("--tenant-required", action="store_true", help="multi-tenant: X-Scope-OrgID required")
    parser.add_argument("--max-line-bytes", type=int, default=256_000, help="Loki's max_line_size (256KB)")
    parser.add_argument("--reject-old-after-s", type=float, default=7 * 86400.0, help="reject_old_samples_max_age")
    parser.add_argument("--creation-grace-s", type=float, default=600.0, help="creation_grace_period")
    parser.add_argument("--ordered-writes", action="store_true", help="unordered_writes: false")
    parser.add_argument("--out-of-order-window-s", type=float, default=3600.0, help="max_chunk_age / 2")
    parser.add_argument("--basic-auth", default="", help="USER:PASS required as basic auth")
    parser.add_argument("--bearer", default="", help="TOKEN required as bearer auth")
    return parser.parse_args(argv)


def _labels_text(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(labels.items())) + "}"


def _ts_text(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1e9, UTC).isoformat()


def label_problem(labels: dict[str, str]) -> str | None:
    """Why Loki would refuse this label set, or None."""
    if not labels:
        return "error at least one label pair is required per stream"
    if len(labels) > MAX_LABELS:
        return f"stream has {len(labels)} labels, more than the limit of {MAX_LABELS}"
    for name, value in labels.items():
        if not LABEL_NAME.match(name) or name.startswith("__"):
            return f"invalid label name {name!r} (a Prometheus label name, not starting with __)"
        if len(name.encode()) > MAX_LABEL_NAME_BYTES:
            return f"label name {name[:40]!r}... longer than {MAX_LABEL_NAME_BYTES} bytes"
        if not value:
            return f"label {name!r} has an empty value (the same as no label: leave it out)"
        if len(value.encode()) > MAX_LABEL_VALUE_BYTES:
            return f"label {name!r} value longer than {MAX_LABEL_VALUE_BYTES} bytes"
    return None


class Store:
    """What the double holds: the entries, their de-duplication keys and each stream's newest time."""

    def __init__(self, path: str) -> None:
        self.keys: set[tuple[str, str, int, str]] = set()
        self.newest: dict[tuple[str, str], int] = {}
        self.last_line: dict[tuple[str, str], tuple[int, str]] = {}
        if os.path.exists(path):
            with open(path, "rb") as existing:
                for raw in existing:
                    if raw.strip():
                        row = json.loads(raw)
                        self._remember(row["tenant"], _labels_text(row["stream"]), int(row["ts"]), row["line"])
        self.out = open(path, "ab")  # noqa: SIM115 - lives as long as the process

    def _remember(self, tenant: str, stream: str, ts: int, line: str) -> None:
        self.keys.add((tenant, stream, ts, line))
        key = (tenant, stream)
        self.newest[key] = max(self.newest.get(key, ts), ts)
        self.last_line[key] = (ts, line)

    def add(self, tenant: str, labels: dict[str, str], ts: int, line: str) -> None:
        self._remember(tenant, _labels_text(labels), ts, line)
        row = {"tenant": tenant, "stream": labels, "ts": str(ts), "line": line}
        self.out.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")


def _serve(args: argparse.Namespace) -> None:
    lock = threading.Lock()
    store = Store(args.store)
    requests: list[dict[str, Any]] = []
    faults: dict[str, Any] = {"count": 0}
    basic = "Basic " + base64.b64encode(args.basic_auth.encode()).decode() if args.basic_auth else ""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *a: object) -> None:
            pass

        def _reply(self, status: int, text: str = "", headers: dict[str, str] | None = None) -> None:
            data = text.encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if status != 204:
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if status != 204:
                self.wfile.write(data)

        def _json(self, payload: object) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/ready":
                self._reply(200, "ready")
            elif self.path == "/double/requests":
                with lock:
                    self._json(list(requests))
            else:
                self._reply(404, f"no route {self.path}")

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/double/faults":
                with lock:
                    faults.clear()
                    faults.update(json.loads(raw))
                self._reply(204)
                return
            if self.path != PUSH_PATH:
                self._reply(404, f"no route {self.path}")
                return
            record: dict[str, Any] = {
                "at": time.time(),
                "entries": 0,
                "gzip": self.headers.get("Content-Encoding") == "gzip",
                "tenant": self.headers.get("X-Scope-OrgID"),
                "bytes": len(raw),
            }
            with lock:
                status, text, headers = self._push(raw, record)
                record["status"] = status
                requests.append(record)
                store.out.flush()
            self._reply(status, text, headers)

        def _push(self, raw: bytes, record: dict[str, Any]) -> tuple[int, str, dict[str, str]]:
            if faults.get("count", 0) > 0:
                faults["count"] -= 1
                retry_after = faults.get("retry_after")
                headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                return int(faults["status"]), str(faults.get("message", "injected fault")), headers
            authorization = self.headers.get("Authorization", "")
            if (basic and authorization != basic) or (args.bearer and authorization != f"Bearer {args.bearer}"):
                return 401, "unauthorized (the double's stand-in for the proxy in front of Loki)", {}
            tenant = "fake"
            if args.tenant_required:
                given = self.headers.get("X-Scope-OrgID")
                if not given:
                    return 401, "no org id", {}
                if "|" in given:
                    return 400, "multiple org IDs present", {}
                if not TENANT_ID.match(given) or given in (".", ".."):
                    return 400, f"tenant ID {given!r} is not valid (Loki's tenant ID restrictions)", {}
                tenant = given
            content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
            if content_type != "application/json":
                wanted = "the double speaks only the JSON push (Content-Type: application/json)"
                return 400, f"{wanted}, got {content_type!r}", {}
            encoding = self.headers.get("Content-Encoding", "identity")
            if encoding == "gzip":
                try:
                    raw = gzip.decompress(raw)
                except (OSError, EOFError) as exc:
                    return 400, f"body is not valid gzip: {exc}", {}
            elif encoding != "identity":
                return 415, f"unsupported Content-Encoding {encoding!r}", {}
            try:
                body = json.loads(raw)
            except ValueError as exc:
                return 400, f"body is not JSON: {exc}", {}
            problems = sorted(_VALIDATOR.iter_errors(body), key=lambda e: list(e.absolute_path))
            if problems:
                where = "/".join(str(p) for p in problems[0].absolute_path) or "(the body)"
                return 400, f"push body does not match the JSON push format at {where}: {problems[0].message}", {}
            return self._take(body, tenant, record)

        def _take(self, body: dict[str, Any], tenant: str, record: dict[str, Any]) -> tuple[int, str, dict[str, str]]:
            now_ns = time.time_ns()
            oldest_ns = now_ns - int(args.reject_old_after_s * 1e9)
            newest_ns = now_ns + int(args.creation_grace_s * 1e9)
            window_ns = int(args.out_of_order_window_s * 1e9)
            ignored: list[str] = []
            total = 0
            for stream in body["streams"]:
                labels: dict[str, str] = stream["stream"]
                total += len(stream["values"])
                record["entries"] += len(stream["values"])
                problem = label_problem(labels)
                if problem is not None:
                    ignored += [f"stream {_labels_text(labels)} ignored, reason: '{problem}'"] * len(stream["values"])
                    continue
                key = (tenant, _labels_text(labels))
                previous = -1
                for value in stream["values"]:
                    ts, line = int(value[0]), value[1]
                    reason = self._entry_problem(labels, ts, line, previous, key, oldest_ns, newest_ns, window_ns)
                    previous = max(previous, ts)
                    if reason == "":
                        continue  # a duplicate: ignored silently, as Loki does
                    if reason is not None:
                        ignored.append(
                            f"entry with timestamp {_ts_text(ts)} ignored, reason: '{reason}' "
                            f"for stream: {_labels_text(labels)}"
                        )
                        continue
                    store.add(tenant, labels, ts, line)
            if ignored:
                summary = f"user '{tenant}', total ignored: {len(ignored)} out of {total}"
                return 400, ",\n".join([*ignored, summary]), {}
            return 204, "", {}

        def _entry_problem(
            self,
            labels: dict[str, str],
            ts: int,
            line: str,
            previous: int,
            key: tuple[str, str],
            oldest_ns: int,
            newest_ns: int,
            window_ns: int,
        ) -> str | None:
            """Why this entry is not stored: a reason, "" for a duplicate, None when it is stored."""
            size = len(line.encode())
            if size > args.max_line_bytes:
                return (
                    f"Max entry size '{args.max_line_bytes}' bytes exceeded for stream '{_labels_text(labels)}' "
                    f"while adding an entry with length '{size}' bytes"
                )
            if ts < oldest_ns:
                oldest = _ts_text(oldest_ns)
                return f"entry has timestamp too old: {_ts_text(ts)}, oldest acceptable timestamp is: {oldest}"
            if ts > newest_ns:
                return f"entry has timestamp too new: {_ts_text(ts)}"
            if ts < previous:
                return "entry out of order (within this push)"
            newest = store.newest.get(key)
            if args.ordered_writes:  # only a repeat of the stream's last line is a duplicate here
                if store.last_line.get(key) == (ts, line):
                    return ""
                if newest is not None and ts < newest:
                    return "entry out of order"
            elif newest is not None and ts < newest - window_ns:  # checked before the de-duplication, as Loki does
                return f"entry too far behind, oldest acceptable timestamp is: {_ts_text(newest - window_ns)}"
            if (key[0], key[1], ts, line) in store.keys:
                return ""
            return None

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"ready {server.server_address[1]} {os.getpid()}", flush=True)
    server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    _serve(_parse_args(argv))


if __name__ == "__main__":
    main()
