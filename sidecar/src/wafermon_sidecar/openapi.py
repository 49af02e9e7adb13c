"""The OpenAPI 3.1 description served at /openapi.json (the event schema itself lives in conformance/)."""

from __future__ import annotations

from typing import Any

from . import __version__

_REJECTED = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["index", "field", "message"],
        "properties": {"index": {"type": "integer"}, "field": {"type": "string"}, "message": {"type": "string"}},
    },
}
_RESULT = {
    "type": "object",
    "required": ["accepted", "rejected"],
    "properties": {"accepted": {"type": "integer"}, "rejected": {"$ref": "#/components/schemas/Rejected"}},
}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "accepted": {"type": "integer"},
        "rejected": {"$ref": "#/components/schemas/Rejected"},
    },
}


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


def _ingest_responses() -> dict[str, Any]:
    retry = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait before resending"}}
    return {
        "202": _json("#/components/schemas/Result", "all events accepted and fsync'd on the spool"),
        "207": _json("#/components/schemas/Result", "the valid events accepted and fsync'd; the others listed"),
        "400": _json("#/components/schemas/Error", "malformed body, or no valid event"),
        "401": _json("#/components/schemas/Error", "a bearer token is required"),
        "403": _json("#/components/schemas/Error", "the bearer token is wrong"),
        "413": _json("#/components/schemas/Error", "body or batch larger than the limit named in error"),
        "415": _json("#/components/schemas/Error", "unsupported Content-Encoding"),
        "503": {**_json("#/components/schemas/Error", "spool full or disk full: back-pressure"), "headers": retry},
    }


_EVENT_BODY = {
    "application/json": {"schema": {"description": "one event v1 (conformance/schema/event-v1.json)"}},
}
_BATCH_BODY = {
    "application/json": {"schema": {"type": "array", "items": {"description": "event v1"}}},
    "application/x-ndjson": {"schema": {"type": "string", "description": "one event v1 per line"}},
}
_GZIP = {
    "name": "Content-Encoding",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "enum": ["gzip", "identity"]},
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "wafermon sidecar", "version": __version__},
    "components": {
        "schemas": {"Rejected": _REJECTED, "Result": _RESULT, "Error": _ERROR},
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
    "paths": {
        "/v1/ingest/events:batch": {
            "post": {
                "summary": "Ingest a batch of events (JSON array or NDJSON, optionally gzip)",
                "security": [{}, {"bearer": []}],
                "parameters": [_GZIP],
                "requestBody": {"required": True, "content": _BATCH_BODY},
                "responses": _ingest_responses(),
            }
        },
        "/v1/ingest/events": {
            "post": {
                "summary": "Ingest one event",
                "security": [{}, {"bearer": []}],
                "parameters": [_GZIP],
                "requestBody": {"required": True, "content": _EVENT_BODY},
                "responses": _ingest_responses(),
            }
        },
        "/v1/healthz": {
            "get": {
                "summary": "Overall health, spool usage and per-backend state, lag and last error",
                "responses": {"200": {"description": "status ok or degraded", "content": {"application/json": {}}}},
            }
        },
        "/v1/integrations": {
            "get": {
                "summary": "Configured backends",
                "responses": {
                    "200": {"description": "names, enabled ones, details", "content": {"application/json": {}}}
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "text exposition format", "content": {"text/plain": {}}}},
            }
        },
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
    },
}
