"""Every real peer of the sidecar's backends at once, for the fan-out test: the peer modules of the
other backend stages (sidecar/tests_*/…_peer.py, the test kit's moto server and Loki double) used as
they are, started in parallel threads (the stage is bounded by the slowest peer, not their sum) and
all stopped at the end, whatever happened."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cassandra_peer import CassandraNode
from ferretdb_peer import FerretDb
from kafka_peer import KafkaBroker
from mariadb_peer import MariaDbServer
from nats_peer import NatsServer
from opensearch_peer import OpenSearchNode
from rabbitmq_peer import RabbitNode
from redis_peer import RedisServer
from zabbix_peer import DOCUMENTED_ITEMS, ZabbixServer

from wafermon_testkit.loki_double import LokiDouble
from wafermon_testkit.moto_server import MotoServer

#: the Zabbix hosts, one per sidecar run, so the runs never see each other's values
ZABBIX_HOSTS = ("fanout-bad", "fanout-base")


@dataclass
class Peers:
    opensearch: OpenSearchNode
    zabbix: ZabbixServer
    kafka: KafkaBroker
    rabbit: RabbitNode
    redis: RedisServer
    mariadb: MariaDbServer
    nats: NatsServer
    ferretdb: FerretDb
    cassandra: CassandraNode
    moto: MotoServer
    sqs_moto: MotoServer  # SQS alone: moto's queue slows as it grows, and must not slow S3/Logs/X-Ray
    loki: LokiDouble
    started_in_s: float = 0.0


@contextlib.contextmanager
def all_peers(root: Path) -> Iterator[Peers]:
    """Every peer, started in parallel; a peer that cannot start fails with its own reason (the first
    one's error is raised) and every peer started is stopped on the way out."""

    def workdir(name: str) -> Path:
        path = root / name
        path.mkdir()
        return path

    peers = Peers(
        opensearch=OpenSearchNode(workdir("opensearch")),
        zabbix=ZabbixServer(workdir("zabbix"), {host: dict(DOCUMENTED_ITEMS) for host in ZABBIX_HOSTS}),
        kafka=KafkaBroker(workdir("kafka")),
        rabbit=RabbitNode(workdir("rabbitmq")),
        redis=RedisServer(workdir("redis")),
        mariadb=MariaDbServer(workdir("mariadb")),
        nats=NatsServer(workdir("nats")),
        ferretdb=FerretDb(workdir("ferretdb")),
        cassandra=CassandraNode(workdir("cassandra")),
        moto=MotoServer(workdir("moto")),
        sqs_moto=MotoServer(workdir("sqs-moto")),
        loki=LokiDouble(workdir("loki") / "store.jsonl"),
    )
    starts: list[Callable[[], Any]] = [
        peers.cassandra.start,  # the slowest first
        peers.opensearch.start,
        peers.kafka.start,
        peers.zabbix.init,
        peers.rabbit.start,
        peers.mariadb.start,
        peers.redis.start,
        peers.nats.start,
        peers.ferretdb.start,
        peers.moto.start,
        peers.sqs_moto.start,
        peers.loki.start,
    ]
    stops: list[Callable[[], Any]] = [
        peers.cassandra.close,
        peers.opensearch.stop,
        peers.kafka.stop,
        peers.zabbix.destroy,
        peers.rabbit.shutdown,
        peers.mariadb.stop,
        peers.redis.stop,
        peers.nats.stop,
        peers.ferretdb.close,
        peers.moto.stop,
        peers.sqs_moto.stop,
        peers.loki.stop,
    ]
    began = time.monotonic()
    try:
        with ThreadPoolExecutor(len(starts)) as pool:
            futures = [pool.submit(start) for start in starts]
            errors = [f.exception() for f in futures]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first
        peers.started_in_s = time.monotonic() - began
        yield peers
    finally:
        with ThreadPoolExecutor(len(stops)) as pool:
            for future in [pool.submit(stop) for stop in stops]:
                with contextlib.suppress(Exception):  # one peer's failing stop must not leave the others
                    future.result()
