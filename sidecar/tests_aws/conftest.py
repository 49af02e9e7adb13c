"""The AWS stage's fixtures: one moto server (an AWS protocol emulator, not AWS) per session, and the
sidecar fixtures (sidecar/tests/stage_fixtures.py). The sidecars started here inherit moto's test
credentials from this process's environment (the standard AWS chain's first link); nothing reads a
developer's ~/.aws."""

from __future__ import annotations

import sys
from pathlib import Path

from wafermon_testkit.moto_server import MotoServer, use_test_credentials

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from stage_fixtures import procs, session_peer, sidecar  # procs, sidecar: fixtures, re-exported

__all__ = ["procs", "sidecar"]

use_test_credentials()

moto = session_peer(MotoServer, "moto")
