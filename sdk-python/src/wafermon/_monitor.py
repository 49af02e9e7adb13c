"""A schedule monitor declared from code: ``wafermon.job(..., monitor={...})``.

The declaration goes into the job's metadata under the reserved key ``"wafermon.monitor"``, so it
travels with the job's ``started`` event; the gateway creates or updates the monitor (docs/alerting.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import InvalidArgumentError

MONITOR_KEY = "wafermon.monitor"


def with_monitor(metadata: Mapping[str, Any] | None, monitor: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``metadata`` plus ``{"wafermon.monitor": monitor}``; unchanged when ``monitor`` is None.

    Raises InvalidArgumentError when ``monitor`` is not a mapping. Its content is judged by the
    gateway, which names the field it refuses.
    """
    if monitor is None:
        return metadata
    if not isinstance(monitor, Mapping):
        example = "{'schedule': '0 2 * * *'}"
        raise InvalidArgumentError(f"job: monitor must be a mapping (e.g. {example}), got {type(monitor).__name__}")
    if metadata is not None and not isinstance(metadata, Mapping):
        return metadata  # the core refuses it with its own error
    return {**(metadata or {}), MONITOR_KEY: dict(monitor)}
