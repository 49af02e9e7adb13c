"""webhook backend: POST (or PUT) each batch as a JSON array to any HTTP endpoint, signed.

Headers sent: `X-Wafermon-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes, keyed with
config.secret>` (only when a secret is set), `X-Wafermon-Timestamp: <unix seconds>`, and
`X-Wafermon-Event-Count`. The signature covers the body only; replays are harmless because every
store de-duplicates on event_id, and receivers may also reject stale timestamps.

A 2xx or 400 answer in the shape the gateway and the sidecar give (`{"rejected": [{"index", "field",
"message"}]}`) refuses those events alone, each with its own reason; 413 splits the batch (see base.py).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any, Literal

import aiohttp

from ._http import Answer, send_until_settled
from .base import Backend, Batch, PermanentError, TransientError, config_struct
from .http_client import HttpClientConfig, endpoint_url, open_session

SIGNATURE_HEADER = "X-Wafermon-Signature"
TIMESTAMP_HEADER = "X-Wafermon-Timestamp"


class WebhookConfig(HttpClientConfig, forbid_unknown_fields=True, kw_only=True):
    webhook_url: str = ""  # the endpoint (`url` is accepted too)
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    secret: str | None = None


def sign(secret: str, body: bytes) -> str:
    """The X-Wafermon-Signature value for body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookBackend(Backend):
    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self.settings = config_struct(WebhookConfig, config, name)
        self.url = endpoint_url({"webhook_url": self.settings.webhook_url, "url": self.settings.url}, name)
        self.session: aiohttp.ClientSession | None = None

    async def initialize(self) -> None:
        self.session = open_session(self.settings, self.name, {"Content-Type": "application/json"})

    def request_headers(self, body: bytes, count: int) -> dict[str, str]:
        """The per-request headers; the session adds Content-Type and the configured headers."""
        headers = {TIMESTAMP_HEADER: str(int(time.time()))}
        headers["X-Wafermon-Event-Count"] = str(count)
        if self.settings.secret:
            headers[SIGNATURE_HEADER] = sign(self.settings.secret, body)
        return headers

    async def send_batch(self, batch: Batch) -> None:
        everything = list(range(len(batch)))

        async def post(positions: list[int]) -> Answer:
            whole = len(positions) == len(batch)
            body = batch.json_array() if whole else b"[" + b",".join(batch.raw[i] for i in positions) + b"]"
            return await self._request(body, len(positions))

        refused = await send_until_settled(everything, post, self.url, "the receiver")
        if refused:
            first = refused[min(refused)]
            raise PermanentError(f"{len(refused)} of {len(batch)} event(s) refused; the first: {first}", refused)

    async def _request(self, body: bytes, count: int) -> Answer:
        assert self.session is not None, "initialize() was not called"
        url = self.url
        try:
            async with self.session.request(
                self.settings.method, url, data=body, headers=self.request_headers(body, count)
            ) as response:
                text = await response.text(errors="replace")
                return response.status, text, response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"{url}: {type(exc).__name__}: {exc}") from exc

    async def health(self) -> dict[str, Any]:
        return {"url": self.url, "signed": bool(self.settings.secret)}

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
