"""Events become notifications: one per event and named inbox, ever, each with a delivery row
per channel the inbox has (email always, webhook where named).

The unique key (kind, child, event key, inbox) is the guarantee: rows already there are not
written again (read first, so a re-run writes nothing), and an insert racing another run's
is skipped by the database (``ON CONFLICT DO NOTHING``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.access.inboxes import Inbox
from gateway.notify.events import TeamEvent
from gateway.store.tables import Notification, NotificationDelivery

Key = tuple[str, str, str, str]


def _insert_ignoring_duplicates(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    maker = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return maker(Notification).on_conflict_do_nothing().returning(Notification.id)


def _existing(session: Session, teams: Iterable[str]) -> set[Key]:
    n = Notification.__table__.c
    rows = session.execute(
        select(n.event_kind, n.child_id, n.event_key, n.inbox).where(n.inbox.in_(sorted(teams)))
    )
    return {(kind, child, key, inbox) for kind, child, key, inbox in rows}


def record_events(session: Session, events: Iterable[TeamEvent], inboxes: list[Inbox]) -> int:
    """Write the notifications not yet written (and their deliveries); how many were new."""
    done = _existing(session, {b.team for b in inboxes})
    statement = _insert_ignoring_duplicates(session)
    new = 0
    for event in events:
        for inbox in inboxes:
            key = (event.kind, event.child_id, event.key, inbox.team)
            if not inbox.receives(event.kind) or key in done:
                continue
            done.add(key)
            values = {
                "event_kind": event.kind,
                "child_id": event.child_id,
                "event_key": event.key,
                "inbox": inbox.team,
                "event_on": event.on,
            }
            made = session.execute(statement, values).scalar_one_or_none()
            if made is None:  # another run wrote it first
                continue
            new += 1
            session.execute(insert(NotificationDelivery), _deliveries(made, inbox))
    return new


def _deliveries(notification_id: int, inbox: Inbox) -> list[dict[str, Any]]:
    channels = [("email", inbox.email)] + ([("webhook", inbox.webhook)] if inbox.webhook else [])
    return [
        {
            "notification_id": notification_id,
            "channel": channel,
            "address": address,
            "status": "pending",
            "attempts": 0,
        }
        for channel, address in channels
    ]
