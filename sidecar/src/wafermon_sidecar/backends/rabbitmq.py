"""rabbitmq backend: one persistent AMQP 0-9-1 message per event into a topic exchange, with publisher
confirms (conformance/backends/rabbitmq.md is the normative shape).

- body: the event's JSON bytes as ingested; `message_id` = event_id, `content_type` application/json,
  `delivery_mode` 2 (persistent), headers `schema`, `event_kind`, `entity_type`;
- routing key `<site_id>.<entity_type>.<event_kind>.<status>`, each part escaped (routing_key_part);
- the exchange (config `exchange`) is declared as a durable topic exchange when missing.

A batch is published on one channel in confirm mode, every message in flight at once, and send_batch
returns when the broker has confirmed each. Per message: ack → delivered; nack (e.g. a queue at its
`x-max-length` with `reject-publish`) → sent again, later; returned as unroutable (only with
`mandatory: true`) → sent again later, or dead-lettered when `unroutable: dead_letter`; no confirm
within `confirm_timeout_s` → the publish stays in flight and the batch's retry awaits it (a broker
blocking publishers in a memory alarm gets each message once). When the channel dies under a batch
while the connection lives (e.g. the broker refuses a message over its `max_message_size` with 406),
the unconfirmed rest is sent one at a time: the message it refuses again is dead-lettered alone with
the broker's reason. A body over `max_message_bytes` is dead-lettered without being sent.

RabbitMQ keeps no record of message ids, so it cannot drop a duplicate. The backend remembers the
last `replay_window_events` confirmed event ids and does not publish them again (a replay inside the
window, and the retry of a partly confirmed batch, publish nothing twice). Beyond that window, after
a restart of the sidecar (at most the events of one delivery batch whose cursor move did not
happen), and after a lost confirm (connection or channel gone: at most the unconfirmed messages of
the batch), a message can arrive twice: consumers de-duplicate on `message_id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import OrderedDict
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import aio_pika.abc
import aiormq.exceptions
import msgspec

from . import tls
from .base import Backend, BackendError, Batch, ConfigurationError, PermanentError, TransientError, config_struct

#: the longest a routing-key part may be after escaping (bytes): 4 parts and 3 dots fit AMQP's 255
MAX_PART_BYTES = 63
#: unconfirmed publishes kept across a retry (see _publish_all); beyond it the connection is dropped
MAX_IN_FLIGHT = 100_000
#: characters escaped as %XX in a routing-key part: the separator, the escape itself, binding wildcards
_ESCAPED = {"%": "%25", ".": "%2E", "*": "%2A", "#": "%23"}
#: an absent or empty part
EMPTY_PART = "_"

_decode = msgspec.json.Decoder().decode


class RabbitMQConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The `config` block."""

    url: str = ""  # amqp://user:password@host:5672/vhost, or amqps:// for TLS (secrets as ${ENV})
    exchange: str = "wafermon.events"  # the topic exchange
    declare_exchange: bool = True  # declare it (durable topic) when missing; false: it must exist
    mandatory: bool = False  # publish mandatory: the broker returns a message no queue is bound for
    unroutable: Literal["retry", "dead_letter"] = "retry"  # what a returned message becomes
    confirm_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=600)] = 30.0  # wait for a batch's confirms
    connect_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=600)] = 10.0
    # the broker's max_message_size (RabbitMQ 4.x default: 16 MiB); a bigger event is dead-lettered
    # without being sent, since the broker's own refusal closes the channel under the batch
    max_message_bytes: Annotated[int, msgspec.Meta(ge=1024, le=536_870_912)] = 16 * 1024 * 1024
    replay_window_events: Annotated[int, msgspec.Meta(ge=0, le=10_000_000)] = 100_000  # confirmed ids kept
    ca_file: str | None = None  # TLS: the CA bundle that signed the broker's certificate
    cert_file: str | None = None  # TLS client certificate (with key_file)
    key_file: str | None = None
    verify_tls: bool = True  # false: no certificate or host name check (test brokers only)


