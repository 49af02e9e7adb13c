"""loki backend: Grafana Loki's push API, JSON form (`POST {url}/loki/api/v1/push`).

The record shape (labels, line, timestamp, pushes) is loki_encoding's, described normatively in
conformance/backends/loki.md. Answers:

- 2xx (Loki: 204): delivered.
- 400 (and 413): Loki stores the valid entries of a push and ignores the others, naming them by
  timestamp and stream only. The push is split in halves and each half sent again — what Loki
  already holds is de-duplicated (same stream, timestamp and line) — down to single entries; a single
  entry Loki still refuses is dead-lettered with Loki's answer. At most SPLIT_REQUESTS_PER_BATCH
  requests go to splitting per batch; past that each still-refused push is dead-lettered whole with
  its answer (its valid entries are in Loki all the same).
- 429, 5xx, 401, 403, 404, 408, 425, network errors: the batch is retried later (Retry-After
  honoured, see _http.py); pushes of it already taken are de-duplicated by Loki when sent again.
- any other 4xx: that push's events are dead-lettered with the answer.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Annotated, Any

import aiohttp
import msgspec

from ._http import Answer, raise_for_status
from .base import Backend, Batch, ConfigurationError, PermanentError, TransientError, config_struct
from .http_client import HttpClientConfig, check_url, open_session
from .loki_encoding import EVENT_LABELS, LABEL_NAME, Entry, RecordError, entry, push_body, pushes

PUSH_PATH = "/loki/api/v1/push"
TENANT_HEADER = "X-Scope-OrgID"
# Grafana Alloy's loki.write and Promtail push at most 1 MiB per request (`batch_size` default);
# Loki's own limits on one request (the distributor's 100 MB message size) are far above it.
DEFAULT_MAX_PUSH_BYTES = 1024 * 1024
MAX_PUSH_BYTES = 64 * 1024 * 1024
# Requests spent on halving pushes Loki answered 400, per batch: enough to find a few bad entries in
# a batch of thousands (2 per halving), bounded so that a batch Loki refuses whole costs seconds.
SPLIT_REQUESTS_PER_BATCH = 64
# Loki's documented limits (configure/loki-limits.md, operations/multi-tenancy.md).
MAX_LABELS = 15
MAX_LABEL_VALUE_BYTES = 2048
TENANT_ID = re.compile(r"^[A-Za-z0-9!_.*'()-]{1,150}$")


class _SplitBudget:
    """Requests left for splitting refused pushes in one batch."""

    def __init__(self, requests: int) -> None:
        self.left = requests


class LokiConfig(HttpClientConfig, forbid_unknown_fields=True, kw_only=True):
    """The loki backend's `config` block: the shared HTTP client keys (url = Loki's base URL) and these."""

    tenant: str | None = None  # sent as X-Scope-OrgID (Loki with auth_enabled: true needs one)
    username: str | None = None  # basic auth, with password (a proxy in front of Loki checks it)
    password: str | None = None
    bearer_token: str | None = None  # Authorization: Bearer <token>
    external_labels: dict[str, str] = msgspec.field(default_factory=dict)  # on every stream, e.g. {job: wafermon}
    max_push_bytes: Annotated[int, msgspec.Meta(ge=1024, le=MAX_PUSH_BYTES)] = DEFAULT_MAX_PUSH_BYTES


def endpoint(url: str) -> str:
    stripped = url.rstrip("/")
    return stripped if stripped.endswith(PUSH_PATH) else stripped + PUSH_PATH


def check_labels(labels: dict[str, str], name: str) -> dict[str, str]:
    """external_labels when Loki would take them next to the event's labels; else ConfigurationError."""
    own = {label for label, _ in EVENT_LABELS}
    for label, value in labels.items():
        where = f"backend {name!r}: config.external_labels.{label}"
        if not LABEL_NAME.match(label) or label.startswith("__"):
            raise ConfigurationError(
                f"{where}: {label!r} is not a label name Loki takes ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"
            )
        if label in own:
            raise ConfigurationError(f"{where}: {label!r} is set from each event; choose another name")
        if not value or len(value.encode()) > MAX_LABEL_VALUE_BYTES:
            raise ConfigurationError(f"{where}: the value must be 1 to {MAX_LABEL_VALUE_BYTES} bytes")
    if len(labels) + len(own) > MAX_LABELS:
        raise ConfigurationError(
            f"backend {name!r}: config.external_labels has {len(labels)} labels; with the {len(own)} from each "
            f"event a stream would have more than Loki's {MAX_LABELS}"
        )
    return labels


