"""Gateway settings: built once from an optional file (TOML or JSON) and the environment.

Precedence, lowest first: defaults, the file, `WAFERMON_GATEWAY_<FIELD>` variables, then the
command line. `WAFERMON_DATABASE_URL` is the documented shortcut for the PostgreSQL DSN. Strings of
the form `${NAME}` are read from the environment so secrets stay out of files.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .alerting.settings import AlertingSettings

Scope = Literal["ingest", "read", "admin"]
ENV_PREFIX = "WAFERMON_GATEWAY_"
_SECRET = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class SettingsError(ValueError):
    """The configuration cannot be used; the message says which setting and why."""


class ApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    key: str = Field(min_length=16, max_length=256)
    scopes: list[Scope] = Field(min_length=1)


def default_sqlite_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "wafermon" / "gateway.db"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=18000, ge=0, le=65535)
    # PostgreSQL DSN; empty means the embedded SQLite file at sqlite_path.
    database_url: str = ""
    sqlite_path: Path = Field(default_factory=default_sqlite_path)
    pool_min_size: int = Field(default=2, ge=1, le=100)
    pool_max_size: int = Field(default=10, ge=1, le=200)

    # Raw events are kept this long (TimescaleDB retention policy or dropped partitions / rows).
    retention_hours: float = Field(default=72.0, gt=0)
    # Job and sub-job state rows outlive raw events so yesterday's failures stay listable.
    state_retention_hours: float = Field(default=720.0, gt=0)
    partition_hours: int = Field(default=24, ge=1, le=24 * 31)
    partitions_ahead: int = Field(default=2, ge=1, le=60)
    maintenance_interval_s: float = Field(default=600.0, gt=0)
    # Compress TimescaleDB chunks older than this.
    compress_after_hours: float = Field(default=24.0, gt=0)

    # Liveness: a running entity is lost after heartbeat_s * lost_after_missed seconds of silence;
    # an event's metadata "wafermon.heartbeat_s" overrides heartbeat_s for its entity.
    heartbeat_s: float = Field(default=60.0, gt=0)
    lost_after_missed: float = Field(default=3.0, ge=1)
    liveness_interval_s: float = Field(default=5.0, gt=0)
    # Events stamped further in the future than this are rejected (clock skew guard).
    max_future_skew_s: float = Field(default=3600.0, ge=0)

    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_decoded_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    max_events_per_batch: int = Field(default=10000, ge=1)
    default_limit: int = Field(default=50, ge=1)
    max_limit: int = Field(default=1000, ge=1)
    timeline_limit: int = Field(default=1000, ge=1)
    stream_keepalive_s: float = Field(default=15.0, gt=0)
    max_stream_clients: int = Field(default=256, ge=1)

    api_keys: list[ApiKey] = Field(default_factory=list)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    alerting: AlertingSettings = Field(default_factory=AlertingSettings)

    @field_validator("database_url")
    @classmethod
    def _dsn_scheme(cls, value: str) -> str:
        if value and not value.startswith(("postgres://", "postgresql://")):
            raise ValueError("database_url must start with postgresql:// (or be empty for SQLite)")
        return value

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


def _expand(value: Any, env: dict[str, str]) -> Any:
    """Replace "${NAME}" strings by the environment variable, recursively."""
    if isinstance(value, str):
        match = _SECRET.match(value)
        if match:
            name = match.group(1)
            if name not in env:
                raise SettingsError(f"setting refers to ${{{name}}} but the environment variable {name} is not set")
            return env[name]
        return value
    if isinstance(value, list):
        return [_expand(item, env) for item in value]
    if isinstance(value, dict):
        return {key: _expand(item, env) for key, item in value.items()}
    return value


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data: Any = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(
            f"config file {path} is not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise SettingsError(f"config file {path} must hold a table/object at the top level")
    # A file may nest everything under [gateway] so one file can serve several components.
    section = data.get("gateway", data)
    if not isinstance(section, dict):
        raise SettingsError(f"config file {path}: 'gateway' must be a table/object")
    return dict(section)


def _from_env(environ: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if environ.get("WAFERMON_DATABASE_URL"):
        values["database_url"] = environ["WAFERMON_DATABASE_URL"]
    for name, field in Settings.model_fields.items():
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        nested = isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        if field.annotation is not None and ("list" in str(field.annotation) or nested):
            try:
                values[name] = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise SettingsError(f"{ENV_PREFIX}{name.upper()} must be JSON: {exc}") from None
        else:
            values[name] = raw
    return values


def load_settings(
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    env = dict(os.environ) if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or (Path(env["WAFERMON_GATEWAY_CONFIG"]) if env.get("WAFERMON_GATEWAY_CONFIG") else None)
    if path is not None:
        values.update(_read_file(path))
    values.update(_from_env({k: v for k, v in env.items() if k != "WAFERMON_GATEWAY_CONFIG"}))
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return Settings.model_validate(_expand(values, env))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None


def check_bind_policy(settings: Settings) -> None:
    """Refuse to serve a non-loopback address without API keys: an open store on the network leaks."""
    if not settings.api_keys and not settings.is_loopback():
        raise SettingsError(
            f"refusing to listen on {settings.host} without API keys; configure api_keys "
            "(or bind 127.0.0.1 to run open on loopback)"
        )
    if settings.max_limit < settings.default_limit:
        raise SettingsError("default_limit must not exceed max_limit")
