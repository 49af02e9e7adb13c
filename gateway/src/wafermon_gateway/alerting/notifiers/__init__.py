"""Notifier types: built in (webhook, slack, email, alertmanager) and from the `wafermon.notifiers` entry point."""
