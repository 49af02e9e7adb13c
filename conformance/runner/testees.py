"""Where each language's testee lives and how to start it (conformance/PROTOCOL.md)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("WAFERMON_BUILD_DIR", ROOT / "build"))
PYTHON = ROOT / ".venv" / "bin" / "python"


@dataclass(frozen=True)
class Testee:
    lang: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)

    def missing(self) -> str | None:
        """Why the testee cannot run here, or None."""
        program = self.command[0]
        if "/" in program:
            return None if Path(program).exists() else f"{program} does not exist (run scripts/build.sh)"
        return None if shutil.which(program) else f"{program} is not on PATH"


TESTEES: dict[str, Testee] = {
    "c": Testee("c", [str(BUILD / "core" / "tests" / "wm_testee")]),
    "python": Testee("python", [str(PYTHON), str(ROOT / "conformance" / "testees" / "python" / "testee.py")]),
    "java": Testee("java", [str(ROOT / "conformance" / "testees" / "java" / "testee.sh")]),
    "r": Testee(
        "r",
        ["Rscript", str(ROOT / "conformance" / "testees" / "r" / "testee.R")],
        {"R_LIBS": str(BUILD / "r-lib")},
    ),
    "perl": Testee("perl", ["perl", str(ROOT / "conformance" / "testees" / "perl" / "testee.pl")]),
}
