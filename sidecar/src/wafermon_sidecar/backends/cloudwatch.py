"""cloudwatch backend: CloudWatch Logs PutLogEvents into `log_group`/`log_stream`, and metrics of
finished jobs as Embedded Metric Format (EMF) lines in the same stream.
conformance/backends/cloudwatch.md is the normative shape.

- One log event per event: `message` = the event's JSON as received, `timestamp` = its `at` in
  milliseconds. For a `finished` event, right after it, one EMF line (namespace `metric_namespace`,
  dimensions site_id/app/status; duration_s, cpu_user_s, mem_max_mb, failures) from which
  CloudWatch extracts the metrics itself (no PutMetricData call).
- Requests within the service's limits: at most 10,000 log events, 1,048,576 bytes (each message's
  UTF-8 bytes + 26), a 24-hour span; events sorted by timestamp (stable: equal times keep spool order).
- The group and the stream are created when missing (ResourceNotFoundException → create, send again);
  `retention_days` is set on a group this backend creates.
- Per event: CloudWatch's `rejectedLogEventsInfo` (too old, too new, expired) dead-letters those
  events alone; an event over 256 KiB is dead-lettered here. Any other failure is retried.
- Log events carry no id: a replay of the spool writes them again (see docs/sidecar.md for the
  bound). Within a process, requests taken during an attempt that then failed are not sent again.
"""

from __future__ import annotations

import socket
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from botocore.exceptions import ClientError

from .aws import AwsClient, AwsClientConfig, as_transient, check_client_config, error_code
from .base import Backend, Batch, ConfigurationError, PermanentError, config_struct

#: PutLogEvents' limits.
MAX_REQUEST_EVENTS = 10_000
MAX_REQUEST_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_SPAN_MS = 24 * 3600 * 1000
MAX_MESSAGE_BYTES = 262_144 - EVENT_OVERHEAD_BYTES
REMEMBERED_IDS = 100_000
#: The metrics of a finished job in its EMF line, with their CloudWatch units.
EMF_METRICS = (("duration_s", "Seconds"), ("cpu_user_s", "Seconds"), ("mem_max_mb", "Megabytes"))
_REJECTIONS = {
    "tooOldLogEventEndIndex": "too old (more than 14 days before now)",
    "expiredLogEventEndIndex": "older than the log group's retention",
    "tooNewLogEventStartIndex": "too new (more than 2 hours after now)",
}
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


class CloudWatchConfig(AwsClientConfig, forbid_unknown_fields=True, kw_only=True):
    """The `config` block: the AWS client keys plus these."""

    log_group: str = ""
    log_stream: str = ""  # default: wafermon-<host name>
    create_missing: bool = True  # create the group and the stream when missing
    retention_days: int | None = None  # set on a group this backend creates (CloudWatch's values)
    metrics: Literal["emf", "off"] = "emf"
    metric_namespace: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] = "Wafermon"


RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)


def timestamp_ms(at: object) -> int:
    """Milliseconds since the epoch of an RFC 3339 time. ValueError naming the value."""
    if not isinstance(at, str):
        raise ValueError(f"at {at!r} is not a time")
    moment = datetime.fromisoformat(at)
    if moment.tzinfo is None:
        raise ValueError(f"at {at!r} has no UTC offset")
    return int(moment.timestamp() * 1000)


def emf_line(event: Mapping[str, Any], namespace: str) -> dict[str, Any] | None:
    """The EMF record of a finished event (None for other events): its metrics, `failures` (1 when
    the status is failed), dimensions site_id/app/status, and the event's ids as properties."""
    if event.get("event_kind") != "finished":
        return None
    metrics = event.get("metrics") if isinstance(event.get("metrics"), Mapping) else {}
    assert isinstance(metrics, Mapping)
    app = event.get("app") if isinstance(event.get("app"), Mapping) else {}
    assert isinstance(app, Mapping)
    present = [(name, unit) for name, unit in EMF_METRICS if isinstance(metrics.get(name), int | float)]
    definitions = [{"Name": name, "Unit": unit} for name, unit in present]
    definitions.append({"Name": "failures", "Unit": "Count"})
    record: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp_ms(event.get("at")),
            "CloudWatchMetrics": [
                {"Namespace": namespace, "Dimensions": [["site_id", "app", "status"]], "Metrics": definitions}
            ],
        },
        "site_id": str(event.get("site_id")),
        "app": str(app.get("name")),
        "status": str(event.get("status")),
        "entity_type": str(event.get("entity_type")),
        "event_id": str(event.get("event_id")),
        "entity_id": str(event.get("entity_id")),
    }
    record.update((name, metrics[name]) for name, _ in present)
    record["failures"] = 1 if event.get("status") == "failed" else 0
    return record


def log_events(raw: bytes, event: Mapping[str, Any], namespace: str | None) -> list[dict[str, Any]]:
    """The log events of one event: itself, then its EMF line when it has one and namespace is set."""
    stamp = timestamp_ms(event.get("at"))
    out = [{"timestamp": stamp, "message": raw.decode()}]
    if namespace is not None:
        emf = emf_line(event, namespace)
        if emf is not None:
            out.append({"timestamp": stamp, "message": _encode(emf).decode()})
    return out


