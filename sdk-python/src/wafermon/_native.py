"""The raw cffi layer (``ffi``, ``lib``), imported once with an error that says how to fix it."""

from __future__ import annotations

from typing import Any

try:
    from ._wafermon import ffi, lib
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise ImportError(
        "wafermon: the native extension wafermon._wafermon is missing or does not load "
        f"({exc}). Build it with `pip install .` (or `pip install -e .`) from the repository root; "
        "the build needs cmake, ninja-build, pkg-config, libjansson-dev, libcurl4-openssl-dev and "
        "zlib1g-dev (scripts/bootstrap.sh installs them)."
    ) from exc


def cstr(pointer: Any) -> str:
    """A NUL-terminated C string from the library as str (UTF-8, undecodable bytes replaced)."""
    value = ffi.string(pointer)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


__all__ = ["cstr", "ffi", "lib"]
