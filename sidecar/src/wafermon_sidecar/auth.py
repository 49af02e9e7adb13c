"""Optional bearer-token check for the ingest routes (health, metrics and OpenAPI stay open)."""

from __future__ import annotations

import hmac

from aiohttp import web

from .answers import ErrorAnswer
from .responses import json_response


def check_bearer(request: web.Request, token: str | None) -> web.Response | None:
    """None when the request may pass; otherwise the 401/403 answer to send."""
    if token is None:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        response = json_response(401, ErrorAnswer("this sidecar requires 'Authorization: Bearer <token>'"))
        response.headers["WWW-Authenticate"] = 'Bearer realm="wafermon-sidecar"'
        return response
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return json_response(403, ErrorAnswer("the bearer token is not valid for this sidecar"))
    return None
