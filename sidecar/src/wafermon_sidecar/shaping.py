"""One backend's pipeline between the spool and send_batch: filter → transform hook → fields → rename.

Built from a backend's settings (`filter`, `transform`, `fields`, `rename`) once at start-up; a
backend with none of them has no Shaper and its batches go through untouched (not even decoded).

- An event the filter (or the hook, returning None) leaves out is *filtered*: the backend never sees
  it, and its cursor moves past it as past a delivered one.
- With only a filter, the kept events are sent as the very bytes the spool holds. With a hook,
  `fields` or `rename` the records are built from the decoded event and encoded again (compact JSON),
  and the batch carries them decoded too, so the backend does not decode them a second time.
- Identity: a backend declares the top-level fields every record must carry
  (`Backend.required_fields`, by default `event_id`, its idempotency key). `fields` must list them
  and `rename` may not move them or write over them (start-up errors naming the key); a hook's
  output that lacks one dead-letters that event. A backend that needs whole v1 events
  (`required_fields = WHOLE_EVENT`, e.g. managed_api: its receiver validates each event) takes a
  filter only: `fields`, `rename` and `transform` are refused for it at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from wafermon_schema.settings_loader import SettingsError as ConfigError

from .backends.base import WHOLE_EVENT, Backend
from .filters import EventFilter, compile_filter
from .transforms import Hook, Projection, Renames, load_hook, parse_path, parse_rename

if TYPE_CHECKING:  # config.py checks the grammar with check_shaping, so no import of it at run time
    from .config import BackendSettings

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


@dataclass(slots=True)
class Shaped:
    """What one read from the spool became: the records to send (with their spool sequence numbers and,
    when reshaped, decoded), the sequence numbers filtered out, and (seq, reason) of dead ones."""

    raw: list[bytes] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    decoded: list[dict[str, Any]] | None = None
    filtered: list[int] = field(default_factory=list)
    dead: list[tuple[int, str]] = field(default_factory=list)


class Shaper:
    def __init__(
        self,
        event_filter: EventFilter | None,
        hook: Hook | None,
        hook_name: str | None,
        projection: Projection | None,
        renames: Renames | None,
        required: frozenset[str],
        backend_label: str,
    ) -> None:
        self.filter = event_filter
        self.hook = hook
        self.hook_name = hook_name
        self.projection = projection
        self.renames = renames
        self.required = sorted(required - WHOLE_EVENT)
        self.backend_label = backend_label
        self.reshapes = hook is not None or projection is not None or renames is not None

    def shape(self, events: list[bytes], first_seq: int) -> Shaped:
        """The pipeline over consecutive events (their JSON bytes) starting at spool seq `first_seq`."""
        out = Shaped(decoded=[] if self.reshapes else None)
        matches = self.filter.matches_raw if self.filter is not None else None
        reshapes = self.reshapes
        for i, raw in enumerate(events):
            seq = first_seq + i
            try:  # the filter decodes only the fields it reads; a whole decode only for what it keeps
                if matches is not None and not matches(raw):
                    out.filtered.append(seq)
                    continue
                if not reshapes:
                    out.raw.append(raw)
                    out.seqs.append(seq)
                    continue
                event = _decode(raw)
            except msgspec.DecodeError as exc:  # validated at ingest; only a changed disk gets here
                out.dead.append((seq, f"the spooled event is not a JSON object any more: {exc}"))
                continue
            record, why = self._reshape(event)
            if why is not None:
                out.dead.append((seq, why))
            elif record is None:
                out.filtered.append(seq)
            else:
                try:
                    encoded = _encode(record)
                except (TypeError, ValueError, OverflowError) as exc:
                    out.dead.append((seq, f"transform {self.hook_name!r} returned a record that is not JSON: {exc}"))
                    continue
                out.raw.append(encoded)
                out.seqs.append(seq)
                assert out.decoded is not None
                out.decoded.append(record)
        return out

    def _reshape(self, event: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        """(record or None when the hook filters it out, None) or (None, why the event is dead)."""
        record: Any = event
        if not isinstance(record, dict):
            return None, "the spooled event is not a JSON object any more"
        if self.hook is not None:
            try:
                record = self.hook(event)
            except Exception as exc:  # the user's code: its failure costs this event only
                return None, f"transform {self.hook_name!r} raised {type(exc).__name__}: {exc}"
            if record is None:
                return None, None
            if not isinstance(record, dict):
                return None, f"transform {self.hook_name!r} returned {type(record).__name__}, not a dict or None"
            missing = [name for name in self.required if name not in record]
            if missing:
                return None, (
                    f"transform {self.hook_name!r} returned a record without {', '.join(missing)}, which "
                    f"{self.backend_label} needs in every record"
                )
        if self.projection is not None:
            record = self.projection(record)
        if self.renames is not None:
            record = self.renames(record)
        return record, None


def has_shaping(settings: BackendSettings) -> bool:
    return (
        settings.filter is not None
        or settings.transform is not None
        or settings.fields is not None
        or bool(settings.rename)
    )


def check_shaping(settings: BackendSettings) -> None:
    """The shaping keys' grammar alone (no backend class, no hook import): raises ConfigError naming the key."""
    where = f"backends[{settings.name}]"
    if settings.filter is not None:
        compile_filter(settings.filter, f"{where}.filter")
    if settings.fields is not None:
        _fields(settings.fields, f"{where}.fields")
    if settings.rename:
        parse_rename(settings.rename, f"{where}.rename")


