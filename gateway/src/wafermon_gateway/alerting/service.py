"""The alerting service of one gateway: rule and notifier cache, ingest hook, timer, outbox.

Evaluations run one at a time (a lock, and across gateways sharing a PostgreSQL an advisory lock;
only the evaluator gateway runs the timer and the dispatcher: leader.py), so two batches never race
to open the same alert. The
ingest hook never fails or delays an ingest: evaluation runs in a task after the response is
decided, and its errors are logged and counted.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from ..batch import Prepared
from ..liveness import iso
from ..periodic import every, stop_all
from ..reducer import Facts
from ..store import Store
from .db import AlertDb
from .declared import DECLARATION_KEY, DeclarationError, parse
from .direct import DirectMessage, DirectQueue
from .dispatch import Dispatcher
from .jobmetrics import JobMetrics
from .leader import Leadership
from .lifecycle import Lifecycle
from .model import NotifierSpec, Rule
from .monitors import Monitors
from .notifiers.base import Message, Notifier
from .notifiers.registry import build
from .on_ingest import job_failed, newly_finished, prior_terminal
from .on_timer import WINDOWED
from .repo import AlertRepo
from .settings import AlertingSettings
from .sidecars import Sidecars

log = logging.getLogger("wafermon.gateway.alerting")
RULES, NOTIFIERS = "alert_rules", "alert_notifiers"
DECLARATION_ERRORS_KEPT = 50
DECLARED_CACHE_MAX = 10_000


class Alerting:
    def __init__(self, settings: AlertingSettings, store: Store, metrics: JobMetrics) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.repo = AlertRepo(AlertDb(store))
        self.lifecycle = Lifecycle(self.repo, settings)
        self.monitors = Monitors(self.repo.db, self.lifecycle)
        self.sidecars = Sidecars(self.repo.db)
        self.rules: dict[str, Rule] = {}
        self.notifiers: dict[str, Notifier] = {}
        self.leader = Leadership(store, settings.evaluator_retry_s)
        self.dispatcher = Dispatcher(self.repo, settings, self.notifiers.get, self._kind_of, self._count,
                                     lambda: self.leader.is_evaluator)  # fmt: skip
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: set[asyncio.Task[None]] = set()
        self._store_down_since: datetime | None = None
        # Monitors declared from code: the body last applied per name (so an unchanged declaration costs
        # no store access; bounded, cleared when full), and the latest refused declarations.
        self._declared: dict[str, str] = {}
        self._ignored_noted: set[str] = set()
        self.declaration_errors: deque[dict[str, Any]] = deque(maxlen=DECLARATION_ERRORS_KEPT)
        self.direct = DirectQueue(settings.direct_queue_max, settings.send_timeout_s, self.dispatcher.backoff,
                                  self._count_direct)  # fmt: skip

    def _kind_of(self, rule: str) -> str:
        return self.rules[rule].kind if rule in self.rules else "unknown"

    def _count(self, _notifier: str, ok: bool) -> None:
        self.metrics.notifications.labels("sent" if ok else "failed").inc()

    def _count_direct(self, _notifier: str, outcome: str) -> None:
        self.metrics.notifications.labels(outcome).inc()

    # --- start-up and configuration -------------------------------------------------------------
    async def open(self) -> None:
        """Write the settings file's rules and notifiers into the store, then load everything."""
        now = datetime.now(UTC)
        for spec in self.settings.notifiers:
            build(spec)  # refuse a bad config at start, in our words
            await self.repo.put(NOTIFIERS, spec.name, spec.model_dump_json(), "settings", now)
        for rule in self.settings.rules:
            await self.repo.put(RULES, rule.name, rule.model_dump_json(), "settings", now)
        for monitor in self.settings.monitors:
            await self.monitors.put(monitor, "settings", now)
        await self.reload()

    async def reload(self) -> None:
        self.rules.clear()
        self.rules.update({r.name: r for r in await self.repo.rules()})
        built: dict[str, Notifier] = {}
        for spec in await self.repo.notifiers():
            try:
                built[spec.name] = build(spec)
            except ValueError as exc:  # stored before a plug-in went away: keep its messages pending
                log.warning("notifier %s unusable: %s", spec.name, exc)
        self.notifiers.clear()
        self.notifiers.update(built)

    async def put_rule(self, rule: Rule) -> bool:
        created = await self.repo.put(RULES, rule.name, rule.model_dump_json(), "api", datetime.now(UTC))
        await self.reload()
        return created

    async def put_notifier(self, spec: NotifierSpec) -> bool:
        build(spec)
        created = await self.repo.put(NOTIFIERS, spec.name, spec.model_dump_json(), "api", datetime.now(UTC))
        await self.reload()
        self.dispatcher.wake.set()
        return created

    async def delete(self, table: str, name: str) -> bool:
        gone = await self.repo.delete(table, name)
        await self.reload()
        return gone

    def forget_declared(self, name: str) -> None:
        """A monitor deleted or replaced through the API: the next declaration of it is applied again."""
        self._declared.pop(name, None)
        self._ignored_noted.discard(name)

    # --- background -----------------------------------------------------------------------------
    def start(self) -> None:
        def failed(exc: Exception) -> None:  # keep evaluating; the next tick retries
            log.warning("alert evaluation failed: %s", exc)

        async def tick() -> None:  # only the gateway that holds the evaluator lock evaluates
            if self.leader.is_evaluator:
                await self.evaluate_once()

        timer = every(self.settings.evaluate_interval_s, tick, failed)
        self._tasks = [asyncio.create_task(self.leader.hold()), asyncio.create_task(self.dispatcher.loop()),
                       asyncio.create_task(timer)]  # fmt: skip

    async def stop(self) -> None:
        if self._pending:
            await asyncio.wait(self._pending, timeout=5)
        await stop_all(self._tasks)
        self._tasks = []

    # --- ingest hook ----------------------------------------------------------------------------
    async def before_ingest(self, events: list[Prepared]) -> set[str] | None:
        """Jobs of the batch already terminal in the store (their repeats are not new); None on error."""
        try:
            return await prior_terminal(self.repo.db, events)
        except Exception as exc:  # never fail an ingest for alerting
            log.warning("alerting could not read prior job states: %s", exc)
            return None

    def after_ingest(self, events: list[Prepared], prior: set[str] | None) -> None:
        declarations = [p.facts for p in events
                        if p.facts.entity_type == "job" and DECLARATION_KEY in p.facts.metadata]  # fmt: skip
        if declarations:
            self._spawn(self._declare(declarations))
        if prior is None or not events:
            return
        finished = newly_finished(events, prior)
        if not finished:
            return
        for job in finished:
            self.metrics.finished(job)
        self._spawn(self._on_finished(finished))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _declare(self, jobs: list[Facts]) -> None:
        """Create or update the monitors these job events declare (see declared.py); one batch at a
        time, so two batches declaring the same new monitor do not both insert it."""
        async with self._lock:
            await self._declare_locked(jobs)

    async def _declare_locked(self, jobs: list[Facts]) -> None:
        now = datetime.now(UTC)
        for job in jobs:
            try:
                monitor = parse(job.metadata[DECLARATION_KEY], job.app_name)
            except DeclarationError as exc:
                log.warning("monitor declaration of job %s (app %s) refused: %s", job.entity_id, job.app_name, exc)
                refused = {"at": iso(now), "job_id": job.entity_id, "app": job.app_name, "site_id": job.site_id}
                self.declaration_errors.append(refused | {"field": exc.field, "message": exc.message})
                continue
            body = monitor.model_dump_json()
            if self._declared.get(monitor.name) == body:
                continue
            try:
                outcome = await self.monitors.declare(monitor, now)
            except Exception as exc:  # the store may be down: the next run declares it again
                log.warning("monitor %s declared by job %s not stored: %s", monitor.name, job.entity_id, exc)
                continue
            if outcome == "configured":
                if monitor.name not in self._ignored_noted and len(self._ignored_noted) < DECLARED_CACHE_MAX:
                    self._ignored_noted.add(monitor.name)
                    log.info("monitor %s is configured in the gateway (settings or API); the declaration in "
                             "the code of app %s is ignored", monitor.name, job.app_name)  # fmt: skip
                continue
            if outcome != "unchanged":
                log.info("monitor %s %s from the code of app %s", monitor.name, outcome, job.app_name)
            if len(self._declared) >= DECLARED_CACHE_MAX:
                self._declared.clear()
            self._declared[monitor.name] = body

    async def _on_finished(self, finished: list[dict[str, Any]]) -> None:
        try:
            async with self._lock, self.leader.evaluation():
                now = datetime.now(UTC)
                for rule in list(self.rules.values()):
                    if rule.enabled and rule.kind == "job_failed":
                        for finding in await job_failed(rule, finished, self.repo, now):
                            await self.lifecycle.apply(rule, finding, now)
            self.dispatcher.wake.set()
        except Exception as exc:
            log.warning("alerting on ingest failed: %s", exc)

    # --- timer ----------------------------------------------------------------------------------
    async def evaluate_once(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        if not await self._store_check(now):
            return
        async with self._lock, self.leader.evaluation():
            for rule in list(self.rules.values()):
                if not rule.enabled or rule.kind not in WINDOWED:
                    continue
                findings = await WINDOWED[rule.kind](rule, self.repo.db, now)
                for finding in findings:
                    await self.lifecycle.apply(rule, finding, now)
                await self.lifecycle.resolve_missing(rule, {f.key for f in findings}, now)
            for name, state in (await self.monitors.evaluate_all(now)).items():
                self.metrics.monitor_state(name, state)
            active = await self.repo.all_active()
            for alert in active:
                if alert["rule"] in self.rules:
                    await self.lifecycle.repeat_if_due(self.rules[alert["rule"]], alert["alert_id"], now)
            self.metrics.alerts_firing.set(len(active))
            rows = await self.repo.db.fetch(
                "SELECT site_id, app_name, status, count(*) AS n FROM jobs WHERE status IN ('running', 'lost') "
                "GROUP BY site_id, app_name, status"
            )
            self.metrics.set_current(rows)
        self.dispatcher.wake.set()

    async def _store_check(self, now: datetime) -> bool:
        """store_unreachable: the store cannot hold this alert, so the firing message waits in a bounded
        in-memory queue and is retried on each tick; once the store is back the alert is recorded
        (resolved), with any firing message still undelivered and the resolved message in the outbox."""
        watchers = [r for r in self.rules.values() if r.enabled and r.kind == "store_unreachable"]
        try:
            await self.store.ping()
        except Exception as exc:
            if self._store_down_since is None:
                self._store_down_since = now
                self._queue_direct(watchers, f"the gateway's store is unreachable: {type(exc).__name__}", now)
            await self.direct.send_due(self.notifiers.get, now)
            return False
        if self._store_down_since is not None:
            await self._record_outage(watchers, self._store_down_since, now)
            self._store_down_since = None
        return True

    async def _record_outage(self, watchers: list[Rule], since: datetime, now: datetime) -> None:
        """One transaction per rule; raises (and the next tick retries) if the store fails again."""
        undelivered = self.direct.pending()
        for rule in watchers:
            alert_id = str(uuid.uuid4())
            late = [d for d in undelivered if d.rule == rule.name]
            await self.repo.db.many([
                self.repo.insert_alert({
                    "alert_id": alert_id, "alert_key": rule.name, "rule": rule.name, "scope": "{}",
                    "state": "resolved", "summary": f"{rule.name}: the store was unreachable from {iso(since)}",
                    "items": "[]", "item_count": 0, "started_at": iso(since), "updated_at": iso(now),
                    "resolved_at": iso(now), "notified_at": iso(since),
                }),
                # created at `since`, so the late firing message is sent before the resolved one
                *[self.repo.enqueue(alert_id, d.notifier, "firing", since, now) for d in late],
                *[self.repo.enqueue(alert_id, n, "resolved", now, now) for n in rule.notify],
            ])  # fmt: skip
            self.direct.forget(late)
        self.direct.forget(undelivered)  # messages of rules deleted meanwhile cannot be recorded
        self.dispatcher.wake.set()

    def _queue_direct(self, rules: list[Rule], summary: str, now: datetime) -> None:
        for rule in rules:
            alert = {"alert_id": str(uuid.uuid4()), "alert_key": rule.name, "rule": rule.name, "kind": rule.kind,
                     "scope": {}, "state": "firing", "summary": f"{rule.name}: {summary}", "items": [],
                     "item_count": 0, "started_at": iso(now), "resolved_at": None}  # fmt: skip
            for name in rule.notify:
                message = Message(str(uuid.uuid4()), "firing", alert, self.settings.dashboard_url)
                self.direct.add(DirectMessage(rule.name, name, message, now))

    # --- acknowledge and silence ------------------------------------------------------------------
    async def acknowledge(self, alert_id: str, by: str) -> dict[str, Any] | None:
        now = iso(datetime.now(UTC))
        await self.repo.db.many([self.repo.update_alert(alert_id, {"state": "acknowledged", "acked_by": by,
                                                                    "acked_at": now})])  # fmt: skip
        return await self.repo.get(alert_id)

    async def silence(self, alert_id: str, until: datetime) -> dict[str, Any] | None:
        await self.repo.db.many([self.repo.update_alert(alert_id, {"silenced_until": iso(until)})])
        return await self.repo.get(alert_id)


__all__ = ["Alerting"]
