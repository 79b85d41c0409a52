"""Alerts to team inboxes (``gateway.notify``): one row per event and inbox, ever, and one
delivery row per channel (email, webhook) with its status, attempts and last failure.

A notification holds no personal data: the child's id, the event kind, the event's key (what
makes two events of one kind about one child different: the day of a removal, a referral's
start) and its date. The unique key (kind, child, event key, inbox) makes detection
idempotent: a second run, or two at once, adds nothing."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables.base import Base, utcnow

CHANNELS = ("email", "webhook")
DELIVERY_STATUSES = ("pending", "sent", "failed")


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("event_kind", "child_id", "event_key", "inbox", name="uq_notification"),
        Index("ix_notification_inbox", "inbox", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    event_kind: Mapped[str] = mapped_column(String(40))
    child_id: Mapped[str] = mapped_column(String(40), index=True)
    event_key: Mapped[str] = mapped_column(String(200))
    inbox: Mapped[str] = mapped_column(String(80))  # the team of ``gateway.access.inboxes``
    event_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationDelivery(Base):
    __tablename__ = "notification_delivery"
    __table_args__ = (
        CheckConstraint(f"channel IN {CHANNELS}", name="channel"),
        CheckConstraint(f"status IN {DELIVERY_STATUSES}", name="status"),
        Index("ix_notification_delivery_due", "status", "next_attempt_at"),
    )

    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notification.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    # Where it goes (an email address or a webhook URL), as the inbox named it then.
    address: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None]
