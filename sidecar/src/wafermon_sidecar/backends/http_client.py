"""The one HTTP client configuration every HTTP backend embeds, and the one way to open its session.

Modelled on the OpenTelemetry Collector's `confighttp.ClientConfig`: a backend's config struct
subclasses `HttpClientConfig` (so `url`, `timeout`, TLS, `headers`, `proxy` and `compression` are the
same keys, checked the same way, for every HTTP backend) and adds only what is particular to its
destination; `initialize()` calls `open_session(self.settings, name)`.

Secrets: `${ENV}` references in any of these strings (headers, url, proxy) are replaced when the
settings are loaded (wafermon_schema.settings_loader), so a header like
`Authorization: Bearer ${GATEWAY_TOKEN}` keeps the token out of the file.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Annotated, Literal

import aiohttp
import msgspec
from isal import igzip

from .base import ConfigurationError

# At most this many connections per backend: one delivery worker sends one request at a time, and a
# few more let a split (413) or a per-site request go out without waiting for a socket.
CONNECTIONS_PER_BACKEND = 4
# Fast gzip: the receiver's CPU and the network matter more than the last few percent of size.
GZIP_LEVEL = 1


class HttpClientConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Keys shared by every HTTP backend's `config` block (units: seconds; files: PEM paths)."""

    url: str = ""  # the endpoint; a backend may take the seeds' name too (webhook_url, base_url): endpoint_url()
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0  # one whole request, connect to last byte
    verify_ssl: bool = True  # false accepts any server certificate: for tests only
    ca_file: str | None = None  # trust these CAs (PEM) instead of the system's
    cert_file: str | None = None  # client certificate (PEM) for mutual TLS ...
    key_file: str | None = None  # ... and its private key (PEM); may be in cert_file
    headers: dict[str, str] = {}  # added to every request
    proxy: str | None = None  # http://[user:pass@]host:port; none: direct
    compression: Literal["none", "gzip"] = "none"  # request bodies; the answer is read either way


def check_url(url: str, key: str, name: str) -> str:
    """url when it is http:// or https://; else ConfigurationError naming `config.<key>`."""
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"backend {name!r}: config.{key} must be an http:// or https:// URL, got {url!r}")
    return url


def endpoint_url(given: Mapping[str, str], name: str) -> str:
    """The one URL set under one of its names (`{"url": ..., "base_url": ...}`, the documented name
    first), checked as by check_url. Raises ConfigurationError naming the keys when more than one is set
    (one would be ignored without a word) or, naming the first, when none is."""
    named = [key for key, value in given.items() if value]
    if len(named) > 1:
        raise ConfigurationError(
            f"backend {name!r}: config.{' and config.'.join(named)} name the same endpoint; set only one of them"
        )
    key = named[0] if named else next(iter(given))
    return check_url(given[key], key, name)


def ssl_context(config: HttpClientConfig, name: str) -> ssl.SSLContext | bool:
    """What aiohttp's `ssl=` takes for this config. Raises ConfigurationError naming the key whose
    file cannot be used."""
    if config.cert_file is None and config.key_file is not None:
        raise ConfigurationError(f"backend {name!r}: config.key_file is set but config.cert_file is not")
    if config.ca_file is None and config.cert_file is None:
        return config.verify_ssl  # True: the system's CAs; False: no verification
    key = "ca_file"
    try:
        context = ssl.create_default_context(cafile=config.ca_file)
        if not config.verify_ssl:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        key = "cert_file/key_file"
        if config.cert_file is not None:
            context.load_cert_chain(config.cert_file, config.key_file)
    except OSError as exc:  # ssl.SSLError is an OSError too
        reason = exc.reason if isinstance(exc, ssl.SSLError) else exc.strerror
        raise ConfigurationError(f"backend {name!r}: config.{key} cannot be used: {reason or exc}") from None
    return context


def open_session(config: HttpClientConfig, name: str, headers: dict[str, str] | None = None) -> aiohttp.ClientSession:
    """An aiohttp session for one backend: its timeout, TLS, proxy, compression and headers
    (`headers` are the backend's own defaults; the configured ones win). Call from the event loop
    (in `initialize()`); close it in `close()`. Raises ConfigurationError for unusable TLS files."""
    middlewares = (_gzip_body,) if config.compression == "gzip" else ()
    return aiohttp.ClientSession(
        headers={**(headers or {}), **config.headers},
        timeout=aiohttp.ClientTimeout(total=config.timeout),
        connector=aiohttp.TCPConnector(ssl=ssl_context(config, name), limit=CONNECTIONS_PER_BACKEND),
        proxy=config.proxy,
        middlewares=middlewares,
    )


async def _gzip_body(request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType) -> aiohttp.ClientResponse:
    """Compress a bytes body with gzip and say so in Content-Encoding."""
    body = request.body
    if isinstance(body, aiohttp.payload.BytesPayload) and "Content-Encoding" not in request.headers:
        raw = await body.as_bytes()
        request.headers["Content-Encoding"] = "gzip"
        await request.update_body(igzip.compress(raw, compresslevel=GZIP_LEVEL))
    return await handler(request)
