"""elasticsearch backend (alias `elk`; OpenSearch too): `_bulk` NDJSON into daily indices.

One document per event (conformance/backends/elasticsearch.md is the normative shape):

- index `<index_prefix>-YYYY.MM.DD`, the UTC day of the event's own time (`at`), not of delivery;
- `_id` = event_id, op `create`: a replay is refused by the cluster as a duplicate (409
  version_conflict_engine_exception), which this backend counts as delivered. The stored document
  is never duplicated nor rewritten (its `_version` stays 1);
- the seeds' flat fields (`timestamp`, `site_id`, `app_name`, `entity_type`, `event_kind`, `status`,
  `duration_s`, `cpu_user_s`, `mem_max_mb`, plus `event_id`) next to the whole event under `event`.

An index template (`_index_template/<index_prefix>-events`, composable) is installed before the
first bulk request of the process: keywords for ids and keys, dates, doubles for metrics, and the
user's metadata as `flat_object` on OpenSearch (2.7+) / `flattened` on Elasticsearch (7.3+), so any
metadata shape fits without mapping explosions or conflicts; `metadata_type: object` (dynamic false)
is there for clusters that have neither. Unknown fields stay in `_source`, unindexed (dynamic false).

Per-item answers: 2xx or 409 → delivered; 5xx, 429 and the other statuses _http.RETRYABLE_4XX names
(403 `cluster_block_exception` from a full disk, 404 `index_not_found_exception` where auto-create
is off: faults someone fixes) → only those items are sent again (a few times in the same call, then
TransientError); other 4xx → that event alone is dead-lettered with the cluster's reason. Items
the cluster took during an attempt that ends in TransientError are remembered (bounded), so the
worker's retry of the batch does not send them again.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import aiohttp
import msgspec

from ._http import RETRYABLE_4XX, raise_for_status
from .base import Backend, Batch, ConfigurationError, PermanentError, TransientError, config_struct
from .http_client import HttpClientConfig, endpoint_url, open_session

#: The seeds' flat fields taken from `metrics` when the event carries them.
METRIC_FIELDS = ("duration_s", "cpu_user_s", "mem_max_mb")
# How many event ids taken by the cluster during a failed attempt are remembered (skipped on retry).
REMEMBERED_IDS = 100_000
# Index names: lowercase, none of these characters, not starting with - _ +; at most 255 bytes.
_BAD_INDEX = re.compile(r'[\\/*?"<>| ,#:A-Z]')
_NOT_FIRST = ("-", "_", "+", ".")
_KEYWORD = {"type": "keyword"}
_DOUBLE = {"type": "double"}
_DATE = {"type": "date"}

_encode = msgspec.json.Encoder().encode


class ElasticsearchConfig(HttpClientConfig, forbid_unknown_fields=True, kw_only=True):
    """The `config` block: the shared HTTP keys plus these (the seeds' `elk` keys)."""

    elasticsearch_url: str = ""  # the cluster's base URL (`url` is accepted too)
    index_prefix: str = "wafermon"  # indices are <index_prefix>-YYYY.MM.DD
    username: str | None = None  # HTTP basic auth ...
    password: str | None = None  # ... with this password
    api_key: str | None = None  # `Authorization: ApiKey <api_key>` (base64 id:key, as the cluster gives it)
    metadata_type: Literal["auto", "flat_object", "flattened", "object"] = "auto"  # auto: asks the cluster
    item_retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 3  # resends of 429/5xx items per call


def index_name(prefix: str, at: str) -> str:
    """`<prefix>-YYYY.MM.DD` for the UTC day of the RFC 3339 time `at`. ValueError when `at` is no time."""
    moment = datetime.fromisoformat(at)
    if moment.tzinfo is None:
        raise ValueError(f"event time {at!r} has no UTC offset")
    return f"{prefix}-{moment.astimezone(UTC):%Y.%m.%d}"


def to_document(event: Mapping[str, Any]) -> dict[str, Any]:
    """The document stored for one event: the seeds' flat fields, then the whole event under `event`.
    A metric the event does not carry is absent (not null)."""
    app = event.get("app") or {}
    metrics = event.get("metrics") or {}
    document: dict[str, Any] = {
        "event_id": event.get("event_id"),
        "timestamp": event.get("at"),
        "site_id": event.get("site_id"),
        "app_name": app.get("name") if isinstance(app, Mapping) else None,
        "entity_type": event.get("entity_type"),
        "event_kind": event.get("event_kind"),
        "status": event.get("status"),
    }
    if isinstance(metrics, Mapping):
        document.update((name, metrics[name]) for name in METRIC_FIELDS if name in metrics)
    document["event"] = dict(event)
    return document


def index_template(prefix: str, metadata_type: str) -> dict[str, Any]:
    """The composable index template for `<prefix>-*` with metadata mapped as `metadata_type`."""
    metadata: dict[str, Any] = (
        {"type": "object", "dynamic": False} if metadata_type == "object" else {"type": metadata_type}
    )
    keywords = ("event_id", "entity_id", "parent_id", "business_key", "sub_key", "site_id", "status")
    event_properties: dict[str, Any] = {name: _KEYWORD for name in keywords}
    event_properties.update(
        {
            "event_kind": _KEYWORD,
            "entity_type": _KEYWORD,
            "schema": _KEYWORD,
            "host": _KEYWORD,
            "at": _DATE,
            "seq": {"type": "long"},
            "pid": {"type": "long"},
            "progress": _DOUBLE,
            "app": {"properties": {"name": _KEYWORD, "version": _KEYWORD}},
            "sdk": {"properties": {"lang": _KEYWORD, "version": _KEYWORD}},
            "metrics": {"dynamic": False, "properties": {n: _DOUBLE for n in (*METRIC_FIELDS, "cpu_sys_s")}},
            "error": {"properties": {"type": _KEYWORD, "message": {"type": "text"}}},
            "metadata": metadata,
        }
    )
    properties: dict[str, Any] = {
        "event_id": _KEYWORD,
        "timestamp": _DATE,
        "site_id": _KEYWORD,
        "app_name": _KEYWORD,
        "entity_type": _KEYWORD,
        "event_kind": _KEYWORD,
        "status": _KEYWORD,
        **{name: _DOUBLE for name in METRIC_FIELDS},
        "event": {"properties": event_properties},
    }
    return {
        "index_patterns": [f"{prefix}-*"],
        "priority": 100,
        "_meta": {"managed_by": "wafermon-sidecar"},
        "template": {"mappings": {"dynamic": False, "properties": properties}},
    }


def _json_object(text: str, where: str) -> dict[str, Any]:
    """The JSON object `text`; TransientError naming `where` when it is none (e.g. a proxy's page)."""
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError:
        value = None
    if not isinstance(value, dict):
        raise TransientError(f"{where} answered something other than a JSON object: {text[:200]!r}")
    return value


def _item_reason(item: Mapping[str, Any]) -> str:
    error = item.get("error")
    if isinstance(error, Mapping):
        return f"{error.get('type', 'error')}: {error.get('reason', '')}".strip()
    return str(error or f"HTTP {item.get('status')}")


class ElasticsearchBackend(Backend):
    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self.settings = config_struct(ElasticsearchConfig, config, name)
        given = {"elasticsearch_url": self.settings.elasticsearch_url, "url": self.settings.url}
        self.url = endpoint_url(given, name).rstrip("/")
        prefix = self.settings.index_prefix
        if not prefix or _BAD_INDEX.search(prefix) or prefix.startswith(_NOT_FIRST) or len(prefix) > 200:
            raise ConfigurationError(
                f"backend {name!r}: config.index_prefix must be 1-200 lowercase characters without"
                f' spaces or \\ / * ? " < > | , # : and not start with - _ + . (got {prefix!r})'
            )
        self.auth_header = self._auth_header(name)
        self.session: aiohttp.ClientSession | None = None
        self.metadata_type: str | None = None if self.settings.metadata_type == "auto" else self.settings.metadata_type
        self.template_installed = False
        self._delivered: OrderedDict[str, None] = OrderedDict()

    def _auth_header(self, name: str) -> dict[str, str]:
        s = self.settings
        if s.api_key and (s.username or s.password):
            raise ConfigurationError(
                f"backend {name!r}: config.api_key and config.username/password exclude each other"
            )
        if (s.username is None) != (s.password is None):
            raise ConfigurationError(f"backend {name!r}: config.username and config.password go together")
        if s.api_key:
            return {"Authorization": f"ApiKey {s.api_key}"}
        if s.username is not None and s.password is not None:
            token = base64.b64encode(f"{s.username}:{s.password}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        return {}

    async def initialize(self) -> None:
        self.session = open_session(self.settings, self.name, self.auth_header)

    async def _request(self, method: str, path: str, body: bytes | None, content_type: str) -> tuple[int, str]:
        assert self.session is not None, "initialize() was not called"
        url = f"{self.url}{path}"
        try:
            async with self.session.request(method, url, data=body, headers={"Content-Type": content_type}) as response:
                text = await response.text(errors="replace")
                raise_for_status(response.status, text, response.headers.get("Retry-After"), url)
                return response.status, text
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"{url}: {type(exc).__name__}: {exc}") from exc

    async def _ensure_template(self) -> None:
        """Installs the index template once per process (PUT is idempotent); TransientError until it works."""
        if self.template_installed:
            return
        if self.metadata_type is None:
            _, text = await self._request("GET", "/", None, "application/json")
            version = _json_object(text, f"{self.url}/").get("version")
            is_opensearch = isinstance(version, dict) and version.get("distribution") == "opensearch"
            self.metadata_type = "flat_object" if is_opensearch else "flattened"
        template = index_template(self.settings.index_prefix, self.metadata_type)
        path = f"/_index_template/{self.settings.index_prefix}-events"
        await self._request("PUT", path, _encode(template), "application/json")
        self.template_installed = True

    async def send_batch(self, batch: Batch) -> None:
        await self._ensure_template()
        events = batch.events()
        refused: dict[int, str] = {}
        lines: dict[int, bytes] = {}
        for position, event in enumerate(events):
            event_id = str(event.get("event_id"))
            if event_id in self._delivered:
                continue  # taken during an earlier attempt at this batch
            try:
                index = index_name(self.settings.index_prefix, str(event.get("at")))
            except ValueError as exc:
                refused[position] = f"no daily index for this event: {exc}"
                continue
            action = _encode({"create": {"_index": index, "_id": event_id}})
            lines[position] = action + b"\n" + _encode(to_document(event)) + b"\n"

        pending = sorted(lines)
        last_retry_reason = ""
        for attempt in range(self.settings.item_retries + 1):
            if not pending:
                break
            if attempt:
                await asyncio.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
            retry, last_retry_reason = await self._bulk(pending, lines, events, refused)
            pending = retry
        if pending:
            raise TransientError(
                f"{len(pending)} of {len(batch)} event(s) not taken after {self.settings.item_retries + 1}"
                f" attempt(s); the last reason: {last_retry_reason}"
            )
        for event in events:  # settled: the batch will not come back for these
            self._delivered.pop(str(event.get("event_id")), None)
        if refused:
            first = refused[min(refused)]
            raise PermanentError(f"{len(refused)} of {len(batch)} event(s) refused; the first: {first}", refused)

    async def _bulk(
        self, positions: list[int], lines: dict[int, bytes], events: list[dict[str, Any]], refused: dict[int, str]
    ) -> tuple[list[int], str]:
        """One `_bulk` request for `positions`; records refusals and delivered ids, returns the positions
        to send again (429/5xx items) and the last such item's reason. Raises for a whole-request failure
        (TransientError, RequestTooLarge, PermanentError: see _http.raise_for_status)."""
        body = b"".join(lines[p] for p in positions)
        try:
            _, text = await self._request("POST", "/_bulk", body, "application/x-ndjson")
        except TransientError:
            self._remember_delivered(events, [p for p in lines if p not in positions and p not in refused])
            raise
        items = _json_object(text, f"{self.url}/_bulk").get("items")
        if not isinstance(items, list) or len(items) != len(positions):
            raise TransientError(f"{self.url}/_bulk answered {len(items or [])} item(s) for {len(positions)} sent")
        retry: list[int] = []
        reason = ""
        for position, item in zip(positions, items, strict=True):
            result = next(iter(item.values())) if isinstance(item, dict) and item else {}
            status = int(result.get("status", 0))
            if 200 <= status < 300 or status == 409:
                continue  # 409: the document is already there (a replay)
            if status >= 500 or status in RETRYABLE_4XX:
                retry.append(position)
                reason = _item_reason(result)
            else:
                refused[position] = f"the cluster refused the document (HTTP {status}): {_item_reason(result)}"
        if retry and len(retry) < len(positions):
            taken = [p for p in lines if p not in retry and p not in refused]
            self._remember_delivered(events, taken)
        return retry, reason

    def _remember_delivered(self, events: list[dict[str, Any]], positions: list[int]) -> None:
        for position in positions:
            self._delivered[str(events[position].get("event_id"))] = None
        while len(self._delivered) > REMEMBERED_IDS:
            self._delivered.popitem(last=False)

    async def health(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "index_prefix": self.settings.index_prefix,
            "metadata_type": self.metadata_type or "auto",
            "template_installed": self.template_installed,
        }

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
