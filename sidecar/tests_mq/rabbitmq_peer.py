"""A real RabbitMQ node for the tests: Debian's rabbitmq-server started as the test's own process (not
the system service), its own Erlang port mapper (epmd) on a free port, a unique node name, data and
logs in a temp dir, AMQP on a free loopback port; stop() and start() again keep the data (a restart
mid-stream). The node refuses messages over MAX_MESSAGE_BYTES, so a test can send one it refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import aio_pika
from tls_certs import make_tls_files

from wafermon_testkit import free_port, wait_until

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
START_TIMEOUT_S = 180.0
#: the node's `max_message_size`: a message body above it is refused (channel closed, 406)
MAX_MESSAGE_BYTES = 65536


def peer_version() -> str:
    """The installed rabbitmq-server package's version, e.g. 3.10.8."""
    done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "rabbitmq-server"], capture_output=True, text=True)
    return done.stdout.split("-", 1)[0] or "unknown"


class RabbitNode:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.tls = make_tls_files(workdir / "tls")
        self.tls_port = free_port()
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.nodename = f"wafermon-{uuid.uuid4().hex[:8]}@localhost"
        self.log_path = workdir / "rabbitmq-server.out"
        self.proc: subprocess.Popen[bytes] | None = None
        (workdir / "home").mkdir(parents=True, exist_ok=True)
        (workdir / "rabbitmq.conf").write_text(
            "\n".join(
                [
                    f"listeners.tcp.default = 127.0.0.1:{self.port}",
                    "loopback_users = none",
                    f"listeners.ssl.default = 127.0.0.1:{self.tls_port}",
                    f"ssl_options.cacertfile = {self.tls.ca}",
                    f"ssl_options.certfile = {self.tls.cert}",
                    f"ssl_options.keyfile = {self.tls.key}",
                    "ssl_options.verify = verify_none",
                    "ssl_options.fail_if_no_peer_cert = false",
                    f"max_message_size = {MAX_MESSAGE_BYTES}",
                    "disk_free_limit.absolute = 1MB",  # a test machine's disk is not a broker's
                    "vm_memory_high_watermark.relative = 0.9",
                    "",
                ]
            )
        )
        (workdir / "enabled_plugins").write_text("[].\n")
        (workdir / "rabbitmq-env.conf").write_text("")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def tls_url(self) -> str:
        """amqps:// on the TLS listener, by the name its certificate holds."""
        return f"amqps://guest:guest@localhost:{self.tls_port}/"

    def env(self) -> dict[str, str]:
        return {
            "PATH": f"{RABBIT_BIN}:/usr/bin:/bin",
            "HOME": str(self.workdir / "home"),  # the Erlang cookie lives here
            "LANG": "C.UTF-8",
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.workdir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.workdir / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(self.workdir / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(self.workdir / "rabbitmq.pid"),
        }

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(RABBIT_BIN / "rabbitmqctl"), "-n", self.nodename, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(RABBIT_BIN / "rabbitmq-server")], env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        wait_until(self._ready, START_TIMEOUT_S, f"RabbitMQ {self.nodename} to start (log: {self.log_path})", 0.5)

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"rabbitmq-server exited with {self.proc.returncode}: {tail}")
        try:
            return self.ctl("await_startup", "--timeout", "5", timeout=30).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def stop(self) -> None:
        """Stops the node (rabbitmqctl stop, then the process group if it lingers); data stays."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):  # then the process group below
            self.ctl("stop", timeout=60)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(10)

    def shutdown(self) -> None:
        """stop() and the port mapper this node started (on its own port, so no one else's)."""
        self.stop()
        subprocess.run(
            ["/usr/bin/epmd", "-port", str(self.epmd_port), "-kill"], capture_output=True, timeout=30, check=False
        )


def bind_queue(url: str, exchange: str, binding: str = "#", arguments: dict[str, Any] | None = None) -> str:
    """Declares the durable topic exchange and a durable queue bound to it with `binding`; its name."""

    async def run() -> str:
        connection = await aio_pika.connect(url)
        async with connection:
            channel = await connection.channel()
            ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
            queue = await channel.declare_queue(f"q-{uuid.uuid4().hex[:8]}", durable=True, arguments=arguments)
            await queue.bind(ex, binding)
            return queue.name

    return asyncio.run(run())


def drain(url: str, queue: str, at_least: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Takes (and acks) messages from `queue` until at least `at_least` came and the queue stays empty
    for a moment, or `timeout` passes; each as a dict of its body, properties and routing key."""

    async def run() -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        connection = await aio_pika.connect(url)
        async with connection:
            channel = await connection.channel()
            q = await channel.get_queue(queue, ensure=True)
            deadline = time.monotonic() + timeout
            quiet_since: float | None = None
            while time.monotonic() < deadline:
                message = await q.get(fail=False, no_ack=True)
                if message is None:
                    if len(got) >= at_least:
                        quiet_since = quiet_since or time.monotonic()
                        if time.monotonic() - quiet_since > 0.5:
                            break
                    await asyncio.sleep(0.05)
                    continue
                quiet_since = None
                got.append(
                    {
                        "body": message.body,
                        "routing_key": message.routing_key,
                        "exchange": message.exchange,
                        "message_id": message.message_id,
                        "content_type": message.content_type,
                        "delivery_mode": int(message.delivery_mode),
                        "app_id": message.app_id,
                        "type": message.type,
                        "headers": dict(message.headers),
                    }
                )
        return got

    return asyncio.run(run())
