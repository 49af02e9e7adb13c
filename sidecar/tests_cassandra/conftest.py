"""The cassandra stage's fixtures: one real Cassandra node per session, and the sidecar fixtures
(sidecar/tests/stage_fixtures.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from cassandra_peer import CassandraNode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from stage_fixtures import procs, session_peer, sidecar  # procs, sidecar: fixtures, re-exported

__all__ = ["procs", "sidecar"]
cassandra = session_peer(CassandraNode, "cassandra", stop="close")
