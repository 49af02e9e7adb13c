"""Settings, built once from the config file (JSON or YAML), `${ENV}` references and WAFERMON_* variables.

Precedence: command-line flags > WAFERMON_* environment variables > the file > defaults.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import msgspec
import yaml

from .framing import HEADER_SIZE as RECORD_HEADER_BYTES

DEFAULT_PORT = 17000
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
BACKEND_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Delivery requests stay well under the gateway's 16 MiB body limit; an event is at most 96 KiB.
DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024
MIN_BATCH_BYTES = 1024
# A failing backend is tried again at least this often, so delivery resumes within seconds of its return.
MAX_PROBE_PAUSE_S = 5.0

# WAFERMON_* variable → (section, key). Documented in docs/sidecar.md.
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "WAFERMON_SIDECAR_HOST": ("ingest", "host"),
    "WAFERMON_SIDECAR_PORT": ("ingest", "port"),
    "WAFERMON_SIDECAR_TOKEN": ("ingest", "auth_token"),
    "WAFERMON_SIDECAR_MAX_BODY_BYTES": ("ingest", "max_body_bytes"),
    "WAFERMON_SIDECAR_VALIDATION_WORKERS": ("ingest", "validation_workers"),
    "WAFERMON_SIDECAR_SPOOL_PATH": ("spool", "path"),
    "WAFERMON_SIDECAR_SPOOL_MAX_SIZE_MB": ("spool", "max_size_mb"),
    "WAFERMON_SIDECAR_LOG_LEVEL": ("", "log_level"),
}


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the key."""


