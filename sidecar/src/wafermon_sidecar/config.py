"""Settings, built once by the shared loader (`wafermon_schema.settings_loader`) from the config file
(JSON, YAML or TOML), `${ENV}` references and WAFERMON_SIDECAR_* variables.

Precedence: command-line flags > WAFERMON_SIDECAR_* environment variables > the file > defaults. A
variable is the prefix and the field path, upper-cased and joined by `_`
(`WAFERMON_SIDECAR_INGEST_PORT`, `WAFERMON_SIDECAR_SPOOL_PATH`); ENV_ALIASES keeps the shorter names
documented before that rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from wafermon_schema import settings_loader
from wafermon_schema.settings_loader import SettingsError

from . import seed_forms
from .framing import HEADER_SIZE as RECORD_HEADER_BYTES
from .shaping import check_shaping

DEFAULT_PORT = 17000
BACKEND_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Delivery requests stay well under the gateway's 16 MiB body limit; an event is at most 96 KiB.
DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024
MIN_BATCH_BYTES = 1024
# A failing backend is tried again at least this often, so delivery resumes within seconds of its return.
MAX_PROBE_PAUSE_S = 5.0
ENV_PREFIX = "WAFERMON_SIDECAR_"

# Names documented before the derived rule (which also reads WAFERMON_SIDECAR_INGEST_PORT etc.).
ENV_ALIASES: dict[str, str] = {
    "WAFERMON_SIDECAR_HOST": "ingest.host",
    "WAFERMON_SIDECAR_PORT": "ingest.port",
    "WAFERMON_SIDECAR_TOKEN": "ingest.auth_token",
    "WAFERMON_SIDECAR_MAX_BODY_BYTES": "ingest.max_body_bytes",
    "WAFERMON_SIDECAR_VALIDATION_WORKERS": "ingest.validation_workers",
}

#: The settings are unusable; the message names the source, the key and what is wrong.
ConfigError = SettingsError


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
    # Per-backend health (docs/sidecar.md, "Health"): degraded / failing once the oldest event not yet
    # confirmed is this old; degraded while an event was dead-lettered this recently.
    health_degraded_lag_s: float = 60.0
    health_failing_lag_s: float = 600.0
    health_dead_letter_window_s: float = 300.0


class BackendSettings(msgspec.Struct, forbid_unknown_fields=True):
    type: str
    name: str = ""
    enabled: bool = True
    priority: int = 100
    config: dict[str, Any] = {}
    max_batch_size: int | None = None
    max_batch_bytes: int | None = None
    flush_interval: float | None = None
    # Which events this backend receives and how its records look (shaping.py, docs/sidecar.md
    # "Filters and transforms"); checked by check_shaping.
    filter: dict[str, Any] | None = None
    transform: str | None = None
    fields: list[Any] | None = None
    rename: dict[str, Any] = {}


class Settings(msgspec.Struct, forbid_unknown_fields=True):
    ingest: Ingest = msgspec.field(default_factory=Ingest)
    spool: SpoolSettings = msgspec.field(default_factory=SpoolSettings)
    delivery: Delivery = msgspec.field(default_factory=Delivery)
    backends: list[BackendSettings] = []
    log_level: str = "INFO"


# A file whose extension names no format is read as YAML, as before the shared loader.
SPEC = settings_loader.SettingsSpec(
    Settings, ENV_PREFIX, {**ENV_ALIASES, **seed_forms.ENV_ALIASES}, section="sidecar", default_format="YAML"
)


def build_settings(
    doc: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Settings from an already-read document, the environment (default os.environ) and command-line
    overrides (dotted key → value). Raises SettingsError."""
    return settings_loader.build_settings(SPEC, doc, environ, overrides, check=_check)


