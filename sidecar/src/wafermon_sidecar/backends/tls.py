"""The TLS client context of the backends that open their own connections (mysql, nats, rabbitmq).

The HTTP backends take theirs from http_client.ssl_context; kafka and redis hand file paths to their
client libraries, which load them themselves."""

from __future__ import annotations

import ssl

from .base import TransientError


def client_context(
    backend: str, ca_file: str | None, cert_file: str | None, key_file: str | None, verify: bool, verify_key: str
) -> ssl.SSLContext:
    """A client context trusting ca_file (else the system's CAs), presenting cert_file/key_file when
    given, and checking the server's certificate and host name unless verify is false (`verify_key`
    names that setting in messages). Raises TransientError naming the key of a file that cannot be
    loaded: a file mounted late (a secret volume) is picked up on the next attempt, and until then the
    backend's lag and last error show it."""
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise TransientError(f"backend {backend!r}: cannot load config.ca_file {ca_file!r}: {exc}") from exc
    if cert_file:
        try:
            context.load_cert_chain(cert_file, key_file)
        except (OSError, ssl.SSLError) as exc:
            raise TransientError(
                f"backend {backend!r}: cannot load config.cert_file {cert_file!r} / config.key_file: {exc}"
            ) from exc
    if not verify:  # config.<verify_key>: false, for tests only
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
