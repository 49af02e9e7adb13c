"""s3 backend: objects of gzip NDJSON (or Parquet) under Hive-style partitions, one object per
(site, UTC hour, span of spool sequence numbers). conformance/backends/s3.md is the normative shape.

Key: `<prefix>/site=<site_id>/date=YYYY-MM-DD/hour=HH/<first>-<last>.ndjson.gz` (`.parquet`), where
site/date/hour come from the event itself (`site_id`, `at` in UTC), so a reader prunes by site and
time, and `<first>-<last>` (12 digits each) is the SPAN of spool sequence numbers the object covers:
span k holds seqs k·N … k·N+N−1 (N = `object_events`). Object boundaries are therefore a function
of each event's spool seq alone, never of how the delivery worker happened to cut its batches:

- a batch holding a whole span writes that span's objects at once (one PUT each);
- a batch holding part of a span writes what it has; the next batch completes the object by
  rewriting it with the union (from memory; after a restart, from the object read back). Events are
  merged on `event_id` and ordered by (`at`, `event_id`), and the gzip stream carries no time, so
  the finished object's bytes are the same whatever the batches were: a replay (a restart from an
  older cursor, a retried batch) rewrites identical objects, or skips the PUT when nothing is new.

Large objects (over `multipart_threshold_bytes`) go up as a multipart upload in parts of
`multipart_part_bytes`. `sse` asks S3 for server-side encryption on every PUT (the request header
`x-amz-server-side-encryption`, with `x-amz-server-side-encryption-aws-kms-key-id` for `aws:kms`).

Failures: any refusal by S3 concerns the whole request (access, bucket, KMS key, throttling, 5xx)
and is retried (TransientError). The only per-event refusal is this backend's own: an event without
a usable `site_id` or `at` has no partition and is dead-lettered alone.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

import msgspec
from botocore.exceptions import ClientError

from .aws import AwsClient, AwsClientConfig, as_transient, check_client_config, error_code
from .base import Backend, Batch, ConfigurationError, PermanentError, config_struct

MIB = 1024 * 1024
#: S3's rules: a key is at most 1024 bytes; a part (but the last) at least 5 MiB, at most 5 GiB.
MAX_KEY_BYTES = 1024
MIN_PART_BYTES = 5 * MIB
MAX_PART_BYTES = 5 * 1024 * MIB
MAX_PREFIX_BYTES = 400  # leaves room for the longest partition (a 128-character site) under 1024
SEQ_DIGITS = 12
#: Hive's default partition name: a value that is absent.
NO_VALUE = "__HIVE_DEFAULT_PARTITION__"
_AT = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}):\d{2}:\d{2}(\.\d+)?Z$")
# Characters Hive and Spark escape in a partition value (FileUtils.escapePathName), plus controls.
_HIVE_ESCAPE = frozenset("\"#%'*/:=?\\\x7f{}[]^") | frozenset(chr(c) for c in range(0x20))
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_EXTENSION = {"ndjson": ".ndjson.gz", "parquet": ".parquet"}
_CONTENT_TYPE = {"ndjson": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}
_decode = msgspec.json.Decoder().decode
#: What S3 answers a create-only PUT when the key exists (409: a concurrent conditional write).
_EXISTS = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})


class S3Config(AwsClientConfig, forbid_unknown_fields=True, kw_only=True):
    """The `config` block: the AWS client keys plus these."""

    bucket: str = ""
    prefix: str = "wafermon"  # the keys' first part; no leading or trailing "/"
    format: Literal["ndjson", "parquet"] = "ndjson"  # parquet needs pyarrow (extra `parquet`)
    object_events: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 500  # spool seqs per span (memory: one span)
    multipart_threshold_bytes: Annotated[int, msgspec.Meta(ge=1)] = 16 * MIB  # larger objects: multipart
    multipart_part_bytes: Annotated[int, msgspec.Meta(ge=MIN_PART_BYTES, le=MAX_PART_BYTES)] = 8 * MIB
    sse: Literal["AES256", "aws:kms"] | None = None  # server-side encryption asked on every PUT
    sse_kms_key_id: str | None = None  # the KMS key (id, ARN or alias) for sse: aws:kms
    gzip_level: Annotated[int, msgspec.Meta(ge=1, le=9)] = 6


def escape_partition_value(value: str) -> str:
    """`value` as a Hive partition value: the characters Hive escapes as %XX, the rest as it is."""
    return "".join(f"%{ord(c):02X}" if c in _HIVE_ESCAPE else c for c in value)


def partition(event: Mapping[str, Any]) -> tuple[str, str, str]:
    """(site, date, hour) of an event, site escaped. ValueError naming what is wrong."""
    site = event.get("site_id")
    if site is not None and (not isinstance(site, str) or not site):
        raise ValueError(f"site_id {site!r} is not a non-empty string")
    at = event.get("at")
    match = _AT.match(at) if isinstance(at, str) else None
    if match is None:
        raise ValueError(f"at {at!r} is not an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SS[.ffffff]Z)")
    return (escape_partition_value(site) if site else NO_VALUE), match.group(1), match.group(2)


def span_of(seq: int, object_events: int) -> tuple[int, int]:
    """The first and last spool seq of the span holding `seq`."""
    first = seq // object_events * object_events
    return first, first + object_events - 1


def object_key(prefix: str, event: Mapping[str, Any], seq: int, object_events: int, fmt: str = "ndjson") -> str:
    """The key of the object that holds `event`, whose spool sequence number is `seq`."""
    site, date, hour = partition(event)
    first, last = span_of(seq, object_events)
    name = f"{first:0{SEQ_DIGITS}d}-{last:0{SEQ_DIGITS}d}{_EXTENSION[fmt]}"
    head = f"{prefix}/" if prefix else ""
    return f"{head}site={site}/date={date}/hour={hour}/{name}"


def order_key(raw: bytes) -> tuple[str, str]:
    event = _decode(raw)
    return str(event.get("at")), str(event.get("event_id"))


def merged(existing: Iterable[bytes], new: Iterable[bytes]) -> list[bytes]:
    """The union of two lists of event JSON on event_id (the first copy wins), ordered by (at, event_id)."""
    by_id: dict[str, tuple[tuple[str, str], bytes]] = {}
    for raw in (*existing, *new):
        key = order_key(raw)
        by_id.setdefault(key[1], (key, raw))
    return [raw for _, raw in sorted(by_id.values())]


def encode_ndjson(events: list[bytes], level: int = 6) -> bytes:
    """gzip NDJSON, one event per line; the gzip header's time is 0 so equal events give equal bytes."""
    return gzip.compress(b"".join(raw + b"\n" for raw in events), compresslevel=level, mtime=0)


