"""Notifier types by name: the built-in ones, then any registered under the `wafermon.notifiers`
entry point (a class or factory taking the config dict). Built-in names cannot be overridden."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from ..model import NotifierSpec
from .alertmanager import AlertmanagerNotifier
from .base import Notifier, NotifierConfigError
from .email import EmailNotifier
from .slack import SlackNotifier
from .webhook import WebhookNotifier

BUILT_IN: dict[str, Callable[[dict[str, Any]], Notifier]] = {
    "webhook": WebhookNotifier,
    "slack": SlackNotifier,
    "email": EmailNotifier,
    "alertmanager": AlertmanagerNotifier,
}
ENTRY_POINT_GROUP = "wafermon.notifiers"


def factory(type_name: str) -> Callable[[dict[str, Any]], Notifier]:
    if type_name in BUILT_IN:
        return BUILT_IN[type_name]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == type_name:
            loaded: Callable[[dict[str, Any]], Notifier] = ep.load()
            return loaded
    known = sorted({*BUILT_IN, *(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))})
    raise NotifierConfigError(f"unknown notifier type {type_name!r}; known types: {', '.join(known)}")


def build(spec: NotifierSpec) -> Notifier:
    """The notifier for a spec; NotifierConfigError names what is wrong with its config."""
    make = factory(spec.type)
    try:
        return make(spec.config)
    except NotifierConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise NotifierConfigError(f"notifier {spec.name!r} ({spec.type}): bad config: {exc}") from None
