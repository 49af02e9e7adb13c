"""Where the normative schema and vectors are, installed as a wheel or used from a checkout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
# A wheel carries copies beside this file; an editable install reads them from conformance/.
_CHECKOUT = _HERE.parents[2]


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"none of {', '.join(map(str, candidates))} exists")


def schema_path() -> Path:
    return _first_existing(_HERE / "event-v1.json", _CHECKOUT / "schema" / "event-v1.json")


def vectors_path() -> Path:
    return _first_existing(_HERE / "vectors" / "events.json", _CHECKOUT / "vectors" / "events.json")


def event_schema_components(ref_template: str) -> dict[str, Any]:
    """event-v1.json as OpenAPI components: "Event" plus one "Event_<name>" per entry of its $defs,
    each internal reference rewritten with ref_template (e.g. "#/components/schemas/{name}").
    Both services' OpenAPI documents take their request-body schemas from here."""
    schema: dict[str, Any] = json.loads(schema_path().read_text(encoding="utf-8"))
    defs: dict[str, Any] = schema.pop("$defs", {})
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    text = json.dumps({"Event": schema, **{f"Event_{name}": value for name, value in defs.items()}})
    for name in defs:
        text = text.replace(f'"#/$defs/{name}"', json.dumps(ref_template.format(name=f"Event_{name}")))
    components: dict[str, Any] = json.loads(text)
    return components
