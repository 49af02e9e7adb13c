"""Alerting: rules evaluated on ingest and on a timer, alerts with a lifecycle, and a persisted
outbox that delivers notifications to webhook, Slack, e-mail, Alertmanager or plug-in notifiers."""
