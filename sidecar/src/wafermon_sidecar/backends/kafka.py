"""kafka backend: an idempotent confluent-kafka (librdkafka) producer; delivery reports drive the cursor.

One record per event (kafka_record.py; conformance/backends/kafka.md is the normative shape): the
event's JSON as the value, the job id as the key (so one job's events keep their order in one
partition), headers with the schema, the event kind and the event id, the topic from the config.

The producer runs with `enable.idempotence=true` and `acks=all`: librdkafka's own retries within one
producer session never duplicate nor reorder a partition's records. send_batch produces the whole
batch and returns only once every record has its delivery report:

- every record acknowledged → the batch is delivered (the cursor moves);
- a record refused for good (topic authorization, invalid record or topic, a policy) → that event
  alone is dead-lettered with the broker's reason (PermanentError.rejected), its neighbours are
  delivered. A record refused as too large (MSG_SIZE_TOO_LARGE) may have been refused only because
  librdkafka put it into one record batch with its neighbours, so each such record is produced once
  more on its own; only a record refused again alone is dead-lettered;
- any other failure (no broker, leader change, the `delivery_timeout_s` expired) → TransientError
  and the batch comes back later. Records acknowledged before it are remembered (bounded) and not
  produced again, except a job's records after one of its own in the same topic that failed: those
  are produced again behind it, so the job's records stay in order behind the failed one.

A re-send after a crash or a TransientError uses a new produce call (and after a restart a new
producer session), which the broker cannot tell from new records: consumers de-duplicate on the
`event_id` header (docs/sidecar.md states the bound).

librdkafka is callback based: a thread of ours polls the producer (its delivery reports and logs),
gathers the reports of a produce pass and wakes the asyncio loop once, at the last one; produce()
itself never blocks (a full local queue is waited out with asyncio.sleep).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import msgspec
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from .base import Backend, Batch, ConfigurationError, PermanentError, TransientError, config_struct
from .kafka_record import Headers, check_topic_template, headers_for, job_key, topic_for

log = logging.getLogger(__name__)

# How many event ids acknowledged during a failed attempt are remembered (skipped on the retry).
REMEMBERED_IDS = 100_000
# How long past delivery_timeout_s a report may be late before the attempt is given up (librdkafka
# reports every record by then; this only bounds a wait that should never happen).
REPORT_GRACE_S = 30.0
# How long close() waits for records in flight: what is left is produced again by the next process
# (the cursor has not passed it), so shutting down never waits on a dead broker for long.
CLOSE_FLUSH_S = 5.0
POLL_INTERVAL_S = 0.1

# librdkafka settings this backend owns: changing them would break the guarantees above.
RESERVED_KEYS = {
    "bootstrap.servers": "use config.bootstrap_servers",
    "metadata.broker.list": "use config.bootstrap_servers",
    "client.id": "use config.client_id",
    "enable.idempotence": "always true",
    "acks": "always all",
    "request.required.acks": "always all",
    "message.timeout.ms": "use config.delivery_timeout_s",
    "delivery.timeout.ms": "use config.delivery_timeout_s",
    "transactional.id": "transactions are not used",
}
# Settings whose values are checked here, in our words, before librdkafka sees them.
CHOICES = {
    "security.protocol": {"plaintext", "ssl", "sasl_plaintext", "sasl_ssl"},
    "sasl.mechanism": {"GSSAPI", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"},
    "sasl.mechanisms": {"GSSAPI", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"},
    "compression.type": {"none", "gzip", "snappy", "lz4", "zstd"},
    "compression.codec": {"none", "gzip", "snappy", "lz4", "zstd"},
}
CASE_INSENSITIVE = {"security.protocol", "compression.type", "compression.codec"}
FILE_KEYS = ("ssl.ca.location", "ssl.certificate.location", "ssl.key.location", "ssl.crl.location")

# Broker answers that retrying cannot change: the event is dead-lettered.
PERMANENT_CODES = {
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.INVALID_RECORD,
    KafkaError.TOPIC_EXCEPTION,  # an invalid topic name
    KafkaError.POLICY_VIOLATION,
    KafkaError._INVALID_ARG,
}
# Size refusals that may be about the record batch the record travelled in, not the record (the
# client's own message.max.bytes check answers MSG_SIZE_TOO_LARGE too: that one repeats when alone).
TOO_LARGE_CODES = {KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE}

Outcome = KafkaError | str | None  # None: acknowledged; str: a local failure of ours (retried)


class KafkaConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The `config` block."""

    bootstrap_servers: str | list[str]  # "host:port[,host:port...]" or a list of them
    topic: str = "wafermon-events"  # a name, or a template with {site_id} and/or {entity_type}
    client_id: str = "wafermon-sidecar"
    # message.timeout.ms: keep it below the sidecar's delivery.send_timeout_s (default 30 s)
    delivery_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 20.0
    producer_config: dict[str, str | int | float | bool] = msgspec.field(default_factory=dict)  # librdkafka


