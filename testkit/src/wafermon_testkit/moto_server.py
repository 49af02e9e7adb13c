"""moto in server mode: an AWS protocol emulator (S3, SQS, CloudWatch Logs, X-Ray, ...) as its own
process on a free loopback port. It is an emulator, not AWS: tests that use it say so in their names.

``MotoServer(workdir).start()`` returns once the server answers; ``stop()`` ends it (an outage),
``start()`` brings it back on the same port (moto keeps its state in memory: a stopped server
forgets everything, so an outage test reads back only what was written after the restart, or
recreates what it needs); ``reset()`` empties every service between tests.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path
from types import TracebackType

from wafermon_testkit.net import free_port
from wafermon_testkit.process import Service, clean_env

#: Credentials moto accepts (any are); the region every test uses.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "moto-test-key",
    "AWS_SECRET_ACCESS_KEY": "moto-test-secret",
    "AWS_DEFAULT_REGION": "eu-west-1",
    # never a developer's files or an instance's role
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
}
REGION = CREDENTIALS["AWS_DEFAULT_REGION"]


def use_test_credentials() -> None:
    """Put CREDENTIALS in this process's environment (the AWS chain's first link, which the sidecars a
    test starts inherit) and take out what would reach past them to a developer's profile or session."""
    os.environ.update(CREDENTIALS)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
        os.environ.pop(name, None)


class MotoServer:
    """`python -m moto.server` on 127.0.0.1:<free port>, its output in workdir/moto.log."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.service: Service | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.service = Service(
            argv,
            self.url,
            self.workdir / "moto.log",
            env=clean_env(**CREDENTIALS),
            health_path="/moto-api/data.json",
            name="moto_server (AWS emulator)",
        )
        self.service.start()
        return self

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop(10)

    def reset(self) -> None:
        """Forget every bucket, queue, log group and trace (POST /moto-api/reset)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200, f"moto reset answered {response.status}"

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
