# Types of the C module wafermon._speedups (bindings/python/speedups.c).
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

from wafermon._client import Client

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
    def __enter__(self) -> Any: ...  # wafermon.Job
    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool: ...

def bind(
    *,
    functions: Mapping[str, int],
    job_class: type,
    scope_class: type,
    job_fallback: Callable[[Any, Any, Any, Any], Any],
    default_client: Callable[[], Any],
    text: Callable[[str, object], Any],
    encode: Callable[[object], Any],
    raise_status: Callable[[int, str], None],
    finish_for: Callable[[Any, BaseException | None], None],
    closed_error: type[BaseException],
    to_cdata: Callable[[int], Any],
) -> None: ...
def set_pid(pid: int) -> None: ...
def set_child(flag: bool) -> None: ...
def job(
    business_key: str | None = None,
    /,
    *,
    site_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    client: Any = None,
) -> Any: ...