def _check_producer_config(settings: Mapping[str, Any], name: str) -> None:
    """Our own checks of the librdkafka pass-through; ConfigurationError naming the key."""
    where = f"backend {name!r}: config.producer_config"
    for key, value in settings.items():
        if key in RESERVED_KEYS:
            raise ConfigurationError(f"{where}.{key} is set by the backend ({RESERVED_KEYS[key]})")
        if key in CHOICES:
            given = str(value).lower() if key in CASE_INSENSITIVE else str(value).upper()
            allowed = {c.lower() if key in CASE_INSENSITIVE else c for c in CHOICES[key]}
            if given not in allowed:
                raise ConfigurationError(f"{where}.{key} must be one of {', '.join(sorted(allowed))} (got {value!r})")
        if key in FILE_KEYS and (not isinstance(value, str) or not value):
            raise ConfigurationError(f"{where}.{key} must be a file path")
    if ("sasl.username" in settings) != ("sasl.password" in settings):
        raise ConfigurationError(f"{where}: sasl.username and sasl.password go together")
    protocol = str(settings.get("security.protocol", "plaintext")).lower()
    mechanism = settings.get("sasl.mechanism", settings.get("sasl.mechanisms"))
    if mechanism is not None and not protocol.startswith("sasl_"):
        raise ConfigurationError(f"{where}.sasl.mechanism needs security.protocol sasl_plaintext or sasl_ssl")


def _probe_librdkafka(settings: Mapping[str, Any], name: str) -> None:
    """Lets librdkafka check every other key and value now (at --check-config): a producer with no
    bootstrap servers connects nowhere. Files (ssl.*.location) are checked when the producer starts,
    and a missing one is reported in the backend's health and retried."""
    probe = {k: v for k, v in settings.items() if k not in FILE_KEYS}
    probe.update({"log_level": 0, "enable.idempotence": True, "acks": "all"})
    try:
        Producer(probe)
    except (KafkaException, ValueError, TypeError) as exc:
        where = f"backend {name!r}: config.producer_config"
        raise ConfigurationError(f"{where} is refused by librdkafka: {_detail(exc)}") from None


def _detail(exc: Exception) -> str:
    """librdkafka's text of a KafkaException (without the KafkaError{...} wrapping)."""
    error = exc.args[0] if exc.args else exc
    return error.str() if isinstance(error, KafkaError) else str(error)


def _reason(error: Outcome) -> str:
    if isinstance(error, KafkaError):
        return f"the broker refused the record ({error.name()}): {error.str()}"
    return str(error)


def _is_permanent(error: Outcome) -> bool:
    return isinstance(error, KafkaError) and error.code() in PERMANENT_CODES


def _is_too_large(error: Outcome) -> bool:
    return isinstance(error, KafkaError) and error.code() in TOO_LARGE_CODES


