"""``wafermon run``: run any program as a job, so shell scripts and cron jobs are monitored
without code changes::

    wafermon run [--site S] [--key K] [--metadata JSON] [--heartbeat SECONDS] -- COMMAND ARGS...

The job starts before the program does and finishes with its outcome: succeeded on exit 0,
failed with error type "ExitCode" ("exit code N") otherwise, or "Signal" ("SIGKILL") when a
signal ended it. The child's CPU user/sys time and peak RSS become the job's metrics and its exit
code goes into the metadata. SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on to the child.
``wafermon run`` exits with the child's exit code (128 + N for signal N), 127 when the program
cannot be started.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from . import _cli_view
from ._client import Client
from .errors import WafermonError

_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wafermon", description="wafermon command-line tools")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a program as a monitored job")
    run.add_argument("--site", help="site id (default: the configured app.site_id)")
    run.add_argument("--key", help="business key (default: the program's name)")
    run.add_argument("--metadata", default=None, help="JSON object added to the job's metadata")
    run.add_argument("--heartbeat", type=float, default=30.0, help="seconds between heartbeats (0: none)")
    run.add_argument("--config", default=None, help="wafermon configuration file (JSON)")
    run.add_argument("argv", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wafermon`` console script."""
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] and given[0] in _cli_view.COMMANDS:  # the terminal view: jobs, job, tail
        return _cli_view.main(given)
    args = _parser().parse_args(argv)
    command = list(args.argv)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        print("wafermon run: no command given; usage: wafermon run [options] -- COMMAND ARGS...", file=sys.stderr)
        return 2
    metadata: dict[str, Any] = {}
    if args.metadata:
        try:
            metadata = json.loads(args.metadata)
        except json.JSONDecodeError as exc:
            print(f"wafermon run: --metadata is not valid JSON: {exc}", file=sys.stderr)
            return 2
        if not isinstance(metadata, dict):
            print("wafermon run: --metadata must be a JSON object", file=sys.stderr)
            return 2
    if args.heartbeat < 0:
        print("wafermon run: --heartbeat must be >= 0", file=sys.stderr)
        return 2
    try:
        client = Client(args.config)
    except WafermonError as exc:
        print(f"wafermon run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    try:
        return _run(client, command, args.key or os.path.basename(command[0]), args.site, metadata, args.heartbeat)
    finally:
        try:
            client.close()
        except WafermonError as exc:
            print(f"wafermon run: {exc} (the rest is spooled for the next run)", file=sys.stderr)


def _run(client: Client, command: list[str], key: str, site: str | None, metadata: dict[str, Any], beat: float) -> int:
    try:
        job = client.start(key, site_id=site, metadata={**metadata, "command": command})
    except WafermonError as exc:
        print(f"wafermon run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    try:
        pid = os.posix_spawnp(command[0], command, os.environ)
    except OSError as exc:
        job.fail(type(exc).__name__, f"cannot start {command[0]}: {exc.strerror}", {"exit_code": 127})
        print(f"wafermon run: cannot start {command[0]}: {exc.strerror}", file=sys.stderr)
        return 127

    def forward(signum: int, frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    stop = threading.Event()
    beater = threading.Thread(target=_heartbeats, args=(job, beat, stop), daemon=True, name="wafermon-heartbeat")
    if beat > 0:
        beater.start()
    try:
        # wait4 restarts after a forwarded signal's handler ran (PEP 475).
        _, status, usage = os.wait4(pid, 0)
    finally:
        stop.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if beater.is_alive():
        beater.join()
    job.set_metric("cpu_user_s", usage.ru_utime)
    job.set_metric("cpu_sys_s", usage.ru_stime)
    job.set_metric("mem_max_mb", usage.ru_maxrss / 1024.0)  # Linux reports KiB
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        try:
            name = signal.Signals(signum).name
        except ValueError:  # a real-time signal without a name
            name = f"signal {signum}"
        code = 128 + signum
        job.fail("Signal", name, {"exit_code": code, "signal": name})
    else:
        code = os.waitstatus_to_exitcode(status)
        if code == 0:
            job.succeed({"exit_code": 0})
        else:
            job.fail("ExitCode", f"exit code {code}", {"exit_code": code})
    return code


def _heartbeats(job: Any, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        try:
            job.heartbeat()
        except WafermonError:
            return  # finished or closed meanwhile


if __name__ == "__main__":
    sys.exit(main())
