"""mongodb backend: one document per event, `_id` = event_id, plus the latest state of each job.

conformance/backends/mongodb.md is the normative shape. Through pymongo's asyncio API
(`AsyncMongoClient`), so the sidecar's event loop is never blocked.

- events: `insert_many(ordered=False)` of the whole batch. A duplicate-key error (code 11000) for an
  item means the event is there already (a replay): delivered. The codes in TRANSIENT_CODES (a node
  stepping down, shutting down, a time limit) make the batch be retried later: inserting by `_id` is
  idempotent, so the items taken already answer 11000 then. Any other item error (e.g. a key the
  server refuses) dead-letters that event alone with the server's code and message; the neighbours
  are delivered. An event the driver cannot encode as BSON (over the server's size limit, a NUL in a
  key) is refused the same way before anything is sent.
- jobs (optional, `jobs_collection`): `_id` = entity_id of every job and sub-job in the batch, the
  state of its latest event, moving forward only: a state replaces the stored one only when it is
  later by (`at`, then `seq`). The states are inserted (one call); an insert that meets a duplicate
  key (the entity is stored already) is done again as an update guarded by that order. No upsert
  with that guard: where the guard misses a stored document, the upsert's duplicate-key error comes
  back from FerretDB 1.24 as a reply the driver cannot read.
- no connection, a timeout, authentication refused, a write-concern error → TransientError.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import bson
import msgspec
from bson.raw_bson import RawBSONDocument
from pymongo import AsyncMongoClient, uri_parser
from pymongo.errors import BulkWriteError, InvalidURI, PyMongoError

from .base import Backend, Batch, ConfigurationError, PermanentError, TransientError, config_struct

#: The seeds' flat fields taken from `metrics` when the event carries them.
METRIC_FIELDS = ("duration_s", "cpu_user_s", "mem_max_mb")
DUPLICATE_KEY = 11000
DOT_ESCAPE = "\uff0e"  # stands for "." in stored field names (see escape_keys)
#: Item error codes that a later attempt can get past (the server's own retryable-write codes and
#: time limits): the batch is retried, never dead-lettered for them.
TRANSIENT_CODES = frozenset(
    {6, 7, 50, 89, 91, 112, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 64, 100}  # 64/100: write concern
)
#: The server's largest document (BSON bytes) unless it says otherwise (`maxBsonObjectSize`).
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
#: Fields of the job state document, taken from its latest event (see job_state()).
_STATE_FIELDS = ("entity_type", "parent_id", "site_id", "business_key", "sub_key", "status", "event_kind", "seq")
_NAME = r"^[^$\x00./\\ \"*<>:|?]{1,120}$"  # database/collection names MongoDB accepts everywhere


class MongoDbConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The `config` block."""

    uri: str  # mongodb:// or mongodb+srv:// URI; credentials as ${ENV} (expanded by the loader)
    database: Annotated[str, msgspec.Meta(pattern=_NAME)] = "wafermon"
    events_collection: Annotated[str, msgspec.Meta(pattern=_NAME)] = "events"
    jobs_collection: Annotated[str, msgspec.Meta(pattern=r"^$|" + _NAME)] = "jobs"  # "" = no job states
    timeout: Annotated[float, msgspec.Meta(gt=0, le=600)] = 10.0  # seconds: connect, server selection, socket
    write_concern: Annotated[str, msgspec.Meta(pattern=r"^(majority|[0-9]{1,2})$")] = "majority"


def event_time(at: Any) -> datetime:
    """The event's `at` (RFC 3339 with an offset) as an aware UTC datetime; ValueError otherwise."""
    moment = datetime.fromisoformat(str(at))
    if moment.tzinfo is None:
        raise ValueError(f"event time {at!r} has no UTC offset")
    return moment.astimezone(UTC)


def escape_keys(value: Any) -> Any:
    """`value` with every "." in an object key (at any depth, in lists too) replaced by U+FF0E
    (FULLWIDTH FULL STOP): FerretDB and MongoDB before 5.0 refuse dotted field names, and on any
    server a dotted name cannot be reached with dot notation. The value itself when nothing changes."""
    if isinstance(value, dict):
        if any("." in key or isinstance(item, dict | list) for key, item in value.items()):
            return {key.replace(".", DOT_ESCAPE): escape_keys(item) for key, item in value.items()}
        return value
    if isinstance(value, list) and any(isinstance(item, dict | list) for item in value):
        return [escape_keys(item) for item in value]
    return value


