"""Backends, found through the `wafermon.backends` entry-point group (built-ins register the same way)."""

from __future__ import annotations

from importlib.metadata import entry_points

from .base import WHOLE_EVENT, Backend, Batch, ConfigurationError, PermanentError, RequestTooLarge, TransientError

ENTRY_POINT_GROUP = "wafermon.backends"

__all__ = [
    "ENTRY_POINT_GROUP",
    "WHOLE_EVENT",
    "Backend",
    "Batch",
    "ConfigurationError",
    "PermanentError",
    "RequestTooLarge",
    "TransientError",
    "available_types",
    "load_backend_class",
]


def available_types() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_backend_class(type_name: str) -> type[Backend]:
    matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == type_name]
    if not matches:
        known = ", ".join(available_types()) or "none"
        raise ConfigurationError(f"no backend type {type_name!r} is installed (installed: {known})")
    cls = matches[0].load()
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ConfigurationError(f"entry point {type_name!r} ({matches[0].value}) is not a Backend subclass")
    return cls
