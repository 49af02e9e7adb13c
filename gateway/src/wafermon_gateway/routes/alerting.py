"""Alerting API (admin scope): rules, notifiers, alerts with acknowledge and silence, outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from ..alerting.model import NotifierSpec, Rule, explain
from ..alerting.notifiers.base import NotifierConfigError
from ..alerting.repo import ALERT_STATES, alert_view
from ..alerting.service import NOTIFIERS, RULES, Alerting
from ..auth import require
from ..errors import ApiError
from .common import json_response, runtime

router = APIRouter(tags=["alerting"])
_ADMIN = Depends(require("admin"))


def alerting(request: Request) -> Alerting:
    service: Alerting = runtime(request).alerting
    return service


async def _body(request: Request, model: type[BaseModel], what: str, name: str | None = None) -> Any:
    raw = await request.body()
    if len(raw) > 256 * 1024:
        raise ApiError(413, f"a {what} body is limited to 256 KiB", "body")
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise ApiError(400, f"the {what} body is not valid JSON", "body") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"the {what} body must be a JSON object", "body")
    if name is not None and data.setdefault("name", name) != name:
        raise ApiError(400, f"the {what} name in the body ({data['name']!r}) differs from the URL ({name!r})", "name")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, f"invalid {what}: {explain(exc)}", "body") from None


def _check_notify(service: Alerting, rule: Rule) -> None:
    missing = [n for n in rule.notify if n not in service.notifiers]
    if missing:
        raise ApiError(400, f"rule {rule.name!r} notifies unknown notifier(s): {', '.join(missing)}", "notify")


# --- rules ---------------------------------------------------------------------------------------
@router.get("/v1/alerting/rules", summary="List alert rules")
async def list_rules(request: Request, _key: str | None = _ADMIN) -> Response:
    return json_response({"rules": [r.model_dump() for r in alerting(request).rules.values()]})


@router.post("/v1/alerting/rules", summary="Create an alert rule (409 if the name exists)")
async def create_rule(request: Request, _key: str | None = _ADMIN) -> Response:
    service = alerting(request)
    rule: Rule = await _body(request, Rule, "rule")
    if rule.name in service.rules:
        raise ApiError(409, f"rule {rule.name!r} exists; PUT /v1/alerting/rules/{rule.name} replaces it", "name")
    _check_notify(service, rule)
    await service.put_rule(rule)
    return json_response(rule.model_dump(), 201)


@router.get("/v1/alerting/rules/{name}", summary="One alert rule")
async def get_rule(name: str, request: Request, _key: str | None = _ADMIN) -> Response:
    rule = alerting(request).rules.get(name)
    if rule is None:
        raise ApiError(404, f"no rule named {name!r}", "name")
    return json_response(rule.model_dump())


@router.put("/v1/alerting/rules/{name}", summary="Create or replace an alert rule")
async def put_rule(name: str, request: Request, _key: str | None = _ADMIN) -> Response:
    service = alerting(request)
    rule: Rule = await _body(request, Rule, "rule", name)
    _check_notify(service, rule)
    created = await service.put_rule(rule)
    return json_response(rule.model_dump(), 201 if created else 200)


@router.delete("/v1/alerting/rules/{name}", summary="Delete an alert rule")
async def delete_rule(name: str, request: Request, _key: str | None = _ADMIN) -> Response:
    if not await alerting(request).delete(RULES, name):
        raise ApiError(404, f"no rule named {name!r}", "name")
    return Response(status_code=204)


# --- notifiers -----------------------------------------------------------------------------------
async def _save_notifier(service: Alerting, spec: NotifierSpec) -> bool:
    try:
        return await service.put_notifier(spec)
    except NotifierConfigError as exc:
        raise ApiError(400, f"notifier {spec.name!r} ({spec.type}): {exc}", "config") from None


@router.get("/v1/alerting/notifiers", summary="List notifiers (config shown; keep secrets in ${ENV} in files)")
async def list_notifiers(request: Request, _key: str | None = _ADMIN) -> Response:
    specs = await alerting(request).repo.notifiers()
    return json_response({"notifiers": [s.model_dump() for s in specs]})


@router.post("/v1/alerting/notifiers", summary="Create a notifier (409 if the name exists)")
async def create_notifier(request: Request, _key: str | None = _ADMIN) -> Response:
    service = alerting(request)
    spec: NotifierSpec = await _body(request, NotifierSpec, "notifier")
    if any(s.name == spec.name for s in await service.repo.notifiers()):
        raise ApiError(409, f"notifier {spec.name!r} exists; PUT replaces it", "name")
    await _save_notifier(service, spec)
    return json_response(spec.model_dump(), 201)


@router.get("/v1/alerting/notifiers/{name}", summary="One notifier")
async def get_notifier(name: str, request: Request, _key: str | None = _ADMIN) -> Response:
    for spec in await alerting(request).repo.notifiers():
        if spec.name == name:
            return json_response(spec.model_dump())
    raise ApiError(404, f"no notifier named {name!r}", "name")


@router.put("/v1/alerting/notifiers/{name}", summary="Create or replace a notifier")
async def put_notifier(name: str, request: Request, _key: str | None = _ADMIN) -> Response:
    spec: NotifierSpec = await _body(request, NotifierSpec, "notifier", name)
    created = await _save_notifier(alerting(request), spec)
    return json_response(spec.model_dump(), 201 if created else 200)


@router.delete("/v1/alerting/notifiers/{name}", summary="Delete a notifier")
async def delete_notifier(name: str, request: Request, _key: str | None = _ADMIN) -> Response:
    service = alerting(request)
    users = [r.name for r in service.rules.values() if name in r.notify]
    if users:
        raise ApiError(409, f"notifier {name!r} is used by rule(s) {', '.join(users)}", "name")
    if not await service.delete(NOTIFIERS, name):
        raise ApiError(404, f"no notifier named {name!r}", "name")
    return Response(status_code=204)


# --- alerts --------------------------------------------------------------------------------------
@router.get("/v1/alerts", summary="Alert history, newest first; ?state=firing|acknowledged|resolved&rule=&limit=")
async def list_alerts(request: Request, _key: str | None = Depends(require("read"))) -> Response:
    params = request.query_params
    unknown = set(params) - {"state", "rule", "limit"}
    if unknown:
        raise ApiError(400, f"unknown query parameter(s): {', '.join(sorted(unknown))}", sorted(unknown)[0])
    state = params.get("state")
    if state is not None and state not in ALERT_STATES:
        raise ApiError(400, f"state must be one of {', '.join(ALERT_STATES)}", "state")
    limit_text = params.get("limit", "100")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000:
        raise ApiError(400, "limit must be an integer from 1 to 1000", "limit")
    rows = await alerting(request).repo.history(state, params.get("rule"), int(limit_text))
    return json_response({"alerts": [alert_view(r) for r in rows]})


async def _active_alert(request: Request, alert_id: str) -> dict[str, Any]:
    row = await alerting(request).repo.get(alert_id)
    if row is None:
        raise ApiError(404, f"no alert with id {alert_id!r}", "alert_id")
    return row


@router.get("/v1/alerts/{alert_id}", summary="One alert")
async def get_alert(alert_id: str, request: Request, _key: str | None = Depends(require("read"))) -> Response:
    return json_response(alert_view(await _active_alert(request, alert_id)))


@router.post("/v1/alerts/{alert_id}/ack", summary="Acknowledge a firing alert (no more firing updates)")
async def ack_alert(alert_id: str, request: Request, key: str | None = _ADMIN) -> Response:
    row = await _active_alert(request, alert_id)
    if row["state"] != "firing":
        raise ApiError(409, f"alert {alert_id} is {row['state']}; only a firing alert can be acknowledged", "state")
    updated = await alerting(request).acknowledge(alert_id, key or "anonymous")
    return json_response(alert_view(updated or row))


class SilenceBody(BaseModel):
    duration_s: float


@router.post("/v1/alerts/{alert_id}/silence", summary='Silence an alert: {"duration_s": seconds} (0 lifts it)')
async def silence_alert(alert_id: str, request: Request, _key: str | None = _ADMIN) -> Response:
    await _active_alert(request, alert_id)
    body: SilenceBody = await _body(request, SilenceBody, "silence")
    if not 0 <= body.duration_s <= 30 * 86400:
        raise ApiError(400, "duration_s must be between 0 and 2592000 (30 days)", "duration_s")
    updated = await alerting(request).silence(alert_id, datetime.now(UTC) + timedelta(seconds=body.duration_s))
    return json_response(alert_view(updated or {}))


@router.get("/v1/alerting/outbox", summary="Notifications: pending, sent and dead, oldest first")
async def outbox(request: Request, _key: str | None = _ADMIN) -> Response:
    return json_response({"outbox": await alerting(request).repo.outbox()})


@router.post("/v1/alerting/evaluate", summary="Evaluate windowed rules and send due notifications now")
async def evaluate(request: Request, _key: str | None = _ADMIN) -> Response:
    service = alerting(request)
    await service.evaluate_once()
    sent = await service.dispatcher.run_once()
    return json_response({"sent": sent})
