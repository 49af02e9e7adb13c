"""xray backend: AWS X-Ray PutTraceSegments, a job as a segment and a sub-job as a subsegment.
conformance/backends/xray.md is the normative shape.

- `started` → the (sub)segment in progress (`in_progress: true`); `finished` → the same id again,
  complete (`end_time`; `start_time` = end − `metrics.duration_s` when the event has it); a
  `failed` status → `fault: true` with the error as the cause's exception, `cancelled`/`lost` →
  `error: true`. Other events (progress, heartbeat, ...) write nothing: delivered as nothing to do.
- Ids are derived, never random, so a replay sends the same documents and X-Ray keeps the latest
  copy of each id: trace id from the event's W3C `trace.trace_id` when present (`1-<first 8
  hex>-<last 24 hex>`), else from the job's id (a job's `entity_id`, a sub-job's `parent_id`): the
  time part from a UUIDv7's milliseconds (seconds, 8 hex), the rest (or all of it for another UUID)
  from its SHA-256. Segment ids: the first 16 hex of SHA-256 of the entity id.
- Within one batch only the last document of an id is sent (a finished one supersedes its start).
- Calls of at most 50 documents; a document over 64 KiB is dead-lettered here; X-Ray's
  `UnprocessedTraceSegments` dead-letters the events of those documents with its code and message
  (a throttling code is retried). Any other failure of a call is retried.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from .aws import THROTTLING_CODES, AwsClient, AwsClientConfig, as_transient, check_client_config
from .base import Backend, Batch, PermanentError, TransientError, config_struct

MAX_DOCUMENTS = 50
MAX_DOCUMENT_BYTES = 64 * 1024
#: Characters X-Ray takes in a segment name (others become _); at most 200 of them.
_NAME_BAD = re.compile(r"[^\w\s.:/%&#=+\\\-@]", re.UNICODE)
_ANNOTATION_KEY_BAD = re.compile(r"[^A-Za-z0-9_]")
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


class XRayConfig(AwsClientConfig, forbid_unknown_fields=True, kw_only=True):
    """The `config` block: the AWS client keys only (the segment shape is fixed)."""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def job_id(event: Mapping[str, Any]) -> str:
    """A job's entity_id; a sub-job's parent_id (its own id when it has none)."""
    if event.get("entity_type") != "job" and event.get("parent_id"):
        return str(event["parent_id"])
    return str(event.get("entity_id"))


def trace_id(event: Mapping[str, Any]) -> str:
    """The X-Ray trace id of an event's job (see the module docstring)."""
    trace = event.get("trace")
    if isinstance(trace, Mapping) and isinstance(trace.get("trace_id"), str) and len(trace["trace_id"]) == 32:
        hex32 = trace["trace_id"]
        return f"1-{hex32[:8]}-{hex32[8:]}"
    job = job_id(event)
    digest = _sha(job)
    try:
        parsed = uuid.UUID(job)
    except ValueError:
        parsed = None
    if parsed is not None and parsed.version == 7:
        seconds = (parsed.int >> 80) // 1000
        return f"1-{seconds:08x}-{digest[:24]}"
    return f"1-{digest[:8]}-{digest[8:32]}"


def segment_id(entity_id: object) -> str:
    return _sha(str(entity_id))[:16]


def _seconds(at: object) -> float:
    if not isinstance(at, str):
        raise ValueError(f"at {at!r} is not a time")
    moment = datetime.fromisoformat(at)
    if moment.tzinfo is None:
        raise ValueError(f"at {at!r} has no UTC offset")
    return moment.timestamp()


