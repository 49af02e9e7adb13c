"""The seeds' whole-file configuration shapes, translated to the settings' own before they are checked.

The seed documents write integrations three ways the settings file (`backends: [{type, name, enabled,
priority, config: {...}}]`) does not:

- a bare list of integrations at the top of the file (their `integrations.json`): read as `backends`;
- the same list in the `INTEGRATIONS_CONFIG` environment variable (JSON): an alias of `backends`
  (WAFERMON_SIDECAR_BACKENDS wins when both are set, like every derived name over an alias);
- the "flat" sidecar schema, whose backend entries carry their own keys beside `type` and `enabled`
  (`{"type": "filesystem", "enabled": true, "path": "/backup/events", "priority": 2}`): an entry
  without `config` has every key the entry itself does not know moved into `config`.

Nothing else is rewritten: an entry that has `config` stays as it is, so a misspelt entry key next to
`config` is still an "unknown key" error, and a misspelt backend key is still refused by its backend
(`backend '<name>': config.<key>`). The type aliases (`local_api`, `elk`) are entry points of their own
(sidecar/pyproject.toml), exactly as a third-party backend would add one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import yaml

from wafermon_schema import settings_loader
from wafermon_schema.settings_loader import SettingsError, SettingsSpec

S = TypeVar("S", bound=msgspec.Struct)

#: the seeds' variable for the list of integrations → the settings key it sets
ENV_ALIASES: dict[str, str] = {"INTEGRATIONS_CONFIG": "backends"}


def load_settings(
    spec: SettingsSpec[S],
    path: Path | None,
    overrides: Mapping[str, Any] | None,
    check: Callable[[S], None],
    entry_keys: Collection[str],
) -> S:
    """settings_loader.load_settings, with the file read by read_document. `entry_keys` are the keys a
    backend entry itself takes (the rest of a flat entry goes to its `config`). Raises SettingsError."""
    doc = read_document(path, spec, entry_keys) if path is not None else {}
    return settings_loader.build_settings(
        spec, doc, None, overrides, check, source=str(path) if path is not None else None
    )


def read_document(path: Path, spec: SettingsSpec[Any], entry_keys: Collection[str]) -> dict[str, Any]:
    """The settings mapping in the file at path, in the settings' own shape (see the module docstring).
    Raises SettingsError naming the file, as settings_loader.read_document does."""
    try:
        doc = settings_loader.read_document(path, spec.section, spec.default_format)
    except SettingsError:
        integrations = _bare_list(path)
        if integrations is None:
            raise  # not the seeds' list either: the loader's own message stands
        doc = {"backends": integrations}
    return nest_flat_entries(doc, entry_keys)


def nest_flat_entries(doc: dict[str, Any], entry_keys: Collection[str]) -> dict[str, Any]:
    """doc with each `backends` entry that has no `config` given one holding its unknown keys."""
    backends = doc.get("backends")
    if not isinstance(backends, list):
        return doc
    return {**doc, "backends": [_nested(entry, entry_keys) for entry in backends]}


def _nested(entry: Any, entry_keys: Collection[str]) -> Any:
    if not isinstance(entry, dict) or "config" in entry:
        return entry
    own = {key: value for key, value in entry.items() if key in entry_keys}
    config = {key: value for key, value in entry.items() if key not in entry_keys}
    return {**own, "config": config} if config else entry


def _bare_list(path: Path) -> list[Any] | None:
    """The list at the top of a JSON or YAML file, or None (unreadable, not parsable, or not a list)."""
    try:
        text = path.read_text(encoding="utf-8")
        doc = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
        return None
    return doc if isinstance(doc, list) else None
