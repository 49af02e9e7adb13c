"""Where the normative schema and vectors are, installed as a wheel or used from a checkout."""

from __future__ import annotations

from pathlib import Path

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
