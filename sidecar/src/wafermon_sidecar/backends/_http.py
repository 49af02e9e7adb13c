"""How HTTP-based backends read a response: which statuses are worth a retry."""

from __future__ import annotations

import email.utils
import time

from .base import PermanentError, TransientError

# 408 timeout, 425 too early, 429 too many requests: the receiver asks us to come back later.
# 401, 403, 404: a wrong key or URL is a configuration fault that someone will fix; dead-lettering
# every event meanwhile would lose them for this backend, so these are retried (health shows them).
RETRYABLE_4XX = frozenset({401, 403, 404, 408, 425, 429})


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def raise_for_status(status: int, body: str, retry_after: str | None, target: str) -> None:
    """Nothing for 2xx; TransientError for 5xx and RETRYABLE_4XX; PermanentError for other 4xx (and 3xx)."""
    if 200 <= status < 300:
        return
    snippet = body[:300].strip()
    message = f"{target} answered HTTP {status}" + (f": {snippet}" if snippet else "")
    if status >= 500 or status in RETRYABLE_4XX:
        raise TransientError(message, retry_after_seconds(retry_after))
    raise PermanentError(message)