class Ingest(msgspec.Struct, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    auth_token: str | None = None
    max_body_bytes: int = 16 * 1024 * 1024
    max_events_per_request: int = 10_000
    max_batch_size: int = 500
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES
    flush_interval: float = 0.2
    validation_workers: int | None = None  # deprecated and ignored (build_sidecar warns); None: not set


class SpoolSettings(msgspec.Struct, forbid_unknown_fields=True):
    path: str = "/var/lib/wafermon/sidecar-spool"
    max_size_mb: float = 1000.0
    segment_size_mb: float = 64.0
    retry_after_s: int = 1
    enabled: bool = True
    # Free disk space ingest never takes (at most half the disk), so dead letters and cursors always fit.
    disk_reserve_mb: float = 64.0

    @property
    def max_bytes(self) -> int:
        return int(self.max_size_mb * 1024 * 1024)

    @property
    def reserve_bytes(self) -> int:
        return int(self.disk_reserve_mb * 1024 * 1024)

    @property
    def segment_bytes(self) -> int:
        # At least 8 segments fit in the limit, so delivered ones can be freed well before it is reached.
        return max(min(int(self.segment_size_mb * 1024 * 1024), self.max_bytes // 8), 4096)


class Delivery(msgspec.Struct, forbid_unknown_fields=True):
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 3.0
    breaker_failure_threshold: int = 5
    breaker_reset_s: float = 1.0
    breaker_max_reset_s: float = 3.0
    send_timeout_s: float = 30.0
    cursor_sync_interval_s: float = 0.2
    dead_letter_max_mb: float = 100.0


class BackendSettings(msgspec.Struct, forbid_unknown_fields=True):
    type: str
    name: str = ""
    enabled: bool = True
    priority: int = 100
    config: dict[str, Any] = {}
    max_batch_size: int | None = None
    max_batch_bytes: int | None = None
    flush_interval: float | None = None


class Settings(msgspec.Struct, forbid_unknown_fields=True):
    ingest: Ingest = msgspec.field(default_factory=Ingest)
    spool: SpoolSettings = msgspec.field(default_factory=SpoolSettings)
    delivery: Delivery = msgspec.field(default_factory=Delivery)
    backends: list[BackendSettings] = []
    log_level: str = "INFO"


def substitute_env(value: Any, environ: dict[str, str]) -> Any:
    """Replace ${NAME} (or ${NAME:-default}) in every string of the loaded document."""
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            raise ConfigError(f"the configuration refers to ${{{name}}} but that environment variable is not set")

        return _ENV_REF.sub(repl, value)
    if isinstance(value, dict):
        return {k: substitute_env(v, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, environ) for v in value]
    return value


def parse_document(text: str, suffix: str) -> dict[str, Any]:
    try:
        doc = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"the configuration is not valid {'JSON' if suffix == '.json' else 'YAML'}: {exc}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError("the configuration must be a mapping at the top level")
    return doc


def build_settings(
    doc: dict[str, Any],
    environ: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    env = dict(os.environ) if environ is None else environ
    doc = substitute_env(doc, env)
    for var, (section, key) in ENV_OVERRIDES.items():
        if var in env:
            target = doc.setdefault(section, {}) if section else doc
            target[key] = yaml.safe_load(env[var]) if key not in ("auth_token", "path", "host") else env[var]
    for dotted, val in (overrides or {}).items():
        section, key = dotted.split(".")
        doc.setdefault(section, {})[key] = val
    try:
        settings = msgspec.convert(doc, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from None
    _check(settings)
    return settings


def load_settings(path: Path | None, overrides: dict[str, Any] | None = None) -> Settings:
    doc: dict[str, Any] = {}
    if path is not None:
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read the configuration file {path}: {exc.strerror}") from None
        doc = parse_document(text, path.suffix.lower())
    return build_settings(doc, overrides=overrides)


def _check(settings: Settings) -> None:
    ingest, spool = settings.ingest, settings.spool
    if not 0 < ingest.port < 65536 and ingest.port != 0:
        raise ConfigError(f"ingest.port must be 1..65535, got {ingest.port}")
    if ingest.max_body_bytes < 1024:
        raise ConfigError("ingest.max_body_bytes must be at least 1024")
    if ingest.max_batch_size < 1 or ingest.max_events_per_request < 1:
        raise ConfigError("ingest.max_batch_size and ingest.max_events_per_request must be at least 1")
    if ingest.max_batch_bytes < MIN_BATCH_BYTES:
        raise ConfigError(f"ingest.max_batch_bytes must be at least {MIN_BATCH_BYTES}")
    _check_delivery(settings.delivery)
    if not spool.enabled:
        raise ConfigError("spool.enabled cannot be false: the sidecar acknowledges only what is on its spool")
    if spool.max_size_mb <= 0:
        raise ConfigError("spool.max_size_mb must be positive")
    if spool.disk_reserve_mb < 0:
        raise ConfigError("spool.disk_reserve_mb must not be negative")
    if spool.max_bytes < ingest.max_body_bytes + RECORD_HEADER_BYTES:
        raise ConfigError(
            f"spool.max_size_mb ({spool.max_size_mb:g} = {spool.max_bytes} bytes) is smaller than the largest "
            f"request ingest accepts (ingest.max_body_bytes = {ingest.max_body_bytes}, plus a "
            f"{RECORD_HEADER_BYTES}-byte record header); raise spool.max_size_mb or lower ingest.max_body_bytes"
        )
    if ingest.auth_token == "":
        ingest.auth_token = None
    seen: set[str] = set()
    for i, backend in enumerate(settings.backends):
        if not backend.name:
            backend.name = backend.type
        if not BACKEND_NAME.match(backend.name):
            raise ConfigError(
                f"backends[{i}].name {backend.name!r} must be 1-64 characters of letters, digits, '_', '.', '-'"
            )
        if backend.name in seen:
            raise ConfigError(f"backends[{i}].name {backend.name!r} is used twice; names must be unique")
        seen.add(backend.name)
        if backend.max_batch_size is not None and backend.max_batch_size < 1:
            raise ConfigError(f"backends[{i}].max_batch_size must be at least 1")
        if backend.max_batch_bytes is not None and backend.max_batch_bytes < MIN_BATCH_BYTES:
            raise ConfigError(f"backends[{i}].max_batch_bytes must be at least {MIN_BATCH_BYTES}")
    settings.backends.sort(key=lambda b: b.priority)


def _check_delivery(delivery: Delivery) -> None:
    for key in ("backoff_initial_s", "backoff_max_s", "breaker_reset_s", "breaker_max_reset_s", "send_timeout_s"):
        if not getattr(delivery, key) > 0:
            raise ConfigError(f"delivery.{key} must be positive")
    for key in ("backoff_max_s", "breaker_max_reset_s"):
        if getattr(delivery, key) > MAX_PROBE_PAUSE_S:
            raise ConfigError(
                f"delivery.{key} must be at most {MAX_PROBE_PAUSE_S:g} s: a failing backend is tried again at "
                "least that often, so delivery resumes within seconds of its return"
            )
    if delivery.backoff_initial_s > delivery.backoff_max_s:
        raise ConfigError("delivery.backoff_initial_s must not exceed delivery.backoff_max_s")
    if delivery.breaker_reset_s > delivery.breaker_max_reset_s:
        raise ConfigError("delivery.breaker_reset_s must not exceed delivery.breaker_max_reset_s")
    if delivery.breaker_failure_threshold < 1:
        raise ConfigError("delivery.breaker_failure_threshold must be at least 1")


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")
