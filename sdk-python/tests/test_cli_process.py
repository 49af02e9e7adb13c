"""``wafermon run`` and its child process: each signal reaches the child once, the heartbeat
interval is told to the gateway, and the child's peak memory is its own."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import clean_env, direct_config, read_jsonl_dir

WAFERMON = shutil.which("wafermon", path=os.path.dirname(sys.executable)) or "wafermon"

ROUNDS = 5
# Counts SIGINTs one by one (sigtimedwait: Python's own handler would merge two close ones). In
# each round it says "ready-N", waits for a SIGINT, then half a second for duplicates, and appends
# "COUNT SENDER_PID" to the file. A duplicate sent very soon after the first merges with it in the
# kernel, so the sender shows the route too: a group signal must come from the wrapper alone.
COUNTER = """
import pathlib, signal, sys
out = pathlib.Path(sys.argv[1])
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
for n in range(int(sys.argv[2])):
    (out.parent / f"ready-{n}").write_text("1")
    count, sender = 0, 0
    info = signal.sigtimedwait({signal.SIGINT}, 60)
    if info is not None:
        count, sender = 1, info.si_pid
        while signal.sigtimedwait({signal.SIGINT}, 0.5) is not None:
            count += 1
    with out.open("a") as f:
        f.write(f"{count} {sender}\\n")
"""


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "wafermon.json"
    config.write_text(json.dumps(direct_config(tmp_path)))
    return config


def wait_for_file(path: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        assert time.monotonic() < deadline and proc.poll() is None, f"the child did not write {path.name}"
        time.sleep(0.02)


@pytest.mark.parametrize("target", ["process group", "wrapper pid"])
def test_sigint_reaches_the_child_once(tmp_path: Path, target: str) -> None:
    """``setsid wafermon run -- python COUNTER``, then SIGINT to the group (what Ctrl-C or
    ``kill -INT -- -PGID`` does) or to the wrapper alone, ROUNDS times."""
    script = tmp_path / "counter.py"
    script.write_text(COUNTER)
    args = [WAFERMON, "run", "--config", str(write_config(tmp_path)), "--", sys.executable, str(script)]
    count = tmp_path / "count"
    proc = subprocess.Popen([*args, str(count), str(ROUNDS)], env=clean_env(), start_new_session=True)
    try:
        for n in range(ROUNDS):
            wait_for_file(tmp_path / f"ready-{n}", proc)
            time.sleep(0.2)  # the child is then waiting in sigtimedwait
            if target == "process group":
                os.killpg(proc.pid, signal.SIGINT)
            else:
                os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
    # Each round: one SIGINT, passed on by the wrapper (proc.pid) whichever way it was sent.
    assert count.read_text().split("\n")[:-1] == [f"1 {proc.pid}"] * ROUNDS
    assert read_jsonl_dir(tmp_path / "out")[-1]["status"] == "succeeded"


def run(tmp_path: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    proc = subprocess.run(
        [WAFERMON, "run", "--config", str(write_config(tmp_path)), *args], env=clean_env(), timeout=60
    )
    return proc.returncode, read_jsonl_dir(tmp_path / "out")


def test_heartbeat_interval_is_in_the_started_event(tmp_path: Path) -> None:
    code, events = run(tmp_path, "--heartbeat", "600", "--", "true")
    assert code == 0
    assert events[0]["event_kind"] == "started" and events[0]["metadata"]["wafermon.heartbeat_s"] == 600


def test_no_heartbeats_no_interval(tmp_path: Path) -> None:
    code, events = run(tmp_path, "--heartbeat", "0", "--", "true")
    assert code == 0 and "wafermon.heartbeat_s" not in events[0]["metadata"]


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "86401"])
def test_heartbeat_out_of_range_is_refused(tmp_path: Path, value: str) -> None:
    args = [WAFERMON, "run", "--heartbeat", value, "--", "true"]
    proc = subprocess.run(args, env=clean_env(), capture_output=True, timeout=60)
    assert proc.returncode == 2 and b"--heartbeat must be a number of seconds from 0 to 86400" in proc.stderr


def test_small_program_peak_is_its_own(tmp_path: Path) -> None:
    # A shell's own peak is about 1-2 MB; the Python wrapper's is 25 MB and more.
    code, events = run(tmp_path, "--", "sh", "-c", "exit 0")
    assert code == 0
    assert events[-1]["metrics"]["mem_max_mb"] < 6, events[-1]["metrics"]


ALLOCATE = """
import sys
block = bytearray(200 << 20)
for i in range(0, len(block), 4096):
    block[i] = 1
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        open(sys.argv[1], "w").write(line.split()[1])
"""


def test_large_program_peak_is_its_own(tmp_path: Path) -> None:
    script = tmp_path / "allocate.py"
    script.write_text(ALLOCATE)
    code, events = run(tmp_path, "--", sys.executable, str(script), str(tmp_path / "hwm"))
    assert code == 0
    own_mb = int((tmp_path / "hwm").read_text()) / 1024
    reported = events[-1]["metrics"]["mem_max_mb"]
    assert own_mb >= 200 and abs(reported - own_mb) < 3, (reported, own_mb)


def test_program_inherits_default_sigpipe(tmp_path: Path) -> None:
    # Python ignores SIGPIPE; the command must start with the default action, as from a shell.
    # SigIgn is a hex mask of ignored signals; SIGPIPE (13) is bit 12.
    check = "mask=$(grep SigIgn /proc/$$/status | cut -f2); exit $(( (0x$mask >> 12) & 1 ))"
    code, _ = run(tmp_path, "--", "sh", "-c", check)
    assert code == 0


def test_missing_program_names_the_error(tmp_path: Path) -> None:
    code, events = run(tmp_path, "--", "/nonexistent/program")
    assert code == 127
    assert events[-1]["error"]["type"] == "FileNotFoundError"
    assert events[-1]["error"]["message"].startswith("cannot start /nonexistent/program")


def test_ctrl_c_on_a_terminal_reaches_the_child_once(tmp_path: Path) -> None:
    """Ctrl-C typed on a terminal (a real pty) goes to the program's group, which has the
    foreground: once, from the kernel (sender 0), and the wrapper exits with the program."""
    script = tmp_path / "counter.py"
    script.write_text(COUNTER)
    count = tmp_path / "count"
    args = [
        WAFERMON,
        "run",
        "--config",
        str(write_config(tmp_path)),
        "--",
        sys.executable,
        str(script),
        str(count),
        "1",
    ]
    pid, terminal = pty.fork()
    if pid == 0:  # the child: session leader on the pty, as a login shell's job would be
        try:
            os.execve(WAFERMON, args, clean_env())
        finally:
            os._exit(127)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "ready-0").exists():
            assert time.monotonic() < deadline, "the child did not start"
            time.sleep(0.02)
        time.sleep(0.2)
        os.write(terminal, b"\x03")
        deadline = time.monotonic() + 30
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            assert time.monotonic() < deadline, "wafermon run did not end"
            with contextlib.suppress(OSError):
                os.read(terminal, 65536)  # keep the pty drained
            time.sleep(0.02)
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(terminal)
    assert count.read_text() == "1 0\n"
    assert read_jsonl_dir(tmp_path / "out")[-1]["status"] == "succeeded"
