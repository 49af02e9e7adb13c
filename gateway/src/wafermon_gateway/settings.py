"""Gateway settings: built once from an optional file (TOML, YAML or JSON) and the environment by the
shared loader (`wafermon_schema.settings_loader`).

Precedence, lowest first: defaults, the file (`--config` or `WAFERMON_GATEWAY_CONFIG`; everything may
be nested under `[gateway]`), `WAFERMON_GATEWAY_<FIELD PATH>` variables (`WAFERMON_GATEWAY_PORT`,
`WAFERMON_GATEWAY_ALERTING_GROUP_WAIT_S`; lists and sections as JSON), then the command line.
`WAFERMON_DATABASE_URL` is the documented alias for the PostgreSQL DSN. `${NAME}` in any string is
read from the environment so secrets stay out of files.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, ValidationError

from wafermon_schema.settings_loader import (
    AtLeastOne,
    NonNegative,
    Port,
    Positive,
    SettingsError,
    SettingsSpec,
)
from wafermon_schema.settings_loader import load_settings as _load

from .alerting.settings import AlertingSettings

__all__ = ["ApiKey", "Scope", "Settings", "SettingsError", "check_bind_policy", "load_settings"]

Scope = Literal["ingest", "read", "admin"]
ENV_PREFIX = "WAFERMON_GATEWAY_"
Bytes = Annotated[int, msgspec.Meta(ge=1024)]


class ApiKey(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    key: Annotated[str, msgspec.Meta(min_length=16, max_length=256)]
    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1)]


def default_sqlite_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "wafermon" / "gateway.db"


class Settings(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    host: str = "127.0.0.1"
    port: Port = 18000
    # PostgreSQL DSN; empty means the embedded SQLite file at sqlite_path.
    database_url: str = ""
    sqlite_path: Path = msgspec.field(default_factory=default_sqlite_path)
    pool_min_size: Annotated[int, msgspec.Meta(ge=1, le=100)] = 2
    pool_max_size: Annotated[int, msgspec.Meta(ge=1, le=200)] = 10

    # Raw events are kept this long (TimescaleDB retention policy or dropped partitions / rows).
    retention_hours: Positive = 72.0
    # Job and sub-job state rows outlive raw events so yesterday's failures stay listable.
    state_retention_hours: Positive = 720.0
    partition_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 31)] = 24
    partitions_ahead: Annotated[int, msgspec.Meta(ge=1, le=60)] = 2
    maintenance_interval_s: Positive = 600.0
    # Compress TimescaleDB chunks older than this.
    compress_after_hours: Positive = 24.0

    # Liveness: a running entity is lost after heartbeat_s * lost_after_missed seconds of silence;
    # an event's metadata "wafermon.heartbeat_s" overrides heartbeat_s for its entity.
    heartbeat_s: Positive = 60.0
    lost_after_missed: Annotated[float, msgspec.Meta(ge=1)] = 3.0
    liveness_interval_s: Positive = 5.0
    # Events stamped further in the future than this are rejected (clock skew guard).
    max_future_skew_s: NonNegative = 3600.0

    max_body_bytes: Bytes = 16 * 1024 * 1024
    max_decoded_bytes: Bytes = 64 * 1024 * 1024
    max_events_per_batch: AtLeastOne = 10000
    default_limit: AtLeastOne = 50
    max_limit: AtLeastOne = 1000
    timeline_limit: AtLeastOne = 1000
    stream_keepalive_s: Positive = 15.0
    max_stream_clients: AtLeastOne = 256

    api_keys: list[ApiKey] = msgspec.field(default_factory=list)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    alerting: AlertingSettings = msgspec.field(default_factory=AlertingSettings)

    @property
    def uses_postgres(self) -> bool:
        return bool(self.database_url)

    def is_loopback(self) -> bool:
        return is_loopback_host(self.host)


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


SPEC = SettingsSpec(
    Settings,
    ENV_PREFIX,
    aliases={"WAFERMON_DATABASE_URL": "database_url"},
    section="gateway",
    default_format="TOML",  # any other extension: TOML, as before the shared loader
    dec_hook=lambda tp, value: _pydantic_model(tp, value),
)


def load_settings(
    config_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from `config_file` (else `WAFERMON_GATEWAY_CONFIG`, else none), the environment and
    `overrides` (field → value; None means not given). Raises SettingsError naming the source and key."""
    env = os.environ if environ is None else environ
    path = config_file or (Path(env["WAFERMON_GATEWAY_CONFIG"]) if env.get("WAFERMON_GATEWAY_CONFIG") else None)
    return _load(SPEC, path, env, overrides, check=_check)


def _check(settings: Settings) -> None:
    url = settings.database_url
    if url and not url.startswith(("postgres://", "postgresql://")):
        raise SettingsError("database_url: must start with postgresql:// (or be empty for SQLite)", "database_url")


# Alert rules, notifiers and monitors are also the alerting API's request models (pydantic, as FastAPI
# wants); in the settings they are converted by the same models, their findings in our words.
_PYDANTIC_WORDS = {
    "missing": "required, but not given",
    "extra_forbidden": "unknown key",
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "string_type": "must be text",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
}
_PYDANTIC_BOUNDS = {"greater_than": ("gt", "greater than"), "greater_than_equal": ("ge", "at least"),
                    "less_than": ("lt", "less than"), "less_than_equal": ("le", "at most")}  # fmt: skip


def _pydantic_model(tp: type, value: Any) -> Any:
    if not (isinstance(tp, type) and issubclass(tp, BaseModel)):
        raise NotImplementedError(tp)
    try:
        return tp.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in first["loc"]).replace(".[", "[")
        raise SettingsError(_pydantic_problem(first), key) from None


def _pydantic_problem(err: Any) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in _PYDANTIC_WORDS:
        return _PYDANTIC_WORDS[kind]
    if kind in _PYDANTIC_BOUNDS:
        name, words = _PYDANTIC_BOUNDS[kind]
        return f"must be {words} {ctx.get(name)}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind == "value_error":  # raised by our own validators, in our words
        return str(ctx.get("error", err["msg"]))
    return f"is not valid ({kind})"


def check_bind_policy(settings: Settings) -> None:
    """Refuse to serve a non-loopback address without API keys: an open store on the network leaks."""
    if not settings.api_keys and not settings.is_loopback():
        raise SettingsError(
            f"refusing to listen on {settings.host} without API keys; configure api_keys "
            "(or bind 127.0.0.1 to run open on loopback)"
        )
    if settings.max_limit < settings.default_limit:
        raise SettingsError("default_limit must not exceed max_limit")
