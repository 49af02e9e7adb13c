"""API keys with scopes, presented as `Authorization: Bearer <key>`.

No keys configured means open access, which settings.check_bind_policy only allows on loopback.
`admin` includes `read` and `ingest`. Keys are compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import ApiError
from .settings import ApiKey, Scope

bearer = HTTPBearer(auto_error=False, description="an API key from the gateway's api_keys setting")
_CREDENTIALS = Security(bearer)


class Authenticator:
    def __init__(self, keys: list[ApiKey]) -> None:
        self._keys = [(k.key.encode(), k.name, frozenset(k.scopes)) for k in keys]

    @property
    def open(self) -> bool:
        return not self._keys

    def scopes_of(self, presented: str) -> tuple[str, frozenset[str]] | None:
        candidate = presented.encode()
        found = None
        for key, name, scopes in self._keys:
            # Check every key so timing does not reveal which one matched.
            if hmac.compare_digest(key, candidate):
                found = (name, scopes)
        return found

    def check(self, credentials: HTTPAuthorizationCredentials | None, scope: Scope) -> str | None:
        """The caller's key name; raises 401 (no/unknown key) or 403 (key lacks the scope)."""
        if self.open:
            return None
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ApiError(401, "an API key is required: send Authorization: Bearer <key>", "Authorization", challenge)
        match = self.scopes_of(credentials.credentials)
        if match is None:
            raise ApiError(401, "unknown API key", "Authorization", challenge)
        name, scopes = match
        if scope not in scopes and "admin" not in scopes:
            raise ApiError(403, f"API key {name!r} lacks the {scope!r} scope", "Authorization")
        return name


def require(scope: Scope) -> Callable[..., Awaitable[str | None]]:
    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = _CREDENTIALS
    ) -> str | None:
        authenticator: Authenticator = request.app.state.runtime.auth
        return authenticator.check(credentials, scope)

    return dependency
