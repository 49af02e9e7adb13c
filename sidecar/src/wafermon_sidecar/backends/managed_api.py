"""managed_api backend: the gateway's `POST /v1/ingest/managed` ({"events", "source", "site_id"}).

config.url (or the seeds' `base_url`, type `local_api`) is the gateway's base URL (`http://gw:18000`)
and config.endpoint (/v1/ingest/managed) is appended; a URL that already ends in it is used as it is.
The gateway de-duplicates on event_id, answers 200 with per-event `rejected` entries (dead-lettered
here, each with its own reason), 400 with them when it took none, 413 for a request over its size
limits (split by the delivery worker), and other 4xx for a request it will never take.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Annotated, Any

import aiohttp
import msgspec

from ._http import Answer, send_until_settled
from .base import WHOLE_EVENT, Backend, Batch, ConfigurationError, PermanentError, TransientError, config_struct
from .http_client import HttpClientConfig, endpoint_url, open_session

MANAGED_PATH = "/v1/ingest/managed"
# The gateway's documented limits on one request (its settings max_body_bytes, max_events_per_batch),
# less room for the envelope around the events ({"events":[...],"source":...,"site_id":...}).
GATEWAY_MAX_BODY_BYTES = 16 * 1024 * 1024
GATEWAY_MAX_EVENTS = 10_000
ENVELOPE_ROOM_BYTES = 1024


class ManagedApiConfig(HttpClientConfig, forbid_unknown_fields=True, kw_only=True):
    base_url: str = ""  # the seeds' name for `url` (set one of them)
    endpoint: str = MANAGED_PATH  # the path appended to the base URL
    api_key: str | None = None
    site_id: str | None = None  # default: each event's own site_id
    heartbeat_interval_s: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 30.0  # 0: none (heartbeat.py)


class _Counts(msgspec.Struct):
    duplicates: int = 0


def endpoint(url: str, path: str = MANAGED_PATH) -> str:
    """The request URL: the base URL with path appended, unless it already ends in path."""
    stripped = url.rstrip("/")
    return stripped if stripped.endswith(path) else stripped + path


class ManagedApiBackend(Backend):
    required_fields = WHOLE_EVENT  # the gateway checks each event against the v1 schema: filters only
    max_request_events = GATEWAY_MAX_EVENTS
    max_request_bytes = GATEWAY_MAX_BODY_BYTES - ENVELOPE_ROOM_BYTES

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        settings = config_struct(ManagedApiConfig, config, name)
        if not settings.endpoint.startswith("/"):
            raise ConfigurationError(
                f"backend {name!r}: config.endpoint must be a path starting with '/', got {settings.endpoint!r}"
            )
        base = endpoint_url({"url": settings.url, "base_url": settings.base_url}, name)
        # One name for the base from here on: the heartbeat (heartbeat.py) reads settings.url too.
        self.settings = msgspec.structs.replace(settings, url=base, base_url="")
        self.url = endpoint(base, settings.endpoint)
        self.session: aiohttp.ClientSession | None = None
        self.duplicates = 0

    async def initialize(self) -> None:
        headers = {"Content-Type": "application/json"}
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        self.session = open_session(self.settings, self.name, headers)

    def _groups(self, batch: Batch) -> dict[str, list[int]]:
        """Batch indexes per site_id: the request carries one site_id."""
        if self.settings.site_id:
            return {self.settings.site_id: list(range(len(batch)))}
        groups: dict[str, list[int]] = {}
        for i, event in enumerate(batch.events()):
            groups.setdefault(str(event.get("site_id", "")), []).append(i)
        return groups

    async def send_batch(self, batch: Batch) -> None:
        refused: dict[int, str] = {}
        for site_id, indexes in self._groups(batch).items():
            tail = b'],"source":"sidecar","site_id":' + msgspec.json.encode(site_id) + b"}"

            async def post(positions: list[int], tail: bytes = tail) -> Answer:
                events = b",".join(batch.raw[i] for i in positions)
                return await self._post(b'{"events":[' + events + tail)

            # one site's refusal does not stop the other sites' requests
            refused.update(await send_until_settled(indexes, post, self.url, "the gateway"))
        if refused:
            first = refused[min(refused)]
            raise PermanentError(f"{len(refused)} of {len(batch)} event(s) refused; the first: {first}", refused)

    async def _post(self, body: bytes) -> Answer:
        assert self.session is not None, "initialize() was not called"
        try:
            async with self.session.post(self.url, data=body) as response:
                text = await response.text(errors="replace")
                status, retry_after = response.status, response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        if 200 <= status < 300:
            # a 2xx we cannot read still means the gateway took the batch
            with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                self.duplicates += msgspec.json.decode(text, type=_Counts).duplicates
        return status, text, retry_after

    async def health(self) -> dict[str, Any]:
        return {"url": self.url, "duplicates": self.duplicates}

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
