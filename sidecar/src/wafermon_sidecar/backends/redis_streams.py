"""redis backend (Redis Streams): one stream entry per event, `XADD <stream> MAXLEN ~ <maxlen> *`
(conformance/backends/redis.md is the normative shape).

Entry fields: `event` = the event's JSON as ingested, then `event_id`, `site_id`, `entity_type`,
`event_kind`, `status`, `at` (a null one left out) for consumers that filter without decoding JSON.

A batch is one EVALSHA of a Lua script (one round trip, executed atomically by the server): per event
it checks a de-duplication key `<dedup_prefix><event_id>`, and only when the key is absent adds the
entry and sets the key (value: the entry id, `EX dedup_window_s`). So a replay within the window adds
nothing, and a retry after a lost answer does not duplicate. Not MULTI/EXEC: a transaction cannot
make a write depend on a read inside it; not a plain pipeline: it could not either, and a partial
failure would leave no record of what was added. `dedup_window_s: 0` turns the keys off: then a
replay, and the retry of a batch whose answer was lost, adds entries again (at most one batch per
lost answer; consumers de-duplicate on the `event_id` field).

With `pubsub_channel` the script also PUBLISHes each added event's JSON on that channel (placeholders
`{site_id}`, `{entity_type}`, `{event_kind}`, `{status}`): live listeners, at most once, nothing kept
for a listener that is away (the stream is the durable record).

An event over `max_event_bytes` is dead-lettered without being sent. A server that is down, out of
memory (`OOM`, noeviction), or holding another type at the stream's key keeps the batch for later
(the lag shows it, the last error says why).
"""

from __future__ import annotations

import ssl
import string
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec
import redis.asyncio
import redis.exceptions

from .base import Backend, Batch, ConfigurationError, PermanentError, TransientError, config_struct
from .rabbitmq import redact_url

#: the flat fields next to `event`, in this order
FLAT_FIELDS = ("event_id", "site_id", "entity_type", "event_kind", "status", "at")
_PLACEHOLDERS = {"site_id", "entity_type", "event_kind", "status"}

# ARGV: maxlen, window seconds (0: no de-duplication), then per event: its id, its channel ('' for
# none), its JSON, the number of flat field/value pairs, the pairs. Returns {added, skipped}.
# `#!lua` (Redis 7+): a server out of memory refuses the whole script before it writes anything.
ADD_SCRIPT = """#!lua
local stream, prefix = KEYS[1], KEYS[2]
local maxlen, window = ARGV[1], tonumber(ARGV[2])
local added, skipped, i = 0, 0, 3
while i <= #ARGV do
  local id, channel, json, pairs = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local fields = {'event', json}
  for j = 1, 2 * pairs do fields[2 + j] = ARGV[i + 3 + j] end
  i = i + 4 + 2 * pairs
  if window > 0 and redis.call('EXISTS', prefix .. id) == 1 then
    skipped = skipped + 1
  else
    local entry = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', unpack(fields))
    if window > 0 then redis.call('SET', prefix .. id, entry, 'EX', window) end
    if channel ~= '' then redis.call('PUBLISH', channel, json) end
    added = added + 1
  end
end
return {added, skipped}
"""


class RedisConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The `config` block."""

    url: str = ""  # redis://[user:password@]host:6379/0, or rediss:// for TLS (secrets as ${ENV})
    stream: str = "wafermon:events"  # the stream's key
    maxlen: Annotated[int, msgspec.Meta(ge=100, le=10**10)] = 1_000_000  # MAXLEN ~ cap (entries)
    dedup_window_s: Annotated[int, msgspec.Meta(ge=0, le=30 * 86400)] = 86400  # 0: no de-duplication
    dedup_prefix: str | None = None  # default `<stream>:seen:`
    pubsub_channel: str | None = None  # also PUBLISH each added event here (placeholders allowed)
    max_event_bytes: Annotated[int, msgspec.Meta(ge=1024, le=512 * 1024 * 1024)] = 1024 * 1024
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=600)] = 30.0  # one batch's round trip
    connect_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=600)] = 10.0
    ca_file: str | None = None  # TLS (rediss://): the CA bundle that signed the server's certificate
    cert_file: str | None = None  # TLS client certificate (with key_file)
    key_file: str | None = None
    verify_tls: bool = True  # false: no certificate or host name check (test servers only)


def entry_fields(event: Mapping[str, Any], raw: bytes) -> list[tuple[str, bytes]]:
    """The stream entry's field/value pairs for one event: `event` (its JSON as given), then the flat
    fields that are not null, as UTF-8 text."""
    fields = [("event", raw)]
    for name in FLAT_FIELDS:
        value = event.get(name)
        if value is not None:
            fields.append((name, str(value).encode()))
    return fields


def channel_name(template: str, event: Mapping[str, Any]) -> str:
    """`template` with `{site_id}`, `{entity_type}`, `{event_kind}`, `{status}` from the event (a null
    one as `_`)."""
    return template.format_map({name: event.get(name) or "_" for name in _PLACEHOLDERS})


def _check_template(template: str, name: str) -> None:
    try:
        used = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError as exc:
        raise ConfigurationError(f"backend {name!r}: config.pubsub_channel is not a valid template: {exc}") from None
    unknown = used - _PLACEHOLDERS
    if unknown:
        raise ConfigurationError(
            f"backend {name!r}: config.pubsub_channel uses {sorted(unknown)}; known: {sorted(_PLACEHOLDERS)}"
        )


class RedisStreamsBackend(Backend):
    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self.settings = config_struct(RedisConfig, config, name)
        s = self.settings
        parts = urlsplit(s.url)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ConfigurationError(
                f"backend {name!r}: config.url must be a redis:// or rediss:// URL with a host (got {s.url!r})"
            )
        if not s.stream:
            raise ConfigurationError(f"backend {name!r}: config.stream must not be empty")
        if (s.cert_file is None) != (s.key_file is None):
            raise ConfigurationError(f"backend {name!r}: config.cert_file and config.key_file go together")
        if parts.scheme == "redis" and (s.ca_file or s.cert_file):
            raise ConfigurationError(f"backend {name!r}: config.ca_file/cert_file need a rediss:// url")
        if s.pubsub_channel is not None:
            _check_template(s.pubsub_channel, name)
        self.dedup_prefix = s.dedup_prefix if s.dedup_prefix is not None else f"{s.stream}:seen:"
        self.tls = parts.scheme == "rediss"
        self.client: redis.asyncio.Redis | None = None
        self.script: Any = None
        self.added = 0
        self.skipped = 0

    async def initialize(self) -> None:
        s = self.settings
        tls: dict[str, Any] = {}
        if self.tls:
            tls = {
                "ssl_ca_certs": s.ca_file,
                "ssl_certfile": s.cert_file,
                "ssl_keyfile": s.key_file,
                "ssl_cert_reqs": ssl.CERT_REQUIRED if s.verify_tls else ssl.CERT_NONE,
                "ssl_check_hostname": s.verify_tls,
            }
        # No client-side retries: the delivery worker retries the batch with its own backoff.
        self.client = redis.asyncio.Redis.from_url(
            s.url, socket_timeout=s.timeout_s, socket_connect_timeout=s.connect_timeout_s, retry=None, **tls
        )
        self.script = self.client.register_script(ADD_SCRIPT)

    async def send_batch(self, batch: Batch) -> None:
        assert self.client is not None and self.script is not None, "initialize() was not called"
        s = self.settings
        events = batch.events()
        raws = batch.raw
        refused: dict[int, str] = {}
        args: list[Any] = [s.maxlen, s.dedup_window_s]
        for position, (event, raw) in enumerate(zip(events, raws, strict=True)):
            if len(raw) > s.max_event_bytes:
                refused[position] = f"event of {len(raw)} bytes over config.max_event_bytes ({s.max_event_bytes})"
                continue
            fields = entry_fields(event, raw)
            channel = channel_name(s.pubsub_channel, event) if s.pubsub_channel is not None else ""
            args += [str(event.get("event_id")), channel, raw, len(fields) - 1]
            for field, value in fields[1:]:
                args += [field, value]
        if len(args) > 2:
            await self._run(args)
        if refused:
            first = refused[min(refused)]
            raise PermanentError(f"{len(refused)} of {len(batch)} event(s) refused; the first: {first}", refused)

    async def _run(self, args: list[Any]) -> None:
        where = f"{redact_url(self.settings.url)} stream {self.settings.stream!r}"
        try:
            added, skipped = await self.script(keys=[self.settings.stream, self.dedup_prefix], args=args)
        except redis.exceptions.OutOfMemoryError as exc:
            raise TransientError(f"{where}: the server is out of memory (OOM {exc})") from exc
        except redis.exceptions.ResponseError as exc:
            text = str(exc)
            if "WRONGTYPE" in text:
                raise TransientError(f"{where}: the key holds another type than a stream ({text})") from exc
            raise TransientError(f"{where}: the server refused the batch: {text}") from exc
        except (redis.exceptions.RedisError, OSError) as exc:
            raise TransientError(f"{where}: {type(exc).__name__}: {exc}") from exc
        self.added += int(added)
        self.skipped += int(skipped)

    async def health(self) -> dict[str, Any]:
        return {
            "url": redact_url(self.settings.url),
            "stream": self.settings.stream,
            "added_entries": self.added,
            "skipped_duplicates": self.skipped,
        }

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
