"""What an alert says, by email and by webhook: the child's id, the event, the date and a link
to the lookup flow (where the reader states a purpose and the policy point decides what they
see). Nothing else: no name, birth date, identifier, address or detail of the event."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from gateway.access.inboxes import EVENT_KINDS
from gateway.glossary import long_date
from gateway.settings import settings
from gateway.store.tables import Notification

BODY = """\
To: {team}

Child: {child_id}
Event: {event}
Date: {date}

Open the child in the EHE gateway: you will be asked to sign in and to state why you \
need to know; what you see is decided by your data-sharing agreement, and the lookup is \
audited.
{link}

This alert holds no personal details. Notification {id}.
"""


def child_link(child_id: str) -> str:
    """The page that starts a lookup of the child (the purpose question)."""
    return f"{settings().notify_link_base.rstrip('/')}/inbox/child/{child_id}"


def event_words(kind: str) -> str:
    return EVENT_KINDS.get(kind, kind.replace("_", " "))


def email_message(notification: Notification, team: str, address: str) -> EmailMessage:
    """The email of one notification to one inbox."""
    message = EmailMessage()
    message["Subject"] = f"EHE gateway alert: {event_words(notification.event_kind)}"
    message["From"] = settings().smtp_from
    message["To"] = address
    message["Message-ID"] = f"<ehe-notification-{notification.id}@ehe-gateway>"
    message.set_content(
        BODY.format(
            team=team,
            child_id=notification.child_id,
            event=event_words(notification.event_kind),
            date=long_date(notification.event_on),
            link=child_link(notification.child_id),
            id=notification.id,
        )
    )
    return message


def webhook_body(notification: Notification, team: str) -> dict[str, Any]:
    """The JSON a webhook receives for one notification."""
    return {
        "notification_id": notification.id,
        "team": team,
        "child_id": notification.child_id,
        "event": notification.event_kind,
        "event_words": event_words(notification.event_kind),
        "date": notification.event_on.isoformat(),
        "link": child_link(notification.child_id),
    }
