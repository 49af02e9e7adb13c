"""`email`: one mail per message over SMTP. Config: host, port (587), from, to (list), starttls (true),
ssl (false: implicit TLS instead), username/password (optional; use ${ENV} for the password),
timeout_s (10). smtplib is blocking, so it runs in a worker thread."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

from .base import DeliveryError, Message, NotifierConfigError, need


class EmailNotifier:
    def __init__(self, config: dict[str, Any]) -> None:
        self.host = str(need(config, "host"))
        self.port = int(config.get("port", 587))
        self.sender = str(need(config, "from"))
        to = config.get("to")
        if not isinstance(to, list) or not to or not all(isinstance(t, str) and "@" in t for t in to):
            raise NotifierConfigError("config.to must be a non-empty list of e-mail addresses")
        self.to = list(to)
        self.starttls = bool(config.get("starttls", True))
        self.implicit_tls = bool(config.get("ssl", False))
        self.username = config.get("username")
        self.password = config.get("password")
        self.timeout_s = float(config.get("timeout_s", 10.0))
        # Tests pass the path of their own CA; production uses the system store.
        self.cafile = config.get("cafile")

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cafile)

    def _send_sync(self, mail: EmailMessage) -> None:
        smtp: smtplib.SMTP
        if self.implicit_tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=self._context())
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        with smtp:
            if self.starttls and not self.implicit_tls:
                smtp.starttls(context=self._context())
            if self.username:
                smtp.login(str(self.username), str(self.password or ""))
            smtp.send_message(mail)

    async def send(self, message: Message) -> None:
        mail = EmailMessage()
        mail["Subject"] = message.title()[:200]
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.to)
        mail["X-Wafermon-Notification-Id"] = message.notification_id
        mail.set_content(message.text())
        try:
            await asyncio.to_thread(self._send_sync, mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}") from None
