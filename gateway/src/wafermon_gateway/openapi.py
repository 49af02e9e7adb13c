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

from typing import Any

import msgspec
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from wafermon_schema import event_schema_components as shared_event_components

from .alerting.model import NotifierSpec, Rule
from .alerting.monitor_model import Monitor
from .alerting.sidecars import SidecarReport
from .answers import (
    AlertList,
    ErrorAnswer,
    Evaluated,
    Health,
    HeartbeatAnswer,
    IngestResult,
    JobDetail,
    JobList,
    Maintenance,
    MonitorList,
    NotifierList,
    Outbox,
    RuleList,
    SidecarList,
    SubjobDetail,
    SubjobList,
)
from .routes.alerting import SilenceBody

_REF = "#/components/schemas/{name}"
_MODELS = [IngestResult, ErrorAnswer, JobList, SubjobList, JobDetail, SubjobDetail, Health, Maintenance,
           RuleList, NotifierList, AlertList, Outbox, Evaluated, MonitorList, HeartbeatAnswer,
           SidecarList]  # fmt: skip
# The request bodies the alerting and monitor routes validate with pydantic (routes/alerting.py _body).
_BODY_MODELS: list[type[BaseModel]] = [Rule, NotifierSpec, Monitor, SilenceBody, SidecarReport]


def event_schema_components() -> dict[str, Any]:
    """event-v1.json as components of this document (wafermon_schema.event_schema_components)."""
    return shared_event_components(_REF)


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


