"""Connects the C hot path (``wafermon._speedups``) to the core and to the Python it defers to.

The C module starts every job of the SDK. It does not link libwafermon: it calls the cffi module's
copy through the addresses handed over here, so the process keeps one core (one fork generation,
one exit flush).
"""

from __future__ import annotations

import functools
from typing import Any

from . import _metadata, _monitor, _speedups
from ._default import default_client
from ._job import Job, address, finish_for
from ._native import ffi, lib
from ._scope import JobScope
from .errors import ClosedError, raise_status

_lib: Any = lib  # types-cffi types addressof() for cdata, not for a lib
_CORE_FUNCTIONS = ("wm_job_start_app", "wm_job_succeed", "wm_job_destroy")


def bind() -> None:
    """Hands the core's functions and the SDK's Python types and callables to the C module."""
    _speedups.bind(
        functions={name: address(ffi.addressof(_lib, name)) for name in _CORE_FUNCTIONS},
        job_class=Job,
        scope_class=JobScope,
        default_client=default_client,
        text=_metadata.text,
        encode=_metadata.encode,
        with_monitor=_monitor.with_monitor,
        raise_status=raise_status,
        finish_for=finish_for,
        closed_error=ClosedError,
        to_cdata=functools.partial(ffi.cast, "wm_job *"),
    )
