"""One integration's (backend's) health: healthy, degraded or failing, with the reason, from facts the
delivery worker keeps. The rules, first match wins (docs/sidecar.md, "Health"):

failing
  - its initialize() has failed (and not yet succeeded);
  - its circuit breaker is open or half-open (breaker_failure_threshold straight failed attempts);
  - the oldest event it has not confirmed is at least delivery.health_failing_lag_s old.
degraded
  - still initializing (no failure yet);
  - its last delivery attempt failed (retrying, circuit still closed);
  - the oldest event it has not confirmed is at least delivery.health_degraded_lag_s old;
  - it dead-lettered an event in the last delivery.health_dead_letter_window_s.
healthy
  - otherwise.

A disabled integration is "disabled" (it has no worker, so none of the above applies).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .config import Delivery

Status = Literal["healthy", "degraded", "failing"]
CODES: dict[str, int] = {"healthy": 0, "degraded": 1, "failing": 2}


@dataclass(frozen=True, slots=True)
class Facts:
    initialized: bool
    circuit: str  # BreakerState value: closed, open, half_open
    consecutive_failures: int
    lag_seconds: float
    last_error: str | None
    dead_letter_age_s: float | None  # seconds since the last dead letter; None: none yet


def classify(facts: Facts, delivery: Delivery) -> tuple[Status, str | None]:
    """(status, why it is not healthy or None)."""
    lag = facts.lag_seconds
    if not facts.initialized and facts.last_error:
        return "failing", facts.last_error
    if facts.circuit != "closed":
        return "failing", (
            f"circuit {facts.circuit.replace('_', '-')} after {facts.consecutive_failures} straight failed "
            f"attempt(s): {facts.last_error}"
        )
    if lag >= delivery.health_failing_lag_s:
        return "failing", f"the oldest unconfirmed event is {lag:.0f} s old (health_failing_lag_s)"
    if not facts.initialized:
        return "degraded", "initializing"
    if facts.consecutive_failures:
        return "degraded", f"retrying after {facts.consecutive_failures} failed attempt(s): {facts.last_error}"
    if lag >= delivery.health_degraded_lag_s:
        return "degraded", f"the oldest unconfirmed event is {lag:.0f} s old (health_degraded_lag_s)"
    if facts.dead_letter_age_s is not None and facts.dead_letter_age_s < delivery.health_dead_letter_window_s:
        return "degraded", f"dead-lettered event(s) {facts.dead_letter_age_s:.0f} s ago: {facts.last_error}"
    return "healthy", None
