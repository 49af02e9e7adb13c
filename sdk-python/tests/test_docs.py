"""Every ``python`` block of docs/python.md and sdk-python/README.md runs, each in a fresh
interpreter with the file backend configured through the environment; where a block says
``print(exc)  # message``, the message must be what was printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, clean_env, read_jsonl_dir

DOCS = [REPO / "docs/python.md", REPO / "sdk-python/README.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
PRINTED = re.compile(r"print\(exc\)\s+#\s+(.+)$", re.M)


def blocks() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for i, match in enumerate(BLOCK.finditer(doc.read_text(encoding="utf-8"))):
            found.append((f"{doc.name}#{i}", match.group(1)))
    return found


@pytest.mark.parametrize(("name", "code"), blocks(), ids=[name for name, _ in blocks()])
def test_doc_example_runs(tmp_path: Path, name: str, code: str) -> None:
    env = {
        **clean_env(),
        "WAFERMON_MODE": "direct",
        "WAFERMON_FILESYSTEM_PATH": str(tmp_path / "out"),
        "WAFERMON_SPOOL_DIR": str(tmp_path / "spool"),
        "WAFERMON_FLUSH_INTERVAL": "0.01",
    }
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for expected in PRINTED.findall(code):
        assert expected.strip() in proc.stdout
    if "wafermon.job(" in code and "configure(" not in code and "except" not in code:
        assert read_jsonl_dir(tmp_path / "out"), "the example emitted nothing"


def test_docs_have_examples() -> None:
    assert len(blocks()) >= 10