def _object(description: str, model: str | None = None) -> dict[str, Any]:
    """A JSON object answer: the pydantic model's schema when the route dumps one, else any object."""
    schema = {"$ref": _REF.format(name=model)} if model else {"type": "object"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_NO_CONTENT = {"204": {"description": "deleted"}}
_BAD_BODY = {"400": _error("the body is not a JSON object of the documented shape, or names an unknown notifier")}
_TOO_BIG = {"413": _error("the body is over 256 KiB")}
_ADMIN, _READ = _auth("admin"), _auth("read")
_RULE_ITEM = "/v1/alerting/rules/{name}"
_NOTIFIER_ITEM = "/v1/alerting/notifiers/{name}"
_ALERT_ITEM = "/v1/alerts/{alert_id}"
_MONITOR_ITEM = "/v1/monitors/{name}"
_STATS_400 = {"400": _error("a query parameter is unknown, repeated or invalid (named in field)")}

# Rules live in memory once loaded (list and get read no table); every other alerting route reads
# or writes the store's alerting tables, so it can answer 503.
RESPONSES |= {
    ("get", "/v1/alerting/rules"): {"200": _json(RuleList, "every rule"), **_ADMIN},
    ("post", "/v1/alerting/rules"): {
        "201": _object("the rule as stored", "Rule"),
        **_BAD_BODY,
        **_ADMIN,
        "409": _error("a rule of that name exists (PUT replaces it)"),
        **_TOO_BIG,
        **_UNAVAILABLE,
    },
    ("get", _RULE_ITEM): {"200": _object("the rule", "Rule"), **_ADMIN, "404": _error("no such rule")},
    ("put", _RULE_ITEM): {
        "200": _object("the rule, replaced", "Rule"),
        "201": _object("the rule, created", "Rule"),
        "400": _error("as for POST, or the body's name differs from the URL's (field name)"),
        **_ADMIN,
        **_TOO_BIG,
        **_UNAVAILABLE,
    },
    ("delete", _RULE_ITEM): {**_NO_CONTENT, **_ADMIN, "404": _error("no such rule"), **_UNAVAILABLE},
    ("get", "/v1/alerting/notifiers"): {"200": _json(NotifierList, "every notifier"), **_ADMIN, **_UNAVAILABLE},
    ("post", "/v1/alerting/notifiers"): {
        "201": _object("the notifier as stored", "NotifierSpec"),
        "400": _error("the body is not a notifier, or its type or config is refused (field config)"),
        **_ADMIN,
        "409": _error("a notifier of that name exists (PUT replaces it)"),
        **_TOO_BIG,
        **_UNAVAILABLE,
    },
    ("get", _NOTIFIER_ITEM): {
        "200": _object("the notifier", "NotifierSpec"),
        **_ADMIN,
        "404": _error("no such notifier"),
        **_UNAVAILABLE,
    },
    ("put", _NOTIFIER_ITEM): {
        "200": _object("the notifier, replaced", "NotifierSpec"),
        "201": _object("the notifier, created", "NotifierSpec"),
        "400": _error("as for POST, or the body's name differs from the URL's (field name)"),
        **_ADMIN,
        **_TOO_BIG,
        **_UNAVAILABLE,
    },
    ("delete", _NOTIFIER_ITEM): {
        **_NO_CONTENT,
        **_ADMIN,
        "404": _error("no such notifier"),
        "409": _error("a rule still notifies it"),
        **_UNAVAILABLE,
    },
    ("get", "/v1/alerts"): {"200": _json(AlertList, "alerts, newest first"), **_STATS_400, **_READ, **_UNAVAILABLE},
    ("get", _ALERT_ITEM): {"200": _object("the alert"), **_READ, "404": _error("no such alert"), **_UNAVAILABLE},
    ("post", _ALERT_ITEM + "/ack"): {
        "200": _object("the alert, acknowledged"),
        **_ADMIN,
        "404": _error("no such alert"),
        "409": _error("the alert is not firing"),
        **_UNAVAILABLE,
    },
    ("post", _ALERT_ITEM + "/silence"): {
        "200": _object("the alert with its silenced_until"),
        "400": _error("the body is not {duration_s}, or duration_s is outside 0..2592000"),
        **_ADMIN,
        "404": _error("no such alert"),
        **_TOO_BIG,
        **_UNAVAILABLE,
    },
    ("get", "/v1/alerting/outbox"): {"200": _json(Outbox, "notification rows"), **_ADMIN, **_UNAVAILABLE},
    ("post", "/v1/alerting/evaluate"): {"200": _json(Evaluated, "notifications sent"), **_ADMIN, **_UNAVAILABLE},
    ("get", "/v1/monitors"): {"200": _json(MonitorList, "every monitor and its state"), **_READ, **_UNAVAILABLE},
    ("post", "/v1/monitors"): {
        "201": _object("the monitor and its state"),
        **_BAD_BODY,
        **_ADMIN,
        "409": _error("a monitor of that name exists (PUT replaces it)"),
        **_TOO_BIG,
        **_UNAVAILABLE,
    },
    ("get", _MONITOR_ITEM): {
        "200": _object("the monitor and its state"),
        **_READ,
        "404": _error("no such monitor"),
        **_UNAVAILABLE,
    },
    ("put", _MONITOR_ITEM): {
        "200": _object("the monitor, replaced, and its state"),
        "201": _object("the monitor, created, and its state"),
        "400": _error("as for POST, or the body's name differs from the URL's (field name)"),
        **_ADMIN,
        **_TOO_BIG,
        **_UNAVAILABLE,
    },
    ("delete", _MONITOR_ITEM): {**_NO_CONTENT, **_ADMIN, "404": _error("no such monitor"), **_UNAVAILABLE},
    ("post", "/v1/sidecars/heartbeat"): {
        "200": _json(HeartbeatAnswer, "the report is stored"),
        "400": _error("the body is not a JSON object of the documented shape (the field is named)"),
        **_auth("ingest"),
        **_TOO_BIG,
        **_UNAVAILABLE,
    },
    ("get", "/v1/sidecars"): {"200": _json(SidecarList, "every sidecar that reported"), **_READ, **_UNAVAILABLE},
    ("get", "/v1/stats/overview"): {"200": _object("counts and series"), **_STATS_400, **_READ, **_UNAVAILABLE},
    ("get", "/v1/stats/history"): {"200": _object("buckets and failures"), **_STATS_400, **_READ, **_UNAVAILABLE},
}

# Which operations take which pydantic-validated JSON body.
_BODIES: dict[tuple[str, str], str] = {
    ("post", "/v1/alerting/rules"): "Rule",
    ("put", _RULE_ITEM): "Rule",
    ("post", "/v1/alerting/notifiers"): "NotifierSpec",
    ("put", _NOTIFIER_ITEM): "NotifierSpec",
    ("post", "/v1/monitors"): "Monitor",
    ("put", _MONITOR_ITEM): "Monitor",
    ("post", _ALERT_ITEM + "/silence"): "SilenceBody",
    ("post", "/v1/sidecars/heartbeat"): "SidecarReport",
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
    _, bodies = models_json_schema(
        [(m, "validation") for m in _BODY_MODELS], ref_template="#/components/schemas/{model}"
    )
    schemas.update(bodies.get("$defs", {}))
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            operation["responses"] = RESPONSES[(method, path)]
    doc["paths"]["/v1/ingest/managed"]["post"]["requestBody"] = _INGEST_BODY
    for (method, path), model in _BODIES.items():
        doc["paths"][path][method]["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _REF.format(name=model)}}},
        }
    app.openapi_schema = doc
    return doc
