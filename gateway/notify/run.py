"""One round of alerts, as the DAG ``notify__teams`` and ``ehe-gateway notify run`` do it:
find the events, write the notifications not yet written (one transaction), deliver what is
due. And the inbox's list, for the team inbox page and ``ehe-gateway notify list``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import clock
from gateway.access.agreements import load_agreements, team_inboxes
from gateway.access.inboxes import Inbox
from gateway.notify.delivery import deliver_due
from gateway.notify.events import detect_events
from gateway.notify.messages import shown_kind
from gateway.notify.record import record_events
from gateway.read_model import resolve_child
from gateway.store.engine import session_factory
from gateway.store.tables import Notification, NotificationDelivery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotifyOutcome:
    """Counts only (a DAG task's XCom, the CLI's line)."""

    inboxes: int
    events: int
    new: int
    sent: int
    failed: int


def notify_teams(
    index_url: str | None = None,
    *,
    inboxes: list[Inbox] | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> NotifyOutcome:
    """Find today's events, record each once per inbox that receives it, deliver what is due."""
    day = today or clock.today()
    named = inboxes if inboxes is not None else team_inboxes(load_agreements(), day)
    sessions = session_factory(index_url)
    with sessions.begin() as session:
        events = detect_events(session, day)
        new = record_events(session, events, named)
    delivered = deliver_due(sessions, named, now)
    outcome = NotifyOutcome(len(named), len(events), new, delivered.sent, delivered.failed)
    log.info(
        "alerts: %s events, %s new notifications for %s inboxes, %s sent, %s failed",
        outcome.events,
        outcome.new,
        outcome.inboxes,
        outcome.sent,
        outcome.failed,
    )
    return outcome


@dataclass(frozen=True)
class InboxItem:
    """One notification as an inbox lists it: no detail beyond the event."""

    id: int
    inbox: str
    child_id: str
    event_kind: str
    event_on: date
    created_at: datetime
    status: str  # sent, failed or pending: the worst of its channels
    channels: dict[str, str]  # channel: status (with the failure's reason)
    restricted: bool = False  # the event is then not named (``messages.shown_kind``)


def inbox_items(session: Session, teams: list[str], limit: int = 200) -> list[InboxItem]:
    """The newest notifications to these inboxes, each with its deliveries' status."""
    n = Notification
    rows = session.scalars(
        select(n).where(n.inbox.in_(sorted(teams))).order_by(n.id.desc()).limit(limit)
    ).all()
    ids = [r.id for r in rows]
    deliveries: dict[int, dict[str, str]] = {}
    states: dict[int, set[str]] = {}
    if ids:
        for d in session.scalars(
            select(NotificationDelivery).where(NotificationDelivery.notification_id.in_(ids))
        ):
            shown = d.status if d.status != "failed" else f"failed ({d.last_error})"
            deliveries.setdefault(d.notification_id, {})[d.channel] = shown
            states.setdefault(d.notification_id, set()).add(d.status)
    restricted = _restricted(session, {r.child_id for r in rows})
    return [
        InboxItem(
            r.id,
            r.inbox,
            r.child_id,
            shown_kind(r, r.child_id in restricted),
            r.event_on,
            r.created_at,
            _overall(states.get(r.id, set())),
            deliveries.get(r.id, {}),
            r.child_id in restricted,
        )
        for r in rows
    ]


def _restricted(session: Session, child_ids: set[str]) -> set[str]:
    """Which of these children are restricted now (the read model's stored verdict, through
    merges), or no longer there."""
    found = set()
    for child_id in child_ids:
        child = resolve_child(session, child_id)
        if child is None or child.restricted:
            found.add(child_id)
    return found


def _overall(states: set[str]) -> str:
    for state in ("failed", "pending"):
        if state in states:
            return state
    return "sent" if states else "pending"