def decode_ndjson(body: bytes) -> list[bytes]:
    return [line for line in gzip.decompress(body).split(b"\n") if line]


PARQUET_COLUMNS = (
    "event_id",
    "at",
    "site_id",
    "app_name",
    "entity_type",
    "event_kind",
    "status",
    "entity_id",
    "parent_id",
    "duration_s",
    "cpu_user_s",
    "mem_max_mb",
    "event",
)


def encode_parquet(events: list[bytes]) -> bytes:
    """One Parquet file: the flat columns (PARQUET_COLUMNS) and the whole event as JSON text in `event`."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    rows = [_decode(raw) for raw in events]

    def column(name: str) -> list[Any]:
        return [row.get(name) for row in rows]

    def metric(name: str) -> list[float | None]:
        values = []
        for row in rows:
            value = (row.get("metrics") or {}).get(name)
            values.append(float(value) if isinstance(value, int | float) else None)
        return values

    table = pa.table(
        {
            "event_id": pa.array(column("event_id"), pa.string()),
            "at": pa.array(column("at"), pa.string()).cast(pa.timestamp("us", tz="UTC")),
            "site_id": pa.array(column("site_id"), pa.string()),
            "app_name": pa.array([(row.get("app") or {}).get("name") for row in rows], pa.string()),
            "entity_type": pa.array(column("entity_type"), pa.string()),
            "event_kind": pa.array(column("event_kind"), pa.string()),
            "status": pa.array(column("status"), pa.string()),
            "entity_id": pa.array(column("entity_id"), pa.string()),
            "parent_id": pa.array(column("parent_id"), pa.string()),
            "duration_s": pa.array(metric("duration_s"), pa.float64()),
            "cpu_user_s": pa.array(metric("cpu_user_s"), pa.float64()),
            "mem_max_mb": pa.array(metric("mem_max_mb"), pa.float64()),
            "event": pa.array([raw.decode() for raw in events], pa.string()),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def decode_parquet(body: bytes) -> list[bytes]:
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(body), columns=["event"])
    return [str(text).encode() for text in table.column("event").to_pylist()]


class _Span:
    """What this process knows of one span that is not finished yet: the events of each of its
    objects, complete for the keys it has written or read, and the seq it knows the span from."""

    __slots__ = ("known_from", "objects")

    def __init__(self, known_from: int) -> None:
        self.known_from = known_from
        self.objects: dict[str, list[bytes]] = {}


class S3Backend(Backend):
    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        s = self.settings = config_struct(S3Config, config, name)
        check_client_config(s, name)
        if not _BUCKET.match(s.bucket) or ".." in s.bucket:
            raise ConfigurationError(
                f"backend {name!r}: config.bucket must be an S3 bucket name (3-63 characters of a-z 0-9 . -,"
                f" starting and ending with a letter or digit), got {s.bucket!r}"
            )
        self.prefix = s.prefix.strip("/")
        if len(self.prefix.encode()) > MAX_PREFIX_BYTES or "//" in self.prefix:
            raise ConfigurationError(
                f"backend {name!r}: config.prefix must be at most {MAX_PREFIX_BYTES} bytes without empty"
                f" parts ('//'), got {s.prefix!r}"
            )
        if (s.sse == "aws:kms") != (s.sse_kms_key_id is not None) and s.sse_kms_key_id is not None:
            raise ConfigurationError(f"backend {name!r}: config.sse_kms_key_id needs config.sse: aws:kms")
        if s.format == "parquet":
            try:
                import pyarrow.parquet  # noqa: F401
            except ImportError:
                raise ConfigurationError(
                    f"backend {name!r}: config.format parquet needs pyarrow (pip install 'wafermon-sidecar[parquet]')"
                ) from None
        self.aws = AwsClient("s3", s, s3={"addressing_style": "path"} if s.endpoint_url else {})
        self._spans: dict[int, _Span] = {}
        self.objects_written = 0
        self.multipart_uploads = 0
        self.puts_skipped = 0

    def encode(self, events: list[bytes]) -> bytes:
        if self.settings.format == "parquet":
            return encode_parquet(events)
        return encode_ndjson(events, self.settings.gzip_level)

    def decode(self, body: bytes) -> list[bytes]:
        return decode_parquet(body) if self.settings.format == "parquet" else decode_ndjson(body)

    def _sse(self) -> dict[str, str]:
        s = self.settings
        if s.sse is None:
            return {}
        headers: dict[str, str] = {"ServerSideEncryption": s.sse}
        if s.sse_kms_key_id is not None:
            headers["SSEKMSKeyId"] = s.sse_kms_key_id
        return headers

    async def initialize(self) -> None:
        await self.aws.open()

    async def send_batch(self, batch: Batch) -> None:
        n = self.settings.object_events
        refused: dict[int, str] = {}
        pieces: dict[str, list[bytes]] = {}
        span_of_key: dict[str, int] = {}
        for position, raw in enumerate(batch.raw):
            seq = batch.first_seq + position
            try:
                key = object_key(self.prefix, _decode(raw), seq, n, self.settings.format)
            except (ValueError, msgspec.DecodeError, AttributeError) as exc:
                refused[position] = f"no S3 partition for this event: {exc}"
                continue
            if len(key.encode()) > MAX_KEY_BYTES:  # cannot happen with a checked prefix; said, not sent
                refused[position] = f"its object key would be {len(key.encode())} bytes, S3 takes {MAX_KEY_BYTES}"
                continue
            pieces.setdefault(key, []).append(raw)
            span_of_key[key] = seq // n
        for key, events in pieces.items():
            await self._write(key, span_of_key[key], batch.first_seq, events)
        self._forget_finished(batch.first_seq + len(batch) - 1)
        if refused:
            first = refused[min(refused)]
            raise PermanentError(f"{len(refused)} of {len(batch)} event(s) refused; the first: {first}", refused)

    async def _write(self, key: str, span: int, batch_first: int, events: list[bytes]) -> None:
        """Writes the object `key` as the union of what it holds and `events` (see the module docstring)."""
        span_first = span * self.settings.object_events
        known = self._spans.get(span)
        if known is None:
            known = self._spans[span] = _Span(max(batch_first, span_first))
        existing = known.objects.get(key)
        if existing is None and known.known_from > span_first:
            # Events of this object that come before what this process knows may be in S3 already.
            existing = await self._read(key)
        elif existing is None:
            # This batch holds the span's start: the object is new, unless this is a replay. The
            # create-only PUT (If-None-Match: *) tells which, without a read in the common case.
            content = merged([], events)
            if await self._put(key, self.encode(content), create_only=True):
                known.objects[key] = content
                return
            existing = await self._read(key)
        content = merged(existing, events)
        if content == existing:
            self.puts_skipped += 1  # a replay: the object holds all of these already
        else:
            await self._put(key, self.encode(content))
        known.objects[key] = content

    def _forget_finished(self, last_seq: int) -> None:
        """Drops the spans that end at or before last_seq: delivery goes on in seq order, no later batch
        adds to them (a restart reads back what it needs)."""
        n = self.settings.object_events
        for span in [s for s in self._spans if (s + 1) * n - 1 <= last_seq]:
            del self._spans[span]

    async def _read(self, key: str) -> list[bytes]:
        client = self.aws.client
        try:
            answer = await client.get_object(Bucket=self.settings.bucket, Key=key)
            async with answer["Body"] as stream:
                body = await stream.read()
        except Exception as exc:
            if _is_missing(exc):
                return []
            raise as_transient(exc, f"s3://{self.settings.bucket}/{key} (reading it back)") from exc
        try:
            return self.decode(body)
        except Exception as exc:  # not ours, or damaged: never overwrite it with less
            raise as_transient(
                ValueError(f"the object is not {self.settings.format} this backend can read back ({exc})"),
                f"s3://{self.settings.bucket}/{key}",
            ) from exc

    async def _put(self, key: str, body: bytes, create_only: bool = False) -> bool:
        """PUTs the object (multipart above the threshold). With create_only, only where no object
        has the key: False when one has (S3 answers 412). Raises TransientError for any failure."""
        s = self.settings
        where = f"s3://{s.bucket}/{key}"
        condition = {"IfNoneMatch": "*"} if create_only else {}
        try:
            if len(body) <= s.multipart_threshold_bytes:
                await self.aws.client.put_object(
                    Bucket=s.bucket, Key=key, Body=body, **self._object_settings(), **condition
                )
            else:
                await self._put_multipart(key, body, condition)
        except Exception as exc:
            if create_only and isinstance(exc, ClientError) and error_code(exc) in _EXISTS:
                return False
            raise as_transient(exc, where) from exc
        self.objects_written += 1
        return True

    def _object_settings(self) -> dict[str, Any]:
        settings = {
            "ContentType": _CONTENT_TYPE[self.settings.format],
            "Metadata": {"wafermon-format": self.settings.format},
        }
        return settings | self._sse()

    async def _put_multipart(self, key: str, body: bytes, condition: dict[str, str]) -> None:
        s = self.settings
        client = self.aws.client
        upload = await client.create_multipart_upload(Bucket=s.bucket, Key=key, **self._object_settings())
        upload_id = upload["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, len(body), s.multipart_part_bytes), start=1):
                chunk = body[start : start + s.multipart_part_bytes]
                answer = await client.upload_part(
                    Bucket=s.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk
                )
                parts.append({"ETag": answer["ETag"], "PartNumber": number})
            await client.complete_multipart_upload(
                Bucket=s.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}, **condition
            )
        except Exception:
            with contextlib.suppress(Exception):  # parts left behind cost storage until a lifecycle rule
                await client.abort_multipart_upload(Bucket=s.bucket, Key=key, UploadId=upload_id)
            raise
        self.multipart_uploads += 1

    async def health(self) -> dict[str, Any]:
        return {
            "bucket": self.settings.bucket,
            "prefix": self.prefix,
            "format": self.settings.format,
            "endpoint_url": self.settings.endpoint_url,
            "objects_written": self.objects_written,
            "multipart_uploads": self.multipart_uploads,
            "puts_skipped_unchanged": self.puts_skipped,
            "open_spans": len(self._spans),
        }

    async def close(self) -> None:
        await self.aws.close()


def _is_missing(exc: Exception) -> bool:
    return isinstance(exc, ClientError) and error_code(exc) in ("NoSuchKey", "404", "NotFound")
