"""Sidecar validation: which events of a body does the event v1 contract accept.

Two paths, and only two:

- the native all-valid check (native.py describes wafermon_schema's model to the C++ module built
  from sidecar/native/eventcheck.cpp; crossfield.py tabulates the cross-field rules for it), which
  may only say "every event of this body is valid" and otherwise "not sure";
- the authority, wafermon_schema.check_batch (the same one the gateway uses), which judges every body
  the native check is not sure of and names the index and field of each bad event.

batch.py chooses between them (`judge`) and holds the native check to the authority at start-up
(`self_check`); runner.py judges large bodies on a validation thread beside the event loop.
"""

from wafermon_schema import BatchFormatError

from .batch import Verdict, judge, native_check_built, self_check
from .runner import OFFLOAD_MIN_BYTES, Validator

__all__ = ["OFFLOAD_MIN_BYTES", "BatchFormatError", "Validator", "Verdict", "judge", "native_check_built", "self_check"]
