"""Compatibility with the seeds' ``monitoring_sdk``: ``Monitored``, ``AppRef``, ``SidecarEmitter``.

Existing code switches by changing its import::

    from wafermon.compat import AppRef, Monitored, SidecarEmitter   # was: from monitoring_sdk ...

``Monitored`` runs on a wafermon client: the default one, or one per distinct ``SidecarEmitter``
configuration made of the default's. The ``AppRef`` is per job: its name, version and ``app_id``
go into that job's events (and its sub-jobs') through ``wm_job_start_app``, so any number of
distinct apps share one client (one thread, one spool slot). At most :data:`MAX_CLIENTS` distinct
emitters; ``wafermon.flush()`` and ``wafermon.shutdown()`` reach them all. A sub-job names
its parent by ``parent_id=job.entity_id``; the parent must be a ``Monitored`` (or a :class:`Job`)
running in this process.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from uuid import UUID

from ._client import Client
from ._job import Job, finish_for
from .errors import ConfigError, InvalidArgumentError, StateError


@dataclass(frozen=True)
class AppRef:
    """The application that runs the jobs (``app`` in every event)."""

    name: str
    version: str = "unknown"
    app_id: UUID | str | None = None  # "app.id" in the job's events when set


@dataclass(frozen=True)
class SidecarEmitter:
    """Where events go: the sidecar at ``base_url``. ``max_retries``/``timeout`` map onto
    ``sidecar.retries``/``sidecar.timeout``; ``enable_retries=False`` means no retries."""

    base_url: str = "http://127.0.0.1:17000"
    timeout: float = 5.0
    max_retries: int = 3
    enable_retries: bool = True
    token: str | None = None

    def config(self) -> dict[str, Any]:
        """This emitter as wafermon configuration."""
        sidecar: dict[str, Any] = {
            "url": self.base_url,
            "timeout": self.timeout,
            "retries": self.max_retries if self.enable_retries else 0,
        }
        if self.token is not None:
            sidecar["token"] = self.token
        return {"mode": "sidecar", "sidecar": sidecar}


MAX_CLIENTS = 16
"""Distinct ``SidecarEmitter`` configurations with a client each; one more raises
:class:`ConfigError` — every client holds a delivery thread and a spool slot. An ``AppRef`` does not
count: the app is per job."""

_clients: dict[str, Client] = {}
_clients_lock = threading.Lock()
_running: weakref.WeakValueDictionary[str, Job] = weakref.WeakValueDictionary()


def _client_for(emitter: SidecarEmitter | None) -> Client:
    from ._default import add_client, default_client

    default = default_client()
    if emitter is None:
        return default
    # Everything else as the default client was configured (wafermon.configure).
    config = default.settings
    config.update(emitter.config())
    if config == default.settings:
        return default
    key = json.dumps(config, sort_keys=True, default=str)
    with _clients_lock:
        client = _clients.get(key)
        if client is None or client.closed:
            for stale in [k for k, c in _clients.items() if c.closed]:
                del _clients[stale]
            if len(_clients) >= MAX_CLIENTS:
                raise ConfigError(
                    f"wafermon.compat: at most {MAX_CLIENTS} distinct SidecarEmitter configurations in one "
                    f"process (each is a client with its own thread and spool); this one sends to "
                    f"{emitter.base_url!r}"
                )
            client = _clients[key] = Client(config)
            add_client(client)
        return client


def close_clients(timeout: float | None = None) -> None:
    """Closes the clients opened for ``AppRef`` / ``SidecarEmitter`` configurations now (they are
    also closed by ``wafermon.shutdown()`` and at interpreter exit)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close(timeout)


class Monitored:
    """A job or sub-job for the block of a ``with`` statement (the seeds' API).

    ``entity_id`` is set once entered; ``tick(extra_meta=...)`` reports progress (a numeric
    ``"progress"`` entry becomes the fraction) or, without arguments, a heartbeat. The outcome
    follows the block as with :func:`wafermon.job`.
    """

    def __init__(
        self,
        site_id: str | None = None,
        app: AppRef | None = None,
        entity_type: str = "job",
        business_key: str | None = None,
        sub_key: str | None = None,
        parent_id: UUID | str | None = None,
        metadata: Mapping[str, Any] | None = None,
        emitter: SidecarEmitter | None = None,
    ) -> None:
        if entity_type not in ("job", "subjob"):
            raise InvalidArgumentError(f'entity_type must be "job" or "subjob", got {entity_type!r}')
        if entity_type == "subjob" and parent_id is None:
            raise InvalidArgumentError('parent_id is required when entity_type is "subjob"')
        self.site_id = site_id
        self.app = app
        self.entity_type = entity_type
        self.business_key = business_key
        self.sub_key = sub_key
        self.parent_id = str(parent_id) if parent_id is not None else None
        self.metadata = dict(metadata) if metadata else None
        self.emitter = emitter
        self.job: Job | None = None

    @property
    def entity_id(self) -> str:
        """The entity_id of the running job (after ``__enter__``)."""
        return self._running().id

    def _running(self) -> Job:
        if self.job is None:
            raise StateError("Monitored: the job has not been started (use it in a with statement)")
        return self.job

    def start(self) -> Job:
        """Starts the job (what ``__enter__`` does)."""
        if self.entity_type == "subjob":
            parent = _running.get(self.parent_id or "")
            if parent is None:
                raise InvalidArgumentError(
                    f"parent_id {self.parent_id} is not a job running in this process "
                    "(start sub-jobs inside their parent's Monitored block)"
                )
            job = parent.subjob(self.sub_key, metadata=self.metadata)
        else:
            client = _client_for(self.emitter)
            if self.app is None:
                job = client.start(self.business_key, site_id=self.site_id, metadata=self.metadata)
            else:
                app_id = str(self.app.app_id) if self.app.app_id is not None else None
                job = client.start_for_app(
                    self.app.name,
                    self.app.version,
                    app_id,
                    self.business_key,
                    site_id=self.site_id,
                    metadata=self.metadata,
                )
        self.job = job
        _running[job.id] = job
        return job

    def tick(self, extra_meta: Mapping[str, Any] | None = None) -> None:
        """Progress with ``extra_meta`` (its numeric ``"progress"`` is the fraction), or a
        heartbeat when there is nothing to say."""
        job = self._running()
        if not extra_meta:
            job.heartbeat()
            return
        meta = dict(extra_meta)
        fraction = meta.pop("progress", None)
        if not isinstance(fraction, int | float) or isinstance(fraction, bool):
            if fraction is not None:
                meta["progress"] = fraction
            fraction = None
        job.progress(fraction, meta or None)

    def __enter__(self) -> Monitored:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        finish_for(self._running(), exc)

    async def __aenter__(self) -> Monitored:
        return self.__enter__()

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(et, exc, tb)


__all__ = ["MAX_CLIENTS", "AppRef", "Monitored", "SidecarEmitter", "close_clients"]
