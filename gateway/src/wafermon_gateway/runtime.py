"""The objects one running gateway shares between its routes (held on the FastAPI app's state).

Its own module so the routes can name it without importing the app factory that includes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .alerting.service import Alerting
from .auth import Authenticator
from .metrics import GatewayMetrics
from .settings import Settings
from .store import Store
from .tasks import Background


@dataclass
class Runtime:
    settings: Settings
    store: Store
    auth: Authenticator
    metrics: GatewayMetrics
    background: Background
    alerting: Alerting
