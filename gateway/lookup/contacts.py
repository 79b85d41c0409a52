"""A child's contacts, read from the current versions of its records (each version keeps the
contacts of the versions before it: ``gateway.store.loader``).

"Last seen" is the latest contact: it names the day, the kind and the agency. Only contacts
count (``gateway.model.contact``): never an export, an update or ``meta.lastUpdated``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from gateway.model import CanonicalRecord


@dataclass(frozen=True, order=True)
class SeenContact:
    """One contact with the child: the day, which agency, what kind, and the source record."""

    on: date
    agency: str
    kind: str
    source: str


def contacts_of(
    records: Iterable[CanonicalRecord], agencies: Iterable[str] | None = None
) -> list[SeenContact]:
    """Every contact the records show (of ``agencies`` only, if given), oldest first, once each."""
    wanted = None if agencies is None else frozenset(agencies)
    found = {
        SeenContact(c.on, r.agency, c.kind, r.provenance.source)
        for r in records
        if wanted is None or r.agency in wanted
        for c in r.contacts
    }
    return sorted(found)


def last_contact(
    records: Iterable[CanonicalRecord], agencies: Iterable[str] | None = None
) -> SeenContact | None:
    """The latest contact (of ``agencies``), or None when the records show none."""
    every = contacts_of(records, agencies)
    return every[-1] if every else None


def unseen_since(last: SeenContact | None, cutoff: date) -> bool:
    """Whether no contact is on or after ``cutoff`` (a child with none is unseen)."""
    return last is None or last.on < cutoff