def routing_key_part(value: Any) -> str:
    """One word of the routing key: `_` for null/empty, `%`, `.`, `*`, `#` as %25 %2E %2A %23, a value
    that is exactly `_` as %5F; then cut to MAX_PART_BYTES bytes of UTF-8 (never inside a character
    or an escape)."""
    if value is None or value == "":
        return EMPTY_PART
    text = str(value)
    if text == EMPTY_PART:
        return "%5F"
    escaped = "".join(_ESCAPED.get(ch, ch) for ch in text)
    if len(escaped.encode()) <= MAX_PART_BYTES:
        return escaped
    out: list[str] = []
    size = 0
    for ch in text:
        piece = _ESCAPED.get(ch, ch)
        size += len(piece.encode())
        if size > MAX_PART_BYTES:
            break
        out.append(piece)
    return "".join(out)


def routing_key(event: Mapping[str, Any]) -> str:
    """`<site_id>.<entity_type>.<event_kind>.<status>`, each part escaped by routing_key_part."""
    parts = (event.get("site_id"), event.get("entity_type"), event.get("event_kind"), event.get("status"))
    return ".".join(routing_key_part(p) for p in parts)


def message_properties(event: Mapping[str, Any]) -> dict[str, Any]:
    """The AMQP basic properties of one event's message."""
    headers = {name: event[name] for name in ("schema", "event_kind", "entity_type") if event.get(name) is not None}
    return {
        "message_id": str(event.get("event_id")),
        "content_type": "application/json",
        "delivery_mode": 2,
        "app_id": "wafermon-sidecar",
        "type": "wafermon.event",
        "headers": headers,
    }


