"""The OpenAPI 3.1 description served at /openapi.json, built from what the code uses: request bodies
from the normative event schema (conformance/schema/event-v1.json, the one the validator is tested
against), response bodies from the msgspec types in answers.py that the routes answer with.

Each operation lists every status it answers (sidecar/tests/test_openapi_statuses.py proves each
one is real, and the api-contract stage checks real answers against the document).
"""

from __future__ import annotations

from typing import Any

import msgspec

from wafermon_schema import event_schema_components as shared_event_components

from . import __version__
from .answers import ErrorAnswer, Health, IngestResult, Integrations

_REF = "#/components/schemas/{name}"


def event_schema_components() -> dict[str, Any]:
    """event-v1.json as components of this document (wafermon_schema.event_schema_components)."""
    return shared_event_components(_REF)


def _json(model: type, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    schema = {"$ref": _REF.format(name=model.__name__)}
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


_RETRY_AFTER = {"Retry-After": {"schema": {"type": "string"}, "description": "seconds to wait before resending"}}


def _ingest_responses(batch: bool) -> dict[str, Any]:
    # One event is accepted whole or refused whole (400), so 207 exists only for batches.
    partly = {"207": _json(IngestResult, "the valid events accepted and fsync'd; the others listed in rejected")}
    return {
        "202": _json(IngestResult, "all events accepted and fsync'd on the spool"),
        **(partly if batch else {}),
        "400": _json(ErrorAnswer, "malformed body or gzip, no event, or no valid event (each listed in rejected)"),
        "401": _json(ErrorAnswer, "ingest.auth_token is set and no bearer token was sent"),
        "403": _json(ErrorAnswer, "the bearer token is wrong"),
        "413": _json(ErrorAnswer, "body (before or after gzip) or event count over the limit named in error, "
                     "or a request that can never fit on the spool or its disk"),
        "415": _json(ErrorAnswer, "unsupported Content-Encoding"),
        "503": _json(ErrorAnswer, "spool full or its disk refused the write: nothing was kept, resend later",
                     _RETRY_AFTER),
    }  # fmt: skip


_EVENT = {"$ref": _REF.format(name="Event")}
_GZIP = {
    "name": "Content-Encoding",
    "in": "header",
    "required": False,
    "description": "gzip (also x-gzip) or identity; anything else is answered 415",
    "schema": {"type": "string", "enum": ["gzip", "identity"]},
}


def build() -> dict[str, Any]:
    """The whole document."""
    _, answers = msgspec.json.schema_components([IngestResult, ErrorAnswer, Health, Integrations], ref_template=_REF)
    batch_body = {
        "application/json": {"schema": {"type": "array", "items": _EVENT}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "one event per line"}},
    }
    ingest = {"security": [{}, {"bearer": []}], "parameters": [_GZIP]}
    return {
        "openapi": "3.1.0",
        "info": {"title": "wafermon sidecar", "version": __version__},
        "components": {
            "schemas": {**event_schema_components(), **answers},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/v1/ingest/events:batch": {
                "post": {
                    "summary": "Ingest a batch of events (JSON array or NDJSON, optionally gzip)",
                    "description": "Each item is judged alone; at most ingest.max_events_per_request items.",
                    "requestBody": {"required": True, "content": batch_body},
                    "responses": _ingest_responses(batch=True),
                    **ingest,
                }
            },
            "/v1/ingest/events": {
                "post": {
                    "summary": "Ingest one event",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _EVENT}}},
                    "responses": _ingest_responses(batch=False),
                    **ingest,
                }
            },
            "/v1/healthz": {
                "get": {
                    "summary": "Overall health, spool usage and, per integration (backend), its status (healthy, "
                    "degraded, failing, disabled), lag in events and seconds, counts and last error",
                    "responses": {"200": _json(Health, "always 200 while serving; status ok or degraded")},
                }
            },
            "/v1/integrations": {
                "get": {
                    "summary": "Configured backends (the seeds' listing)",
                    "responses": {"200": _json(Integrations, "names, enabled ones, details with each one's status")},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "text exposition format", "content": {"text/plain": {}}}},
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
                }
            },
        },
    }


OPENAPI: dict[str, Any] = build()
