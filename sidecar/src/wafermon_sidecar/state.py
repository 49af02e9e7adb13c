"""The objects one running sidecar shares between its routes (held on the aiohttp app)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aiohttp import web

from .config import Settings
from .fanout import FanOut
from .metrics import Metrics
from .spool import Spool
from .validation import Validator


@dataclass(slots=True)
class Sidecar:
    settings: Settings
    spool: Spool
    fanout: FanOut
    metrics: Metrics
    validator: Validator
    started_at: float = field(default_factory=time.time)


SIDECAR = web.AppKey("sidecar", Sidecar)
