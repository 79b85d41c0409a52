"""The two ways an alert leaves the gateway: email (SMTP, or a .eml file in the outbox when no
SMTP server is set) and webhook (an HTTP POST of JSON). A failure is a ``DeliveryFailedError``
whose reason names what failed (never a message's content)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx

from gateway import config
from gateway.errors import GatewayError
from gateway.settings import settings

REASON_WIDTH = 200


class DeliveryFailedError(GatewayError):
    """One delivery did not happen; the notification stays, to be tried again."""


def send_email(message: EmailMessage, name: str) -> str:
    """Send by SMTP, or write ``name``.eml into the outbox when no server is set; where it went."""
    host, port = settings().smtp_host, settings().smtp_port
    if not host:
        return _write_outbox(message, name)
    try:
        with _connect(host, port) as smtp:
            if settings().smtp_tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            user, password = settings().smtp_user, settings().smtp_password
            if user and password:
                smtp.login(user, password.get_secret_value())
            refused = smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailedError(_reason("SMTP", exc)) from None
    if refused:
        raise DeliveryFailedError(f"SMTP refused {len(refused)} recipient(s)")
    return f"smtp://{host}:{port}"


def _connect(host: str, port: int) -> smtplib.SMTP:
    timeout = settings().notify_timeout_s
    if settings().smtp_tls == "tls":
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    return smtplib.SMTP(host, port, timeout=timeout)


def _write_outbox(message: EmailMessage, name: str) -> str:
    folder = config.outbox_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.eml"
    partial = path.with_suffix(".eml.partial")
    partial.write_bytes(bytes(message))
    partial.replace(path)
    return str(Path(path))


def post_webhook(url: str, body: dict[str, Any]) -> str:
    """POST the JSON; any answer but 2xx is a failure."""
    try:
        answer = httpx.post(url, json=body, timeout=settings().notify_timeout_s)
    except httpx.HTTPError as exc:
        raise DeliveryFailedError(_reason("webhook", exc)) from None
    if not answer.is_success:
        raise DeliveryFailedError(f"webhook answered HTTP {answer.status_code}")
    return url


def _reason(what: str, exc: BaseException) -> str:
    code = getattr(exc, "smtp_code", None)
    detail = f" {code}" if code else ""
    return f"{what} {type(exc).__name__}{detail}"[:REASON_WIDTH]
