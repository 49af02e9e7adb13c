"""msgspec types mirroring conformance/schema/event-v1.json.

The JSON Schema is normative; these types are the fast path the services use. The test suite checks
that both give the same verdict on every vector and on generated events.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
AT_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$"

Uuid = Annotated[str, msgspec.Meta(pattern=UUID_PATTERN)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Key = Annotated[str, msgspec.Meta(max_length=256)]
NonNeg = Annotated[float, msgspec.Meta(ge=0)]
# JSON Schema's "integer" admits 3.0, so these accept an integral float and check_event makes it an int.
Seq = (
    Annotated[int, msgspec.Meta(ge=0, le=9007199254740991)] | Annotated[float, msgspec.Meta(ge=0, le=9007199254740991)]
)
Pid = Annotated[int, msgspec.Meta(ge=0, le=4294967295)] | Annotated[float, msgspec.Meta(ge=0, le=4294967295)]

EventKind = Literal["started", "progress", "heartbeat", "finished"]
EntityType = Literal["job", "subjob"]
Status = Literal["running", "succeeded", "failed", "cancelled"]
Lang = Literal["c", "python", "java", "r", "perl"]

# msgspec needs a sentinel distinct from None for "field absent"; UNSET keeps them apart.
UNSET: Any = msgspec.UNSET


class App(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    version: Annotated[str, msgspec.Meta(max_length=128)]
    id: Annotated[str, msgspec.Meta(max_length=128)] | msgspec.UnsetType = UNSET


class Metrics(msgspec.Struct, forbid_unknown_fields=True):
    duration_s: NonNeg | msgspec.UnsetType = UNSET
    cpu_user_s: NonNeg | msgspec.UnsetType = UNSET
    cpu_sys_s: NonNeg | msgspec.UnsetType = UNSET
    mem_max_mb: NonNeg | msgspec.UnsetType = UNSET


class Error(msgspec.Struct, forbid_unknown_fields=True):
    type: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    message: Annotated[str, msgspec.Meta(max_length=8192)]


class Sdk(msgspec.Struct, forbid_unknown_fields=True):
    lang: Lang
    version: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class Trace(msgspec.Struct, forbid_unknown_fields=True):
    trace_id: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{32}$")]
    span_id: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{16}$")]


class Event(msgspec.Struct, forbid_unknown_fields=True):
    schema: Literal["wafermon.event/1"]
    event_id: Uuid
    event_kind: EventKind
    entity_type: EntityType
    entity_id: Uuid
    parent_id: Uuid | None
    seq: Seq
    at: Annotated[str, msgspec.Meta(pattern=AT_PATTERN)]
    site_id: Name
    app: App
    status: Status
    metadata: dict[str, Any]
    host: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    pid: Pid
    sdk: Sdk
    business_key: Key | msgspec.UnsetType | None = UNSET
    sub_key: Key | msgspec.UnsetType | None = UNSET
    progress: Annotated[float, msgspec.Meta(ge=0, le=1)] | msgspec.UnsetType = UNSET
    metrics: Metrics | msgspec.UnsetType = UNSET
    error: Error | msgspec.UnsetType | None = UNSET
    trace: Trace | msgspec.UnsetType = UNSET


def cross_field_problem(event: Event) -> tuple[str, str] | None:
    """The schema's if/then rules, as (field, message); None when the event obeys them all.

    Also turns an integral float seq or pid into an int, so callers always see ints.
    """
    for name in ("seq", "pid"):
        value = getattr(event, name)
        if isinstance(value, float):
            if not value.is_integer():
                return name, f"{name} must be an integer"
            setattr(event, name, int(value))
    finished = event.event_kind == "finished"
    if finished and event.status == "running":
        return "status", "a finished event needs status succeeded, failed or cancelled"
    if not finished and event.status != "running":
        return "status", f"a {event.event_kind} event must have status running"
    if finished and event.metrics is UNSET:
        return "metrics", "a finished event needs metrics"
    has_error = event.error is not UNSET and event.error is not None
    if event.status == "failed" and not has_error:
        return "error", "a failed event needs error {type, message}"
    if event.status != "failed" and has_error:
        return "error", "error is only allowed when status is failed"
    if event.entity_type == "subjob" and event.parent_id is None:
        return "parent_id", "a subjob needs parent_id"
    if event.entity_type == "job" and event.parent_id is not None:
        return "parent_id", "a job must have parent_id null"
    return None
