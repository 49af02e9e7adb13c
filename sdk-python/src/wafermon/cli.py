"""``wafermon run``: run any program as a job, so shell scripts and cron jobs are monitored
without code changes::

    wafermon run [--site S] [--key K] [--metadata JSON] [--heartbeat SECONDS] -- COMMAND ARGS...

The job starts before the program does and finishes with its outcome: succeeded on exit 0,
failed with error type "ExitCode" ("exit code N") otherwise, or "Signal" ("SIGKILL") when a
signal ended it. The started event carries the heartbeat interval (``wafermon.heartbeat_s``) so
the gateway waits long enough between heartbeats. The child's own CPU user/sys time and peak RSS
become the job's metrics and its exit code goes into the metadata.

The program runs in a process group of its own, under a small C parent (``_wafermon_exec``) so
its peak RSS is not the wrapper's. Each signal reaches it once: Ctrl-C on a terminal goes to its
group directly (it gets the terminal's foreground); SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to
the wrapper or to the wrapper's group are passed on to the program's group once. ``wafermon run``
exits with the child's exit code (128 + N for signal N), 127 when the program cannot be started.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import _cli_view, _speedups
from ._client import Client
from .errors import WafermonError

_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
# Python ignores these; a program started from a shell has their default action (as subprocess).
_DEFAULT_IN_CHILD = (signal.SIGPIPE, signal.SIGXFSZ, *_FORWARDED)
_MAX_HEARTBEAT_S = 86400.0
_HELPER = Path(_speedups.__file__).with_name("_wafermon_exec")


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
    if not (math.isfinite(args.heartbeat) and 0 <= args.heartbeat <= _MAX_HEARTBEAT_S):
        print(
            f"wafermon run: --heartbeat must be a number of seconds from 0 to {_MAX_HEARTBEAT_S:.0f}"
            f" (0: no heartbeats), got {args.heartbeat}",
            file=sys.stderr,
        )
        return 2
    if args.heartbeat > 0:
        metadata["wafermon.heartbeat_s"] = args.heartbeat  # the gateway's allowance for this job
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
    foreground = _has_terminal()
    report_r, report_w = os.pipe()
    os.set_inheritable(report_w, True)
    try:
        pid = os.posix_spawn(
            str(_HELPER),
            [str(_HELPER), str(report_w), *command],
            os.environ,
            setpgroup=0,
            setsigdef=_DEFAULT_IN_CHILD,
        )
    except OSError as exc:
        os.close(report_r)
        job.fail(type(exc).__name__, f"cannot start {_HELPER}: {exc.strerror}", {"exit_code": 127})
        print(f"wafermon run: cannot start {_HELPER}: {exc.strerror} (reinstall wafermon)", file=sys.stderr)
        return 127
    finally:
        os.close(report_w)

    def forward(signum: int, frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    stop = threading.Event()
    beater = threading.Thread(target=_heartbeats, args=(job, beat, stop), daemon=True, name="wafermon-heartbeat")
    if beat > 0:
        beater.start()
    try:
        status, usage = _wait(pid, foreground)
        with os.fdopen(report_r, "rb") as report_file:
            report = report_file.read().decode().split()
    finally:
        stop.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if foreground:
            _set_foreground(os.getpgrp())
    if beater.is_alive():
        beater.join()
    if report[:1] == ["exec"]:
        error = OSError(int(report[1]), os.strerror(int(report[1])))
        job.fail(type(error).__name__, f"cannot start {command[0]}: {error.strerror}", {"exit_code": 127})
        print(f"wafermon run: cannot start {command[0]}: {error.strerror}", file=sys.stderr)
        return 127
    if report[:1] == ["status"] and len(report) == 5:
        # The program's own figures, as its small parent measured them.
        status = int(report[1])
        job.set_metric("cpu_user_s", int(report[2]) / 1e6)
        job.set_metric("cpu_sys_s", int(report[3]) / 1e6)
        job.set_metric("mem_max_mb", int(report[4]) / 1024.0)  # Linux reports KiB
    else:  # the helper itself was killed (e.g. SIGKILL to the group): its own figures
        job.set_metric("cpu_user_s", usage.ru_utime)
        job.set_metric("cpu_sys_s", usage.ru_stime)
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


def _has_terminal() -> bool:
    """True when stdin is a terminal whose foreground is this process's group."""
    try:
        return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


def _set_foreground(pgid: int) -> None:
    # A background group may change the terminal's foreground only with SIGTTOU ignored.
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(0, pgid)
    finally:
        signal.signal(signal.SIGTTOU, previous)


def _wait(pid: int, foreground: bool) -> tuple[int, Any]:
    """Waits for the program's group leader; on Ctrl-Z (it stopped) stops this wrapper too, so the
    shell sees the job stopped, and continues the program when the wrapper is continued."""
    while True:
        # wait4 restarts after a forwarded signal's handler ran (PEP 475).
        _, status, usage = os.wait4(pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            return status, usage
        if foreground:
            _set_foreground(os.getpgrp())
        os.kill(os.getpid(), signal.SIGSTOP)
        if foreground and _has_terminal():
            _set_foreground(pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGCONT)


def _heartbeats(job: Any, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        try:
            job.heartbeat()
        except WafermonError:
            return  # finished or closed meanwhile


if __name__ == "__main__":
    sys.exit(main())
