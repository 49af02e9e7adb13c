"""zabbix backend: trapper values over the Zabbix sender protocol (TCP), the seeds' `zabbix` type.

What each event becomes is in zabbix_items.py (conformance/backends/zabbix.md is normative). The wire:
one TCP connection per request, `ZBXD\\x01` + 8-byte little-endian length + `{"request": "sender
data", "data": [...]}`; the server answers `{"response": "success", "info": "processed: N; failed:
M; total: T; seconds spent: S"}`. Reading the answer (its framing, its numbers) is the official
`zabbix_utils` library's (ZabbixProtocol.parse_async_packet, TrapperResponse). Ours are: the
connection, because its AsyncSender folds "connection refused" and "the server refused the request"
into one exception and puts no timeout on reading the answer; and the request's 13-byte header +
msgspec JSON, because its create_packet formats two debug strings of the whole request eagerly
(textwrap.shorten over the JSON), measured at ~70 ms per 250-value request here, 200 times the
framing itself (test_zabbix_answers_double.py checks the bytes mean the same as the library's).

Attributing failures. The answer gives counts only. Zabbix decides per (host, item key) — unknown or
disabled host, no enabled trapper item with that key, allowed hosts — so each request carries the
values of ONE key (at most `values_per_request`, default 250 = zabbix_sender's own limit per
connection): failed 0 → all delivered; failed = total → the events behind them are dead-lettered
with the reason; anything in between (never seen from a 6.0 server) → those events are dead-lettered
as ambiguous, never counted as delivered and never re-sent here. An event is delivered when all its
values are; one refused value dead-letters the event (its other values stay in Zabbix).

Values the server would take and then drop (text in a numeric item: "processed", then the item
turns unsupported) are refused before sending: a numeric item gets a finite number or nothing.

Errors: connection refused, reset, a timeout (`timeout` s for the whole request), a garbled answer
→ TransientError (the worker retries the batch; values taken during the failed attempt are
remembered, bounded, and not sent again). `{"response": "failed"}` → those events dead-lettered
with the server's `info`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import struct
from collections import OrderedDict
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

import msgspec
from zabbix_utils.common import ZabbixProtocol  # type: ignore[import-untyped]  # no py.typed marker
from zabbix_utils.exceptions import ProcessingError  # type: ignore[import-untyped]
from zabbix_utils.types import TrapperResponse  # type: ignore[import-untyped]

from .base import Backend, Batch, ConfigurationError, PermanentError, TransientError, config_struct
from .zabbix_items import ITEM_NAMES, ItemError, TrapperValue, to_values

DEFAULT_PORT = 10051
#: values per request: zabbix_sender sends at most 250 per connection (VALUES_MAX); the server's own
#: ceiling is the packet size (ZBX_MAX_RECV_DATA_SIZE, 1 GiB), far above 1000 values of <= 64 KB
MAX_VALUES_PER_REQUEST = 1000
#: (event_id, key) pairs the server took during an attempt that then failed, skipped on the retry
REMEMBERED_VALUES = 100_000
#: why Zabbix refuses every value of a key in a request (it answers counts only)
REFUSAL_CAUSES = (
    "no enabled trapper item with such a key on the host, the host unknown, disabled or monitored by a proxy,"
    " or the item's allowed hosts exclude this sender"
)
_KEY_PREFIX = re.compile(r"[0-9A-Za-z_.\-]{1,64}")
_log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode

ItemName = Literal["started", "finished", "failed", "error", "cpu_user_s", "cpu_sys_s", "mem_max_mb"]
assert get_args(ItemName) == ITEM_NAMES, "zabbix_items.ITEM_NAMES and ItemName name the same items"


class ZabbixConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The `config` block (the seeds' `zabbix_server` and `host`, plus optional keys)."""

    zabbix_server: str  # host:port, tcp://host:port or the seeds' http://host:port; port 10051 by default
    host: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]  # the Zabbix host's technical name
    key_prefix: str = "wafer"  # item keys are <key_prefix>.<job|subjob>.<name>
    items: list[ItemName] = msgspec.field(default_factory=lambda: list(get_args(ItemName)))  # values to send
    timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 10.0  # seconds for one request, connect to answer
    values_per_request: Annotated[int, msgspec.Meta(ge=1, le=MAX_VALUES_PER_REQUEST)] = 250


def parse_server(text: str, name: str) -> tuple[str, int]:
    """(host, port) of `zabbix_server`: `host[:port]`, `tcp://host[:port]` or `http://host[:port]`
    (the seeds write a URL although the protocol is plain TCP). ConfigurationError naming the key."""

    def bad(why: str) -> ConfigurationError:
        return ConfigurationError(f"backend {name!r}: config.zabbix_server {why} (got {text!r})")

    given = text.strip()
    if "://" in given:
        scheme = given.split("://", 1)[0].lower()
        if scheme not in ("tcp", "http"):
            raise bad("must be host:port, tcp://host:port or http://host:port (the sender protocol is plain TCP)")
        parts = urlsplit(given)
    else:
        parts = urlsplit("//" + given)
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise bad("must name only a host and a port")
    try:
        port = parts.port
    except ValueError:
        raise bad("has a port that is not 1-65535") from None
    if not parts.hostname:
        raise bad("names no host")
    if port == 0:
        raise bad("has a port that is not 1-65535")
    return parts.hostname, port or DEFAULT_PORT


def request_packet(values: list[TrapperValue]) -> bytes:
    """The sender-data request for `values`: `ZBXD`, flags 0x01 (no compression), the body's length
    and 0 as two little-endian uint32, then the UTF-8 JSON body."""
    body = _encode({"request": "sender data", "data": [v.as_json() for v in values]})
    return struct.pack("<4sBII", b"ZBXD", 0x01, len(body), 0) + body


