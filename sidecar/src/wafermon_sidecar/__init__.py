"""wafermon sidecar: durable HTTP ingest, write-ahead spool, fan-out to many backends."""

__version__ = "0.1.0"
