"""Checks of answers against a service's own OpenAPI document (the gateway's and the sidecar's)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

#: (path template, method, status) as the document lists them, e.g. ("/v1/jobs/{job_id}", "get", 404)
Operation = tuple[str, str, int]


def documented(spec: dict[str, Any]) -> set[Operation]:
    """Every (path, method, status) the OpenAPI document `spec` lists."""
    return {
        (path, method, int(status))
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for status in operation["responses"]
    }


def check_answer(spec: dict[str, Any], path: str, method: str, status: int, body: str) -> None:
    """Asserts the status is documented for (path, method) and that the JSON body validates against
    the schema documented for that status (when it documents one). Raises AssertionError, or
    jsonschema.ValidationError naming the part of the body that does not fit."""
    answer = spec["paths"][path][method]["responses"].get(str(status))
    assert answer is not None, f"{method.upper()} {path} answered undocumented {status}: {body}"
    schema = answer.get("content", {}).get("application/json", {}).get("schema")
    if schema is not None:
        document = {"components": spec["components"], **schema}
        jsonschema.validate(json.loads(body), document, cls=jsonschema.Draft202012Validator)
