"""The terminal view of a gateway: ``wafermon jobs``, ``wafermon job ID`` and ``wafermon tail``.

Reads the gateway's HTTP API (``--gateway URL``, default ``$WAFERMON_GATEWAY_URL`` or
http://127.0.0.1:18000) with the key in ``$WAFERMON_API_KEY`` (read scope) if set. ``--json``
prints the API's JSON (one object per line for ``tail``). Exit status: 0, 1 when the gateway
answers with an error or cannot be reached, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

COMMANDS = ("jobs", "job", "tail")
_DURATION = re.compile(r"([0-9]{1,6})([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ViewError(Exception):
    """A message for the user: the gateway's error, or why it could not be reached."""


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--gateway", default=os.environ.get("WAFERMON_GATEWAY_URL", "http://127.0.0.1:18000"),
                        help="gateway base URL (default $WAFERMON_GATEWAY_URL or http://127.0.0.1:18000)")  # fmt: skip
    common.add_argument("--json", action="store_true", help="print the API's JSON")
    parser = argparse.ArgumentParser(prog="wafermon", description="look at jobs on a wafermon gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("jobs", "list jobs (newest first)"), ("tail", "follow job changes live")):
        sub = commands.add_parser(name, help=text, parents=[common])
        sub.add_argument("--site", help="site id")
        sub.add_argument("--status", help="running, succeeded, failed, cancelled, lost, orphaned (comma-separated)")
        sub.add_argument("--app", help="application name")
        sub.add_argument("--key", help="business key")
        if name == "jobs":
            sub.add_argument("--since", help="RFC 3339 time or a duration back from now, e.g. 30m, 2h, 7d")
            sub.add_argument("--limit", type=int, default=50, help="rows (1..1000, default 50)")
    job = commands.add_parser("job", help="one job with its sub-jobs", parents=[common])
    job.add_argument("id", help="the job's id (UUID)")
    return parser


def _since(value: str) -> str:
    match = _DURATION.fullmatch(value)
    if match:
        moment = datetime.now(UTC) - timedelta(seconds=int(match[1]) * _UNIT_S[match[2]])
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value  # the gateway checks RFC 3339 and names the field if it is not


def _request(base: str, path: str, params: dict[str, Any], accept: str = "application/json") -> Any:
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    url = f"{base.rstrip('/')}{path}{'?' + query if query else ''}"
    request = urllib.request.Request(url, headers={"Accept": accept})
    if key := os.environ.get("WAFERMON_API_KEY"):
        request.add_header("Authorization", f"Bearer {key}")
    try:
        return urllib.request.urlopen(request, timeout=None if accept == "text/event-stream" else 30)
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read())["error"]
        except (ValueError, KeyError, TypeError):
            message = exc.reason
        raise ViewError(f"gateway answered {exc.code}: {message}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ViewError(f"cannot reach the gateway at {base}: {getattr(exc, 'reason', exc)}") from None


def _get(base: str, path: str, params: dict[str, Any]) -> Any:
    with _request(base, path, params) as response:
        return json.loads(response.read())


def _local(iso: str | None) -> str:
    if not iso:
        return "-"
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _dur(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}s"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    return "\n".join(lines)


def _job_row(j: dict[str, Any]) -> list[str]:
    progress = "" if j.get("progress") is None else f"{j['progress'] * 100:.0f}%"
    return [j["id"], j["app"]["name"], j["site_id"], j["business_key"] or "", j["status"], progress,
            _local(j["created_at"]), _dur(j["duration_s"])]  # fmt: skip


_JOB_HEADER = ["ID", "APP", "SITE", "KEY", "STATUS", "PROGRESS", "CREATED", "DURATION"]


def _error(entity: dict[str, Any]) -> str:
    error = entity.get("error")
    return f"{error['type']}: {error['message']}" if error else ""


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {"site_id": args.site, "status": args.status, "app": args.app, "business_key": args.key}


def _jobs(args: argparse.Namespace) -> None:
    params = _filters(args) | {"limit": args.limit, "since": _since(args.since) if args.since else None}
    body = _get(args.gateway, "/v1/jobs", params)
    if args.json:
        print(json.dumps(body))
    else:
        print(_table([_job_row(j) for j in body["items"]], _JOB_HEADER))


def _job(args: argparse.Namespace) -> None:
    body = _get(args.gateway, f"/v1/jobs/{urllib.parse.quote(args.id, safe='')}", {})
    if args.json:
        print(json.dumps(body))
        return
    j = body["job"]
    metrics = j.get("metrics") or {}
    facts = [("job", j["id"]), ("key", j["business_key"] or "-"), ("app", f"{j['app']['name']} {j['app']['version']}"),
             ("site", j["site_id"]), ("status", j["status"]), ("started", _local(j["started_at"])),
             ("finished", _local(j["finished_at"])), ("duration", _dur(j["duration_s"])),
             ("cpu", _dur((metrics.get("cpu_user_s") or 0) + (metrics.get("cpu_sys_s") or 0)) if metrics else "-"),
             ("peak memory", f"{metrics['mem_max_mb']:.1f} MB" if "mem_max_mb" in metrics else "-"),
             ("host/pid", f"{j['host']}/{j['pid']}"),
             ("error", f"{j['error']['type']}: {j['error']['message']}" if j.get("error") else "-")]  # fmt: skip
    for name, value in facts:
        print(f"{name + ':':<13}{value}")
    rows = [
        [s["sub_key"] or s["id"], s["status"], _local(s["started_at"]), _dur(s["duration_s"]), _error(s)]
        for s in body["subjobs"]
    ]
    print(f"\nsub-jobs ({len(rows)}):")
    print(_table(rows, ["SUB KEY", "STATUS", "STARTED", "DURATION", "ERROR"]))


def _events(response: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    kind, data = "message", ""
    for raw in response:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if data:
                yield kind, json.loads(data)
            kind, data = "message", ""
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data += line[6:]


def _tail(args: argparse.Namespace) -> None:
    with _request(args.gateway, "/v1/stream", {"kind": "job"} | _filters(args), "text/event-stream") as response:
        if not args.json:
            print(_table([], _JOB_HEADER), flush=True)
        for _kind, job in _events(response):
            print(json.dumps(job) if args.json else "  ".join(_job_row(job)), flush=True)


def main(argv: Sequence[str]) -> int:
    """``wafermon jobs|job|tail ...``; returns the exit status."""
    args = _parser().parse_args(list(argv))
    try:
        {"jobs": _jobs, "job": _job, "tail": _tail}[args.command](args)
    except ViewError as exc:
        print(f"wafermon: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
