"""The index tables (SQLAlchemy 2), one module per entity; Alembic migrations create them."""

from gateway.store.tables.audit import AuditEntry, AuditHead
from gateway.store.tables.base import Base
from gateway.store.tables.batches import Batch
from gateway.store.tables.bookmarks import SourceBookmark
from gateway.store.tables.break_glass import BreakGlass
from gateway.store.tables.children import LINK_ORIGINS, LINK_STATES, Child, Link
from gateway.store.tables.consents import Consent
from gateway.store.tables.link_events import LinkEvent
from gateway.store.tables.link_keys import LinkKey, LinkMark
from gateway.store.tables.notifications import Notification, NotificationDelivery
from gateway.store.tables.quarantine import HeldIdentifier, HeldRecord
from gateway.store.tables.reviews import LinkReview
from gateway.store.tables.sessions import RevokedSession
from gateway.store.tables.source_records import SourceRecord
from gateway.store.tables.validation_runs import ValidationRun

__all__ = [
    "LINK_ORIGINS",
    "LINK_STATES",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Batch",
    "BreakGlass",
    "Child",
    "Consent",
    "HeldIdentifier",
    "HeldRecord",
    "Link",
    "LinkEvent",
    "LinkKey",
    "LinkMark",
    "LinkReview",
    "Notification",
    "NotificationDelivery",
    "RevokedSession",
    "SourceBookmark",
    "SourceRecord",
    "ValidationRun",
]
