"""Fails when the .venv holds a third-party package that scripts/requirements.lock does not pin at
that exact version: a dependency added or a bound changed without `bash scripts/lock.sh`.

Usage: python scripts/check_lock.py scripts/requirements.lock   (exit 0 in step, 1 with the differences)
"""

from __future__ import annotations

import re
import sys
from importlib import metadata


def canonicalize_name(name: str) -> str:
    """The PEP 503 normal form, so `PyYAML`, `pyyaml` and `py_yaml` compare equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


OWN = {"wafermon", "wafermon-sidecar", "wafermon-gateway", "wafermon-schema", "wafermon-testkit"}


def read_lock(path: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    with open(path, encoding="utf-8") as lock:
        for line in lock:
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, version = line.partition("==")
                pins[canonicalize_name(name)] = version
    return pins


def main(lock_path: str) -> int:
    pins = read_lock(lock_path)
    problems = []
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        if name in OWN:
            continue
        pinned = pins.get(name)
        if pinned is None:
            problems.append(f"{name} {dist.version} is installed but not in the lock")
        elif pinned != dist.version:
            problems.append(f"{name} is {dist.version}, the lock says {pinned}")
    for problem in sorted(problems):
        print(f"lock: {problem}", file=sys.stderr)
    if problems:
        print(f"lock: {lock_path} is out of step; refresh it with: bash scripts/lock.sh", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
