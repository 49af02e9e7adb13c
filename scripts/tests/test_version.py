"""One version: every copy listed in scripts/version.py agrees with VERSION, and
scripts/bump-version.sh moves them all (run on a copy of the files, never on the checkout)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSION_PY = ROOT / "scripts" / "version.py"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*args], capture_output=True, text=True, cwd=cwd)


def copy_of_stamped_files(tmp_path: Path) -> Path:
    """VERSION, the scripts and every stamped file, in the same layout under tmp_path."""
    listed = run(sys.executable, "-c", "import runpy; s = runpy.run_path('scripts/version.py'); "
                 "print('\\n'.join(sorted({n for n, _ in s['STAMPS']})))")  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    for name in ["VERSION", "scripts/version.py", "scripts/bump-version.sh", *listed.stdout.split()]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    return tmp_path


def test_every_copy_agrees_with_version_file() -> None:
    done = run(sys.executable, str(VERSION_PY), "check")
    assert done.returncode == 0, done.stderr


def test_a_copy_that_disagrees_is_named(tmp_path: Path) -> None:
    root = copy_of_stamped_files(tmp_path)
    pom = root / "sdk-java" / "pom.xml"
    pom.write_text(re.sub(r"(<artifactId>wafermon</artifactId>\n  <version>)[^<]+", r"\g<1>9.9.9", pom.read_text()))
    done = run(sys.executable, "scripts/version.py", "check", cwd=root)
    assert done.returncode == 1
    assert "sdk-java/pom.xml" in done.stderr and "9.9.9" in done.stderr


def test_bump_version_stamps_every_copy(tmp_path: Path) -> None:
    root = copy_of_stamped_files(tmp_path)
    done = run("bash", "scripts/bump-version.sh", "12.34.56", cwd=root)
    assert done.returncode == 0, done.stderr
    assert (root / "VERSION").read_text() == "12.34.56\n"
    header = (root / "core" / "include" / "wafermon.h").read_text()
    assert "#define WAFERMON_VERSION_MAJOR 12\n" in header and '"12.34.56"' in header
    assert (
        "assertEquals(123456, NativeLibrary.versionNum()"
        in (root / "sdk-java/src/test/java/dev/wafermon/StatusTableTest.java").read_text()
    )
    assert '"wafermon-schema==12.34.56"' in (root / "gateway" / "pyproject.toml").read_text()
    assert run(sys.executable, "scripts/version.py", "check", cwd=root).returncode == 0


def test_bump_version_refuses_what_is_not_a_version(tmp_path: Path) -> None:
    root = copy_of_stamped_files(tmp_path)
    done = run("bash", "scripts/bump-version.sh", "1.2", cwd=root)
    assert done.returncode == 2
    assert "not a version of the form MAJOR.MINOR.PATCH" in done.stderr
    assert (root / "VERSION").read_text() == (ROOT / "VERSION").read_text()
