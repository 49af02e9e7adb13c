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
import subprocess
import sys
import tempfile
from pathlib import Path

from wafermon_testkit import Service, clean_env, console_script, free_port

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"


def schemathesis(workdir: Path, url: str, max_examples: int, *extra: str) -> int:
    cmd = [console_script("schemathesis"), "run", url + "/openapi.json", "--checks", CHECKS,
           "--max-examples", str(max_examples), "--phases", "examples,coverage,fuzzing",
           "--request-timeout", "30", "--no-color", "--generation-database", "none", *extra]  # fmt: skip
    print("api-contract:", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=workdir).returncode  # its .schemathesis/ cache stays in workdir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=100, help="per operation (default 100)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wafermon-api-contract-") as tmp:
        work = Path(tmp)
        gw_port, sc_port = free_port(), free_port()
        gw_url, sc_url = f"http://127.0.0.1:{gw_port}", f"http://127.0.0.1:{sc_port}"
        config = {
            "ingest": {"port": sc_port},
            "spool": {"path": str(work / "spool"), "max_size_mb": 64, "segment_size_mb": 8},
            "backends": [{"type": "filesystem", "name": "files", "config": {"path": str(work / "events")}}],
        }
        (work / "sidecar.json").write_text(json.dumps(config))
        gw_env = clean_env(WAFERMON_GATEWAY_SQLITE_PATH=str(work / "gateway.db"))
        gw_argv = [console_script("wafermon-gateway"), "--port", str(gw_port)]
        sc_argv = [console_script("wafermon-sidecar"), "--config", str(work / "sidecar.json")]
        gateway = Service(gw_argv, gw_url, work / "gateway.log", env=gw_env, name="the gateway")
        sidecar = Service(sc_argv, sc_url, work / "sidecar.log", env=clean_env(), name="the sidecar")
        try:
            gateway.start()
            sidecar.start()
            failed = []
            if schemathesis(work, gw_url, args.max_examples, "--exclude-path", "/v1/stream") != 0:
                failed.append("gateway")
            if schemathesis(work, sc_url, args.max_examples) != 0:
                failed.append("sidecar")
        except AssertionError as exc:  # a service did not come up: its log says why
            print(f"api-contract: {exc}")
            return 1
        finally:
            sidecar.stop()
            gateway.stop()
        if failed:
            print(f"api-contract: schemathesis found failures in: {', '.join(failed)}")
            return 1
        print("api-contract: gateway and sidecar answer as their OpenAPI documents say")
        return 0


if __name__ == "__main__":
    sys.exit(main())
