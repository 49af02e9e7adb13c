"""The repository's one version: VERSION at the root, and every file that has to carry a copy.

    python scripts/version.py check         exit 1, naming each file that disagrees with VERSION
    python scripts/version.py stamp X.Y.Z   write X.Y.Z into VERSION and into every copy

Builds that can read VERSION themselves do: CMake (`file(STRINGS)` in CMakeLists.txt, so the
shared library, the JNI library's file name and the R/Perl builds follow) and the root
pyproject.toml (scikit-build-core's regex metadata provider). The rest cannot reach a file outside
their own directory (setuptools refuses `../VERSION`; Maven, R, Perl and a C header have no such
include), so their copies are listed in STAMPS and stamped by scripts/bump-version.sh.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
V = r"\d+\.\d+\.\d+"

Render = Callable[[int, int, int], str]


def _text(template: str) -> Render:
    return lambda major, minor, patch: template.format(version=f"{major}.{minor}.{patch}")


# (file, pattern matching each copy whatever its version, that copy for a given version).
STAMPS: list[tuple[str, str, Render]] = [
    ("conformance/python/pyproject.toml", rf'(?m)^version = "{V}"', _text('version = "{version}"')),
    ("sidecar/pyproject.toml", rf'(?m)^version = "{V}"', _text('version = "{version}"')),
    ("sidecar/pyproject.toml", rf'"wafermon-schema=={V}"', _text('"wafermon-schema=={version}"')),
    ("gateway/pyproject.toml", rf'(?m)^version = "{V}"', _text('version = "{version}"')),
    ("gateway/pyproject.toml", rf'"wafermon-schema=={V}"', _text('"wafermon-schema=={version}"')),
    ("testkit/pyproject.toml", rf'(?m)^version = "{V}"', _text('version = "{version}"')),
    ("sidecar/src/wafermon_sidecar/__init__.py", rf'__version__ = "{V}"', _text('__version__ = "{version}"')),
    ("gateway/src/wafermon_gateway/__init__.py", rf'__version__ = "{V}"', _text('__version__ = "{version}"')),
    (
        "core/include/wafermon.h",
        r"#define WAFERMON_VERSION_MAJOR \d+",
        lambda a, b, c: f"#define WAFERMON_VERSION_MAJOR {a}",
    ),
    (
        "core/include/wafermon.h",
        r"#define WAFERMON_VERSION_MINOR \d+",
        lambda a, b, c: f"#define WAFERMON_VERSION_MINOR {b}",
    ),
    (
        "core/include/wafermon.h",
        r"#define WAFERMON_VERSION_PATCH \d+",
        lambda a, b, c: f"#define WAFERMON_VERSION_PATCH {c}",
    ),
    (
        "core/include/wafermon.h",
        rf'#define WAFERMON_VERSION_STRING "{V}"',
        _text('#define WAFERMON_VERSION_STRING "{version}"'),
    ),
    (
        "sdk-java/pom.xml",
        rf"<artifactId>wafermon</artifactId>\n  <version>{V}</version>",
        _text("<artifactId>wafermon</artifactId>\n  <version>{version}</version>"),
    ),
    ("sdk-java/src/main/java/dev/wafermon/Version.java", rf'SDK = "{V}";', _text('SDK = "{version}";')),
    (
        "sdk-java/src/test/java/dev/wafermon/StatusTableTest.java",
        rf'assertEquals\(\d+, NativeLibrary.versionNum\(\), "{V}"\)',
        lambda a, b, c: f'assertEquals({a * 10000 + b * 100 + c}, NativeLibrary.versionNum(), "{a}.{b}.{c}")',
    ),
    ("sdk-java/README.md", rf"dev\.wafermon:wafermon:{V}", _text("dev.wafermon:wafermon:{version}")),
    ("sdk-java/README.md", rf"libwafermon-jni-{V}\.so", _text("libwafermon-jni-{version}.so")),
    ("docs/java.md", rf"wafermon-jni-{V}", _text("wafermon-jni-{version}")),
    ("sdk-r/DESCRIPTION", rf"(?m)^Version: {V}$", _text("Version: {version}")),
    ("sdk-perl/lib/WaferMon.pm", rf"our \$VERSION = '{V}';", _text("our $VERSION = '{version}';")),
    ("sdk-perl/t/00-load.t", rf"WaferMon::core_version\(\), '{V}'", _text("WaferMon::core_version(), '{version}'")),
    ("docs/gateway.md", rf'"status": "ok", "version": "{V}"', _text('"status": "ok", "version": "{version}"')),
    (
        "docs/sidecar.md",
        rf'"status": "degraded", "version": "{V}"',
        _text('"status": "degraded", "version": "{version}"'),
    ),
]


def parse(version: str) -> tuple[int, int, int]:
    """(major, minor, patch) of "X.Y.Z". Raises ValueError for anything else."""
    match = SEMVER.match(version)
    if match is None:
        raise ValueError(f"{version!r} is not a version of the form MAJOR.MINOR.PATCH (e.g. 1.2.3)")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def read_version(root: Path = ROOT) -> str:
    return (root / "VERSION").read_text(encoding="utf-8").strip()


def disagreements(root: Path = ROOT) -> list[str]:
    """One line per copy that is missing or differs from VERSION (empty when all agree)."""
    version = read_version(root)
    parts = parse(version)
    problems = []
    for name, pattern, render in STAMPS:
        text = (root / name).read_text(encoding="utf-8")
        found = re.findall(pattern, text)
        wanted = render(*parts)
        if not found:
            problems.append(f"{name}: no copy of the version matches /{pattern}/")
        problems += [f"{name}: {copy!r} disagrees with VERSION {version}" for copy in found if copy != wanted]
    return problems


def stamp(new: str, root: Path = ROOT) -> None:
    """Writes `new` into VERSION and every copy. Raises ValueError if `new` is not X.Y.Z."""
    parts = parse(new)
    (root / "VERSION").write_text(new + "\n", encoding="utf-8")
    for name, pattern, render in STAMPS:
        path = root / name
        path.write_text(re.sub(pattern, render(*parts), path.read_text(encoding="utf-8")), encoding="utf-8")


def main(argv: list[str]) -> int:
    if argv[:1] == ["check"] and len(argv) == 1:
        problems = disagreements()
        for problem in problems:
            print(f"version: {problem}", file=sys.stderr)
        if problems:
            print("version: stamp every copy with: scripts/bump-version.sh $(cat VERSION)", file=sys.stderr)
        return 1 if problems else 0
    if argv[:1] == ["stamp"] and len(argv) == 2:
        try:
            stamp(argv[1])
        except ValueError as exc:
            print(f"version: {exc}", file=sys.stderr)
            return 2
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
