"""What an alert says, by email and by webhook: the child's id, the event, the date and a link
to the lookup flow (where the reader states a purpose and the policy point decides what they
see). Nothing else: no name, birth date, identifier, address or detail of the event.

A restricted child's alert (the read model's stored verdict when it is sent) does not name
the event either, as the caseload shows such a child only as on it: it says the record is
restricted, and the lookup it links to says whom to ask."""

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


RESTRICTED = "restricted"
RESTRICTED_WORDS = (
    "Something your team should know about; the child's record is restricted, so the event is "
    "not named here (the lookup says whom to ask)"
)


def event_words(kind: str) -> str:
    if kind == RESTRICTED:
        return RESTRICTED_WORDS
    months, days = settings().notify_unseen_months, settings().notify_held_days
    return EVENT_KINDS.get(kind, kind.replace("_", " ")).format(months=months, days=days)


def shown_kind(notification: Notification, restricted: bool) -> str:
    """The event as the alert may name it: never for a restricted child."""
    return RESTRICTED if restricted else notification.event_kind


def email_message(
    notification: Notification, team: str, address: str, *, restricted: bool
) -> EmailMessage:
    """The email of one notification to one inbox."""
    kind = shown_kind(notification, restricted)
    message = EmailMessage()
    subject = "a restricted child" if restricted else event_words(kind)
    message["Subject"] = f"EHE gateway alert: {subject}"
    message["From"] = settings().smtp_from
    message["To"] = address
    message["Message-ID"] = f"<ehe-notification-{notification.id}@ehe-gateway>"
    message.set_content(
        BODY.format(
            team=team,
            child_id=notification.child_id,
            event=event_words(kind),
            date=long_date(notification.event_on),
            link=child_link(notification.child_id),
            id=notification.id,
        )
    )
    return message


def webhook_body(notification: Notification, team: str, *, restricted: bool) -> dict[str, Any]:
    """The JSON a webhook receives for one notification."""
    kind = shown_kind(notification, restricted)
    return {
        "notification_id": notification.id,
        "team": team,
        "child_id": notification.child_id,
        "event": kind,
        "event_words": event_words(kind),
        "date": notification.event_on.isoformat(),
        "link": child_link(notification.child_id),
    }
