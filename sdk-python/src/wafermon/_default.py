"""The process-wide default client: opened lazily from the environment, or by ``configure()``."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from ._client import Client
from ._config import ConfigSource
from .errors import WafermonTimeoutError

_default: Client | None = None
_lock = threading.Lock()
# Clients the module opened besides the default (wafermon.compat's, one per configuration):
# flush() and shutdown() reach them too.
_others: list[Client] = []


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


def add_client(client: Client) -> None:
    """Makes ``client`` one the module flushes and shuts down with the default client."""
    with _lock:
        _others[:] = [c for c in _others if not c.closed]
        _others.append(client)


def flush(timeout: float = 10.0) -> None:
    """Flushes the default client and every client the module opened for :mod:`wafermon.compat`
    (see :meth:`Client.flush`), all within ``timeout`` seconds in total.

    Raises :class:`wafermon.WafermonTimeoutError` when one of them did not finish in time (the others
    are flushed all the same).
    """
    deadline = time.monotonic() + timeout
    late: WafermonTimeoutError | None = None
    with _lock:
        others = [c for c in _others if not c.closed]
    for client in [default_client(), *others]:
        try:
            client.flush(max(0.0, deadline - time.monotonic()))
        except WafermonTimeoutError as exc:
            late = exc
    if late is not None:
        raise late


def stats() -> dict[str, int]:
    """The default client's counters (see :meth:`Client.stats`)."""
    return default_client().stats()


def shutdown(timeout: float | None = None) -> None:
    """Closes the default client and the module's other clients now (they are also closed at
    interpreter exit)."""
    global _default
    with _lock:
        client, _default = _default, None
        others, _others[:] = list(_others), []
    for other in others:
        with contextlib.suppress(Exception):  # timed out: the rest is on its spool
            other.close(timeout)
    if client is not None:
        client.close(timeout)
