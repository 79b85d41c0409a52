"""Deliver the notifications that are due, one delivery (notification and channel) a
transaction: send it, record the outcome (sent; or failed, with the reason, one attempt more and
the time of the next), and append the attempt to the audit log, together.

A failed delivery is tried again after ``notify_retry_s`` seconds, doubling after each failure
(at most a day), until ``notify_max_attempts``; then it stays failed, kept, until an operator
asks for it again (``retry_failed``). Nothing is ever deleted. On PostgreSQL a delivery another
run holds is skipped (``FOR UPDATE SKIP LOCKED``), so two runs at once never send one twice."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.inboxes import Inbox
from gateway.access.purposes import PURPOSES
from gateway.notify.channels import DeliveryFailedError, post_webhook, send_email
from gateway.notify.messages import email_message, shown_kind, webhook_body
from gateway.read_model import resolve_child
from gateway.settings import settings
from gateway.store.tables import Notification, NotificationDelivery

log = logging.getLogger(__name__)
# The purpose an alert is shared for: agencies' duty to safeguard children (Children Act 2004
# s.11); the audit entry carries its lawful basis.
ALERT_PURPOSE = PURPOSES["safeguarding_duty"]
SENDER = "ehe-gateway alerts"
SENDER_ROLE = "system"
MAX_BACKOFF = timedelta(days=1)


@dataclass
class Delivered:
    """What one round of delivery did: counts only."""

    sent: int = 0
    failed: int = 0


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure."""
    first = settings().notify_retry_s
    return min(timedelta(seconds=first * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _due(session: Session, now: datetime) -> list[tuple[int, str]]:
    d = NotificationDelivery.__table__.c
    rows = session.execute(
        select(d.notification_id, d.channel)
        .where(
            d.status.in_(("pending", "failed")),
            d.attempts < settings().notify_max_attempts,
            d.next_attempt_at <= now,
        )
        .order_by(d.notification_id, d.channel)
    )
    return [(nid, channel) for nid, channel in rows]


def deliver_due(
    sessions: sessionmaker[Session], inboxes: list[Inbox], now: datetime | None = None
) -> Delivered:
    """Try every delivery that is due now; each outcome recorded and audited."""
    at = now or datetime.now(UTC)
    teams = {b.team: b for b in inboxes}
    with sessions() as session:
        due = _due(session, at)
    done = Delivered()
    for key in due:
        with sessions.begin() as session:
            outcome = _deliver_one(session, key, teams, at)
        if outcome == "sent":
            done.sent += 1
        elif outcome == "delivery_failed":
            done.failed += 1
    if due:
        log.info("alerts delivered: %s sent, %s failed", done.sent, done.failed)
    return done


def _locked(session: Session, key: tuple[int, str], at: datetime) -> NotificationDelivery | None:
    """The delivery, locked for this transaction, if it is still due (another run may have
    sent it since the list was read)."""
    d = NotificationDelivery
    query = select(d).where(d.notification_id == key[0], d.channel == key[1])
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = session.scalars(query).one_or_none()
    if row is None or row.status == "sent" or row.attempts >= settings().notify_max_attempts:
        return None
    next_at = row.next_attempt_at
    if next_at.tzinfo is None:  # SQLite keeps no offset
        next_at = next_at.replace(tzinfo=UTC)
    return row if next_at <= at else None


def _deliver_one(
    session: Session, key: tuple[int, str], teams: dict[str, Inbox], at: datetime
) -> str | None:
    row = _locked(session, key, at)
    if row is None:
        return None
    notification = session.get(Notification, row.notification_id)
    assert notification is not None  # a delivery's notification is never deleted
    inbox = teams.get(notification.inbox)
    team = inbox.name if inbox else notification.inbox
    child = resolve_child(session, notification.child_id)
    restricted = child is None or child.restricted  # a child no longer there: say nothing
    try:
        if row.channel == "email":
            name = f"{notification.id:08d}-{notification.inbox}"
            message = email_message(notification, team, row.address, restricted=restricted)
            send_email(message, name)
        else:
            post_webhook(row.address, webhook_body(notification, team, restricted=restricted))
    except DeliveryFailedError as exc:
        row.attempts += 1
        row.status, row.last_error = "failed", str(exc)
        row.next_attempt_at = at + backoff(row.attempts)
        outcome = "delivery_failed"
    else:
        row.attempts += 1
        row.status, row.last_error, row.sent_at = "sent", None, at
        outcome = "sent"
    _audit(session, notification, row, inbox, outcome=outcome, restricted=restricted)
    return outcome


def _audit(
    session: Session,
    notification: Notification,
    row: NotificationDelivery,
    inbox: Inbox | None,
    *,
    outcome: str,
    restricted: bool,
) -> None:
    organisation = inbox.organisation if inbox else notification.inbox
    append(
        session,
        AuditEvent(
            actor=Actor(SENDER, organisation, SENDER_ROLE),
            action="notify_delivery",
            outcome=outcome,
            purpose=ALERT_PURPOSE.code,
            lawful_basis=ALERT_PURPOSE.lawful_basis,
            child_id=notification.child_id,
            fields_disclosed=[
                "child_id",
                f"event:{shown_kind(notification, restricted)}",
                f"inbox:{notification.inbox}",
                f"channel:{row.channel}",
                f"notification:{notification.id}",
                f"attempt:{row.attempts}",
            ],
            reason=row.last_error,
        ),
    )


def retry_failed(session: Session) -> int:
    """Deliveries that failed every attempt become due again now; how many."""
    d = NotificationDelivery.__table__.c
    result = session.execute(
        update(NotificationDelivery)
        .where(d.status == "failed", d.attempts >= settings().notify_max_attempts)
        .values(attempts=0, next_attempt_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
