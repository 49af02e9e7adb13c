"""`webhook`: POST the message as JSON, signed like the sidecar's webhook backend (docs/sidecar.md):
`X-Wafermon-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with secret>` and
`X-Wafermon-Timestamp`. Config: url, secret (optional), timeout_s (10), headers (optional)."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx
import orjson

from .base import DeliveryError, Message, NotifierConfigError, http_url


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> None:
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        try:
            response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"POST {url} failed: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"POST {url} answered {response.status_code}")


class WebhookNotifier:
    def __init__(self, config: dict[str, Any]) -> None:
        self.url = http_url(config)
        self.secret = config.get("secret")
        if self.secret is not None and not isinstance(self.secret, str):
            raise NotifierConfigError("config.secret must be a string")
        self.timeout_s = float(config.get("timeout_s", 10.0))
        self.headers = dict(config.get("headers") or {})

    async def send(self, message: Message) -> None:
        body = orjson.dumps(message.as_json())
        headers = {**self.headers, "Content-Type": "application/json", "X-Wafermon-Timestamp": str(int(time.time())),
                   "X-Wafermon-Notification-Id": message.notification_id}  # fmt: skip
        if self.secret:
            headers["X-Wafermon-Signature"] = sign(self.secret, body)
        await post(self.url, body, headers, self.timeout_s)
