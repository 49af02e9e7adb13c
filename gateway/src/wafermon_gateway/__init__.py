"""wafermon gateway: the per-site API and store for job events."""

__version__ = "0.1.0"
