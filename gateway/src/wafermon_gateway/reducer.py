"""The current state of a job or sub-job, folded from its events.

`reduce(state, facts)` is pure and order-free: every field is chosen by a rule that does not depend
on arrival order (minimum, maximum, or "the event with the greatest (seq, event_id) wins"), so any
permutation of a job's events, with any duplicates, folds to the same state. That is what lets the
gateway accept at-least-once, out-of-order delivery without a reorder buffer.

Times are the events' RFC 3339 strings (`YYYY-MM-DDTHH:MM:SS.ffffffZ`, fixed width), which sort
lexicographically in time order, so no parsing is needed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from wafermon_schema import MAX_HEARTBEAT_S, Event
from wafermon_schema.model import UNSET

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
# A key orders events for "latest wins" fields: (seq, event_id); event_id breaks ties so two distinct
# events with the same seq still resolve the same way whatever their order.
Key = tuple[int, str]
NO_KEY: Key = (-1, "")


@dataclass(slots=True)  # not frozen: frozen dataclasses construct noticeably slower, and this is per event
class Facts:
    """What the reducer needs from one validated event."""

    event_id: str
    event_kind: str
    entity_type: str
    entity_id: str
    parent_id: str | None
    seq: int
    at: str
    site_id: str
    app_name: str
    app_version: str
    app_id: str | None
    business_key: str | None
    sub_key: str | None
    host: str
    pid: int
    status: str
    progress: float | None
    metrics: dict[str, float] | None
    error: dict[str, str] | None
    metadata: dict[str, Any]
    heartbeat_s: float | None

    @property
    def key(self) -> Key:
        return (self.seq, self.event_id)


def heartbeat_from_metadata(metadata: dict[str, Any]) -> float | None:
    """`wafermon.heartbeat_s`, flat or nested; ignored unless a number in (0, MAX_HEARTBEAT_S] (validation
    refuses any other value; this keeps an event that bypassed it from setting an impossible deadline)."""
    value = metadata.get("wafermon.heartbeat_s")
    if value is None:
        nested = metadata.get("wafermon")
        value = nested.get("heartbeat_s") if isinstance(nested, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_HEARTBEAT_S:
        return None
    return float(value)


def _unset_to_none(value: Any) -> Any:
    return None if value is UNSET else value


def facts_from_event(event: Event) -> Facts:
    metrics = event.metrics
    error = event.error
    # to_builtins leaves out UNSET fields, so only what the event reported is kept.
    reported = None if metrics is UNSET else msgspec.to_builtins(metrics)
    return Facts(
        event_id=event.event_id,
        event_kind=event.event_kind,
        entity_type=event.entity_type,
        entity_id=event.entity_id,
        parent_id=event.parent_id,
        seq=int(event.seq),
        at=event.at,
        site_id=event.site_id,
        app_name=event.app.name,
        app_version=event.app.version,
        app_id=_unset_to_none(event.app.id),
        business_key=_unset_to_none(event.business_key),
        sub_key=_unset_to_none(event.sub_key),
        host=event.host,
        pid=int(event.pid),
        status=event.status,
        progress=_unset_to_none(event.progress),
        metrics=reported,
        error=None
        if error is None or isinstance(error, msgspec.UnsetType)
        else {"type": error.type, "message": error.message},
        metadata=event.metadata,
        heartbeat_s=heartbeat_from_metadata(event.metadata),
    )


@dataclass(slots=True)
class EntityState:
    entity_id: str
    entity_type: str
    # Identity and descriptive fields: from the event with the greatest key.
    ident_key: Key = NO_KEY
    parent_id: str | None = None
    site_id: str = ""
    app_name: str = ""
    app_version: str = ""
    app_id: str | None = None
    business_key: str | None = None
    sub_key: str | None = None
    host: str = ""
    pid: int = 0
    # Metadata (and the heartbeat it declares): from the greatest-key event that carries any. The
    # SDKs send it when a job starts and `{}` afterwards; an empty one must not wipe it out.
    metadata_key: Key = NO_KEY
    metadata: dict[str, Any] = field(default_factory=dict)
    heartbeat_s: float | None = None
    # Time bounds: min/max over all events.
    created_at: str = ""
    updated_at: str = ""
    started_at: str | None = None
    last_seq: int = -1
    # Outcome: a finished event wins over any running event whatever their seq ("late finished wins").
    finish_key: Key | None = None
    base_status: str = "running"
    finished_at: str | None = None
    error: dict[str, str] | None = None
    # Metrics: a finished event's metrics rank above any partial ones.
    metrics_key: tuple[int, int, str] = (-1, -1, "")
    metrics: dict[str, float] = field(default_factory=dict)
    progress_key: Key = NO_KEY
    progress: float | None = None

    @property
    def duration_s(self) -> float | None:
        """Reported duration when the job sent one, else finished_at - started_at."""
        if "duration_s" in self.metrics:
            return self.metrics["duration_s"]
        if self.finished_at and self.started_at:
            return max(0.0, (_parse(self.finished_at) - _parse(self.started_at)).total_seconds())
        return None

    def keys_dict(self) -> dict[str, Any]:
        """The bookkeeping a store persists so it can keep folding later events into this state."""
        return {
            "ident": list(self.ident_key),
            "finish": None if self.finish_key is None else list(self.finish_key),
            "metrics": list(self.metrics_key),
            "progress": list(self.progress_key),
            "metadata": list(self.metadata_key),
        }

    def load_keys(self, keys: dict[str, Any]) -> None:
        self.ident_key = (int(keys["ident"][0]), str(keys["ident"][1]))
        finish = keys.get("finish")
        self.finish_key = None if finish is None else (int(finish[0]), str(finish[1]))
        m = keys["metrics"]
        self.metrics_key = (int(m[0]), int(m[1]), str(m[2]))
        self.progress_key = (int(keys["progress"][0]), str(keys["progress"][1]))
        # Rows written before metadata had its own key took it from the identity event.
        meta = keys.get("metadata", keys["ident"])
        self.metadata_key = (int(meta[0]), str(meta[1]))

    def comparable(self) -> dict[str, Any]:
        """Everything a user can observe, for equality checks in tests."""
        return {name: getattr(self, name) for name in self.__slots__} | {"duration_s": self.duration_s}


def _parse(at: str) -> datetime:
    return datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%f%z")


_FIELDS = tuple(EntityState.__dataclass_fields__)


def _start(state: EntityState | None, ev: Facts) -> EntityState:
    """A private copy to fold into (or a new state), so callers' states are never mutated."""
    if state is None:
        return EntityState(entity_id=ev.entity_id, entity_type=ev.entity_type)
    return EntityState(**{name: getattr(state, name) for name in _FIELDS})


