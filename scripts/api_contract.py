"""The api-contract stage: schemathesis against a real gateway (SQLite) and a real sidecar, each
started here on a free loopback port in a temporary directory and stopped at the end.

Checks: no 5xx (not_a_server_error), every answered status is documented (status_code_conformance),
every JSON answer matches its documented schema (response_schema_conformance). GET /v1/stream is
left out: a 200 there is an endless Server-Sent Events answer with no JSON body to check; its
statuses are proven by gateway/tests/test_openapi_statuses.py.

Usage: python scripts/api_contract.py [--max-examples N]   (exit status: schemathesis's, or 1)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url + "/v1/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"api-contract: {url} did not come up:\n{log.read_text(errors='replace')}")


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def schemathesis(workdir: Path, url: str, max_examples: int, *extra: str) -> int:
    cmd = [str(BIN / "schemathesis"), "run", url + "/openapi.json", "--checks", CHECKS,
           "--max-examples", str(max_examples), "--phases", "examples,coverage,fuzzing",
           "--request-timeout", "30", "--no-color", "--generation-database", "none", *extra]  # fmt: skip
    print("api-contract:", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=workdir).returncode  # its .schemathesis/ cache stays in workdir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=100, help="per operation (default 100)")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAFERMON_")}
    with tempfile.TemporaryDirectory(prefix="wafermon-api-contract-") as tmp:
        work = Path(tmp)
        gw_port, sc_port = free_port(), free_port()
        gateway = start(
            [str(BIN / "wafermon-gateway"), "--port", str(gw_port)],
            env | {"WAFERMON_GATEWAY_SQLITE_PATH": str(work / "gateway.db")},
            work / "gateway.log",
        )
        config = {
            "ingest": {"port": sc_port},
            "spool": {"path": str(work / "spool"), "max_size_mb": 64, "segment_size_mb": 8},
            "backends": [{"type": "filesystem", "name": "files", "config": {"path": str(work / "events")}}],
        }
        (work / "sidecar.json").write_text(json.dumps(config))
        sidecar = start([str(BIN / "wafermon-sidecar"), "--config", str(work / "sidecar.json")], env,
                        work / "sidecar.log")  # fmt: skip
        try:
            gw_url, sc_url = f"http://127.0.0.1:{gw_port}", f"http://127.0.0.1:{sc_port}"
            wait_ready(gateway, gw_url, work / "gateway.log")
            wait_ready(sidecar, sc_url, work / "sidecar.log")
            failed = []
            if schemathesis(work, gw_url, args.max_examples, "--exclude-path", "/v1/stream") != 0:
                failed.append("gateway")
            if schemathesis(work, sc_url, args.max_examples) != 0:
                failed.append("sidecar")
        finally:
            stop(sidecar)
            stop(gateway)
        if failed:
            print(f"api-contract: schemathesis found failures in: {', '.join(failed)}")
            return 1
        print("api-contract: gateway and sidecar answer as their OpenAPI documents say")
        return 0


if __name__ == "__main__":
    sys.exit(main())
