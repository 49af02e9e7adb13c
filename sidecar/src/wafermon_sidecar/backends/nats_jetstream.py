"""nats backend: JetStream publishes with `Nats-Msg-Id` = event_id, every ack awaited.

One message per event (conformance/backends/nats.md is normative): the subject from `subject`
(a template, default `wafermon.{site}.{entity_type}.{event_kind}`, values escaped by
nats_subjects.escape_token), the event's JSON as received for the payload, headers `Nats-Msg-Id`
(= event_id), `Nats-Expected-Stream` (= `stream`) and `Content-Type: application/json`.

De-duplication is the stream's: a message whose Msg-Id the stream saw within its
`duplicate_window` is acked as a duplicate and not stored again; a replay older than the window is
stored a second time. The backend creates the stream when it is missing (`create_stream`) with the
window `duplicate_window_s` (default 120 s, the server's default).

A batch's messages are published concurrently (at most `max_in_flight` awaiting their ack) and the
batch is delivered once every ack is in. Per message: an ack (new or duplicate) → delivered; no ack
in `ack_timeout`, no stream answering, a full stream, a lost connection → only those messages are
published again (`publish_retries` times in the same call, then TransientError; the ones acked
meanwhile are remembered and not sent again); a message over the server's `max_payload` or the
stream's `max_msg_size` → that event alone is dead-lettered with the reason.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import OrderedDict
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.js.api import StorageType, StreamConfig

from . import tls
from .base import Backend, Batch, ConfigurationError, PermanentError, TransientError, config_struct
from .nats_subjects import DEFAULT_TEMPLATE, check_template, stream_subjects, subject_for

#: JetStream error codes that refuse one message for good (the server's errors.json).
PERMANENT_CODES = {
    10054: "the message is larger than the stream's max_msg_size",
    10097: "the message's headers exceed 64 KiB",
}
# How many event ids acked during a failed attempt are remembered (skipped on the retry).
REMEMBERED_IDS = 100_000
_STREAM_NAME_BAD = frozenset(" \t\r\n.*>/\\")


class NatsConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The `config` block of a nats backend."""

    servers: list[str] = msgspec.field(default_factory=lambda: ["nats://127.0.0.1:4222"])
    subject: str = DEFAULT_TEMPLATE  # placeholders: {site} {app} {entity_type} {event_kind} {status}
    stream: str = "WAFERMON"  # the JetStream stream (Nats-Expected-Stream on every publish)
    create_stream: bool = True  # add the stream when missing (subjects from the template)
    duplicate_window_s: Annotated[float, msgspec.Meta(ge=1, le=7 * 86400)] = 120.0  # when creating it
    max_age_s: Annotated[float, msgspec.Meta(ge=0)] = 0.0  # when creating it; 0 = keep until limits
    max_msg_size: Annotated[int, msgspec.Meta(ge=-1)] = -1  # when creating it; -1 = the server's max_payload
    storage: Literal["file", "memory"] = "file"  # when creating it
    replicas: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1  # when creating it
    user: str | None = None  # user + password, or token, or credentials_file
    password: str | None = None
    token: str | None = None
    credentials_file: str | None = None  # a .creds file (JWT + NKey seed)
    tls: bool = False  # TLS (implied by a tls:// server, ca_file or cert_file)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    verify_ssl: bool = True
    connect_timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 5.0
    ack_timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 10.0  # per message
    max_in_flight: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 512
    publish_retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 3


