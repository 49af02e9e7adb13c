"""The message-queue stage's fixtures: one real RabbitMQ node and one real Redis server per session
(Debian's packages, each started as the test's own process), and the sidecar fixtures
(sidecar/tests/stage_fixtures.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from rabbitmq_peer import RabbitNode
from redis_peer import RedisServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from stage_fixtures import procs, session_peer, sidecar  # procs, sidecar: fixtures, re-exported

__all__ = ["procs", "sidecar"]
rabbit = session_peer(RabbitNode, "rabbit", stop="shutdown")
redis_server = session_peer(RedisServer, "redis_server")
