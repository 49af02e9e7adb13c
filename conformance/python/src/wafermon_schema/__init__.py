"""The wafermon event v1 contract for Python services."""

from .answers import Rejected
from .files import event_schema_components, schema_path, vectors_path
from .model import Event, cross_field_problem
from .rules import MAX_FUTURE_SKEW_S, MAX_HEARTBEAT_S
from .validate import (
    MAX_EVENT_BYTES,
    Accepted,
    BatchFormatError,
    Problem,
    check_batch,
    check_event,
    event_to_dict,
    split_body,
)

__all__ = [
    "MAX_EVENT_BYTES",
    "MAX_FUTURE_SKEW_S",
    "MAX_HEARTBEAT_S",
    "Accepted",
    "BatchFormatError",
    "Event",
    "Problem",
    "Rejected",
    "check_batch",
    "check_event",
    "cross_field_problem",
    "event_schema_components",
    "event_to_dict",
    "schema_path",
    "split_body",
    "vectors_path",
]
