"""The shared HTTP client config (backends/http_client.py), through the webhook and managed_api
backends, against real local servers: HTTPS with our own CA (certificates made by openssl here),
mutual TLS, `${ENV}` secrets in headers, gzip bodies, and an HTTP proxy in between."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from conftest import make_events

from wafermon_sidecar.backends.base import Backend, Batch, ConfigurationError, TransientError
from wafermon_sidecar.backends.managed_api import ManagedApiBackend
from wafermon_sidecar.backends.webhook import WebhookBackend
from wafermon_sidecar.config import build_settings
from wafermon_testkit.pki import Pki, make_pki

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@dataclass
class Seen:
    """What the server received: one entry per request."""

    headers: list[dict[str, str]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    client_cns: list[str | None] = field(default_factory=list)


@asynccontextmanager
async def serve(handler: Callable[[web.Request], Any], context: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


def recorder(seen: Seen) -> Callable[[web.Request], Any]:
    async def handle(request: web.Request) -> web.Response:
        body = await request.read()  # aiohttp's server undoes a Content-Encoding: gzip by itself
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        subject = dict(item[0] for item in peer["subject"]) if peer else {}
        seen.headers.append(dict(request.headers))
        seen.bodies.append(body)
        seen.urls.append(str(request.url))
        seen.client_cns.append(subject.get("commonName"))
        return web.json_response({"accepted": len(json.loads(body).get("events", []) if body.startswith(b"{") else [])})

    return handle


def server_tls(pki: Pki, require_client_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    if require_client_cert:
        context.load_verify_locations(pki.ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def backend_from_settings(backend: dict[str, Any], env: dict[str, str]) -> Backend:
    """The backend as the sidecar builds it: its config block through the settings loader (which
    expands ${ENV}), then the entry point's class."""
    settings = build_settings({"backends": [backend]}, environ=env)
    kind = {"webhook": WebhookBackend, "managed_api": ManagedApiBackend}[backend["type"]]
    return kind(settings.backends[0].name, settings.backends[0].config)


async def deliver(backend: Backend, events: list[dict[str, Any]]) -> None:
    await backend.initialize()
    try:
        await backend.send_batch(Batch([json.dumps(e).encode() for e in events]))
    finally:
        await backend.close()


def test_webhook_over_mutual_tls_with_a_ca_file_env_secret_headers_and_gzip(pki: Pki) -> None:
    seen, events = Seen(), make_events(3)

    async def run() -> None:
        async with serve(recorder(seen), server_tls(pki, require_client_cert=True)) as port:
            config = {
                "url": f"https://127.0.0.1:{port}/hook",
                "ca_file": str(pki.ca),
                "cert_file": str(pki.client_cert),
                "key_file": str(pki.client_key),
                "headers": {"Authorization": "Bearer ${HOOK_TOKEN}", "X-Site": "fab1"},
                "compression": "gzip",
                "timeout": 30,
            }
            backend = backend_from_settings({"type": "webhook", "config": config}, {"HOOK_TOKEN": "s3cr3t"})
            await deliver(backend, events)

    asyncio.run(run())
    assert [e["event_id"] for e in json.loads(seen.bodies[0])] == [e["event_id"] for e in events]
    headers = seen.headers[0]
    assert headers["Authorization"] == "Bearer s3cr3t" and headers["X-Site"] == "fab1"
    assert headers["Content-Encoding"] == "gzip" and headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) < len(seen.bodies[0]) / 2  # what went over the wire was compressed
    assert headers["X-Wafermon-Event-Count"] == "3"
    assert seen.client_cns == ["wafermon test client"]  # the server saw our client certificate


