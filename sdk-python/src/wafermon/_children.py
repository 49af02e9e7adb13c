"""Child processes and their share of the work.

A forked or ``multiprocessing`` child can end the moment its task returns: ``Pool.__exit__``
terminates its workers with SIGTERM, and workers leave with ``os._exit()``, which skips
``atexit``. So in a child each share of the work — a job or sub-job that is the outermost one
started in this process — is flushed when it finishes, before the task can return, for at most
the client's ``exit_flush_timeout``. A worker that exits by itself also closes its clients in
``multiprocessing``'s exit finalizers.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING

from . import _speedups
from .errors import WafermonError

if TYPE_CHECKING:
    from ._client import Client

_child = False
_finalizer_pid = 0  # the process whose multiprocessing exit finalizers close our clients
_hook_pid = 0  # the process that has registered _bootstrapped with multiprocessing


def is_child() -> bool:
    """True in a forked child or a ``multiprocessing`` worker (any start method)."""
    return _child


def _mark_child() -> None:
    global _child
    _child = True
    _speedups.set_child(True)  # the C job scope then finishes through finish_for


def client_opened() -> None:
    """Called by every new client: notices a spawned or forkserver worker (they import wafermon
    themselves, so no fork hook of ours ran there)."""
    global _hook_pid
    mp = sys.modules.get("multiprocessing")
    if mp is None:
        return
    if mp.parent_process() is not None:
        _bootstrapped(None)
    elif _hook_pid != os.getpid():
        # Opened while a spawned worker imports its main module, before the worker's bootstrap:
        # the bootstrap runs the after-fork hooks, this one included (once per process).
        _hook_pid = os.getpid()
        import multiprocessing.util

        multiprocessing.util.register_after_fork(_hook_key, _bootstrapped)


def _bootstrapped(_: object) -> None:
    global _finalizer_pid
    _mark_child()
    if _finalizer_pid == os.getpid():
        return
    _finalizer_pid = os.getpid()
    import multiprocessing.util

    from ._client import _close_all_at_exit

    multiprocessing.util.Finalize(None, _close_all_at_exit, exitpriority=100)


def flush_share(client: Client) -> None:
    """Waits until the client's events are delivered or spooled, at most its
    ``exit_flush_timeout``; what is not confirmed by then stays queued (the worker's exit
    finalizer spools it, a SIGKILL or SIGTERM loses it — docs/python.md says so)."""
    with contextlib.suppress(WafermonError):  # timed out, or closed meanwhile
        client.flush(client.exit_flush_timeout)


class _HookKey:
    """Weak-referenceable key for multiprocessing's after-fork registry."""


_hook_key = _HookKey()
os.register_at_fork(after_in_child=_mark_child)