def split_requests(items: list[tuple[int, dict[str, Any]]]) -> list[list[tuple[int, dict[str, Any]]]]:
    """(position, log event) pairs sorted by timestamp (stable) and cut into PutLogEvents requests
    within the count, byte and 24-hour limits."""
    ordered = sorted(items, key=lambda item: item[1]["timestamp"])
    requests: list[list[tuple[int, dict[str, Any]]]] = []
    size = 0
    for item in ordered:
        grow = len(item[1]["message"].encode()) + EVENT_OVERHEAD_BYTES
        current = requests[-1] if requests else None
        if (
            current is None
            or len(current) >= MAX_REQUEST_EVENTS
            or size + grow > MAX_REQUEST_BYTES
            or item[1]["timestamp"] - current[0][1]["timestamp"] > MAX_SPAN_MS
        ):
            requests.append([])
            size = 0
        requests[-1].append(item)
        size += grow
    return requests


class CloudWatchBackend(Backend):
    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        s = self.settings = config_struct(CloudWatchConfig, config, name)
        check_client_config(s, name)
        if not s.log_group or len(s.log_group) > 512:
            raise ConfigurationError(f"backend {name!r}: config.log_group must be 1-512 characters")
        self.log_stream = s.log_stream or f"wafermon-{socket.gethostname()}"
        if len(self.log_stream) > 512 or ":" in self.log_stream or "*" in self.log_stream:
            raise ConfigurationError(f"backend {name!r}: config.log_stream must be 1-512 characters without : or *")
        if s.retention_days is not None and s.retention_days not in RETENTION_DAYS:
            raise ConfigurationError(
                f"backend {name!r}: config.retention_days must be one of CloudWatch's values"
                f" ({', '.join(map(str, sorted(RETENTION_DAYS)))}), got {s.retention_days}"
            )
        self.namespace = s.metric_namespace if s.metrics == "emf" else None
        self.aws = AwsClient("logs", s)
        self._delivered: OrderedDict[str, None] = OrderedDict()
        self.requests_sent = 0
        self.created: list[str] = []

    async def initialize(self) -> None:
        await self.aws.open()

    async def send_batch(self, batch: Batch) -> None:
        refused: dict[int, str] = {}
        items: list[tuple[int, dict[str, Any]]] = []
        ids: dict[int, str] = {}
        for position, raw in enumerate(batch.raw):
            event = _decode(raw)
            ids[position] = str(event.get("event_id"))
            if ids[position] in self._delivered:
                continue  # taken during an earlier attempt at this batch
            try:
                entries = log_events(raw, event, self.namespace)
            except ValueError as exc:
                refused[position] = f"no CloudWatch timestamp for this event: {exc}"
                continue
            if any(len(e["message"].encode()) > MAX_MESSAGE_BYTES for e in entries):
                refused[position] = f"a log event of over {MAX_MESSAGE_BYTES} bytes (CloudWatch's limit)"
                continue
            items += [(position, e) for e in entries]
        outstanding: dict[int, int] = {}  # position → its log events not yet taken
        for position, _ in items:
            outstanding[position] = outstanding.get(position, 0) + 1
        for request in split_requests(items):
            rejected = await self._put(request)
            for position, why in rejected.items():
                refused.setdefault(position, f"CloudWatch Logs refused the event: {why}")
            for position, _ in request:
                outstanding[position] -= 1
                if not outstanding[position] and position not in refused:
                    self._remember(ids[position])  # the event and its EMF line are both in
        for event_id in ids.values():  # settled: the batch will not come back for these
            self._delivered.pop(event_id, None)
        if refused:
            first = refused[min(refused)]
            raise PermanentError(f"{len(refused)} of {len(batch)} event(s) refused; the first: {first}", refused)

    async def _put(self, request: list[tuple[int, dict[str, Any]]]) -> dict[int, str]:
        """One PutLogEvents (creating the group/stream when missing); the positions CloudWatch rejected."""
        where = f"CloudWatch Logs {self.settings.log_group}/{self.log_stream}"
        arguments = {
            "logGroupName": self.settings.log_group,
            "logStreamName": self.log_stream,
            "logEvents": [entry for _, entry in request],
        }
        try:
            try:
                answer = await self.aws.client.put_log_events(**arguments)
            except ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException" or not self.settings.create_missing:
                    raise
                await self._create()
                answer = await self.aws.client.put_log_events(**arguments)
        except Exception as exc:
            raise as_transient(exc, where) from exc
        self.requests_sent += 1
        info = answer.get("rejectedLogEventsInfo") or {}
        rejected: dict[int, str] = {}
        for index, (position, _) in enumerate(request):
            for key, why in _REJECTIONS.items():
                bound = info.get(key)
                if bound is None:
                    continue
                if (key.endswith("EndIndex") and index <= bound) or (key.endswith("StartIndex") and index >= bound):
                    rejected.setdefault(position, why)
        return rejected

    async def _create(self) -> None:
        client = self.aws.client
        group = self.settings.log_group
        try:
            await client.create_log_group(logGroupName=group)
            self.created.append(group)
            if self.settings.retention_days is not None:
                await client.put_retention_policy(logGroupName=group, retentionInDays=self.settings.retention_days)
        except ClientError as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
        try:
            await client.create_log_stream(logGroupName=group, logStreamName=self.log_stream)
            self.created.append(f"{group}/{self.log_stream}")
        except ClientError as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise

    def _remember(self, event_id: str) -> None:
        self._delivered[event_id] = None
        while len(self._delivered) > REMEMBERED_IDS:
            self._delivered.popitem(last=False)

    async def health(self) -> dict[str, Any]:
        return {
            "log_group": self.settings.log_group,
            "log_stream": self.log_stream,
            "metrics": self.settings.metrics,
            "put_log_events_calls": self.requests_sent,
            "created": list(self.created),
        }

    async def close(self) -> None:
        await self.aws.close()