def redact_url(url: str) -> str:
    """The URL without its password (for health and errors)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RabbitMQBackend(Backend):
    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self.settings = config_struct(RabbitMQConfig, config, name)
        s = self.settings
        parts = urlsplit(s.url)
        if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
            raise ConfigurationError(
                f"backend {name!r}: config.url must be an amqp:// or amqps:// URL with a host (got {s.url!r})"
            )
        if not s.exchange or len(s.exchange.encode()) > 255:
            raise ConfigurationError(f"backend {name!r}: config.exchange must be 1-255 bytes (got {s.exchange!r})")
        if (s.cert_file is None) != (s.key_file is None):
            raise ConfigurationError(f"backend {name!r}: config.cert_file and config.key_file go together")
        if parts.scheme == "amqp" and (s.ca_file or s.cert_file):
            raise ConfigurationError(f"backend {name!r}: config.ca_file/cert_file need an amqps:// url")
        self.ssl_context = self._ssl_context() if parts.scheme == "amqps" else None
        self.connection: aio_pika.abc.AbstractConnection | None = None
        self.channel: aio_pika.abc.AbstractChannel | None = None
        self.exchange: aio_pika.abc.AbstractExchange | None = None
        self._confirmed: OrderedDict[str, None] = OrderedDict()
        self._in_flight: dict[str, asyncio.Future[None]] = {}  # event_id → its unconfirmed publish
        self.published = 0

    def _ssl_context(self) -> ssl.SSLContext:
        s = self.settings
        try:  # built with the backend: an unusable file fails the configuration check
            return tls.client_context(self.name, s.ca_file, s.cert_file, s.key_file, s.verify_tls, "verify_tls")
        except TransientError as exc:
            raise ConfigurationError(str(exc)) from None

    async def initialize(self) -> None:
        """Nothing to open yet: the first send_batch connects (a broker down at start-up is a lag, not a crash)."""

    def _connection_open(self) -> bool:
        return self.connection is not None and not self.connection.is_closed

    def _channel_open(self) -> bool:
        """aio-pika raises RuntimeError for a channel of a closed connection: that is not open either."""
        try:
            return self.exchange is not None and self.channel is not None and not self.channel.is_closed
        except RuntimeError:
            return False

    async def _ensure_exchange(self) -> aio_pika.abc.AbstractExchange:
        """The exchange on an open confirm-mode channel: a new channel on the open connection, or a new
        connection when that is closed too. TransientError when the broker cannot be reached or the
        exchange is unusable."""
        if self._connection_open() and self._channel_open():
            assert self.exchange is not None
            return self.exchange
        s = self.settings
        if self.connection is not None and not self._connection_open():
            await self._drop_connection()
        else:
            await self._drop_channel()
        try:
            if self.connection is None:
                self.connection = await aio_pika.connect(
                    s.url,
                    timeout=s.connect_timeout_s,
                    ssl_context=self.ssl_context,
                    client_properties={"connection_name": f"wafermon-sidecar {self.name}"},
                )
            self.channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
            if s.declare_exchange and not s.exchange.startswith("amq."):
                self.exchange = await self.channel.declare_exchange(
                    s.exchange, aio_pika.ExchangeType.TOPIC, durable=True
                )
            else:
                self.exchange = await self.channel.get_exchange(s.exchange, ensure=True)
        except aiormq.exceptions.ChannelPreconditionFailed as exc:
            await self._drop_channel()
            raise TransientError(
                f"exchange {s.exchange!r} exists with other settings than a durable topic exchange: {exc}"
            ) from exc
        except aiormq.exceptions.ChannelNotFoundEntity as exc:
            await self._drop_channel()
            raise TransientError(f"exchange {s.exchange!r} does not exist (declare_exchange is false)") from exc
        except (aiormq.exceptions.AMQPError, OSError, TimeoutError) as exc:
            await self._drop_connection()
            raise TransientError(f"{redact_url(s.url)}: {type(exc).__name__}: {exc}") from exc
        return self.exchange

    async def _drop_channel(self) -> None:
        channel, self.channel, self.exchange = self.channel, None, None
        if channel is not None:
            # Bounded: a broker that blocks publishers (memory/disk alarm) never answers the close.
            with contextlib.suppress(Exception):  # already broken: we only let go of it
                await asyncio.wait_for(channel.close(), self.settings.connect_timeout_s)

    async def _drop_connection(self) -> None:
        for task in self._in_flight.values():
            task.cancel()  # their channel is gone: a retry publishes them again
        self._in_flight.clear()
        await self._drop_channel()
        connection, self.connection = self.connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # already broken: we only let go of it
                await asyncio.wait_for(connection.close(), self.settings.connect_timeout_s)

    async def _publish(self, exchange: aio_pika.abc.AbstractExchange, raw: bytes, event: Mapping[str, Any]) -> None:
        message = aio_pika.Message(raw, **message_properties(event))
        await exchange.publish(message, routing_key(event), mandatory=self.settings.mandatory)

    async def send_batch(self, batch: Batch) -> None:
        try:
            await self._send(batch)
        except BackendError:
            raise
        except Exception as exc:  # the client's own state errors (e.g. a connection closed under it)
            await self._drop_connection()
            raise TransientError(f"{redact_url(self.settings.url)}: {type(exc).__name__}: {exc}") from exc

    async def _send(self, batch: Batch) -> None:
        events = batch.events()
        raws = batch.raw
        refused: dict[int, str] = {}
        retry: dict[int, str] = {}
        limit = self.settings.max_message_bytes
        pending: list[int] = []
        for i, e in enumerate(events):
            if str(e.get("event_id")) in self._confirmed:
                continue  # confirmed before: a replay, or the retry of a partly confirmed batch
            if len(raws[i]) > limit:
                refused[i] = f"message of {len(raws[i])} bytes over config.max_message_bytes ({limit})"
                continue
            pending.append(i)
        results = await self._publish_all(pending, raws, events) if pending else []
        unsettled: list[int] = []
        for position, result in zip(pending, results, strict=True):
            if result is None:
                self._remember(events[position])
            elif isinstance(result, aiormq.exceptions.PublishError):
                reason = self._unroutable(events[position])
                (refused if self.settings.unroutable == "dead_letter" else retry)[position] = reason
            elif isinstance(result, aiormq.exceptions.DeliveryError):
                retry[position] = "the broker nacked the message (e.g. a queue at its length limit)"
            else:
                unsettled.append(position)
        if unsettled:
            if not self._connection_open():
                await self._drop_connection()
                raise TransientError(
                    f"{len(unsettled)} message(s) unconfirmed: {results[pending.index(unsettled[0])]!r}"
                )
            # The connection lives, the channel died under the batch: which message (if any) did it?
            # Which exception each publish got depends on timing, so ask each message alone.
            await self._drop_channel()
            await self._one_at_a_time(unsettled, raws, events, refused, retry)
        if retry:
            first = retry[min(retry)]
            raise TransientError(f"{len(retry)} of {len(batch)} message(s) to send again; the first: {first}")
        if refused:
            first = refused[min(refused)]
            raise PermanentError(f"{len(refused)} of {len(batch)} message(s) refused; the first: {first}", refused)

    async def _publish_all(
        self, pending: list[int], raws: list[bytes], events: list[dict[str, Any]]
    ) -> list[BaseException | None]:
        """Publishes `pending` all at once on one channel; per message None (confirmed) or its error.

        A message still unconfirmed after confirm_timeout_s stays in flight (TransientError): the retry
        of the batch awaits the same publish instead of sending the message again, so a broker that
        blocks publishers for a while (memory or disk alarm) gets each message once."""
        exchange: aio_pika.abc.AbstractExchange | None = None
        tasks: list[asyncio.Future[None]] = []
        for position in pending:
            event_id = str(events[position].get("event_id"))
            task = self._in_flight.get(event_id)
            if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
                exchange = exchange or await self._ensure_exchange()
                task = asyncio.ensure_future(self._publish(exchange, raws[position], events[position]))
                self._in_flight[event_id] = task
            tasks.append(task)
        _, late = await asyncio.wait(tasks, timeout=self.settings.confirm_timeout_s)
        if late:
            for position, task in zip(pending, tasks, strict=True):
                if task.done() and not task.cancelled() and task.exception() is None:
                    self._settled(events[position])  # confirmed in time
            if len(self._in_flight) > MAX_IN_FLIGHT:  # a batch mix-up: let go of all, send again
                await self._drop_connection()
            raise TransientError(
                f"the broker did not confirm {len(late)} of {len(pending)} message(s) within"
                f" {self.settings.confirm_timeout_s}s (they stay in flight: the retry awaits them)"
            )
        for position in pending:
            self._in_flight.pop(str(events[position].get("event_id")), None)
        return [None if task.cancelled() else task.exception() for task in tasks]

    def _settled(self, event: Mapping[str, Any]) -> None:
        self._in_flight.pop(str(event.get("event_id")), None)
        self._remember(event)

    async def _one_at_a_time(
        self, positions: list[int], raws: list[bytes], events: list[dict[str, Any]], refused: dict[int, str],
        retry: dict[int, str],
    ) -> None:  # fmt: skip
        """Sends each message again alone, awaiting its confirm: the one the broker closes the channel
        over (406) is refused for good; the others are delivered."""
        for position in positions:
            exchange = await self._ensure_exchange()
            try:
                await asyncio.wait_for(
                    self._publish(exchange, raws[position], events[position]), self.settings.confirm_timeout_s
                )
                self._remember(events[position])
            except aiormq.exceptions.ChannelPreconditionFailed as exc:
                await self._drop_channel()
                refused[position] = f"the broker refused the message: {exc}"
            except aiormq.exceptions.PublishError:
                reason = self._unroutable(events[position])
                (refused if self.settings.unroutable == "dead_letter" else retry)[position] = reason
            except aiormq.exceptions.DeliveryError:
                retry[position] = "the broker nacked the message (e.g. a queue at its length limit)"
            except (aiormq.exceptions.AMQPError, OSError, TimeoutError) as exc:
                await self._drop_connection()
                raise TransientError(f"{redact_url(self.settings.url)}: {type(exc).__name__}: {exc}") from exc

    def _unroutable(self, event: Mapping[str, Any]) -> str:
        return f"unroutable: no queue bound to exchange {self.settings.exchange!r} for {routing_key(event)!r}"

    def _remember(self, event: Mapping[str, Any]) -> None:
        self.published += 1
        if self.settings.replay_window_events == 0:
            return
        self._confirmed[str(event.get("event_id"))] = None
        while len(self._confirmed) > self.settings.replay_window_events:
            self._confirmed.popitem(last=False)

    async def health(self) -> dict[str, Any]:
        return {
            "url": redact_url(self.settings.url),
            "exchange": self.settings.exchange,
            "connected": self.connection is not None and not self.connection.is_closed,
            "confirmed_messages": self.published,
        }

    async def close(self) -> None:
        await self._drop_connection()