def to_document(event: Mapping[str, Any]) -> dict[str, Any]:
    """The document stored for one event: `_id` = event_id, the seeds' flat fields (`timestamp` as a
    BSON date, millisecond precision), then the whole event under `event`, unchanged but for dots in
    its keys (escape_keys). A metric the event does not carry is absent (not null).
    ValueError when `at` is no time with an offset."""
    app = event.get("app")
    metrics = event.get("metrics")
    document: dict[str, Any] = {
        "_id": event.get("event_id"),
        "timestamp": event_time(event.get("at")),
        "site_id": event.get("site_id"),
        "app_name": app.get("name") if isinstance(app, Mapping) else None,
        "entity_type": event.get("entity_type"),
        "event_kind": event.get("event_kind"),
        "status": event.get("status"),
    }
    if isinstance(metrics, Mapping):
        document.update((name, metrics[name]) for name in METRIC_FIELDS if name in metrics)
    document["event"] = escape_keys(dict(event))
    return document


def job_state(event: Mapping[str, Any]) -> dict[str, Any]:
    """The jobs collection's document for the entity of `event` (without `_id`): its flat state, `at`
    as a BSON date, `app_name`, the last `event_id`, and `metrics` / `error` when the event has them."""
    app = event.get("app")
    state: dict[str, Any] = {name: event.get(name) for name in _STATE_FIELDS}
    state["app_name"] = app.get("name") if isinstance(app, Mapping) else None
    state["at"] = event_time(event.get("at"))
    state["event_id"] = event.get("event_id")
    for optional in ("metrics", "error"):
        if isinstance(event.get(optional), Mapping):
            state[optional] = escape_keys(event[optional])
    return state


