"""The Kafka record one event becomes (conformance/backends/kafka.md is the normative shape).

- value: the event's JSON bytes exactly as ingested;
- key: the job id, UTF-8: `entity_id` for a job, `parent_id` (its job) for a sub-job, so every event
  of one job lands in one partition, in order;
- headers: `content-type`, `schema`, `event_kind`, `entity_type`, `event_id` (UTF-8 strings);
- topic: the configured name, or a template with `{site_id}` and/or `{entity_type}`, each value's
  characters outside `[A-Za-z0-9._-]` written as `_`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

#: Placeholders a topic template may hold.
TOPIC_FIELDS = ("site_id", "entity_type")
#: Kafka's own limit on a topic name.
MAX_TOPIC_LENGTH = 249
_LEGAL_TOPIC = re.compile(r"[A-Za-z0-9._-]+")
_ILLEGAL_CHAR = re.compile(r"[^A-Za-z0-9._-]")
CONTENT_TYPE = b"application/json"

#: Record headers as confluent-kafka takes them (name, value), in order.
Headers = list[tuple[str, str | bytes | None]]


def check_topic_template(template: str) -> str | None:
    """None when `template` is a usable topic name or template, else what is wrong (in our words)."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"is not a valid template ({exc}); use {{site_id}} or {{entity_type}}"
    literal = ""
    for text, field, spec, conversion in parts:
        literal += text
        if field is None:
            continue
        if field not in TOPIC_FIELDS or spec or conversion:
            return f"may only hold {{site_id}} and {{entity_type}} as placeholders (got {{{field}}})"
    if not template or template in (".", ".."):
        return "must not be empty, '.' or '..'"
    if literal and not _LEGAL_TOPIC.fullmatch(literal):
        return f"may only hold the characters A-Z a-z 0-9 . _ - besides its placeholders (got {template!r})"
    if len(literal) > MAX_TOPIC_LENGTH:
        return f"is longer than Kafka's {MAX_TOPIC_LENGTH} characters"
    return None


def topic_for(template: str, event: Mapping[str, Any]) -> str:
    """The topic of `event` under a checked template. ValueError when the name would exceed Kafka's limit."""
    if "{" not in template:
        return template
    values = {name: _ILLEGAL_CHAR.sub("_", str(event.get(name) or "")) for name in TOPIC_FIELDS}
    topic = template.format(**values)
    if len(topic) > MAX_TOPIC_LENGTH or topic in ("", ".", ".."):
        raise ValueError(f"the topic {topic[:80]!r}... made from this event is not a valid Kafka topic name")
    return topic


def job_key(event: Mapping[str, Any]) -> bytes:
    """The record key: the id of the job the event belongs to (a sub-job's `parent_id`)."""
    if event.get("entity_type") == "subjob" and event.get("parent_id"):
        return str(event["parent_id"]).encode()
    return str(event.get("entity_id")).encode()


def headers_for(event: Mapping[str, Any]) -> Headers:
    """The record headers, in this order."""
    return [
        ("content-type", CONTENT_TYPE),
        ("schema", str(event.get("schema")).encode()),
        ("event_kind", str(event.get("event_kind")).encode()),
        ("entity_type", str(event.get("entity_type")).encode()),
        ("event_id", str(event.get("event_id")).encode()),
    ]
