"""The repository's Python packages install the way a user installs them: wheels built from the
repository into one folder, then `pip install --find-links DIST wafermon-sidecar wafermon-gateway
wafermon` into a clean venv (third-party packages from the index, at the versions of
scripts/requirements.lock). The installed commands then run a job end to end: SDK → sidecar →
gateway, over real HTTP between the installed processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from wafermon_testkit import Service, free_port

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "scripts" / "requirements.lock"


def run(*cmd: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout}\n{result.stderr}"
    return result  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean venv holding only what the wheels and their locked dependencies bring."""
    work = tmp_path_factory.mktemp("wheels")
    dist = work / "dist"
    run("bash", ROOT / "scripts" / "wheels.sh", dist, env={**os.environ, "PY": sys.executable})
    built = sorted(p.name.split("-")[0] for p in dist.glob("*.whl"))
    assert built == ["wafermon", "wafermon_gateway", "wafermon_schema", "wafermon_sidecar"], built
    env_dir = work / "venv"
    run(sys.executable, "-m", "venv", env_dir)
    vpip = [env_dir / "bin" / "python", "-m", "pip"]
    run(*vpip, "install", "-q", "-c", LOCK, "pip")
    run(*vpip, "install", "-q", "--find-links", dist, "-c", LOCK, "wafermon-sidecar", "wafermon-gateway", "wafermon")
    return env_dir


def test_installed_packages_are_the_wheels_not_the_work_tree(venv: Path) -> None:
    where = run(
        venv / "bin" / "python",
        "-c",
        "import wafermon, wafermon_sidecar, wafermon_gateway, wafermon_schema as s;"
        "print(wafermon.__file__, wafermon_sidecar.__file__, wafermon_gateway.__file__, s.__file__)",
    )
    for path in where.stdout.split():
        assert path.startswith(str(venv)), f"imported from outside the venv: {path}"
    assert (ROOT / "VERSION").read_text().strip() in run(venv / "bin" / "wafermon-sidecar", "--version").stdout


@pytest.fixture
def stack(venv: Path, tmp_path: Path) -> Iterator[str]:
    """The installed gateway (SQLite) and sidecar on free ports; yields the sidecar's URL and the gateway's."""
    gw_port, sc_port = free_port(), free_port()
    gw_url, sc_url = f"http://127.0.0.1:{gw_port}", f"http://127.0.0.1:{sc_port}"
    config = tmp_path / "sidecar.json"
    config.write_text(
        json.dumps(
            {
                "ingest": {"host": "127.0.0.1", "port": sc_port},
                "spool": {"path": str(tmp_path / "spool")},
                "backends": [{"type": "managed_api", "name": "gateway", "config": {"url": gw_url}}],
            }
        )
    )
    gw_env = {**os.environ, "WAFERMON_GATEWAY_SQLITE_PATH": str(tmp_path / "gw.db")}
    gw_argv: list[str | Path] = [venv / "bin" / "wafermon-gateway", "--port", str(gw_port)]
    with (
        Service(gw_argv, gw_url, tmp_path / "gateway.log", env=gw_env, name="the installed gateway"),
        Service([venv / "bin" / "wafermon-sidecar", "--config", config], sc_url, tmp_path / "sidecar.log"),
    ):
        yield f"{sc_url} {gw_url}"


def test_a_job_from_the_installed_sdk_reaches_the_installed_gateway(venv: Path, stack: str, tmp_path: Path) -> None:
    sidecar_url, gateway_url = stack.split()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAFERMON_")}
    env |= {"WAFERMON_SIDECAR_URL": sidecar_url, "WAFERMON_SPOOL_DIR": str(tmp_path / "client-spool")}
    job = run(
        venv / "bin" / "python",
        "-c",
        "import wafermon\n"
        "with wafermon.job('from-wheels', site_id='fab1') as job:\n"
        "    with job.subjob('w1'):\n        pass\n"
        "print(job.id)",
        env=env,
        cwd=tmp_path,
    )
    job_id = job.stdout.strip().splitlines()[-1]
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{gateway_url}/v1/jobs/{job_id}", timeout=2) as answer:
                detail = json.load(answer)
            if detail["job"]["status"] == "succeeded" and len(detail["subjobs"]) == 1:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, f"job {job_id} did not reach the gateway in 30 s"
        time.sleep(0.2)
    assert detail["job"]["business_key"] == "from-wheels"
    assert detail["job"]["site_id"] == "fab1"
    assert detail["subjobs"][0]["sub_key"] == "w1"
    assert len(detail["timeline"]) == 4, detail["timeline"]  # job and sub-job: started, finished