def auth_headers(settings: LokiConfig, name: str) -> dict[str, str]:
    """The Authorization header from username/password or bearer_token; ConfigurationError naming the
    key when they are incomplete or clash."""
    given = [key for key in ("username", "password", "bearer_token") if getattr(settings, key) is not None]
    if "bearer_token" in given and len(given) > 1:
        raise ConfigurationError(
            f"backend {name!r}: config.bearer_token and config.username/password exclude each other"
        )
    if given and any(header.lower() == "authorization" for header in settings.headers):
        raise ConfigurationError(
            f"backend {name!r}: config.{given[0]} and an Authorization entry in config.headers clash"
        )
    if settings.bearer_token is not None:
        return {"Authorization": f"Bearer {settings.bearer_token}"}
    if given:
        if settings.username is None or settings.password is None:
            missing = "password" if settings.password is None else "username"
            raise ConfigurationError(f"backend {name!r}: config.{missing} is missing (basic auth needs both)")
        token = base64.b64encode(f"{settings.username}:{settings.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    return {}


class LokiBackend(Backend):
    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self.settings = config_struct(LokiConfig, config, name)
        self.url = endpoint(check_url(self.settings.url, "url", name))
        tenant = self.settings.tenant
        if tenant is not None and (not TENANT_ID.match(tenant) or tenant in (".", "..")):
            raise ConfigurationError(
                f"backend {name!r}: config.tenant {tenant!r} is not a Loki tenant ID "
                "(1-150 of A-Z a-z 0-9 ! - _ . * ' ( ), not '.' or '..')"
            )
        self.external_labels = check_labels(self.settings.external_labels, name)
        self.headers = {"Content-Type": "application/json", **auth_headers(self.settings, name)}
        if tenant is not None:
            self.headers[TENANT_HEADER] = tenant
        self.max_push_bytes = self.settings.max_push_bytes
        self.session: aiohttp.ClientSession | None = None
        self.pushes = 0
        self.split_requests = 0

    async def initialize(self) -> None:
        self.session = open_session(self.settings, self.name, self.headers)

    async def send_batch(self, batch: Batch) -> None:
        refused: dict[int, str] = {}
        entries: list[Entry] = []
        for index, raw in enumerate(batch.raw):
            try:
                entries.append(entry(raw, index, self.external_labels))
            except RecordError as exc:
                refused[index] = f"cannot be written as a Loki entry: {exc}"
        budget = _SplitBudget(SPLIT_REQUESTS_PER_BATCH)
        for push in pushes(entries, self.max_push_bytes):
            refused.update(await self._settle(push, budget))
        if refused:
            first = refused[min(refused)]
            raise PermanentError(f"{len(refused)} of {len(batch)} event(s) refused; the first: {first}", refused)

    async def _settle(self, push: list[Entry], budget: _SplitBudget) -> dict[int, str]:
        """Send one push; batch position → reason for each entry Loki refused (see the module docstring)."""
        body = push_body(push)
        status, text, retry_after = await self._post(body)
        if 200 <= status < 300:
            return {}
        snippet = " ".join(text[:400].split())
        if status in (400, 413):
            if status == 413:  # a proxy's or Loki's size limit: later pushes stay under this one
                self.max_push_bytes = max(min(self.max_push_bytes, len(body) // 2), 1024)
            if len(push) == 1:
                return {push[0].index: f"Loki refused the entry: HTTP {status}: {snippet}"}
            if budget.left < 2:
                why = f"Loki refused a push of {len(push)} entries with HTTP {status} (no split left in this batch)"
                return {item.index: f"{why}: {snippet}" for item in push}
            budget.left -= 2
            self.split_requests += 2
            middle = len(push) // 2
            refused = await self._settle(push[:middle], budget)
            return refused | await self._settle(push[middle:], budget)
        try:
            raise_for_status(status, text, retry_after, self.url)
        except PermanentError as exc:
            return {item.index: str(exc) for item in push}
        return {}  # not reached: raise_for_status raised for every status it was given here

    async def _post(self, body: bytes) -> Answer:
        assert self.session is not None, "initialize() was not called"
        try:
            async with self.session.post(self.url, data=body) as response:
                text = await response.text(errors="replace")
                self.pushes += 1
                return response.status, text, response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"{self.url}: {type(exc).__name__}: {exc}") from exc

    async def health(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "tenant": self.settings.tenant,
            "pushes": self.pushes,
            "split_requests": self.split_requests,
            "max_push_bytes": self.max_push_bytes,
        }

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
