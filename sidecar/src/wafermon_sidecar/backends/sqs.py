"""sqs backend: each event is one SQS message, sent with SendMessageBatch (10 entries a call).
conformance/backends/sqs.md is the normative shape.

- Body: the event's JSON as the sidecar received it. Message attributes (String): `event_id`,
  `schema`, `event_kind`, `entity_type`, `status`, `site_id` (those the event has).
- FIFO queues (the URL or name ends in `.fifo`): `MessageGroupId` = the job's id (a job's
  `entity_id`; a sub-job's `parent_id`), so one job's events are received in the order sent;
  `MessageDeduplicationId` = `event_id`, so SQS drops a replay within its 5-minute window. A FIFO
  batch is sent one call after the other, in spool order; a standard queue's calls go
  `concurrency` at a time (a standard queue keeps no order anyway).
- Size: an entry's size is its body plus its attributes' names, types and values; a call holds at
  most `max_message_bytes` in all (SQS's limit for one message and for one batch: 256 KiB by
  default, up to 1 MiB where the queue allows it). An event over it alone is dead-lettered here.

Per entry (`Failed` in the answer): `SenderFault: true` → that event alone is dead-lettered with
SQS's code and message; `SenderFault: false` → only those entries are sent again (`entry_retries`
times in the same call, then TransientError; entries SQS took are remembered, bounded, and not sent
again when the worker retries the batch). A whole call refused for its content (e.g.
InvalidParameterValue: a message longer than the queue's MaximumMessageSize) is split and its
entries are sent one by one, so only the bad one is dead-lettered; any other failure of a call
(access, no such queue, KMS, throttling, 5xx, no connection) is retried as a whole.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
from botocore.exceptions import ClientError

from .aws import AwsClient, AwsClientConfig, as_transient, check_client_config, error_code
from .base import Backend, Batch, ConfigurationError, PermanentError, TransientError, config_struct

#: SQS's limits: entries per SendMessageBatch; bytes of one message / one batch (default and highest).
MAX_ENTRIES = 10
DEFAULT_MESSAGE_BYTES = 262_144
HIGHEST_MESSAGE_BYTES = 1_048_576
#: The event fields sent as message attributes (SQS takes at most 10 per message).
ATTRIBUTE_FIELDS = ("event_id", "schema", "event_kind", "entity_type", "status", "site_id")
REMEMBERED_IDS = 100_000
#: Codes of a whole call refused for what a message holds: split, and find the one message.
CONTENT_CODES = frozenset(
    {
        "InvalidParameterValue",
        "InvalidMessageContents",
        "MessageTooLong",
        "BatchRequestTooLong",
        "InvalidAttributeValue",
        "InvalidAttributeName",
        "AWS.SimpleQueueService.BatchRequestTooLong",
        "AWS.SimpleQueueService.InvalidMessageContents",
    }
)
_decode = msgspec.json.Decoder().decode
_QUEUE_NAME = re.compile(r"^(?=.{1,80}$)[A-Za-z0-9_-]+(\.fifo)?$")


class SqsConfig(AwsClientConfig, forbid_unknown_fields=True, kw_only=True):
    """The `config` block: the AWS client keys plus these."""

    queue_url: str | None = None  # https://sqs.<region>.amazonaws.com/<account>/<name>[.fifo]
    queue_name: str | None = None  # or the name, resolved with GetQueueUrl at start
    max_message_bytes: Annotated[int, msgspec.Meta(ge=1024, le=HIGHEST_MESSAGE_BYTES)] = DEFAULT_MESSAGE_BYTES
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=32)] = 4  # calls in flight (standard queues)
    entry_retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 3  # resends of SenderFault-false entries


def message_group_id(event: Mapping[str, Any]) -> str:
    """The job's id: a job's entity_id, a sub-job's parent_id (its own id when it has no parent)."""
    if event.get("entity_type") != "job" and event.get("parent_id"):
        return str(event["parent_id"])
    return str(event.get("entity_id"))


def to_entry(raw: bytes, event: Mapping[str, Any], entry_id: str, fifo: bool) -> dict[str, Any]:
    """The SendMessageBatch entry of one event."""
    attributes = {
        name: {"DataType": "String", "StringValue": str(event[name])}
        for name in ATTRIBUTE_FIELDS
        if isinstance(event.get(name), str) and event[name]
    }
    entry: dict[str, Any] = {"Id": entry_id, "MessageBody": raw.decode(), "MessageAttributes": attributes}
    if fifo:
        entry["MessageGroupId"] = message_group_id(event)
        entry["MessageDeduplicationId"] = str(event.get("event_id"))
    return entry


def entry_size(entry: Mapping[str, Any]) -> int:
    """What SQS counts against its size limit: the body and each attribute's name, type and value."""
    size = len(entry["MessageBody"].encode())
    for name, value in entry["MessageAttributes"].items():
        size += len(name.encode()) + len(value["DataType"]) + len(value["StringValue"].encode())
    return size


