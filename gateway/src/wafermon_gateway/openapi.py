"""The OpenAPI document at /openapi.json, built from what the code uses.

FastAPI supplies paths, parameters and security from the routes. Request bodies come from the
normative event schema (conformance/schema/event-v1.json, the one the validator is tested against);
response bodies from the msgspec types in answers.py that the routes answer with; and each
operation's statuses from RESPONSES, which lists every status it answers (FastAPI's default 422
is never sent: errors.py answers invalid parameters with 400). A route missing from RESPONSES
fails the build, so a new route cannot go undocumented; gateway/tests/test_openapi_statuses.py
proves every listed status is real.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from wafermon_schema import schema_path

from .answers import (
    ErrorAnswer,
    Health,
    IngestResult,
    JobDetail,
    JobList,
    Maintenance,
    SubjobDetail,
    SubjobList,
)

_REF = "#/components/schemas/{name}"
_MODELS = [IngestResult, ErrorAnswer, JobList, SubjobList, JobDetail, SubjobDetail, Health, Maintenance]


def event_schema_components() -> dict[str, Any]:
    """event-v1.json as components: "Event" plus one "Event_<name>" per entry of its $defs."""
    schema: dict[str, Any] = json.loads(schema_path().read_text(encoding="utf-8"))
    defs: dict[str, Any] = schema.pop("$defs", {})
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    text = json.dumps({"Event": schema, **{f"Event_{name}": value for name, value in defs.items()}})
    for name in defs:
        text = text.replace(f'"#/$defs/{name}"', json.dumps(_REF.format(name=f"Event_{name}")))
    components: dict[str, Any] = json.loads(text)
    return components


def _json(model: type, description: str) -> dict[str, Any]:
    schema = {"$ref": _REF.format(name=model.__name__)}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str, retry_after: bool = False) -> dict[str, Any]:
    answer = _json(ErrorAnswer, description)
    if retry_after:
        answer["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}}
    return answer


def _auth(scope: str) -> dict[str, Any]:
    return {
        "401": _error("api_keys are configured and no key, or an unknown one, was sent"),
        "403": _error(f"the key lacks the {scope} scope"),
    }


_UNAVAILABLE = {"503": _error("the store is unavailable; retry later", retry_after=True)}
_BAD_QUERY = {"400": _error("a query parameter is unknown, repeated or invalid (named in field)")}
_BAD_ID = {"400": _error("the id is not a UUID in the 8-4-4-4-12 form, or a query parameter was sent")}

RESPONSES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v1/ingest/managed"): {
        "200": _json(IngestResult, "the valid events stored (or already stored); the others in rejected"),
        "400": _error("malformed body or gzip, an unknown envelope field, or every event refused (then listed)"),
        **_auth("ingest"),
        "413": _error("body, decompressed body or event count over the limit"),
        "415": _error("unsupported Content-Encoding"),
        **_UNAVAILABLE,
    },
    ("get", "/v1/jobs"): {"200": _json(JobList, "one page"), **_BAD_QUERY, **_auth("read"), **_UNAVAILABLE},
    ("get", "/v1/subjobs"): {"200": _json(SubjobList, "one page"), **_BAD_QUERY, **_auth("read"), **_UNAVAILABLE},
    ("get", "/v1/jobs/{job_id}"): {
        "200": _json(JobDetail, "the job, its sub-jobs and its event timeline"),
        **_BAD_ID,
        **_auth("read"),
        "404": _error("no such job"),
        **_UNAVAILABLE,
    },
    ("get", "/v1/subjobs/{subjob_id}"): {
        "200": _json(SubjobDetail, "the sub-job"),
        **_BAD_ID,
        **_auth("read"),
        "404": _error("no such sub-job"),
        **_UNAVAILABLE,
    },
    ("get", "/v1/stream"): {
        "200": {
            "description": "Server-Sent Events: `event: job|subjob`, `id:` the change id, `data:` the row",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **_BAD_QUERY,
        **_auth("read"),
        "503": _error("too many stream clients, or the store is unavailable; retry later", retry_after=True),
    },
    ("get", "/v1/healthz"): {
        "200": _json(Health, "the store answers"),
        "503": _json(Health, "the store does not answer (status unavailable, store.error says why)"),
    },
    ("get", "/metrics"): {
        "200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}},
        **_auth("read"),
    },
    ("post", "/v1/admin/maintenance"): {
        "200": _json(Maintenance, "rows turned lost or orphaned, and what retention removed"),
        **_auth("admin"),
        **_UNAVAILABLE,
    },
}

_INGEST_BODY = {
    "required": True,
    "description": "A managed batch {events, source, site_id}, a bare JSON array of events, or NDJSON "
    "(one event per line); Content-Encoding: gzip accepted. Each event is judged alone.",
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["events"],
                        "additionalProperties": False,
                        "properties": {
                            "events": {"type": "array", "items": {"$ref": _REF.format(name="Event")}},
                            "source": {"type": "string", "maxLength": 64},
                            "site_id": {"type": "string", "maxLength": 128},
                        },
                    },
                    {"type": "array", "items": {"$ref": _REF.format(name="Event")}},
                ]
            }
        },
        "application/x-ndjson": {"schema": {"type": "string"}},
    },
}


def build(app: FastAPI) -> dict[str, Any]:
    """The document for app (built once, then cached on it)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    _, answers = msgspec.json.schema_components(_MODELS, ref_template=_REF)
    schemas.update(event_schema_components())
    schemas.update(answers)
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            operation["responses"] = RESPONSES[(method, path)]
    doc["paths"]["/v1/ingest/managed"]["post"]["requestBody"] = _INGEST_BODY
    app.openapi_schema = doc
    return doc
