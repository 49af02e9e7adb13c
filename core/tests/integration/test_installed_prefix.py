"""A C program uses an installed libwafermon the two ways users do: pkg-config and find_package."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import BUILD, HERE

EXAMPLE = HERE.parents[1] / "examples" / "hello_job.c"


def install(prefix: Path) -> None:
    subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(prefix)], check=True, capture_output=True)


def run_hello(binary: Path, tmp: Path, env_extra: dict[str, str] | None = None) -> list[dict[str, object]]:
    out = tmp / "events"
    env = dict(
        os.environ, WAFERMON_MODE="direct", WAFERMON_FILESYSTEM_PATH=str(out), WAFERMON_SPOOL_DIR=str(tmp / "sp")
    )
    env.pop("WAFERMON_CONFIG", None)
    env.update(env_extra or {})
    done = subprocess.run([str(binary)], env=env, capture_output=True, text=True, check=True)
    assert "reported (delivered)" in done.stdout
    return [json.loads(line) for f in sorted(out.glob("events-*.jsonl")) for line in f.read_text().splitlines()]


def test_pkg_config_compile_line(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    install(prefix)
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "wafermon"], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    binary = tmp_path / "hello_job"
    subprocess.run(["cc", str(EXAMPLE), *flags, f"-Wl,-rpath,{prefix / 'lib'}", "-o", str(binary)], check=True)
    events = run_hello(binary, tmp_path)
    assert [e["event_kind"] for e in events].count("finished") == 3
    assert {e["business_key"] for e in events} == {"batch-12345"}


def test_cmake_find_package(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    install(prefix)
    build = tmp_path / "build"
    subprocess.run(
        [
            "cmake",
            "-S",
            str(HERE / "find_package_project"),
            "-B",
            str(build),
            f"-DCMAKE_PREFIX_PATH={prefix}",
            f"-DHELLO_JOB_SOURCE={EXAMPLE}",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
    for name in ("hello_job", "hello_job_static"):
        events = run_hello(build / name, tmp_path / name)
        assert len(events) == 10
