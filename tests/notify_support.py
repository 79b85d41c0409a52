"""Real receivers on loopback for the alert tests: an SMTP server (aiosmtpd) and a webhook
(stdlib http.server in a thread), each able to fail on demand, each keeping what it got."""

from __future__ import annotations

import email
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from index_builder import CARE, EHE, HEALTH, add_child, add_population, record
from sqlalchemy import update

from gateway.store.engine import session_factory
from gateway.store.loader import hold_items
from gateway.store.tables import HeldRecord

NHS_F = "9434765919"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    """The SMTP server's handler: every message accepted, or 451 while ``failing``."""

    messages: list[tuple[list[str], Message]] = field(default_factory=list)
    failing: bool = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.failing:
            return "451 4.3.0 Mailbox busy, try again later"
        content = envelope.content
        parsed = email.message_from_bytes(
            content if isinstance(content, bytes) else content.encode()
        )
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def bodies(self) -> list[tuple[str, str]]:
        """(recipient, body text) of each message, one per recipient."""
        found = []
        for recipients, message in self.messages:
            body = message.get_payload(decode=True)
            text = body.decode() if isinstance(body, bytes) else str(message.get_payload())
            text = text.replace("\r\n", "\n")
            found += [(r, f"Subject: {message['Subject']}\n{text}") for r in recipients]
        return found


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@dataclass
class Hook:
    posts: list[dict[str, Any]] = field(default_factory=list)
    failing: bool = False


@contextmanager
def webhook_server() -> Iterator[tuple[Hook, str]]:
    hook = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if hook.failing:
                self.send_response(503)
            else:
                hook.posts.append(json.loads(body))
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook, f"http://127.0.0.1:{server.server_address[1]}/alerts"
    finally:
        server.shutdown()
        server.server_close()


def _who(given: str, family: str, born: str, nhs: str | None = None) -> dict[str, object]:
    who: dict[str, object] = {"given_name": given, "family_name": family, "birth_date": born}
    if nhs:
        who["nhs_number"] = nhs
    return who


def build_alert_index(index_url: str) -> None:
    """add_population's children (C-A: removed to EHE on a plan, unseen since January), plus
    C-E (registered, then referred to social care, seen lately) and C-F (registered, seen
    lately, a health record about them held since October) and C-R (restricted, registered,
    never seen)."""
    with session_factory(index_url).begin() as session:
        add_population(session)
        education = {"ehe": [{"registered_on": "2026-03-01"}]}
        add_child(
            session,
            "C-E",
            [
                record(EHE, "e1", _who("Evie", "Marsh", "2016-04-04"), education=education),
                record(
                    CARE,
                    "e2",
                    _who("Evie", "Marsh", "2016-04-04"),
                    social_care={"referrals": [{"start_date": "2026-09-01"}]},
                    contacts=[{"kind": "home visit", "on": "2026-10-01"}],
                ),
            ],
        )
        add_child(
            session,
            "C-F",
            [
                record(
                    EHE,
                    "f1",
                    _who("Leo", "Quinn", "2013-08-08", NHS_F),
                    education=education,
                    contacts=[{"kind": "home visit", "on": "2026-11-01"}],
                )
            ],
        )
        held = record(HEALTH, "f-held", _who("Leo", "Quinn", "2013-08-08", NHS_F))
        item = {
            "item_key": "f-held",
            "stage": "validation",
            "status": "quarantined",
            "reasons": [],
            "payload": json.dumps(held),
        }
        hold_items(session, HEALTH, "b-held", [item])
        # C-R: restricted, registered, never seen: its alert must not name the event.
        rosa = record(EHE, "r1", _who("Rosa", "Reed", "2012-12-12"), education=education)
        rosa["identity"]["restricted"] = True
        add_child(session, "C-R", [rosa], restricted=True)
        session.execute(update(HeldRecord).values(created_at=datetime(2026, 10, 1, tzinfo=UTC)))