class _Refused(Exception):
    """The server answered `failed` for the whole request."""


class ZabbixBackend(Backend):
    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self.settings = config_struct(ZabbixConfig, config, name)
        self.address = parse_server(self.settings.zabbix_server, name)
        if not _KEY_PREFIX.fullmatch(self.settings.key_prefix):
            raise ConfigurationError(
                f"backend {name!r}: config.key_prefix must be 1-64 of the characters Zabbix allows in an item"
                f" key (letters, digits, _ - .), got {self.settings.key_prefix!r}"
            )
        if not self.settings.items:
            raise ConfigurationError(f"backend {name!r}: config.items must name at least one item")
        self.items = frozenset(self.settings.items)
        self._taken: OrderedDict[tuple[str, str], None] = OrderedDict()

    async def initialize(self) -> None:
        """Nothing to open: one connection per request (as zabbix_sender does)."""

    async def send_batch(self, batch: Batch) -> None:
        s = self.settings
        refused: dict[int, str] = {}
        refused_keys: dict[int, list[str]] = {}
        by_key: dict[str, list[tuple[int, TrapperValue]]] = {}
        events = batch.events()
        for position, event in enumerate(events):
            try:
                values = to_values(event, s.host, s.key_prefix, self.items)
            except ItemError as exc:
                refused[position] = f"no Zabbix values for this event: {exc}"
                continue
            for value in values:
                if (str(event.get("event_id")), value.key) not in self._taken:
                    by_key.setdefault(value.key, []).append((position, value))
        for key, entries in by_key.items():
            for start in range(0, len(entries), s.values_per_request):
                chunk = entries[start : start + s.values_per_request]
                if self._settle(key, chunk, await self._send(chunk), refused, refused_keys):
                    self._remember(key, chunk, events)
        self._taken.clear()  # settled: this batch does not come back
        for position, keys in refused_keys.items():
            named = ", ".join(repr(k) for k in keys)
            reason = f"Zabbix refused item(s) {named} on host {s.host!r} ({REFUSAL_CAUSES})"
            refused[position] = f"{reason}; {refused[position]}" if position in refused else reason
        if refused:
            first = refused[min(refused)]
            raise PermanentError(f"{len(refused)} of {len(batch)} event(s) refused; the first: {first}", refused)

    async def _send(self, chunk: list[tuple[int, TrapperValue]]) -> dict[str, int] | str:
        """One request; the answer's counts, or the server's reason when it refused the whole request.
        TransientError when the exchange fails (what earlier requests delivered stays remembered)."""
        try:
            return await asyncio.wait_for(self._exchange([v for _, v in chunk]), self.settings.timeout)
        except _Refused as exc:
            return str(exc)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ProcessingError, ValueError) as exc:
            raise TransientError(f"Zabbix server {self._where()}: {type(exc).__name__}: {exc}") from exc

    async def _exchange(self, values: list[TrapperValue]) -> dict[str, int]:
        packet = request_packet(values)
        reader, writer = await asyncio.open_connection(*self.address)
        try:
            writer.write(packet)
            await writer.drain()
            answer = json.loads(await ZabbixProtocol.parse_async_packet(reader, _log, ProcessingError))
        finally:
            writer.close()
            with contextlib.suppress(OSError):  # the server closed first: nothing left to flush
                await writer.wait_closed()
        if not isinstance(answer, dict):
            raise ValueError(f"the answer is not a JSON object: {answer!r:.200}")
        if answer.get("response") != "success":
            raise _Refused(f"the server refused the request: {answer.get('info') or answer!r:.500}")
        info = answer.get("info")
        try:
            counts = TrapperResponse().parse(answer)
            return {k: int(counts[k]) for k in ("processed", "failed", "total")}
        except (AttributeError, KeyError, ProcessingError):  # no match: parse() finds no groups
            raise ValueError(f"the answer's info is not 'processed: N; failed: M; ...': {info!r:.200}") from None

    def _settle(
        self,
        key: str,
        chunk: list[tuple[int, TrapperValue]],
        answer: dict[str, int] | str,
        refused: dict[int, str],
        refused_keys: dict[int, list[str]],
    ) -> bool:
        """True when the server took every value of the request; else adds the reason to each event behind
        it (a refused key to refused_keys, any other reason to refused)."""
        if isinstance(answer, str):
            reason = f"item {key!r}: {answer}"
        elif answer["total"] != len(chunk):
            reason = f"item {key!r}: the server answered for {answer['total']} values, {len(chunk)} were sent"
        elif answer["failed"] == 0:
            return True
        elif answer["failed"] == answer["total"]:
            for position, _ in chunk:
                refused_keys.setdefault(position, []).append(key)
            return False
        else:
            reason = (
                f"Zabbix refused {answer['failed']} of {answer['total']} values for item {key!r} and does not say"
                " which: every event of the request is dead-lettered (the accepted values are in its history)"
            )
        for position, _ in chunk:
            earlier = refused.get(position)
            refused[position] = reason if earlier is None else f"{earlier}; {reason}"
        return False

    def _remember(self, key: str, chunk: list[tuple[int, TrapperValue]], events: list[dict[str, Any]]) -> None:
        for position, _ in chunk:
            self._taken[(str(events[position].get("event_id")), key)] = None
        while len(self._taken) > REMEMBERED_VALUES:
            self._taken.popitem(last=False)

    def _where(self) -> str:
        return f"{self.address[0]}:{self.address[1]}"

    async def health(self) -> dict[str, Any]:
        return {"zabbix_server": self._where(), "host": self.settings.host, "key_prefix": self.settings.key_prefix}

    async def close(self) -> None:
        """Nothing held open between requests."""
