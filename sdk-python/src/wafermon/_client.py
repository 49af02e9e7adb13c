"""The client: one ``wm_client`` (queue, delivery thread, spool), its jobs, flush, stats, close."""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import sys
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

from . import _children, _config, _metadata, _speedups
from ._config import ConfigSource
from ._job import Job, address
from ._native import cstr, ffi, lib
from ._scope import JobScope
from .errors import ClosedError, InvalidArgumentError, raise_status

_STAT_NAMES = tuple(cstr(lib.wm_stat_name(i)) for i in range(lib.WM_STAT__COUNT))


class Client:
    """A connection to the sidecar or to direct backends, as configured.

    ``Client(config, **overrides)``: ``config`` is a mapping, JSON text or a JSON file path in the
    universal configuration schema (``mode``, ``sidecar``, ``direct_backends``, ``app``, ``spool``,
    ``queue``, ``batch_size``, ``flush_interval``, ``exit_flush_timeout``, ``log_level``); keyword
    arguments override its top-level keys. ``WAFERMON_CONFIG`` and ``WAFERMON_*`` variables apply
    underneath. A bad key raises :class:`ConfigError` naming it.

    Emitting never waits on the network. Close it (or leave it to interpreter exit) to deliver
    what is queued; what cannot be delivered in time is spooled and sent by the next start.
    """

    def __init__(self, config: ConfigSource = None, /, **overrides: Any) -> None:
        settings = _config.load(config, overrides)
        data = _config.to_json(settings)
        out = ffi.new("wm_client **")
        status = lib.wm_client_open(data, out)
        if status:
            raise_status(status)
        self._ptr: Any = out[0]
        # The same handle as a number, for wafermon._speedups, which starts every job; None once
        # closed. close() sets it to None before it closes the handle, and the C start reads it
        # and starts the job with the GIL held throughout, so no job starts on a closed handle.
        self._addr: int | None = address(self._ptr)
        self._lock = threading.Lock()  # flush, stats and close: their reads of _ptr
        self.exit_flush_timeout = float(self.config_value("exit_flush_timeout"))
        self._settings = {k: v for k, v in settings.items() if k != "sdk"}
        _live.add(self)
        _children.client_opened()

    def config_value(self, key: str) -> Any:
        """The effective value of one configuration key after every layer (defaults,
        ``WAFERMON_CONFIG``, ``WAFERMON_*`` variables, this client's configuration), as the core
        resolved it: e.g. ``config_value("queue.when_full") == "drop"``, ``None`` for a key with no
        value. ``key`` is a name from the table in docs/c-core.md (``"direct_backends[0].path"``
        for a backend's key). Raises :class:`ConfigError` for an unknown key, :class:`ClosedError`
        once closed."""
        if not isinstance(key, str):
            raise InvalidArgumentError(f"config_value: key must be a str, got {type(key).__name__}")
        buf = ffi.new("char[]", 8192)  # above the longest value (a path of PATH_MAX bytes)
        with self._lock:  # close frees the configuration
            if self._ptr is None:
                raise ClosedError("the client is closed")
            status = lib.wm_client_config_get(self._ptr, key.encode(), buf, len(buf))
        if status:
            raise_status(status, "config_value")
        return json.loads(ffi.string(buf))

    @property
    def settings(self) -> dict[str, Any]:
        """The configuration this client was opened with (before the environment's layers)."""
        return dict(self._settings)

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._ptr is None

    def start(
        self, business_key: str | None = None, *, site_id: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> Job:
        """Starts a job now (emits "started") and returns it; finish it yourself or use it as a
        context manager. :func:`wafermon.job` is the usual way in."""
        return JobScope(business_key, site_id=site_id, metadata=metadata, client=self).start()

    def start_for_app(
        self,
        app_name: str,
        app_version: str | None = None,
        app_id: str | None = None,
        business_key: str | None = None,
        *,
        site_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Job:
        """Starts a job like :meth:`start` whose events (and its sub-jobs') carry
        ``"app": {"name": app_name, "version": app_version, "id": app_id}`` instead of the client's
        configured app. ``app_version`` None: the configured one; ``app_id`` None: no ``id``.
        Each is at most 128 bytes; name and id non-empty. Raises
        :class:`wafermon.InvalidArgumentError` / ``TooLargeError`` / ``EncodingError`` otherwise."""
        _metadata.text("app name", app_name, optional=False)  # None is the configured app: not here
        scope = JobScope(business_key, site_id=site_id, metadata=metadata, client=self)
        return scope.start(app_name=app_name, app_version=app_version, app_id=app_id)

    def job(
        self,
        business_key: str | None = None,
        *,
        site_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        monitor: Mapping[str, Any] | None = None,
    ) -> JobScope:
        """A job scope on this client: context manager (sync and async) and decorator. ``monitor``:
        a schedule monitor declared from code, as for :func:`wafermon.job`."""
        scope: JobScope = _speedups.job(business_key, site_id=site_id, metadata=metadata, client=self, monitor=monitor)
        return scope

    def flush(self, timeout: float = 10.0) -> None:
        """Waits until every event emitted before the call is delivered or durably spooled.

        Raises :class:`wafermon.WafermonTimeoutError` when that took longer than ``timeout`` seconds.
        """
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not timeout >= 0:
            raise InvalidArgumentError(f"flush: timeout must be a number >= 0, got {timeout!r}")
        with self._lock:
            ptr = self._ptr
            if ptr is None:
                raise ClosedError("the client is closed")
        status = lib.wm_client_flush(ptr, float(timeout))  # waits: outside the lock
        if status:
            raise_status(status, "flush")

    def stats(self) -> dict[str, int]:
        """The core's counters: emitted, delivered, spooled, dropped, retries, dead_lettered,
        replayed, queue_depth, spool_bytes, spool_pending, corrupt."""
        with self._lock:
            if self._ptr is None:
                raise ClosedError("the client is closed")
            return {name: int(lib.wm_client_stat(self._ptr, i)) for i, name in enumerate(_STAT_NAMES)}

    def close(self, timeout: float | None = None) -> None:
        """Flushes for at most ``timeout`` seconds (default: the configured
        ``exit_flush_timeout``), spools the rest, stops the delivery thread. Idempotent.

        Returns within ``timeout`` + 0.5 s whatever the sidecar does: a request still unanswered
        at the deadline is abandoned and its events spooled with the rest.

        Jobs still running stay as they are; their later emits raise :class:`ClosedError`.
        Raises :class:`wafermon.WafermonTimeoutError` when the flush did not complete (nothing is lost:
        the rest is on the spool for the next start).
        """
        with self._lock:
            ptr, self._ptr, self._addr = self._ptr, None, None
        if ptr is None:
            return
        _live.discard(self)
        status = lib.wm_client_close(ptr, self.exit_flush_timeout if timeout is None else float(timeout))
        if status:
            raise_status(status, "close")

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_ptr", None) is None:
            return  # closed, or the open itself failed
        # A timed-out close has spooled the rest; nothing to report from a finaliser.
        with contextlib.suppress(Exception):
            self.close()


# ---- process-wide: live clients, exit, fork ----------------------------------------------------

_live: weakref.WeakSet[Client] = weakref.WeakSet()


def _cancel_running_jobs() -> None:
    # Jobs still running when the interpreter exits (never finished, or held by a daemon thread)
    # are finished as cancelled, as the core does for a handle freed while running. Found by a
    # scan at exit rather than a registry, so no job pays for this while it runs.
    for obj in gc.get_objects():
        if type(obj) is Job and obj._client in _live and obj._pid == os.getpid():
            with contextlib.suppress(Exception):  # finished meanwhile, or not ours to finish
                if not obj.finished:
                    obj.cancel({"wafermon.reason": "interpreter exit"})


def _close_all_at_exit() -> None:
    if _live:
        _cancel_running_jobs()
    # One deadline for all: N clients cost the largest exit_flush_timeout, not their sum. What a
    # client has not delivered by then (its request in flight included) the core spools.
    clients = list(_live)
    deadline = time.monotonic() + max((c.exit_flush_timeout for c in clients), default=0.0)
    for client in clients:
        with contextlib.suppress(Exception):  # timed out: the rest is spooled for the next start
            client.close(max(0.0, min(client.exit_flush_timeout, deadline - time.monotonic())))


def _after_fork_in_child() -> None:
    # A lock held by another thread at fork() stays held forever in the child: start fresh.
    for client in list(_live):
        client._lock = threading.Lock()
    # A multiprocessing worker ends with os._exit(), which skips atexit, but runs the finalizers
    # registered in it after its after-fork hooks (which first clear the parent's): add ours there.
    util = sys.modules.get("multiprocessing.util")
    if util is not None and _live:
        util.register_after_fork(_mp_hook, _finalize_in_child)


class _MultiprocessingHook:
    """Weak-referenceable key for multiprocessing's after-fork registry."""


_mp_hook = _MultiprocessingHook()


def _finalize_in_child(_: object) -> None:
    import multiprocessing.util

    multiprocessing.util.Finalize(None, _close_all_at_exit, exitpriority=100)


atexit.register(_close_all_at_exit)
os.register_at_fork(after_in_child=_after_fork_in_child)
