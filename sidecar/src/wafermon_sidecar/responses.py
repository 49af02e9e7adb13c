"""JSON responses, encoded with msgspec (fast, and no surprises with non-ASCII)."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

_encoder = msgspec.json.Encoder()


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=_encoder.encode(body), content_type="application/json", headers=headers)
