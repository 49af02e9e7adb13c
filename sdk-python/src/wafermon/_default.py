"""The process-wide default client: opened lazily from the environment, or by ``configure()``."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from ._client import Client
from ._config import ConfigSource

_default: Client | None = None
_lock = threading.Lock()


def default_client() -> Client:
    """The default client, opened on first use from ``WAFERMON_CONFIG`` / ``WAFERMON_*``."""
    client = _default
    if client is None or client.closed:
        with _lock:
            client = _default
            if client is None or client.closed:
                client = _set(Client())
    return client


def _set(client: Client) -> Client:
    global _default
    _default = client
    return client


def configure(config: ConfigSource = None, /, **overrides: Any) -> Client:
    """Configures the default client and returns it.

    ``config``: a mapping, JSON text, or a JSON file path; keyword arguments override top-level
    keys, e.g. ``configure(mode="direct", direct_backends=[{"type": "filesystem", "path": "/x"}])``.
    The environment (``WAFERMON_CONFIG``, ``WAFERMON_*``) applies underneath. A previous default
    client is closed (flushed) after the new one opened; if the new configuration is invalid,
    :class:`ConfigError` names the key and the previous client stays in place.
    """
    new = Client(config, **overrides)
    with _lock:
        old = _default
        _set(new)
    if old is not None:
        with contextlib.suppress(Exception):  # timed out: what was left is on its spool
            old.close()
    return new


def flush(timeout: float = 10.0) -> None:
    """Flushes the default client (see :meth:`Client.flush`)."""
    default_client().flush(timeout)


def stats() -> dict[str, int]:
    """The default client's counters (see :meth:`Client.stats`)."""
    return default_client().stats()


def shutdown(timeout: float | None = None) -> None:
    """Closes the default client now (it is also closed at interpreter exit)."""
    global _default
    with _lock:
        client, _default = _default, None
    if client is not None:
        client.close(timeout)
