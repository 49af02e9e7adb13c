"""A real single-node Cassandra for the tests: cassandra-all's jars laid out by
sidecar/peers/cassandra/fetch.sh (Maven Central), its own cassandra.yaml and data in a temp dir,
free loopback ports (native transport, storage), a small heap; stop() and start() again keep the data.

The node's largest mutation (`max_mutation_size`) is 80 KiB instead of the default 16 MiB (half the
commit log segment), so a test can send one event (the schema allows up to 96 KiB) whose row is over it."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from cassandra.cluster import Cluster, Session  # type: ignore[import-untyped]

from wafermon_testkit import free_port, wait_until
from wafermon_testkit.peers import JAVA, LEAN_JVM_OPTIONS, laid_out, pom_property

REPO = Path(__file__).resolve().parents[2]
PEER = REPO / "sidecar" / "peers" / "cassandra"
START_TIMEOUT_S = 240.0
MAX_MUTATION_BYTES = 80 * 1024
# Two cores shared by many: a small heap, the serial collector, the C1 compiler only.
MEMORY_OPTIONS = ["-Xms512m", "-Xmx1g", "-Xss512k", *LEAN_JVM_OPTIONS]
# Cassandra 5.0 on Java 17 reaches into JDK internals (off-heap memory, its security manager, the
# JMX and attach APIs, Netty's direct buffers): the module opens and exports its own
# conf/jvm17-server.options gives the server, and nothing more.
_EXPORTS = [
    "java.base/jdk.internal.misc", "java.management.rmi/com.sun.jmx.remote.internal.rmi",
    "java.rmi/sun.rmi.registry", "java.rmi/sun.rmi.server", "java.sql/java.sql", "java.base/java.lang.ref",
    "jdk.unsupported/sun.misc", "jdk.compiler/com.sun.tools.javac.file", "jdk.attach/sun.tools.attach",
]  # fmt: skip
_OPENS = [
    "java.base/java.lang.module", "java.base/jdk.internal.loader", "java.base/jdk.internal.ref",
    "java.base/jdk.internal.reflect", "java.base/jdk.internal.math", "java.base/jdk.internal.module",
    "java.base/jdk.internal.util.jar", "jdk.management/com.sun.management.internal", "java.base/sun.nio.ch",
    "java.base/java.io", "java.base/java.lang.reflect", "jdk.compiler/com.sun.tools.javac", "java.base/java.lang",
    "java.base/java.util",
]  # fmt: skip
JAVA17_OPTIONS = [
    "-Djdk.attach.allowAttachSelf=true",
    *(arg for module in _EXPORTS for arg in ("--add-exports", f"{module}=ALL-UNNAMED")),
    *(arg for module in _OPENS for arg in ("--add-opens", f"{module}=ALL-UNNAMED")),
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-XX:+ExitOnOutOfMemoryError",
]
_LOGBACK = """<configuration>
  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%level [%thread] %date{ISO8601} %logger{0} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="OUT"/></root>
</configuration>
"""


def peer_version() -> str:
    return pom_property(PEER / "pom.xml", "cassandra.version")


def lib_dir() -> Path:
    """The jars, fetched from Maven Central first when they are missing (fetch.sh)."""
    home = REPO / "var" / "peers" / f"cassandra-{peer_version()}"
    laid_out([str(PEER / "fetch.sh"), str(home)], home / ".complete", "Cassandra")
    return home / "lib"


class CassandraNode:
    def __init__(self, workdir: Path) -> None:
        self.lib = lib_dir()
        self.workdir = workdir
        self.port = free_port()
        self.storage_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "cassandra.log"
        self._cluster: Any = None
        self._session: Session | None = None
        dirs = {name: workdir / name for name in ("data", "commitlog", "saved_caches", "hints", "cdc_raw", "tmp")}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        (workdir / "logback.xml").write_text(_LOGBACK)
        (workdir / "cassandra.yaml").write_text(
            "\n".join(
                [
                    "cluster_name: wafermon-test",
                    "num_tokens: 1",
                    "initial_token: 0",
                    "partitioner: org.apache.cassandra.dht.Murmur3Partitioner",
                    "endpoint_snitch: SimpleSnitch",
                    "seed_provider:",
                    "  - class_name: org.apache.cassandra.locator.SimpleSeedProvider",
                    "    parameters:",
                    f'      - seeds: "127.0.0.1:{self.storage_port}"',
                    "listen_address: 127.0.0.1",
                    "rpc_address: 127.0.0.1",
                    f"storage_port: {self.storage_port}",
                    f"native_transport_port: {self.port}",
                    "start_native_transport: true",
                    f"data_file_directories: [{dirs['data']}]",
                    f"commitlog_directory: {dirs['commitlog']}",
                    f"saved_caches_directory: {dirs['saved_caches']}",
                    f"hints_directory: {dirs['hints']}",
                    f"cdc_raw_directory: {dirs['cdc_raw']}",
                    "commitlog_sync: periodic",
                    "commitlog_sync_period: 10000ms",
                    f"max_mutation_size: {MAX_MUTATION_BYTES // 1024}KiB",
                    "auto_snapshot: false",
                    "concurrent_reads: 4",
                    "concurrent_writes: 4",
                    "concurrent_counter_writes: 2",
                    "concurrent_compactors: 1",
                    "",
                ]
            )
        )

    def start(self) -> None:
        command = [
            str(JAVA),
            *MEMORY_OPTIONS,
            *JAVA17_OPTIONS,
            "-Dcassandra-foreground=yes",
            f"-Dcassandra.config=file://{self.workdir / 'cassandra.yaml'}",
            f"-Dcassandra.storagedir={self.workdir}",
            f"-Dcassandra.logdir={self.workdir}",
            f"-Dlogback.configurationFile={self.workdir / 'logback.xml'}",
            f"-Djava.io.tmpdir={self.workdir / 'tmp'}",
            # One node, no peers: nothing to wait for in gossip.
            "-Dcassandra.skip_wait_for_gossip_to_settle=0",
            "-Dcassandra.ring_delay_ms=100",
            "-cp",
            f"{self.lib}/*",
            "org.apache.cassandra.service.CassandraDaemon",
        ]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_until(
            self._ready, START_TIMEOUT_S, f"Cassandra to serve CQL on port {self.port} (log: {self.log_path})", 1
        )

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"Cassandra exited with {self.proc.returncode}: {tail}")
        return b"Startup complete" in self.log_path.read_bytes()

    def session(self) -> Session:
        """A session of the tests' own (for reading back), opened on first use."""
        if self._session is None:
            self._cluster = Cluster(["127.0.0.1"], port=self.port, protocol_version=5)
            self._session = self._cluster.connect()
        return self._session

    def _drop_session(self) -> None:
        if self._cluster is not None:
            self._cluster.shutdown()
            self._cluster = self._session = None

    def stop(self) -> None:
        self._drop_session()  # the driver would wait out its reconnection backoff after a restart
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def close(self) -> None:
        self.stop()
