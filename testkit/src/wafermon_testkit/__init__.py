"""Test support for the wafermon repository: one place for what every test tree needs.

- ``net``: ``free_port``, ``wait_until``
- ``process``: ``Service`` (start a process, wait for GET /v1/healthz), ``gateway_process``,
  ``sqlite_gateway``, ``clean_env``, ``console_script``
- ``receiver``: the one stand-in HTTP receiver (``Receiver``, ``ingest_receiver``)
- ``postgres``: a throwaway PostgreSQL server (``Postgres``, ``postgres_server``)
- ``moto_server``: moto in server mode, an AWS protocol emulator (``MotoServer``)
- ``peers``: laying out the backend tests' real peers (``laid_out``, ``pom_property``, ``JAVA``)

Not a product package: installed editable by scripts/bootstrap.sh, never built into a wheel.
"""

from wafermon_testkit.net import free_port, wait_until
from wafermon_testkit.process import Service, clean_env, console_script, gateway_process, sqlite_gateway
from wafermon_testkit.receiver import Receiver, ingest_receiver

__all__ = [
    "Receiver",
    "Service",
    "clean_env",
    "console_script",
    "free_port",
    "gateway_process",
    "ingest_receiver",
    "sqlite_gateway",
    "wait_until",
]
