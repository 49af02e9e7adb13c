"""`slack`: a Slack incoming-webhook message (text plus a block per listed job with its dashboard link).
Config: url (the incoming-webhook URL), timeout_s (10)."""

from __future__ import annotations

from typing import Any

import orjson

from .base import Message, http_url
from .webhook import post


def slack_body(message: Message) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{message.title()}*"}}]
    for item in message.alert["items"][:20]:  # Slack caps a message at 50 blocks
        error = item.get("error") or {}
        link = message.job_link(item["job_id"])
        job = f"<{link}|{item['job_id']}>" if link else item["job_id"]
        text = f"{item.get('app')} `{item.get('business_key') or '-'}` *{item.get('status')}* job {job}"
        if error:
            text += f"\n> {error.get('type', '')}: {error.get('message', '')}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    hidden = int(message.alert["item_count"]) - min(20, len(message.alert["items"]))
    if hidden > 0:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"and {hidden} more"}]})
    return {"text": message.text(), "blocks": blocks}


class SlackNotifier:
    def __init__(self, config: dict[str, Any]) -> None:
        self.url = http_url(config)
        self.timeout_s = float(config.get("timeout_s", 10.0))

    async def send(self, message: Message) -> None:
        await post(self.url, orjson.dumps(slack_body(message)), {"Content-Type": "application/json"}, self.timeout_s)
