"""managed_api backend: the gateway's `POST /v1/ingest/managed` ({"events", "source", "site_id"}).

config.url is the gateway's base URL (`http://gw:18000`) and the path is appended; a URL that already
ends in /v1/ingest/managed is used as it is. The gateway de-duplicates on event_id, answers 200 with
per-event `rejected` entries (dead-lettered here), and 4xx for a request it will never take.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import msgspec

from ._http import raise_for_status
from .base import Backend, Batch, ConfigurationError, PermanentError, TransientError, config_struct

MANAGED_PATH = "/v1/ingest/managed"


class ManagedApiConfig(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    api_key: str | None = None
    timeout: float = 10.0
    verify_ssl: bool = True
    site_id: str | None = None  # default: each event's own site_id


class _Rejected(msgspec.Struct):
    index: int
    message: str = ""
    field: str = ""


class _Reply(msgspec.Struct):
    accepted: int = 0
    duplicates: int = 0
    rejected: list[_Rejected] = []


def endpoint(url: str) -> str:
    stripped = url.rstrip("/")
    return stripped if stripped.endswith(MANAGED_PATH) else stripped + MANAGED_PATH


class ManagedApiBackend(Backend):
    type_name = "managed_api"

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self.settings = config_struct(ManagedApiConfig, config, name)
        if not self.settings.url.startswith(("http://", "https://")):
            raise ConfigurationError(f"backend {name!r}: config.url must be an http:// or https:// URL")
        self.url = endpoint(self.settings.url)
        self.session: aiohttp.ClientSession | None = None
        self.duplicates = 0

    async def initialize(self) -> None:
        headers = {"Content-Type": "application/json"}
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        self.session = aiohttp.ClientSession(
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
            connector=aiohttp.TCPConnector(ssl=self.settings.verify_ssl, limit=4),
        )

    def _groups(self, batch: Batch) -> dict[str, list[int]]:
        """Batch indexes per site_id: the request carries one site_id."""
        if self.settings.site_id:
            return {self.settings.site_id: list(range(len(batch)))}
        groups: dict[str, list[int]] = {}
        for i, event in enumerate(batch.events()):
            groups.setdefault(str(event.get("site_id", "")), []).append(i)
        return groups

    async def send_batch(self, batch: Batch) -> None:
        rejected: dict[int, str] = {}
        for site_id, indexes in self._groups(batch).items():
            events = b",".join(batch.raw[i] for i in indexes)
            body = b'{"events":[' + events + b'],"source":"sidecar","site_id":' + msgspec.json.encode(site_id) + b"}"
            reply = await self._post(body)
            self.duplicates += reply.duplicates
            for item in reply.rejected:
                if 0 <= item.index < len(indexes):
                    where = f" ({item.field})" if item.field else ""
                    rejected[indexes[item.index]] = f"gateway rejected the event{where}: {item.message}"
        if rejected:
            raise PermanentError(f"the gateway rejected {len(rejected)} event(s)", rejected)

    async def _post(self, body: bytes) -> _Reply:
        assert self.session is not None, "initialize() was not called"
        try:
            async with self.session.post(self.url, data=body) as response:
                text = await response.text(errors="replace")
                raise_for_status(response.status, text, response.headers.get("Retry-After"), self.url)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        try:
            return msgspec.json.decode(text, type=_Reply)
        except msgspec.DecodeError:
            # A 2xx we cannot read still means the gateway took the batch.
            return _Reply()

    async def health(self) -> dict[str, Any]:
        return {"url": self.url, "duplicates": self.duplicates}

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