class _ProducerSession:
    """One librdkafka producer and the thread that polls it (delivery reports, errors, logs)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.last_error: str | None = None
        self.fatal: str | None = None
        self.producer = Producer({**config, "error_cb": self._on_error, "logger": log})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="kafka-producer-poll", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(POLL_INTERVAL_S)

    def _on_error(self, error: KafkaError) -> None:  # runs in the poll thread
        self.last_error = f"{error.name()}: {error.str()}"
        if error.fatal():
            self.fatal = self.last_error

    async def close(self, flush_timeout_s: float) -> int:
        """Stops polling, then flushes what is in flight; returns the records left unflushed."""
        self._stop.set()
        await asyncio.to_thread(self._thread.join)
        return await asyncio.to_thread(self.producer.flush, flush_timeout_s)


class _Reports:
    """The delivery reports of one produce pass. librdkafka calls back in the poll thread; the reports
    are kept here and the loop is woken once, by the last one (not once per record)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.outcomes: dict[int, Outcome] = {}
        self.produced: list[int] = []
        self.all_in = asyncio.Event()
        self._lock = threading.Lock()
        self._waiting = 0
        self._armed = False  # every record of the pass is produced: the last report may wake the loop

    def reporter(self, position: int) -> Callable[[KafkaError | None, Message], None]:
        with self._lock:
            self._waiting += 1

        def report(error: KafkaError | None, _message: Message) -> None:  # in the poll thread
            with self._lock:
                self.outcomes[position] = error
                self._waiting -= 1
                last = self._armed and self._waiting == 0
            if last:
                with contextlib.suppress(RuntimeError):  # a closed loop: the sidecar is shutting down
                    self.loop.call_soon_threadsafe(self.all_in.set)

        return report

    def not_produced(self, position: int, outcome: Outcome) -> None:
        """produce() refused the record: no report will come for it."""
        with self._lock:
            self.outcomes[position] = outcome
            self._waiting -= 1

    def arm(self) -> None:
        with self._lock:
            self._armed = True
            if self._waiting == 0:
                self.all_in.set()

    def settled(self, missing: str) -> dict[int, Outcome]:
        """What is known now; a produced record without a report yet counts as failed for `missing`."""
        with self._lock:
            known = dict(self.outcomes)
        return {p: known.get(p, missing) for p in [*self.produced, *known]}


