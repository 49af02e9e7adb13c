"""The MariaDB stage's fixtures: one real server per session, and the sidecar fixtures
(sidecar/tests/stage_fixtures.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from mariadb_peer import MariaDbServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from stage_fixtures import procs, session_peer, sidecar  # procs, sidecar: fixtures, re-exported

__all__ = ["procs", "sidecar"]
mariadb = session_peer(MariaDbServer, "mariadb")
