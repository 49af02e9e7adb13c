"""Circuit breaker for one backend: closed → open after N straight failures → half-open trial.

While open, the delivery worker does not call the backend at all; after reset_s one trial batch is
let through (half-open). Success closes the breaker, failure opens it again for a longer spell
(doubling up to max_reset_s), so a backend that stays down is probed rarely and cheaply.
"""

from __future__ import annotations

import time
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, failure_threshold: int, reset_s: float, max_reset_s: float) -> None:
        self.failure_threshold = failure_threshold
        self.base_reset_s = reset_s
        self.max_reset_s = max_reset_s
        self.reset_s = reset_s
        self.failures = 0
        self.opened_at = 0.0
        self._state = BreakerState.CLOSED

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and time.monotonic() - self.opened_at >= self.reset_s:
            return BreakerState.HALF_OPEN
        return self._state

    def wait_s(self) -> float:
        """How long until a call may be tried (0 when closed or half-open)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(self.reset_s - (time.monotonic() - self.opened_at), 0.0)

    def record_success(self) -> None:
        self.failures = 0
        self.reset_s = self.base_reset_s
        self._state = BreakerState.CLOSED

    def record_failure(self) -> None:
        self.failures += 1
        if self.state is BreakerState.HALF_OPEN:
            self.reset_s = min(self.reset_s * 2, self.max_reset_s)
            self._open()
        elif self.failures >= self.failure_threshold:
            self._open()

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self.opened_at = time.monotonic()