def to_document(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The segment (job) or subsegment (sub-job) document of a started/finished event; None for
    the other events. ValueError when the event's time is unusable."""
    kind = event.get("event_kind")
    if kind not in ("started", "finished"):
        return None
    at = _seconds(event.get("at"))
    app = event.get("app") if isinstance(event.get("app"), Mapping) else {}
    assert isinstance(app, Mapping)
    name = _NAME_BAD.sub("_", str(app.get("name") or "wafermon"))[:200]
    document: dict[str, Any] = {
        "name": name,
        "id": segment_id(event.get("entity_id")),
        "trace_id": trace_id(event),
    }
    if event.get("entity_type") != "job":
        document["type"] = "subsegment"
        document["parent_id"] = segment_id(event.get("parent_id") or event.get("entity_id"))
    metrics = event.get("metrics") if isinstance(event.get("metrics"), Mapping) else {}
    assert isinstance(metrics, Mapping)
    if kind == "started":
        document["start_time"] = at
        document["in_progress"] = True
    else:
        duration = metrics.get("duration_s")
        document["start_time"] = at - float(duration) if isinstance(duration, int | float) else at
        document["end_time"] = at
    status = event.get("status")
    if status == "failed":
        error = event.get("error") if isinstance(event.get("error"), Mapping) else {}
        assert isinstance(error, Mapping)
        document["fault"] = True
        document["cause"] = {
            "exceptions": [
                {
                    "id": _sha(str(event.get("event_id")))[:16],
                    "type": str(error.get("type") or "failed"),
                    "message": str(error.get("message") or ""),
                }
            ]
        }
    elif status in ("cancelled", "lost"):
        document["error"] = True
    annotations = {
        "site_id": event.get("site_id"),
        "status": status,
        "entity_type": event.get("entity_type"),
        "job_id": job_id(event),
        "business_key": event.get("business_key"),
        "event_id": event.get("event_id"),
    }
    document["annotations"] = {
        _ANNOTATION_KEY_BAD.sub("_", k): v for k, v in annotations.items() if isinstance(v, str | int | float | bool)
    }
    document["metadata"] = {"wafermon": {"metadata": event.get("metadata"), "metrics": dict(metrics)}}
    return document


class XRayBackend(Backend):
    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self.settings = config_struct(XRayConfig, config, name)
        check_client_config(self.settings, name)
        self.aws = AwsClient("xray", self.settings)
        self.documents_sent = 0

    async def initialize(self) -> None:
        await self.aws.open()

    async def send_batch(self, batch: Batch) -> None:
        refused: dict[int, str] = {}
        latest: dict[str, tuple[str, list[int]]] = {}  # segment id → (document, the positions it carries)
        for position, raw in enumerate(batch.raw):
            try:
                document = to_document(_decode(raw))
            except ValueError as exc:
                refused[position] = f"no X-Ray segment for this event: {exc}"
                continue
            if document is None:
                continue
            text = _encode(document).decode()
            if len(text.encode()) > MAX_DOCUMENT_BYTES:
                size = len(text.encode())
                refused[position] = f"its segment document is {size} bytes, X-Ray takes {MAX_DOCUMENT_BYTES}"
                continue
            earlier = latest.get(document["id"])
            latest[document["id"]] = (text, [*(earlier[1] if earlier else []), position])
        documents = list(latest.values())
        for start in range(0, len(documents), MAX_DOCUMENTS):
            chunk = documents[start : start + MAX_DOCUMENTS]
            try:
                answer = await self.aws.client.put_trace_segments(TraceSegmentDocuments=[text for text, _ in chunk])
            except Exception as exc:
                raise as_transient(exc, "X-Ray PutTraceSegments") from exc
            by_id = {_decode(text)["id"]: positions for text, positions in chunk}
            for item in answer.get("UnprocessedTraceSegments", []):
                code = str(item.get("ErrorCode", ""))
                if code in THROTTLING_CODES:
                    raise TransientError(f"X-Ray PutTraceSegments: throttled ({code}: {item.get('Message', '')})")
                for position in by_id.get(str(item.get("Id")), []):
                    refused[position] = f"X-Ray refused the segment: {code}: {item.get('Message', '')}".rstrip(": ")
            self.documents_sent += len(chunk)
        if refused:
            first = refused[min(refused)]
            raise PermanentError(f"{len(refused)} of {len(batch)} event(s) refused; the first: {first}", refused)

    async def health(self) -> dict[str, Any]:
        return {"documents_sent": self.documents_sent, "endpoint_url": self.settings.endpoint_url}

    async def close(self) -> None:
        await self.aws.close()