class SqsBackend(Backend):
    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        s = self.settings = config_struct(SqsConfig, config, name)
        check_client_config(s, name)
        if (s.queue_url is None) == (s.queue_name is None):
            raise ConfigurationError(f"backend {name!r}: give exactly one of config.queue_url and config.queue_name")
        if s.queue_url is not None and not s.queue_url.startswith(("https://", "http://")):
            raise ConfigurationError(f"backend {name!r}: config.queue_url must be an http(s) URL, got {s.queue_url!r}")
        if s.queue_name is not None and not _QUEUE_NAME.match(s.queue_name):
            raise ConfigurationError(
                f"backend {name!r}: config.queue_name must be 1-80 characters of A-Z a-z 0-9 _ - (a FIFO"
                f" queue's ending in .fifo), got {s.queue_name!r}"
            )
        self.fifo = (s.queue_url or s.queue_name or "").endswith(".fifo")
        self.queue_url = s.queue_url
        self.aws = AwsClient("sqs", s)
        self._delivered: OrderedDict[str, None] = OrderedDict()
        self.sent_calls = 0

    async def initialize(self) -> None:
        client = await self.aws.open()
        if self.queue_url is None:
            try:
                self.queue_url = (await client.get_queue_url(QueueName=self.settings.queue_name))["QueueUrl"]
            except Exception as exc:
                await self.aws.close()
                raise as_transient(exc, f"SQS queue {self.settings.queue_name!r}") from exc

    async def send_batch(self, batch: Batch) -> None:
        limit = self.settings.max_message_bytes
        refused: dict[int, str] = {}
        entries: dict[int, dict[str, Any]] = {}
        for position, raw in enumerate(batch.raw):
            event = _decode(raw)
            if str(event.get("event_id")) in self._delivered:
                continue  # taken during an earlier attempt at this batch
            entry = to_entry(raw, event, str(position), self.fifo)
            size = entry_size(entry)
            if size > limit:
                refused[position] = f"the message would be {size} bytes, over max_message_bytes ({limit})"
                continue
            entries[position] = entry
        chunks = self._chunks(list(entries), entries)
        if self.fifo or self.settings.concurrency == 1:
            for chunk in chunks:
                await self._send_chunk(chunk, entries, refused)
        else:
            gate = asyncio.Semaphore(self.settings.concurrency)

            async def one(chunk: list[int]) -> None:
                async with gate:
                    await self._send_chunk(chunk, entries, refused)

            results = await asyncio.gather(*(one(c) for c in chunks), return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            if failures:
                raise failures[0]
        for entry in entries.values():  # settled: the batch will not come back for these
            self._delivered.pop(str(_decode(entry["MessageBody"]).get("event_id")), None)
        if refused:
            first = refused[min(refused)]
            raise PermanentError(f"{len(refused)} of {len(batch)} event(s) refused; the first: {first}", refused)

    def _chunks(self, positions: list[int], entries: dict[int, dict[str, Any]]) -> list[list[int]]:
        """Consecutive runs of at most MAX_ENTRIES entries and max_message_bytes in all."""
        chunks: list[list[int]] = []
        size = 0
        for position in positions:
            grow = entry_size(entries[position])
            if not chunks or len(chunks[-1]) >= MAX_ENTRIES or size + grow > self.settings.max_message_bytes:
                chunks.append([])
                size = 0
            chunks[-1].append(position)
            size += grow
        return chunks

    async def _send_chunk(self, chunk: list[int], entries: dict[int, dict[str, Any]], refused: dict[int, str]) -> None:
        """Sends one chunk until each entry is taken or refused; TransientError when some could not be."""
        pending = chunk
        reason = ""
        for attempt in range(self.settings.entry_retries + 1):
            if attempt:
                await asyncio.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
            try:
                answer = await self._call([entries[p] for p in pending])
            except ClientError as exc:
                if error_code(exc) in CONTENT_CODES:
                    await self._isolate(pending, entries, refused, exc)
                    return
                raise as_transient(exc, f"SQS {self.queue_url}") from exc
            retry = []
            for failed in answer.get("Failed", []):
                position = int(failed["Id"])
                why = f"{failed.get('Code', 'error')}: {failed.get('Message', '')}".rstrip(": ")
                if failed.get("SenderFault"):
                    refused[position] = f"SQS refused the message: {why}"
                else:
                    retry.append(position)
                    reason = why
            self._remember([p for p in pending if p not in retry and p not in refused], entries)
            if not retry:
                return
            pending = sorted(retry)
        raise TransientError(
            f"{len(pending)} message(s) not taken by SQS after {self.settings.entry_retries + 1} attempt(s);"
            f" the last reason: {reason}"
        )

    async def _isolate(
        self, chunk: list[int], entries: dict[int, dict[str, Any]], refused: dict[int, str], exc: ClientError
    ) -> None:
        """A call refused as a whole for its content: each entry alone, so only the bad one is refused."""
        message = exc.response.get("Error", {}).get("Message", "")
        if len(chunk) == 1:
            refused[chunk[0]] = f"SQS refused the message: {error_code(exc)}: {message}".rstrip(": ")
            return
        for position in chunk:
            await self._send_chunk([position], entries, refused)

    async def _call(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = await self.aws.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except ClientError:
            raise
        except Exception as exc:
            raise as_transient(exc, f"SQS {self.queue_url}") from exc
        self.sent_calls += 1
        return answer

    def _remember(self, positions: list[int], entries: dict[int, dict[str, Any]]) -> None:
        for position in positions:
            self._delivered[str(_decode(entries[position]["MessageBody"]).get("event_id"))] = None
        while len(self._delivered) > REMEMBERED_IDS:
            self._delivered.popitem(last=False)

    async def health(self) -> dict[str, Any]:
        return {"queue_url": self.queue_url, "fifo": self.fifo, "send_message_batch_calls": self.sent_calls}

    async def close(self) -> None:
        await self.aws.close()
