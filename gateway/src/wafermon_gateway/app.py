"""The app factory: settings in, FastAPI app out; the store and background tasks live in its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from . import __version__
from .alerting.jobmetrics import JobMetrics
from .alerting.service import Alerting
from .auth import Authenticator
from .errors import install_handlers
from .metrics import GatewayMetrics, MetricsMiddleware
from .openapi import build as build_openapi
from .routes import admin, alerting, health, ingest, jobs, monitors, sidecars, stats, stream, ui
from .runtime import Runtime
from .settings import Settings, check_bind_policy
from .store import Store, make_store
from .tasks import Background


def create_app(settings: Settings, store: Store | None = None, background_tasks: bool = True) -> FastAPI:
    """Build the app. Tests may pass their own store; background_tasks=False leaves timers off so
    liveness and retention run only when a test asks (POST /v1/admin/maintenance)."""
    check_bind_policy(settings)
    the_store = store or make_store(settings)
    metrics = GatewayMetrics()
    alerts = Alerting(settings.alerting, the_store, JobMetrics(metrics.registry, settings.alerting.max_metric_series))
    runtime = Runtime(settings, the_store, Authenticator(settings.api_keys), metrics,
                      Background(settings, the_store, metrics), alerts)  # fmt: skip

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await the_store.open()
        await alerts.open()
        if background_tasks:
            runtime.background.start()
            if settings.alerting.enabled:
                alerts.start()
        try:
            yield
        finally:
            await alerts.stop()
            await runtime.background.stop()
            await the_store.close()

    app = FastAPI(
        title="wafermon gateway",
        version=__version__,
        description="Per-site store and API for wafermon job events: ingest, queries, live stream, liveness.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    install_handlers(app)
    for module in (ingest, jobs, stream, health, admin, alerting, monitors, sidecars, stats):
        app.include_router(module.router)
    ui.mount(app)
    app.add_middleware(MetricsMiddleware, metrics=metrics, batch_route=ingest.PATH)
    return app
