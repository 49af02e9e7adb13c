"""`wafermon-gateway [--config FILE] [--host H] [--port P]`: load settings, check them, serve."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import uvicorn

from .app import create_app
from .settings import SettingsError, check_bind_policy, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wafermon-gateway", description="wafermon per-site gateway")
    parser.add_argument("--config", type=Path, help="TOML or JSON settings file (also WAFERMON_GATEWAY_CONFIG)")
    parser.add_argument("--host", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 18000)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config, {"host": args.host, "port": args.port})
        check_bind_policy(settings)
    except SettingsError as exc:
        print(f"wafermon-gateway: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = f"PostgreSQL ({settings.database_url.split('@')[-1]})" if settings.uses_postgres else settings.sqlite_path
    logging.getLogger("wafermon.gateway").info("store: %s", store)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        # SSE streams never finish on their own; without a bound, SIGTERM would wait for every client.
        timeout_graceful_shutdown=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
