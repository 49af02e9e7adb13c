"""A backend that was down long enough to push the circuit breaker to its longest pause gets its
backlog within seconds of coming back, with the product's default retry and breaker settings.

The outage lasts WAFERMON_TEST_OUTAGE_S seconds (default 20; at least until the breaker's pause has
reached breaker_max_reset_s, whatever that takes).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import msgspec
from conftest import ReceiverProc, SidecarProc, make_events, wait_until

from wafermon_sidecar.config import Delivery

RESUME_LIMIT_S = 5.0


def test_delivery_resumes_within_5_s_of_a_backends_return_with_default_settings(
    sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc]
) -> None:
    outage_s = float(os.environ.get("WAFERMON_TEST_OUTAGE_S", "20"))
    defaults = msgspec.structs.asdict(Delivery())
    hook = receiver("hook", start=False)  # its port is known; nothing listens yet
    sc = sidecar([{"type": "webhook", "name": "hook", "config": {"webhook_url": hook.url}}], delivery=defaults)
    down_since = time.monotonic()
    events = make_events(50)
    assert sc.post(events).status_code == 202

    def at_longest_pause() -> bool:
        status = sc.health()["backends"]["hook"]
        return status["circuit"] != "closed" and status["circuit_pause_s"] == defaults["breaker_max_reset_s"]

    wait_until(at_longest_pause, max(outage_s, 30) * 4, "the breaker to reach its longest pause", interval=0.2)
    time.sleep(max(outage_s - (time.monotonic() - down_since), 0))
    status = sc.health()["backends"]["hook"]
    assert status["lag_events"] == 50 and status["failed_attempts"] >= defaults["breaker_failure_threshold"]
    more = make_events(10)  # arrive during the outage too
    assert sc.post(more).status_code == 202

    hook.start()  # returns once the receiver listens
    back_at = time.monotonic()
    wait_until(lambda: sc.lag("hook") == 0, 60, "delivery after the receiver came back", interval=0.05)
    resumed_s = time.monotonic() - back_at
    print(
        f"outage {back_at - down_since:.1f} s, {status['failed_attempts']} failed attempts, "
        f"longest pause {defaults['breaker_max_reset_s']} s; delivered {resumed_s:.2f} s after the return"
    )
    assert resumed_s < RESUME_LIMIT_S
    assert sorted(hook.event_ids()) == sorted(e["event_id"] for e in events + more)
    assert sc.health()["backends"]["hook"]["circuit"] == "closed"
