# Types of the C module wafermon._speedups (bindings/python/speedups.c), where every job of the
# Python SDK starts.
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, overload

from wafermon._client import Client
from wafermon._job import Job
from wafermon._scope import JobScope

_F = TypeVar("_F", bound=Callable[..., Any])

class JobCore:
    _client: Client
    _pid: int
    _id: str | None
    business_key: str | None
    sub_key: str | None
    parent: JobCore | None
    @property
    def _ptr(self) -> Any: ...
    @property
    def _addr(self) -> int: ...
    def __new__(
        cls, address: int, client: Client, business_key: str | None, sub_key: str | None, parent: JobCore | None
    ) -> Self: ...

class ScopeCore:
    _business_key: str | None
    _site_id: str | None
    _meta: bytes | None
    _client: Client | None
    def __init__(
        self,
        business_key: str | None = None,
        *,
        site_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        client: Client | None = None,
    ) -> None: ...
    def start(self, *, app_name: str | None = None, app_version: str | None = None, app_id: str | None = None) -> Job:
        """Starts the job now and returns it, without entering the scope; finish it yourself.
        ``app_*``: the app its events carry, None for the client's configured one."""
    def __enter__(self) -> Job: ...
    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]: ...

def bind(
    *,
    functions: Mapping[str, int],
    job_class: type,
    scope_class: type,
    default_client: Callable[[], Any],
    text: Callable[[str, object], Any],
    encode: Callable[[object], Any],
    with_monitor: Callable[[Mapping[str, Any] | None, Mapping[str, Any] | None], Mapping[str, Any] | None],
    raise_status: Callable[[int, str], None],
    finish_for: Callable[[Any, BaseException | None], None],
    closed_error: type[BaseException],
    to_cdata: Callable[[int], Any],
) -> None: ...
def set_pid(pid: int) -> None: ...
def set_child(flag: bool) -> None: ...
@overload
def job(business_key: _F, /) -> _F: ...
@overload
def job(
    business_key: str | None = None,
    /,
    *,
    site_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    client: Client | None = None,
    monitor: Mapping[str, Any] | None = None,
) -> JobScope:
    """A job: ``with wafermon.job("batch-1", site_id="fab1", metadata={...}) as job:``, also
    ``async with`` and ``@wafermon.job("batch-1")`` on plain and async functions (``@wafermon.job``
    without arguments uses the function's qualified name as the business key).

    The job starts when the block is entered (or the function called) and finishes when it is
    left: succeeded, failed with the exception's type and message (which propagates), or
    cancelled on ``KeyboardInterrupt`` / ``asyncio.CancelledError``. Without ``client`` it runs
    on the default client (see :func:`wafermon.configure`). ``site_id`` None: the configured site.
    Raises :class:`wafermon.InvalidArgumentError` / ``EncodingError`` for a bad key or site,
    :class:`wafermon.MetadataError` for metadata JSON cannot carry. ``monitor``: a schedule monitor
    declared from code, e.g. ``{"schedule": "0 2 * * *", "tz": "Europe/Berlin", "max_runtime_s":
    3600}``, sent in the metadata under ``"wafermon.monitor"`` (docs/alerting.md);
    :class:`wafermon.InvalidArgumentError` if it is not a mapping.
    """
