"""conformance/backends/xray-vectors.json: the segment document of each event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wafermon_sidecar.backends.xray import to_document

VECTORS = Path(__file__).resolve().parents[2] / "conformance" / "backends" / "xray-vectors.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_xray_vector_document(case: dict[str, Any]) -> None:
    document = to_document(case["event"])
    assert document == case["document"]
    if document is not None:
        assert list(document) == list(case["document"])  # the field order too