def latest_states(events: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The latest state per entity_id among `events` (by `at`, then `seq`); events without a usable
    entity_id, seq or time are left out."""
    latest: dict[str, dict[str, Any]] = {}
    for event in events:
        entity_id, seq = event.get("entity_id"), event.get("seq")
        if not isinstance(entity_id, str) or not isinstance(seq, int):
            continue
        try:
            state = job_state(event)
        except ValueError:
            continue
        kept = latest.get(entity_id)
        if kept is None or (state["at"], seq) > (kept["at"], kept["seq"]):
            latest[entity_id] = state
    return latest


def _forward_only(entity_id: str, state: Mapping[str, Any]) -> dict[str, Any]:
    """The filter that matches the stored state of `entity_id` only when `state` is later than it."""
    return {
        "_id": entity_id,
        "$or": [{"at": {"$lt": state["at"]}}, {"at": state["at"], "seq": {"$lt": state["seq"]}}],
    }


def _replacing(state: Mapping[str, Any]) -> dict[str, Any]:
    """The update that makes a stored state equal to `state` (what the newer event lacks is removed)."""
    update: dict[str, Any] = {"$set": dict(state)}
    gone = {name: "" for name in ("metrics", "error") if name not in state}
    if gone:
        update["$unset"] = gone
    return update


def _reason(error: Mapping[str, Any]) -> str:
    return f"the server refused the document (code {error.get('code')}): {error.get('errmsg', '')}".strip()


class MongoDbBackend(Backend):
    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self.settings = config_struct(MongoDbConfig, config, name)
        self.hosts = self._hosts(name)  # shown in /v1/healthz: the hosts, never the credentials
        self.client: AsyncMongoClient[dict[str, Any]] | None = None
        self.max_document_bytes = MAX_DOCUMENT_BYTES
        self.index_created = False

    def _hosts(self, name: str) -> list[str]:
        uri = self.settings.uri
        if uri.startswith("mongodb+srv://"):  # its hosts come from DNS when the client connects
            return [uri.split("@")[-1].split("/")[0].split("?")[0]]
        if not uri.startswith("mongodb://"):
            raise ConfigurationError(f"backend {name!r}: config.uri must start with mongodb:// or mongodb+srv://")
        try:
            parsed = uri_parser.parse_uri(uri, validate=True, warn=False)
        except (InvalidURI, ValueError, PyMongoError) as exc:
            raise ConfigurationError(f"backend {name!r}: config.uri is no usable MongoDB URI: {exc}") from None
        return [f"{host}:{port}" for host, port in parsed["nodelist"]]

    async def initialize(self) -> None:
        timeout_ms = int(self.settings.timeout * 1000)
        wc = self.settings.write_concern
        self.client = AsyncMongoClient(
            self.settings.uri,
            connectTimeoutMS=timeout_ms,
            serverSelectionTimeoutMS=timeout_ms,
            socketTimeoutMS=timeout_ms,
            w=int(wc) if wc.isdigit() else wc,
            tz_aware=True,
            connect=False,  # the first send connects; a peer that is down is a TransientError there
        )

    @property
    def _db(self) -> Any:
        assert self.client is not None, "initialize() was not called"
        return self.client[self.settings.database]

    async def _ensure_index(self) -> None:
        """The readers' index (site_id, timestamp) on the events collection, once per process."""
        if not self.index_created:
            await self._db[self.settings.events_collection].create_index([("site_id", 1), ("timestamp", 1)])
            self.index_created = True

    async def send_batch(self, batch: Batch) -> None:
        events = batch.events()
        refused: dict[int, str] = {}
        documents: list[RawBSONDocument] = []
        positions: list[int] = []  # documents[i] is the event at batch position positions[i]
        for position, event in enumerate(events):
            try:
                # Encoded here, once: a value BSON cannot hold (an integer over 64 bits, a NUL in a
                # key) is this event's refusal, not the batch's, and insert_many sends these bytes.
                encoded = bson.encode(to_document(event))
            except ValueError as exc:
                refused[position] = f"no document for this event: {exc}"
                continue
            except (bson.errors.InvalidDocument, OverflowError) as exc:
                refused[position] = f"this event cannot be encoded as a BSON document: {exc}"
                continue
            if len(encoded) > self.max_document_bytes:
                refused[position] = (
                    f"the document is {len(encoded)} bytes of BSON,"
                    f" over the server's limit of {self.max_document_bytes}"
                )
                continue
            documents.append(RawBSONDocument(encoded))
            positions.append(position)
        try:
            await self._ensure_index()
            if documents:
                await self._insert_events(documents, positions, refused)
            if self.settings.jobs_collection:
                stored = [events[p] for p in range(len(events)) if p not in refused]
                await self._write_job_states(latest_states(stored))
        except BulkWriteError as exc:  # the events' own are handled in _insert_events
            raise TransientError(f"job states not written: {exc.details.get('writeErrors', [None])[0]}") from exc
        except PyMongoError as exc:
            raise TransientError(f"MongoDB {','.join(self.hosts)}: {type(exc).__name__}: {exc}") from exc
        if refused:
            first = refused[min(refused)]
            raise PermanentError(f"{len(refused)} of {len(batch)} event(s) refused; the first: {first}", refused)

    async def _insert_events(
        self, documents: list[RawBSONDocument], positions: list[int], refused: dict[int, str]
    ) -> None:
        """insert_many(ordered=False); records the refused items in `refused`, TransientError when
        an item failed for a reason a later attempt can get past."""
        try:
            await self._db[self.settings.events_collection].insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            details = exc.details
            if details.get("writeConcernErrors"):
                raise TransientError(f"write concern not met: {details['writeConcernErrors'][0]}") from exc
            retry: list[str] = []
            for error in details.get("writeErrors", []):
                code = error.get("code")
                if code == DUPLICATE_KEY:
                    continue  # the event is there already
                if code in TRANSIENT_CODES:
                    retry.append(_reason(error))
                else:
                    refused[positions[int(error["index"])]] = _reason(error)
            if retry:
                raise TransientError(f"{len(retry)} event(s) not taken for now; the first: {retry[0]}") from exc

    async def _write_job_states(self, states: dict[str, dict[str, Any]]) -> None:
        """Moves each entity's stored state forward to `states` (see the module docstring)."""
        if not states:
            return
        jobs = self._db[self.settings.jobs_collection]
        # Insert first (most entities of a batch are new: one call); a duplicate key means the entity
        # is stored already, and only those get the guarded update.
        try:
            await jobs.insert_many([{"_id": k, **v} for k, v in states.items()], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            others = [e for e in errors if e.get("code") != DUPLICATE_KEY]
            if others or exc.details.get("writeConcernErrors"):
                raise TransientError(
                    f"job states not written: {(others or exc.details['writeConcernErrors'])[0]}"
                ) from exc
            ids = list(states)
            await self._update_states(jobs, {ids[int(e["index"])]: states[ids[int(e["index"])]] for e in errors})

    async def _update_states(self, jobs: Any, states: dict[str, dict[str, Any]]) -> None:
        # One `update` command per entity: FerretDB 1.24 (SQLite) takes superlinear time in the number
        # of updates in one command (32: 0.14 s, 64: 1 s, 100: over 20 s on the 2-core test machine),
        # while single updates take milliseconds each.
        for entity_id, state in states.items():
            await jobs.update_one(_forward_only(entity_id, state), _replacing(state))

    async def health(self) -> dict[str, Any]:
        return {
            "hosts": self.hosts,
            "database": self.settings.database,
            "events_collection": self.settings.events_collection,
            "jobs_collection": self.settings.jobs_collection or None,
        }

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
