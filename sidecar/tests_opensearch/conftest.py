"""The OpenSearch stage's fixtures: one real node per session, and the sidecar fixtures
(sidecar/tests/stage_fixtures.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from opensearch_peer import OpenSearchNode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from stage_fixtures import procs, session_peer, sidecar  # procs, sidecar: fixtures, re-exported

__all__ = ["procs", "sidecar"]
opensearch = session_peer(OpenSearchNode, "opensearch")
