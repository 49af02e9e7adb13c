"""The notifier contract and the message every notifier renders.

A notifier type is a class taking its `config` dict (raising NotifierConfigError with our own words
when it cannot be used) with `async send(message)`; any exception from send means "not delivered,
retry later". Third-party types register under the `wafermon.notifiers` entry-point group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class NotifierConfigError(ValueError):
    """A notifier's config cannot be used; the message names the field."""


class DeliveryError(RuntimeError):
    """The peer did not accept the message (retried with backoff)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One notification: `notification_id` is stable across retries so receivers can drop repeats."""

    notification_id: str
    event: str  # "firing" or "resolved"
    alert: dict[str, Any]  # alert_id, alert_key, rule, kind, scope, state, summary, items, item_count, times
    dashboard_url: str

    def as_json(self) -> dict[str, Any]:
        return {"notification_id": self.notification_id, "event": self.event, "alert": self.alert}

    def title(self) -> str:
        return f"[{self.event.upper()}] {self.alert['summary']}"

    def job_link(self, job_id: str) -> str | None:
        return f"{self.dashboard_url.rstrip('/')}/ui/jobs/{job_id}" if self.dashboard_url else None

    def text(self) -> str:
        """Plain-text body: the summary, then one line per listed job, then what was left out."""
        lines = [self.title()]
        for item in self.alert["items"]:
            error = item.get("error") or {}
            detail = f" {error.get('type', '')}: {error.get('message', '')}" if error else ""
            link = self.job_link(item["job_id"])
            lines.append(f"- {item.get('app')} {item.get('business_key') or ''} [{item.get('status')}]{detail}"
                         f" job {item['job_id']}{' ' + link if link else ''}")  # fmt: skip
        hidden = int(self.alert["item_count"]) - len(self.alert["items"])
        if hidden > 0:
            lines.append(f"... and {hidden} more")
        return "\n".join(lines)


class Notifier(Protocol):
    async def send(self, message: Message) -> None: ...


def need(config: dict[str, Any], field: str, kind: type = str) -> Any:
    value = config.get(field)
    if not isinstance(value, kind) or (isinstance(value, str) and not value):
        raise NotifierConfigError(f"config.{field} is required and must be a {kind.__name__}")
    return value


def http_url(config: dict[str, Any], field: str = "url") -> str:
    url = str(need(config, field))
    if not url.startswith(("http://", "https://")):
        raise NotifierConfigError(f"config.{field} must be an http:// or https:// URL")
    return url
