"""A disabled backend's settings are checked as an enabled one's are (its constructor opens nothing),
so `--check-config` catches a bad key before someone turns the backend on; only a disabled backend
whose type is not installed here passes, with a warning naming it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import SIDECAR_EXE


def _check(tmp_path: Path, backend: dict[str, object]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "sidecar.json"
    path.write_text(json.dumps({"spool": {"path": str(tmp_path / "spool")}, "backends": [backend]}))
    return subprocess.run([SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True)


def test_a_bad_key_in_a_disabled_backend_fails_check_config_naming_backend_and_key(tmp_path: Path) -> None:
    done = _check(
        tmp_path,
        {"type": "csv", "name": "later", "enabled": False, "config": {"output_dir": str(tmp_path), "rotaton": "daily"}},
    )
    assert done.returncode == 2, done.stdout
    assert "'later'" in done.stderr and "rotaton" in done.stderr, done.stderr


def test_a_bad_filter_in_a_disabled_backend_fails_check_config(tmp_path: Path) -> None:
    done = _check(
        tmp_path,
        {"type": "csv", "name": "later", "enabled": False, "config": {"output_dir": str(tmp_path)},
         "fields": ["at"]},
    )  # fmt: skip
    assert done.returncode == 2, done.stdout
    assert "backends[later].fields" in done.stderr, done.stderr


def test_a_disabled_backend_of_a_type_not_installed_passes_with_a_warning(tmp_path: Path) -> None:
    done = _check(tmp_path, {"type": "carrier-pigeon", "name": "someday", "enabled": False})
    assert done.returncode == 0, done.stderr
    assert "configuration OK" in done.stdout
    assert "someday" in done.stderr and "carrier-pigeon" in done.stderr and "not installed" in done.stderr


def test_a_good_disabled_backend_passes(tmp_path: Path) -> None:
    done = _check(tmp_path, {"type": "csv", "name": "later", "enabled": False, "config": {"output_dir": str(tmp_path)}})
    assert done.returncode == 0, done.stderr
