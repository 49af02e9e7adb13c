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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
PLACES = {"{version}": r"\d+\.\d+\.\d+", "{major}": r"\d+", "{minor}": r"\d+", "{patch}": r"\d+", "{num}": r"\d+"}

# Each copy of the version: (file, the text around it). The text's fields are {version} (X.Y.Z),
# {major}, {minor}, {patch} and {num} (MAJOR*10000 + MINOR*100 + PATCH); a leading ^ anchors it
# at the start of a line.
STAMPS: list[tuple[str, str]] = [
    ("conformance/python/pyproject.toml", '^version = "{version}"'),
    ("sidecar/pyproject.toml", '^version = "{version}"'),
    ("sidecar/pyproject.toml", '"wafermon-schema=={version}"'),
    ("gateway/pyproject.toml", '^version = "{version}"'),
    ("gateway/pyproject.toml", '"wafermon-schema=={version}"'),
    ("testkit/pyproject.toml", '^version = "{version}"'),
    ("sidecar/src/wafermon_sidecar/__init__.py", '__version__ = "{version}"'),
    ("gateway/src/wafermon_gateway/__init__.py", '__version__ = "{version}"'),
    ("core/include/wafermon.h", "#define WAFERMON_VERSION_MAJOR {major}\n"),
    ("core/include/wafermon.h", "#define WAFERMON_VERSION_MINOR {minor}\n"),
    ("core/include/wafermon.h", "#define WAFERMON_VERSION_PATCH {patch}\n"),
    ("core/include/wafermon.h", '#define WAFERMON_VERSION_STRING "{version}"'),
    ("sdk-java/pom.xml", "<artifactId>wafermon</artifactId>\n  <version>{version}</version>"),
    ("sdk-java/src/main/java/dev/wafermon/Version.java", 'SDK = "{version}";'),
    (
        "sdk-java/src/test/java/dev/wafermon/StatusTableTest.java",
        'assertEquals({num}, NativeLibrary.versionNum(), "{version}")',
    ),
    ("sdk-java/README.md", "dev.wafermon:wafermon:{version}"),
    ("sdk-java/README.md", "libwafermon-jni-{version}.so"),
    ("docs/java.md", "wafermon-jni-{version}"),
    ("sdk-r/DESCRIPTION", "^Version: {version}\n"),
    ("sdk-perl/lib/WaferMon.pm", "our $VERSION = '{version}';"),
    ("sdk-perl/t/00-load.t", "WaferMon::core_version(), '{version}'"),
    ("docs/gateway.md", '"status": "ok", "version": "{version}"'),
    ("docs/sidecar.md", '"status": "degraded", "version": "{version}"'),
]


def pattern(text: str) -> str:
    """The regular expression matching `text` whatever the version in it."""
    anchored = text.startswith("^")
    regex = re.escape(text.removeprefix("^"))
    for field, digits in PLACES.items():
        regex = regex.replace(re.escape(field), digits)
    return ("(?m)^" if anchored else "") + regex


def render(text: str, version: str) -> str:
    """`text` holding `version`."""
    major, minor, patch = parse(version)
    num = major * 10000 + minor * 100 + patch
    return text.removeprefix("^").format(version=version, major=major, minor=minor, patch=patch, num=num)


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
    problems = []
    for name, text in STAMPS:
        found = re.findall(pattern(text), (root / name).read_text(encoding="utf-8"))
        if not found:
            problems.append(f"{name}: no copy of the version in the form {text!r}")
        wanted = render(text, version)
        problems += [f"{name}: {copy!r} disagrees with VERSION {version}" for copy in found if copy != wanted]
    return problems


def stamp(new: str, root: Path = ROOT) -> None:
    """Writes `new` into VERSION and every copy. Raises ValueError if `new` is not X.Y.Z."""
    parse(new)
    (root / "VERSION").write_text(new + "\n", encoding="utf-8")
    for name, text in STAMPS:
        path = root / name
        copy = render(text, new).replace("\\", "\\\\")  # a replacement template: backslashes escaped
        path.write_text(re.sub(pattern(text), copy, path.read_text(encoding="utf-8")), encoding="utf-8")


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