def load_settings(path: Path | None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Settings from the file at path (JSON, YAML or TOML by extension), os.environ and overrides.
    Raises SettingsError naming the file or variable, the key and what is wrong."""
    return seed_forms.load_settings(SPEC, path, overrides, _check, BackendSettings.__struct_fields__)


def _check(settings: Settings) -> None:
    ingest, spool = settings.ingest, settings.spool
    if not 0 < ingest.port < 65536 and ingest.port != 0:
        raise ConfigError(f"ingest.port must be 1..65535, got {ingest.port}", "ingest.port")
    if ingest.max_body_bytes < 1024:
        raise ConfigError("ingest.max_body_bytes must be at least 1024", "ingest.max_body_bytes")
    if ingest.max_batch_size < 1 or ingest.max_events_per_request < 1:
        raise ConfigError(
            "ingest.max_batch_size and ingest.max_events_per_request must be at least 1", "ingest.max_batch_size"
        )
    if ingest.max_batch_bytes < MIN_BATCH_BYTES:
        raise ConfigError(f"ingest.max_batch_bytes must be at least {MIN_BATCH_BYTES}", "ingest.max_batch_bytes")
    _check_delivery(settings.delivery)
    if not spool.enabled:
        raise ConfigError(
            "spool.enabled cannot be false: the sidecar acknowledges only what is on its spool", "spool.enabled"
        )
    if spool.max_size_mb <= 0:
        raise ConfigError("spool.max_size_mb must be positive", "spool.max_size_mb")
    if spool.disk_reserve_mb < 0:
        raise ConfigError("spool.disk_reserve_mb must not be negative", "spool.disk_reserve_mb")
    if spool.max_bytes < ingest.max_body_bytes + RECORD_HEADER_BYTES:
        raise ConfigError(
            f"spool.max_size_mb ({spool.max_size_mb:g} = {spool.max_bytes} bytes) is smaller than the largest "
            f"request ingest accepts (ingest.max_body_bytes = {ingest.max_body_bytes}, plus a "
            f"{RECORD_HEADER_BYTES}-byte record header); raise spool.max_size_mb or lower ingest.max_body_bytes",
            "spool.max_size_mb",
        )
    if ingest.auth_token == "":
        ingest.auth_token = None
    seen: set[str] = set()
    for i, backend in enumerate(settings.backends):
        if not backend.name:
            backend.name = backend.type
        if not BACKEND_NAME.match(backend.name):
            raise ConfigError(
                f"backends[{i}].name {backend.name!r} must be 1-64 characters of letters, digits, '_', '.', '-'",
                f"backends[{i}].name",
            )
        if backend.name in seen:
            raise ConfigError(
                f"backends[{i}].name {backend.name!r} is used twice; names must be unique", f"backends[{i}].name"
            )
        seen.add(backend.name)
        if backend.max_batch_size is not None and backend.max_batch_size < 1:
            raise ConfigError(f"backends[{i}].max_batch_size must be at least 1", f"backends[{i}].max_batch_size")
        if backend.max_batch_bytes is not None and backend.max_batch_bytes < MIN_BATCH_BYTES:
            raise ConfigError(
                f"backends[{i}].max_batch_bytes must be at least {MIN_BATCH_BYTES}", f"backends[{i}].max_batch_bytes"
            )
        check_shaping(backend)
    settings.backends.sort(key=lambda b: b.priority)


def _check_delivery(delivery: Delivery) -> None:
    for key in ("backoff_initial_s", "backoff_max_s", "breaker_reset_s", "breaker_max_reset_s", "send_timeout_s",
                "health_degraded_lag_s", "health_failing_lag_s", "health_dead_letter_window_s"):  # fmt: skip
        if not getattr(delivery, key) > 0:
            raise ConfigError(f"delivery.{key} must be positive", f"delivery.{key}")
    for key in ("backoff_max_s", "breaker_max_reset_s"):
        if getattr(delivery, key) > MAX_PROBE_PAUSE_S:
            raise ConfigError(
                f"delivery.{key} must be at most {MAX_PROBE_PAUSE_S:g} s: a failing backend is tried again at "
                "least that often, so delivery resumes within seconds of its return",
                f"delivery.{key}",
            )
    if delivery.backoff_initial_s > delivery.backoff_max_s:
        raise ConfigError(
            "delivery.backoff_initial_s must not exceed delivery.backoff_max_s", "delivery.backoff_initial_s"
        )
    if delivery.breaker_reset_s > delivery.breaker_max_reset_s:
        raise ConfigError(
            "delivery.breaker_reset_s must not exceed delivery.breaker_max_reset_s", "delivery.breaker_reset_s"
        )
    if delivery.health_degraded_lag_s > delivery.health_failing_lag_s:
        raise ConfigError(
            "delivery.health_degraded_lag_s must not exceed delivery.health_failing_lag_s",
            "delivery.health_degraded_lag_s",
        )
    if delivery.breaker_failure_threshold < 1:
        raise ConfigError("delivery.breaker_failure_threshold must be at least 1", "delivery.breaker_failure_threshold")


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")