def test_managed_api_uses_the_same_keys(pki: Pki) -> None:
    seen, events = Seen(), make_events(2)

    async def run() -> None:
        async with serve(recorder(seen), server_tls(pki, require_client_cert=False)) as port:
            config = {"url": f"https://127.0.0.1:{port}", "ca_file": str(pki.ca), "api_key": "${GW_KEY}",
                      "headers": {"X-Extra": "1"}}  # fmt: skip
            await deliver(backend_from_settings({"type": "managed_api", "config": config}, {"GW_KEY": "k-1"}), events)

    asyncio.run(run())
    assert seen.urls[0].endswith("/v1/ingest/managed")
    assert seen.headers[0]["Authorization"] == "Bearer k-1" and seen.headers[0]["X-Extra"] == "1"
    assert "Content-Encoding" not in seen.headers[0]  # compression is off unless asked for
    assert len(json.loads(seen.bodies[0])["events"]) == 2


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({}, "certificate verify failed"),  # the system's CAs do not know our test CA
        # the server wants a client certificate (TLS 1.3 tells the client only by closing the connection)
        ({"ca_file": "CA"}, None),
        ({"verify_ssl": False}, None),  # no verification of the server, still no client certificate
    ],
)
def test_tls_failures_are_transient_and_say_why(pki: Pki, config: dict[str, Any], needle: str | None) -> None:
    seen = Seen()

    async def run() -> str:
        async with serve(recorder(seen), server_tls(pki, require_client_cert=True)) as port:
            full = {"url": f"https://127.0.0.1:{port}/hook", **config}
            if full.get("ca_file") == "CA":
                full["ca_file"] = str(pki.ca)
            backend = backend_from_settings({"type": "webhook", "config": full}, {})
            with pytest.raises(TransientError) as err:
                await deliver(backend, make_events(1))
            return str(err.value)

    message = asyncio.run(run())
    assert needle is None or needle in message.lower(), message
    assert seen.bodies == []


def test_requests_go_through_the_configured_proxy() -> None:
    seen, proxied = Seen(), Seen()

    async def proxy(request: web.Request) -> web.Response:
        # a forward proxy: the request line holds the absolute URL of the target
        proxied.urls.append(str(request.url))
        body = await request.read()
        async with aiohttp.ClientSession() as session:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "proxy-connection")}
            async with session.request(request.method, str(request.url), data=body, headers=headers) as answer:
                return web.Response(status=answer.status, body=await answer.read(), content_type="application/json")

    async def run() -> None:
        async with serve(recorder(seen)) as target, serve(proxy) as proxy_port:
            config = {"url": f"http://127.0.0.1:{target}/hook", "proxy": f"http://127.0.0.1:{proxy_port}"}
            await deliver(backend_from_settings({"type": "webhook", "config": config}, {}), make_events(2))

    asyncio.run(run())
    assert len(proxied.urls) == 1 and proxied.urls[0].endswith("/hook") and len(seen.bodies) == 1


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"url": "http://h/", "timeout": 0}, "backend 'webhook': config.timeout: must be greater than 0"),
        ({"url": "http://h/", "bogus": 1}, "backend 'webhook': config.bogus: unknown key"),
        (
            {"url": "http://h/", "compression": "zstd"},
            "backend 'webhook': config.compression: must be one of 'none', 'gzip'",
        ),
        ({"url": "ftp://h/"}, "backend 'webhook': config.url must be an http:// or https:// URL, got 'ftp://h/'"),
        ({}, "backend 'webhook': config.webhook_url must be an http:// or https:// URL, got ''"),
    ],
)
def test_bad_client_config_is_refused_with_the_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        WebhookBackend("webhook", config)
    assert str(err.value).startswith(message), str(err.value)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"ca_file": "/nonexistent/ca.pem"}, "config.ca_file cannot be used: No such file or directory"),
        ({"key_file": "/k.pem"}, "config.key_file is set but config.cert_file is not"),
        ({"cert_file": "/nonexistent/c.pem"}, "config.cert_file/key_file cannot be used: No such file or directory"),
    ],
)
def test_unusable_tls_files_are_named(config: dict[str, Any], message: str) -> None:
    backend = ManagedApiBackend("gw", {"url": "https://127.0.0.1:1", **config})
    with pytest.raises(ConfigurationError) as err:
        asyncio.run(backend.initialize())
    assert str(err.value) == f"backend 'gw': {message}"