def _fields(spec: Any, where: str) -> list[tuple[str, ...]]:
    if not isinstance(spec, list) or not spec:
        raise ConfigError(f"{where} must be a non-empty list of field paths", where)
    return [parse_path(item, f"{where}[{i}]") for i, item in enumerate(spec)]


def build_shaper(settings: BackendSettings, backend_class: type[Backend]) -> Shaper | None:
    """The backend's pipeline, or None when it has none. Raises ConfigError naming the key when a key is
    malformed, when the hook cannot be loaded, or when `fields` / `rename` would take from the records
    a field the backend needs (Backend.required_fields)."""
    if not has_shaping(settings):
        return None
    where = f"backends[{settings.name}]"
    label = f"the {settings.type} backend {settings.name!r}"
    required = frozenset(backend_class.required_fields)
    event_filter = compile_filter(settings.filter, f"{where}.filter") if settings.filter is not None else None
    if required >= WHOLE_EVENT:
        for key, value in (("fields", settings.fields), ("rename", settings.rename), ("transform", settings.transform)):
            if value:
                raise ConfigError(
                    f"{where}.{key}: {label} delivers whole v1 events (its receiver checks each one against the "
                    "schema); only a filter applies to it",
                    f"{where}.{key}",
                )
    hook = load_hook(settings.transform, f"{where}.transform") if settings.transform is not None else None
    projection = None
    if settings.fields is not None:
        paths = _fields(settings.fields, f"{where}.fields")
        kept = {path[0] for path in paths if len(path) == 1}
        missing = sorted(required - kept)
        if missing:
            raise ConfigError(
                f"{where}.fields must list {', '.join(missing)}: {label} needs it in every record "
                "(its identity: document id or de-duplication key)",
                f"{where}.fields",
            )
        projection = Projection(paths)
    renames = None
    if settings.rename:
        moves = parse_rename(settings.rename, f"{where}.rename")
        for old, new in moves:
            for path, verb in ((old, "move"), (new, "write over")):
                if path[0] in required:
                    key = f"{where}.rename.{'.'.join(old)}"
                    raise ConfigError(
                        f"{key}: a rename may not {verb} {path[0]}: {label} needs it in every record under that name",
                        key,
                    )
        renames = Renames(moves)
    return Shaper(event_filter, hook, settings.transform, projection, renames, required, label)
