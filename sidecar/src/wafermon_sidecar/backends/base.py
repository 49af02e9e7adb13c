"""The backend interface: initialize / send_batch / health / close.

A backend receives batches of already-validated events. send_batch returns only when the backend has
durably taken the whole batch; anything else must raise:

- TransientError (or any other exception): the batch is retried later, with backoff; nothing is lost.
- PermanentError: retrying cannot help (e.g. HTTP 400); the batch goes to the dead-letter file with
  the reason and delivery moves on. `rejected` may name single events instead of the whole batch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")


class BackendError(Exception):
    """Base of the errors a backend raises from send_batch."""


class TransientError(BackendError):
    """Try again later. retry_after_s, when set, is the backend's own hint (e.g. Retry-After)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermanentError(BackendError):
    """Never going to work for these events; dead-letter them with this reason.

    rejected maps an index in the batch to the reason for that event alone; when it is empty the
    whole batch is rejected.
    """

    def __init__(self, message: str, rejected: Mapping[int, str] | None = None) -> None:
        super().__init__(message)
        self.rejected: dict[int, str] = dict(rejected or {})


class ConfigurationError(ValueError):
    """The backend's `config` block is unusable; raised from the constructor."""


_any = msgspec.json.Decoder()


@dataclass(slots=True)
class Batch:
    """Events to deliver, as their original JSON bytes (one event each, no newline inside)."""

    raw: list[bytes]
    first_seq: int = 0
    _decoded: list[dict[str, Any]] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.raw)

    def events(self) -> list[dict[str, Any]]:
        """The events decoded to dicts (decoded once, on first use)."""
        if self._decoded is None:
            self._decoded = [_any.decode(r) for r in self.raw]
        return self._decoded

    def json_array(self) -> bytes:
        return b"[" + b",".join(self.raw) + b"]"

    def ndjson(self) -> bytes:
        return b"\n".join(self.raw) + b"\n"


def config_struct(struct: type[T], config: Mapping[str, Any], backend_name: str) -> T:
    """Convert a backend's config mapping to its typed settings, with an error naming the key."""
    try:
        return msgspec.convert(dict(config), struct, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigurationError(f"backend {backend_name!r}: invalid config: {exc}") from None


class Backend(ABC):
    """Subclass this and register it under the `wafermon.backends` entry-point group."""

    #: the `type` it is registered as (informational; the entry-point name is what selects it)
    type_name: str = ""

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        """Check the config here (raise ConfigurationError); open nothing yet."""
        self.name = name
        self.config = dict(config)

    @abstractmethod
    async def initialize(self) -> None:
        """Open connections, files, sessions. Called once before the first send_batch."""

    @abstractmethod
    async def send_batch(self, batch: Batch) -> None:
        """Deliver the whole batch or raise (see the module docstring)."""

    async def health(self) -> dict[str, Any]:
        """Extra details for /v1/healthz (e.g. the target); must be quick and must not raise."""
        return {}

    @abstractmethod
    async def close(self) -> None:
        """Release everything opened by initialize."""
