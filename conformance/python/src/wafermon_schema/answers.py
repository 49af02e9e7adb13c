"""Answer shapes the sidecar and the gateway share, as msgspec types: both services encode them and
derive their OpenAPI schemas from them."""

from __future__ import annotations

import msgspec


class Rejected(msgspec.Struct, frozen=True):
    """One refused event: its 0-based index in the request's batch, the field at fault and why."""

    index: int
    field: str
    message: str