class NatsBackend(Backend):
    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self.settings = s = config_struct(NatsConfig, config, name)
        problem = check_template(s.subject)
        if problem:
            raise ConfigurationError(f"backend {name!r}: config.subject {s.subject!r} {problem}")
        if not s.stream or len(s.stream) > 255 or any(c in _STREAM_NAME_BAD for c in s.stream):
            raise ConfigurationError(
                f"backend {name!r}: config.stream must be 1-255 characters without spaces or . * > / \\"
                f" (got {s.stream!r})"
            )
        if not s.servers or not all(u.partition("://")[0] in ("nats", "tls", "ws", "wss") for u in s.servers):
            raise ConfigurationError(
                f"backend {name!r}: config.servers must be URLs nats://host:port or tls://host:port (got {s.servers!r})"
            )
        if (s.user is None) != (s.password is None):
            raise ConfigurationError(f"backend {name!r}: config.user and config.password go together")
        if sum(x is not None for x in (s.user, s.token, s.credentials_file)) > 1:
            raise ConfigurationError(
                f"backend {name!r}: config.user, config.token and config.credentials_file exclude each other"
            )
        if s.key_file and not s.cert_file:
            raise ConfigurationError(f"backend {name!r}: config.key_file needs config.cert_file")
        self.nc: Any = None
        self.js: Any = None
        self.stream_ready = False
        self.duplicate_window_s: float | None = None
        self.duplicates = 0
        self._acked: OrderedDict[str, None] = OrderedDict()

    async def initialize(self) -> None:
        """Nothing to open yet: the first batch connects (a server down at start-up is a lag, not an error)."""

    def _ssl_context(self) -> ssl.SSLContext | None:
        s = self.settings
        if not (s.tls or s.ca_file or s.cert_file or any(u.startswith("tls://") for u in s.servers)):
            return None
        return tls.client_context(self.name, s.ca_file, s.cert_file, s.key_file, s.verify_ssl, "verify_ssl")

    async def _connect(self) -> Any:
        """The JetStream context, connecting (and adding the stream) first when needed."""
        if self.nc is not None and self.nc.is_closed:
            self.nc = self.js = None
        if self.js is None:
            s = self.settings
            options: dict[str, Any] = {
                "servers": s.servers,
                "connect_timeout": s.connect_timeout,
                # No reconnecting in the background: a lost connection closes the client (its
                # publishes fail, the batch is retried) and the next batch connects afresh, so no
                # message waits in a client buffer for a server to come back. nats-py tries each
                # server max_reconnect_attempts + 1 times on connect; 0 would mean forever.
                "allow_reconnect": False,
                "max_reconnect_attempts": 1,
                "reconnect_time_wait": 0.5,
                "name": f"wafermon-sidecar/{self.name}",
            }
            context = self._ssl_context()
            if context is not None:
                options["tls"] = context
            if s.user is not None:
                options.update(user=s.user, password=s.password)
            if s.token is not None:
                options["token"] = s.token
            if s.credentials_file is not None:
                options["user_credentials"] = s.credentials_file

            async def quiet(_exc: Exception) -> None:  # nats-py logs each reconnect failure otherwise
                return None

            try:
                self.nc = await nats.connect(**options, error_cb=quiet)
            except (nats.errors.Error, OSError, TimeoutError) as exc:
                raise TransientError(
                    f"nats {', '.join(s.servers)}: cannot connect: {type(exc).__name__}: {exc}"
                ) from exc
            self.js = self.nc.jetstream(timeout=s.ack_timeout)
        if not self.stream_ready:
            await self._ensure_stream()
        return self.js

    async def _ensure_stream(self) -> None:
        s = self.settings
        try:
            try:
                info = await self.js.stream_info(s.stream)
            except nats.js.errors.NotFoundError:
                if not s.create_stream:
                    raise TransientError(
                        f"nats: the stream {s.stream!r} does not exist (create_stream is false: add it, taking"
                        f" {stream_subjects(s.subject)!r})"
                    ) from None
                config = StreamConfig(
                    name=s.stream,
                    subjects=[stream_subjects(s.subject)],
                    duplicate_window=s.duplicate_window_s,
                    max_age=s.max_age_s or None,
                    max_msg_size=s.max_msg_size,
                    storage=StorageType.FILE if s.storage == "file" else StorageType.MEMORY,
                    num_replicas=s.replicas,
                )
                info = await self.js.add_stream(config)
        except (nats.errors.Error, TimeoutError) as exc:
            raise TransientError(
                f"nats: cannot look up or add the stream {s.stream!r}: {type(exc).__name__}: {exc}"
            ) from exc
        self.duplicate_window_s = info.config.duplicate_window
        self.stream_ready = True

    async def send_batch(self, batch: Batch) -> None:
        events = batch.events()
        raw = batch.raw
        refused: dict[int, str] = {}
        pending = [p for p, e in enumerate(events) if str(e.get("event_id")) not in self._acked]
        last_reason = ""
        for attempt in range(self.settings.publish_retries + 1):
            if not pending:
                break
            if attempt:
                await asyncio.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
            js = await self._connect()  # afresh when the connection was lost during the last attempt
            pending, last_reason = await self._publish_all(js, pending, events, raw, refused)
        if pending:
            raise TransientError(
                f"{len(pending)} of {len(batch)} message(s) not acked after {self.settings.publish_retries + 1}"
                f" attempt(s); the last reason: {last_reason}"
            )
        for event in events:  # settled: the batch will not come back for these
            self._acked.pop(str(event.get("event_id")), None)
        if refused:
            first = refused[min(refused)]
            raise PermanentError(f"{len(refused)} of {len(batch)} event(s) refused; the first: {first}", refused)

    async def _publish_all(
        self, js: Any, positions: list[int], events: list[dict[str, Any]], raw: list[bytes], refused: dict[int, str]
    ) -> tuple[list[int], str]:
        """Publishes the messages at `positions` concurrently and awaits every ack; records refusals and
        acked ids, returns the positions to publish again and the last such failure's reason."""
        s = self.settings
        gate = asyncio.Semaphore(s.max_in_flight)
        retry: list[int] = []
        reasons: list[str] = []

        async def one(position: int) -> None:
            event = events[position]
            event_id = str(event.get("event_id"))
            headers = {"Nats-Msg-Id": event_id, "Content-Type": "application/json"}
            async with gate:
                try:
                    ack = await js.publish(
                        subject_for(s.subject, event),
                        raw[position],
                        timeout=s.ack_timeout,
                        stream=s.stream,
                        headers=headers,
                    )
                except nats.errors.MaxPayloadError:
                    refused[position] = (
                        f"the message is {len(raw[position])} bytes, over the server's max_payload"
                        f" ({self.nc.max_payload})"
                    )
                    return
                except nats.js.errors.APIError as exc:
                    if exc.err_code in PERMANENT_CODES:
                        refused[position] = (
                            f"the stream refused the message: {PERMANENT_CODES[exc.err_code]}"
                            f" (JetStream error {exc.err_code}: {exc.description})"
                        )
                        return
                    retry.append(position)
                    reasons.append(f"JetStream error {exc.err_code} ({exc.code}): {exc.description}")
                    return
                except (nats.errors.Error, TimeoutError, OSError) as exc:
                    retry.append(position)
                    reasons.append(self._transient_reason(exc))
                    return
            if ack.duplicate:
                self.duplicates += 1
            self._acked[event_id] = None

        await asyncio.gather(*(one(p) for p in positions))
        while len(self._acked) > REMEMBERED_IDS:
            self._acked.popitem(last=False)
        return sorted(retry), (reasons[-1] if reasons else "")

    def _transient_reason(self, exc: BaseException) -> str:
        if isinstance(exc, nats.js.errors.NoStreamResponseError):
            self.stream_ready = False  # e.g. a memory stream lost with its server: look it up (add it) again
            return f"no JetStream stream answered (is {self.settings.stream!r} taking these subjects?)"
        if isinstance(exc, TimeoutError):
            return f"no ack within {self.settings.ack_timeout}s (ack_timeout)"
        return f"{type(exc).__name__}: {exc}"

    async def health(self) -> dict[str, Any]:
        return {
            "servers": self.settings.servers,
            "stream": self.settings.stream,
            "subject": self.settings.subject,
            "connected": bool(self.nc is not None and self.nc.is_connected),
            "duplicate_window_s": self.duplicate_window_s,
            "duplicates_acked": self.duplicates,
        }

    async def close(self) -> None:
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.close()
        self.nc = self.js = None
