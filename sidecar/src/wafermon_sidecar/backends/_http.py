"""How HTTP-based backends read a response: which statuses are worth a retry, and which events a
receiver refused one by one."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Awaitable, Callable

import msgspec

from .base import PermanentError, RequestTooLarge, TransientError

# 408 timeout, 425 too early, 429 too many requests: the receiver asks us to come back later.
# 401, 403, 404: a wrong key or URL is a configuration fault that someone will fix; dead-lettering
# every event meanwhile would lose them for this backend, so these are retried (health shows them).
RETRYABLE_4XX = frozenset({401, 403, 404, 408, 425, 429})

#: (HTTP status, body text, Retry-After header) of one request
Answer = tuple[int, str, str | None]


class _Refusal(msgspec.Struct):
    index: int
    message: str = ""
    field: str = ""


class _ItemAnswer(msgspec.Struct):
    rejected: list[_Refusal] = []


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
    """Nothing for 2xx; RequestTooLarge for 413; TransientError for 5xx and RETRYABLE_4XX;
    PermanentError for other 4xx (and 3xx)."""
    if 200 <= status < 300:
        return
    snippet = body[:300].strip()
    message = f"{target} answered HTTP {status}" + (f": {snippet}" if snippet else "")
    if status == 413:
        raise RequestTooLarge(message)
    if status >= 500 or status in RETRYABLE_4XX:
        raise TransientError(message, retry_after_seconds(retry_after))
    raise PermanentError(message)


def item_refusals(body: str, count: int, who: str) -> dict[int, str]:
    """Per-event refusals in a wafermon-style answer (`{"rejected": [{"index", "field", "message"}]}`, as
    the gateway and the sidecar's own ingest give): position in the request → that event's own reason.
    Empty when the body says nothing of the kind; entries outside the request are ignored."""
    try:
        answer = msgspec.json.decode(body, type=_ItemAnswer)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return {}
    refusals: dict[int, str] = {}
    for item in answer.rejected:
        if 0 <= item.index < count:
            where = f" ({item.field})" if item.field else ""
            refusals[item.index] = f"{who} rejected the event{where}: {item.message}"
    return refusals


async def send_until_settled(
    indexes: list[int], post: Callable[[list[int]], Awaitable[Answer]], target: str, who: str
) -> dict[int, str]:
    """Send the events at `indexes` (batch positions) in one request and settle each: returns batch
    position → reason for every event the receiver refused, each with its own reason where the answer
    names events one by one (2xx or 400 with `rejected`). Events a per-event 400 did not name were not
    taken, so they are sent again. A 4xx without per-event detail refuses every event of the request.
    Raises TransientError or RequestTooLarge (see raise_for_status)."""
    refused: dict[int, str] = {}
    pending = list(indexes)
    while pending:
        status, body, retry_after = await post(pending)
        if 200 <= status < 300 or status == 400:
            items = item_refusals(body, len(pending), who)
            refused.update((pending[pos], why) for pos, why in items.items())
            if 200 <= status < 300:
                return refused
            if items:
                pending = [index for pos, index in enumerate(pending) if pos not in items]
                continue
        try:
            raise_for_status(status, body, retry_after, target)
        except PermanentError as exc:
            refused.update((index, str(exc)) for index in pending)
            return refused
    return refused
