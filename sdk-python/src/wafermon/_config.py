"""Configuration handed to ``wm_client_open``: the caller's dict, JSON text or file, plus keyword
arguments, with the SDK's identity added. The core validates every key (and names the one at
fault); this module only assembles the JSON. The layering (defaults < ``WAFERMON_CONFIG`` < ``WAFERMON_*``
< this configuration) is the core's alone: read an effective value with ``Client.config_value``."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError

SDK_VERSION = "0.1.0"

ConfigSource = Mapping[str, Any] | str | os.PathLike[str] | None


def load(config: ConfigSource, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration as a dict: ``config`` (mapping, inline JSON text, or file path), then the
    keyword overrides (a nested mapping is merged one level deep), then ``sdk``."""
    base: dict[str, Any]
    if config is None:
        base = {}
    elif isinstance(config, Mapping):
        base = dict(config)
    elif isinstance(config, str) and config.lstrip().startswith("{"):
        base = _parse(config, "configuration text")
    elif isinstance(config, str | os.PathLike):
        path = Path(config)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"configuration file {path}: cannot read: {exc.strerror}") from None
        base = _parse(text, f"configuration file {path}")
    else:
        raise ConfigError(f"config must be a mapping, JSON text or a file path, got {type(config).__name__}")
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    if "sdk" in base:
        raise ConfigError('"sdk" is set by the Python SDK itself and cannot be configured')
    base["sdk"] = {"lang": "python", "version": SDK_VERSION}
    return base


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: the configuration must be a JSON object")
    return value


def to_json(config: Mapping[str, Any]) -> bytes:
    """JSON for the core; a value JSON cannot carry is a ConfigError naming its key."""
    try:
        return json.dumps(config, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        bad = next((k for k, v in config.items() if not _jsonable(v)), None)
        where = f'"{bad}"' if bad else "a value"
        raise ConfigError(f"config: {where} cannot be written as JSON: {exc}") from None


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True
