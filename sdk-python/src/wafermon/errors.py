"""Exceptions: one class per C status, matched to the core's table ``wm_status_descs``.

The classes are written out here so that type checkers and documentation see them; at import the
table is read from the C library and every status is bound to the class of the same name (a status
added to a newer core without a class here gets one made on the fly, so no status is ever raised
as a bare ``WafermonError``). Each class also derives from the built-in exception a Python user
would catch for that kind of problem (``ValueError``, ``TypeError``, ``OSError``, ...).

Two table names are built-in names in Python: their classes are ``WafermonIOError`` and
``WafermonTimeoutError``, so ``from wafermon import *`` never replaces ``IOError`` or
``TimeoutError``. The old names still work as deprecated attributes (a ``DeprecationWarning`` on
use), never exported by ``*``.
"""

from __future__ import annotations

import builtins
import warnings

from ._native import cstr, ffi, lib


class WafermonError(Exception):
    """Base of every wafermon exception.

    Attributes:
        code: the numeric C status (``wm_status``), -1 when raised by the Python layer alone.
        status: the C name of the status, e.g. ``"WM_E_CONFIG"``.
        detail: the core's message (``wm_last_error()``) or the Python layer's, naming the field.
    """

    code: int = -1
    status: str = ""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidArgumentError(WafermonError, ValueError, TypeError):
    """An argument has the wrong type, is out of range, or is empty where it must not be."""


class ConfigError(WafermonError, ValueError):
    """The configuration has an unknown key, a value of the wrong type, or a bad value."""


class EncodingError(WafermonError, ValueError):
    """A string is not valid UTF-8 (e.g. lone surrogates) or contains a NUL character."""


class MetadataError(WafermonError, TypeError, ValueError):
    """Metadata is not a JSON object, or holds a value JSON cannot carry (the key is named)."""


class TooLargeError(WafermonError, ValueError):
    """A value exceeds its documented size limit (keys 256 bytes, metadata 64 KiB, ...)."""


class QueueFullError(WafermonError, RuntimeError):
    """The queue was full under policy "drop" (reported through stats, not raised by emits)."""


class ClosedError(WafermonError, RuntimeError):
    """The client is closed."""


class StateError(WafermonError, RuntimeError):
    """The job is already finished."""


class WafermonTimeoutError(WafermonError, builtins.TimeoutError):
    """``flush()`` or ``close()`` did not complete within the timeout (``TimeoutError`` in the
    status table).

    Also a built-in ``TimeoutError``, so ``except TimeoutError`` catches it either way.
    """


class WafermonIOError(WafermonError, OSError):
    """A file or directory (spool, file backend) could not be created, written or read
    (``IOError`` in the status table)."""


class SpoolLockedError(WafermonError, OSError):
    """Every spool slot under the spool path is held by other processes."""


class OutOfMemoryError(WafermonError, MemoryError):
    """The core ran out of memory."""


class ForkedError(WafermonError, RuntimeError):
    """A job started in the parent process was used in a forked child; start a sub-job instead."""


class InternalError(WafermonError, RuntimeError):
    """A bug in wafermon: please report it with the message."""


# Status-table names whose Python class carries a prefix (the plain name is a built-in's).
RENAMED: dict[str, type[WafermonError]] = {"IOError": WafermonIOError, "TimeoutError": WafermonTimeoutError}


def deprecated_alias(module: str, name: str) -> type[WafermonError]:
    """The class behind a deprecated old name (``module.IOError``), with a DeprecationWarning;
    AttributeError for any other name. For the modules' ``__getattr__``."""
    cls = RENAMED.get(name)
    if cls is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    warnings.warn(
        f"{module}.{name} is deprecated: use {module}.{cls.__name__} (the old name hides the built-in {name})",
        DeprecationWarning,
        stacklevel=3,
    )
    return cls


def __getattr__(name: str) -> type[WafermonError]:
    return deprecated_alias(__name__, name)


def _load_table() -> dict[int, type[WafermonError]]:
    descs = ffi.new("wm_status_desc **")
    count = ffi.new("size_t *")
    lib.wm_status_descs(descs, count)
    known = {cls.__name__: cls for cls in WafermonError.__subclasses__()} | RENAMED
    table: dict[int, type[WafermonError]] = {}
    for i in range(count[0]):
        desc = descs[0][i]
        if desc.code == lib.WM_OK:
            continue
        name = cstr(desc.exception)
        cls = known.get(name)
        if cls is None:
            cls = type(name, (WafermonError,), {"__doc__": cstr(desc.message), "__module__": __name__})
            globals()[name] = cls
        cls.code = desc.code
        cls.status = cstr(desc.name)
        table[desc.code] = cls
    return table


_BY_CODE = _load_table()


def error_class(code: int) -> type[WafermonError]:
    """The exception class for a C status (``WafermonError`` for an unknown one)."""
    return _BY_CODE.get(code, WafermonError)


def raise_status(code: int, context: str = "") -> None:
    """Raises the exception for a failed C call, with the core's per-thread detail message."""
    detail = cstr(lib.wm_last_error())
    if not detail:
        detail = cstr(lib.wm_status_message(code))
    if context:
        detail = f"{context}: {detail}"
    raise error_class(code)(detail)