def reduce(state: EntityState | None, ev: Facts) -> EntityState:
    """Fold one event into a state; returns a new state and never mutates its input."""
    s = _start(state, ev)
    _apply(s, ev)
    return s


def fold(state: EntityState | None, events: list[Facts]) -> EntityState | None:
    """reduce() over events, copying the state once instead of once per event."""
    if not events:
        return state
    s = _start(state, events[0])
    for ev in events:
        _apply(s, ev)
    return s


def _apply(s: EntityState, ev: Facts) -> None:
    if s.entity_id != ev.entity_id:
        raise ValueError(f"event for {ev.entity_id} folded into state of {s.entity_id}")
    key = (ev.seq, ev.event_id)
    if key > s.ident_key:
        s.ident_key = key
        s.parent_id = ev.parent_id
        s.site_id = ev.site_id
        s.app_name = ev.app_name
        s.app_version = ev.app_version
        s.app_id = ev.app_id
        s.business_key = ev.business_key
        s.sub_key = ev.sub_key
        s.host = ev.host
        s.pid = ev.pid
    if ev.metadata and key > s.metadata_key:
        s.metadata_key = key
        s.metadata = ev.metadata
        s.heartbeat_s = ev.heartbeat_s
    if not s.created_at or ev.at < s.created_at:
        s.created_at = ev.at
    if ev.at > s.updated_at:
        s.updated_at = ev.at
    if ev.event_kind == "started" and (s.started_at is None or ev.at < s.started_at):
        s.started_at = ev.at
    if ev.seq > s.last_seq:
        s.last_seq = ev.seq
    if ev.event_kind == "finished" and (s.finish_key is None or key > s.finish_key):
        s.finish_key = key
        s.base_status = ev.status
        s.finished_at = ev.at
        s.error = ev.error
    if ev.metrics is not None:
        mkey = (1 if ev.event_kind == "finished" else 0, ev.seq, ev.event_id)
        if mkey > s.metrics_key:
            s.metrics_key = mkey
            s.metrics = ev.metrics
    if ev.progress is not None and key > s.progress_key:
        s.progress_key = key
        s.progress = ev.progress
