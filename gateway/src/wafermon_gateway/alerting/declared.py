"""Schedule monitors declared from SDK code: a job event's `metadata["wafermon.monitor"]`.

The declaration is a JSON object `{"name"?, "schedule"? (crontab), "tz"?, "interval_s"?,
"start_grace_s"?, "max_runtime_s"?, "failure_threshold"?, "recovery_threshold"?, "min_gap_s"?,
"cooldown_s"?, "notify"?}` with exactly one of schedule / interval_s. The monitor is named `name`,
else the job's app name, and watches the runs whose declaration names it (`match.monitor`). A bad
declaration is refused with an error naming the field (`metadata.wafermon.monitor.<field>`); the
job's event itself is always kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .monitor_model import Monitor

DECLARATION_KEY = "wafermon.monitor"
FIELD = f"metadata.{DECLARATION_KEY}"
_SCHEDULE_KEYS = {"schedule", "tz", "interval_s"}
_PLAIN_KEYS = {"start_grace_s", "max_runtime_s", "failure_threshold", "recovery_threshold", "min_gap_s",
               "cooldown_s", "notify"}  # fmt: skip
KEYS = frozenset({"name"} | _SCHEDULE_KEYS | _PLAIN_KEYS)


class DeclarationError(ValueError):
    """A refused declaration; `field` is the metadata path, e.g. metadata.wafermon.monitor.tz."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Declaration:
    job_id: str
    app: str
    site: str
    monitor: Monitor


def declared_name(declaration: Any, app_name: str) -> str | None:
    """The monitor a job's declaration names (None when it carries none)."""
    if not isinstance(declaration, dict):
        return None
    name = declaration.get("name")
    return name if isinstance(name, str) else app_name


def parse(declaration: Any, app_name: str) -> Monitor:
    """The monitor a declaration asks for; raises DeclarationError naming the field."""
    if not isinstance(declaration, dict):
        raise DeclarationError(FIELD, f"must be a JSON object, not {type(declaration).__name__}")
    unknown = sorted(set(declaration) - KEYS)
    if unknown:
        raise DeclarationError(f"{FIELD}.{unknown[0]}", f"is not a monitor setting (known: {', '.join(sorted(KEYS))})")
    if ("schedule" in declaration) == ("interval_s" in declaration):
        raise DeclarationError(f"{FIELD}.schedule", "give exactly one of schedule (crontab) or interval_s")
    name = declaration.get("name", app_name)
    schedule: dict[str, Any] = {"tz": declaration.get("tz", "UTC")}
    if "schedule" in declaration:
        schedule["cron"] = declaration["schedule"]
    else:
        schedule["interval_s"] = declaration["interval_s"]
    body = {"name": name, "match": {"monitor": name}, "schedule": schedule,
            **{k: declaration[k] for k in _PLAIN_KEYS if k in declaration}}  # fmt: skip
    try:
        return Monitor.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise DeclarationError(f"{FIELD}.{_field_of(first)}", _words(first)) from None


def _field_of(error: Any) -> str:
    """Our model's error location, in the declaration's own terms."""
    loc = tuple(error.get("loc") or ())
    if not loc:
        return "schedule"
    if loc[0] == "schedule":
        if len(loc) > 1 and loc[1] in ("tz", "interval_s"):
            return str(loc[1])
        return "tz" if "time zone" in str((error.get("ctx") or {}).get("error", "")) else "schedule"
    if loc[0] == "match":
        return "name"
    return ".".join(str(p) for p in loc)


def _words(error: Any) -> str:
    kind = str(error.get("type", ""))
    if kind == "string_pattern_mismatch":
        return "must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit (give name)"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"has the wrong type ({kind.split('_')[0]} expected), got {error.get('input')!r}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        limit = next(iter((error.get("ctx") or {}).values()), "?")
        relation = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[kind]
        return f"must be {relation} {limit}, got {error.get('input')!r}"
    ctx = error.get("ctx") or {}
    reason = ctx.get("error")
    return f"is not valid: {reason}" if reason is not None else f"is not valid ({kind})"
