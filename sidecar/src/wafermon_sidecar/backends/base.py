"""The backend interface: initialize / send_batch / health / close.

A backend receives batches of already-validated events. send_batch returns only when the backend has
durably taken the whole batch; anything else must raise:

- TransientError (or any other exception): the batch is retried later, with backoff; nothing is lost.
- PermanentError: retrying cannot help (e.g. HTTP 400); the batch goes to the dead-letter file with
  the reason and delivery moves on. `rejected` may name single events instead of the whole batch.
- RequestTooLarge: the receiver refused the request for its size (HTTP 413). Never final for a batch:
  the delivery worker sends each half again; only a batch of one event is dead-lettered for it.

Batches are capped by count (max_batch_size) and by bytes (max_batch_bytes) before they reach
send_batch; a backend whose receiver documents limits on one request declares them in
max_request_events / max_request_bytes, and a configuration above them is refused at start-up.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import msgspec

from wafermon_schema.settings_loader import describe_validation_error

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


class RequestTooLarge(BackendError):
    """The receiver refused the request as too large (HTTP 413, or a size the backend knows it refuses)."""


class ConfigurationError(ValueError):
    """The backend's `config` block is unusable; raised from the constructor."""


_any = msgspec.json.Decoder()


class Batch:
    """Events to deliver, as their original JSON bytes (one event each, no newline inside).

    The delivery worker hands over the spool's NDJSON blocks as they are; `raw` splits them into one
    bytes object per event only when a backend asks for it, and `ndjson()` needs no split at all.
    """

    __slots__ = ("_blocks", "_count", "_decoded", "_raw", "_seqs", "first_seq")

    def __init__(
        self,
        raw: list[bytes] | None = None,
        first_seq: int = 0,
        seqs: list[int] | None = None,
        decoded: list[dict[str, Any]] | None = None,
    ) -> None:
        """seqs: each event's spool sequence number when they are not consecutive from first_seq (a
        backend's filter left some out; first_seq is then seqs[0]); decoded: the events already decoded."""
        self._raw = list(raw) if raw is not None else []
        self._blocks: list[bytes] | None = None
        self._count = len(self._raw)
        self._seqs = seqs
        self.first_seq = seqs[0] if seqs else first_seq
        self._decoded: list[dict[str, Any]] | None = decoded

    @classmethod
    def from_blocks(cls, blocks: list[bytes], count: int, first_seq: int = 0) -> Batch:
        """A batch of `count` events given as NDJSON blocks (events joined by newlines, none at the end)."""
        batch = cls(None, first_seq)
        batch._blocks = blocks
        batch._count = count
        return batch

    @property
    def raw(self) -> list[bytes]:
        """The events' JSON bytes, one item per event."""
        if self._blocks is not None:
            self._raw = [event for block in self._blocks for event in block.split(b"\n")]
            self._blocks = None
        return self._raw

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"Batch({self._count} events from seq {self.first_seq})"

    def seq_of(self, index: int) -> int:
        """The spool sequence number of the event at `index`."""
        return self._seqs[index] if self._seqs is not None else self.first_seq + index

    def _part(self, start: int, stop: int) -> Batch:
        """Events start..stop-1 as a batch of their own (their sequence numbers and decoded forms kept)."""
        raw = self.raw[start:stop]
        decoded = self._decoded[start:stop] if self._decoded is not None else None
        if self._seqs is not None:
            return Batch(raw, seqs=self._seqs[start:stop], decoded=decoded)
        return Batch(raw, self.first_seq + start, decoded=decoded)

    def events(self) -> list[dict[str, Any]]:
        """The events decoded to dicts (decoded once, on first use)."""
        if self._decoded is None:
            self._decoded = [_any.decode(r) for r in self.raw]
        return self._decoded

    @property
    def size_bytes(self) -> int:
        """Bytes of the events joined by one separator each (the size of ndjson(), and of json_array() - 1)."""
        parts = self._blocks if self._blocks is not None else self._raw
        return sum(len(p) for p in parts) + len(parts)  # a block's inner newlines are its separators

    def split(self, max_events: int, max_bytes: int) -> list[Batch]:
        """Consecutive batches of at most max_events events and max_bytes bytes (size_bytes) each; an
        event larger than max_bytes goes alone. The batch itself when it is within both limits."""
        if self._count <= max_events and self.size_bytes <= max_bytes:
            return [self]
        chunks: list[Batch] = []
        start = count = size = 0
        for event in self.raw:
            if count and (count >= max_events or size + len(event) + 1 > max_bytes):
                chunks.append(self._part(start, start + count))
                start, count, size = start + count, 0, 0
            count += 1
            size += len(event) + 1
        if count:
            chunks.append(self._part(start, start + count))
        return chunks

    def halves(self) -> tuple[Batch, Batch]:
        """The first and second half (a batch of at least two events)."""
        middle = self._count // 2
        return self._part(0, middle), self._part(middle, self._count)

    def json_array(self) -> bytes:
        if self._blocks is not None:  # no event holds a newline: the block's newlines become the commas
            return b"[" + b",".join(self._blocks).replace(b"\n", b",") + b"]"
        return b"[" + b",".join(self._raw) + b"]"

    def ndjson(self) -> bytes:
        """The events as NDJSON, each line ending in a newline."""
        return b"\n".join([*(self._blocks if self._blocks is not None else self._raw), b""])

    def ndjson_parts(self) -> list[bytes]:
        """ndjson() as buffers to write one after the other (os.writev), without joining the spool's blocks."""
        if self._blocks is None:
            return [self.ndjson()]
        parts: list[bytes] = []
        for block in self._blocks:
            parts += (block, b"\n")
        return parts


def config_struct(struct: type[T], config: Mapping[str, Any], backend_name: str) -> T:
    """Convert a backend's config mapping to its typed settings, with an error naming the key."""
    try:
        return msgspec.convert(dict(config), struct, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigurationError(f"backend {backend_name!r}: config.{describe_validation_error(exc, struct)}") from None


#: Backend.required_fields of a backend that takes whole v1 events only (a filter applies, no reshaping).
WHOLE_EVENT: frozenset[str] = frozenset({"*"})


class Backend(ABC):
    """Subclass this and register it under the `wafermon.backends` entry-point group."""

    #: top-level fields every record handed to this backend must carry under their v1 names (its identity:
    #: document id, de-duplication key); a backend's `fields` / `rename` may not take them away
    #: (docs/sidecar.md, "Filters and transforms"). WHOLE_EVENT: only whole v1 events, no reshaping.
    required_fields: ClassVar[frozenset[str]] = frozenset({"event_id"})

    #: the receiver's documented limits on one request (events; bytes of the events joined by one
    #: separator each), None where it documents none; max_batch_size / max_batch_bytes may not exceed them
    max_request_events: int | None = None
    max_request_bytes: int | None = None

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
