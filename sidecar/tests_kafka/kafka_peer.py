"""A real single-node Kafka broker for the tests: KRaft, broker and controller in one process, the
jars laid out by sidecar/peers/kafka/fetch.sh (Maven Central), storage formatted in a temp dir, free
loopback ports, a small heap; stop() and start() again keep the data and the ports (a restart)."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Message, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from wafermon_testkit import free_port, wait_until
from wafermon_testkit.peers import JAVA, LEAN_JVM_OPTIONS, laid_out, pom_property

REPO = Path(__file__).resolve().parents[2]
PEER = REPO / "sidecar" / "peers" / "kafka"
JVM_OPTIONS = ["-Xms256m", "-Xmx512m", *LEAN_JVM_OPTIONS]
START_TIMEOUT_S = 180.0


def peer_version() -> str:
    return pom_property(PEER / "pom.xml", "kafka.version")


def broker_home() -> Path:
    """The cached jars, fetched from Maven Central first when they are missing (fetch.sh)."""
    home = REPO / "var" / "peers" / f"kafka-{peer_version()}"
    laid_out([str(PEER / "fetch.sh"), str(home)], home / ".complete", "Kafka")
    return home


class KafkaBroker:
    def __init__(self, workdir: Path) -> None:
        self.home = broker_home()
        self.workdir = workdir
        self.port = free_port()
        self.controller_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "kafka.log"
        self.properties = workdir / "server.properties"
        self.properties.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={workdir / 'data'}",
                    "num.partitions=1",
                    "auto.create.topics.enable=true",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "num.network.threads=2",
                    "num.io.threads=2",
                    "background.threads=2",
                    "",
                ]
            )
        )
        self._format()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _java(self, *args: str) -> list[str]:
        return [
            str(JAVA),
            *JVM_OPTIONS,
            f"-Dlog4j2.configurationFile={self.home / 'config' / 'log4j2.properties'}",
            f"-Djava.io.tmpdir={self.workdir}",
            "-cp",
            f"{self.home / 'lib'}/*",
            *args,
        ]

    def _format(self) -> None:
        """kafka-storage format: a new cluster id, the metadata log of a single KRaft voter."""
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        # "=" form: a cluster id may start with "-", which would read as an option
        command = self._java(
            "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(self.properties)
        )
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"kafka-storage format failed ({done.returncode}): {done.stdout}{done.stderr}")

    def start(self) -> None:
        log = self.log_path.open("ab")
        command = self._java("kafka.Kafka", str(self.properties))
        self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_until(self._ready, START_TIMEOUT_S, f"Kafka to answer on {self.bootstrap} (log: {self.log_path})", 0.5)

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"Kafka exited with {self.proc.returncode}: {tail}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        try:
            metadata = AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=5)
        except Exception:
            return False
        return bool(metadata.brokers)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def create_topic(self, name: str, partitions: int = 1, **config: str) -> None:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics([NewTopic(name, partitions, 1, config=config)], operation_timeout=30)
        futures[name].result(60)

    def read(self, topic: str, count: int, timeout_s: float = 60.0) -> list[Message]:
        """The topic's records from the start (every partition), at least `count` or what came by the timeout."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"reader-{uuid.uuid4()}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        try:
            metadata = consumer.list_topics(topic, timeout=30)
            partitions = sorted(metadata.topics[topic].partitions)
            consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
            messages: list[Message] = []
            ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in partitions}

            def caught_up() -> bool:
                for message in consumer.consume(500, 0.5):
                    if message.error() is None:
                        messages.append(message)
                return len(messages) >= count and len(messages) >= sum(ends.values())

            wait_until(caught_up, timeout_s, f"{count} record(s) from {topic}", 0.0)
            return messages
        finally:
            consumer.close()


def headers(message: Message) -> dict[str, Any]:
    return {name: value.decode() if value is not None else None for name, value in message.headers() or []}