class KafkaBackend(Backend):
    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self.settings = config_struct(KafkaConfig, config, name)
        servers = self.settings.bootstrap_servers
        self.servers = ",".join(servers) if isinstance(servers, list) else servers
        if not self.servers.strip() or any(":" not in s for s in self.servers.split(",")):
            raise ConfigurationError(
                f"backend {name!r}: config.bootstrap_servers must be host:port[,host:port...] (got {servers!r})"
            )
        problem = check_topic_template(self.settings.topic)
        if problem:
            raise ConfigurationError(f"backend {name!r}: config.topic {problem}")
        _check_producer_config(self.settings.producer_config, name)
        _probe_librdkafka(self.settings.producer_config, name)
        self.session: _ProducerSession | None = None
        self._delivered: OrderedDict[str, None] = OrderedDict()

    def producer_config(self) -> dict[str, Any]:
        """The librdkafka configuration the producer is created with."""
        return {
            **self.settings.producer_config,
            "bootstrap.servers": self.servers,
            "client.id": self.settings.client_id,
            "enable.idempotence": True,
            "acks": "all",
            "message.timeout.ms": int(self.settings.delivery_timeout_s * 1000),
            # the Java client's partitioner: a job's key maps to the same partition from either client
            "partitioner": self.settings.producer_config.get("partitioner", "murmur2_random"),
        }

    async def initialize(self) -> None:
        await self._session()

    async def _session(self) -> _ProducerSession:
        if self.session is not None and self.session.fatal:
            old, self.session = self.session, None
            log.warning("backend %s: the producer hit a fatal error (%s); starting a new one", self.name, old.fatal)
            await old.close(0)
        if self.session is None:
            try:
                self.session = _ProducerSession(self.producer_config())
            except KafkaException as exc:
                raise TransientError(f"the Kafka producer cannot start: {_detail(exc)}") from exc
        return self.session

    async def send_batch(self, batch: Batch) -> None:
        session = await self._session()
        events = batch.events()
        raw = batch.raw
        refused: dict[int, str] = {}
        records: dict[int, tuple[str, bytes, Headers]] = {}
        for position, event in enumerate(events):
            if str(event.get("event_id")) in self._delivered:
                continue  # acknowledged during an earlier attempt at this batch
            try:
                topic = topic_for(self.settings.topic, event)
            except ValueError as exc:
                refused[position] = f"no topic for this event: {exc}"
                continue
            records[position] = (topic, job_key(event), headers_for(event))

        # where order is kept: one key in one topic (a templated topic splits a job over topics)
        keys = [(records[p][0] if p in records else "", job_key(e)) for p, e in enumerate(events)]
        passes: list[_Reports] = []
        try:
            outcomes = await self._produce(session, sorted(records), records, raw, passes)
            for position in sorted(p for p, error in outcomes.items() if _is_too_large(error)):
                outcomes.update(await self._produce(session, [position], records, raw, passes))  # alone now
        except asyncio.CancelledError:  # the worker's send_timeout_s: keep what is settled, drop the queue
            session.producer.purge(in_queue=True, in_flight=False, blocking=False)
            so_far = {p: o for reports in passes for p, o in reports.settled("cancelled in flight").items()}
            self._remember_delivered(events, keys, so_far, {p for p, e in so_far.items() if e is not None})
            raise

        fatal = next((e for e in outcomes.values() if isinstance(e, KafkaError) and e.fatal()), None)
        if fatal is not None:  # the idempotent producer cannot go on: the next attempt starts a new one
            session.fatal = f"{fatal.name()}: {fatal.str()}"
        # a size refusal left after the second pass was a record alone: final, like the permanent codes
        failed = {p for p, e in outcomes.items() if e is not None and not _is_permanent(e) and not _is_too_large(e)}
        if failed:
            self._remember_delivered(events, keys, outcomes, failed)
            first = min(failed)
            raise TransientError(
                f"{len(failed)} of {len(batch)} record(s) not acknowledged; the first: {_reason(outcomes[first])}"
            )
        session.last_error = None  # every record answered: whatever the poll thread last saw is over
        for event in events:  # settled: the batch will not come back for these
            self._delivered.pop(str(event.get("event_id")), None)
        refused.update((p, _reason(error)) for p, error in outcomes.items() if error is not None)
        if refused:
            first_reason = refused[min(refused)]
            raise PermanentError(f"{len(refused)} of {len(batch)} event(s) refused; the first: {first_reason}", refused)

    async def _produce(
        self,
        session: _ProducerSession,
        positions: list[int],
        records: Mapping[int, tuple[str, bytes, Headers]],
        raw: list[bytes],
        passes: list[_Reports],
    ) -> dict[int, Outcome]:
        """Produces the records at `positions` in order and waits for every delivery report (the
        pass is appended to `passes`, for a caller that is cancelled meanwhile)."""
        loop = asyncio.get_running_loop()
        reports = _Reports(loop)
        passes.append(reports)
        deadline = loop.time() + self.settings.delivery_timeout_s
        for position in positions:
            topic, key, headers = records[position]
            on_delivery = reports.reporter(position)
            while True:
                try:
                    session.producer.produce(topic, raw[position], key, headers=headers, on_delivery=on_delivery)
                    reports.produced.append(position)
                    break
                except BufferError:  # librdkafka's local queue is full: let it drain
                    if loop.time() > deadline:
                        reports.not_produced(position, "the producer's local queue stayed full (queue.buffering.*)")
                        break
                    await asyncio.sleep(0.01)
                except KafkaException as exc:
                    error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else str(exc)
                    reports.not_produced(position, error)
                    break
        reports.arm()
        timeout = self.settings.delivery_timeout_s + REPORT_GRACE_S
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reports.all_in.wait(), timeout)
        return reports.settled(f"no delivery report within {timeout:.0f} s")

    def _remember_delivered(
        self,
        events: list[dict[str, Any]],
        keys: list[tuple[str, bytes]],
        outcomes: Mapping[int, Outcome],
        failed: set[int],
    ) -> None:
        """Remembers the acknowledged records the retry must not produce again: all of them except a
        job's records after the first of its own in the same topic that failed (those go again, behind
        it, in order)."""
        first_failure: dict[tuple[str, bytes], int] = {}
        for position in sorted(failed):
            first_failure.setdefault(keys[position], position)
        for position, error in outcomes.items():
            if error is None and position < first_failure.get(keys[position], len(events)):
                self._delivered[str(events[position].get("event_id"))] = None
        while len(self._delivered) > REMEMBERED_IDS:
            self._delivered.popitem(last=False)

    async def health(self) -> dict[str, Any]:
        session = self.session
        return {
            "bootstrap_servers": self.servers,
            "topic": self.settings.topic,
            "producer_error": session.last_error if session else None,
        }

    async def close(self) -> None:
        if self.session is not None:
            left = await self.session.close(min(CLOSE_FLUSH_S, self.settings.delivery_timeout_s))
            if left:
                log.warning("backend %s: %d record(s) still unacknowledged at close", self.name, left)
            self.session = None
