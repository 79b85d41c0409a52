"""Each synthetic child's history of contacts with agencies, and what is not a contact.

Health: outpatient appointments (attended: ADT A04 on the day; missed: only the A05 booking
two weeks before), some admissions (A01, then A03 on discharge), and demographic updates (A28
when registered, A08 later: recent ones too, the times that must never count as a contact).
Social care: an assessment a week after each referral, visits every few weeks while the case
is open (some open cases drift: after a point visits find no one in, which is not a contact),
and child protection plan reviews. Education: the last day on roll.

Drawn from a generator of its own per child (seeded by the child's key), so adding histories
changes nothing else the population draws. ``truth`` names each child's last real contact as
far as the records the gateway can read show it (a record held for a defect shows nothing).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from gateway.synth.population import REFERENCE_DATE, Child

CIN_REFERENCE_DATE = date(2026, 3, 31)  # the census year ends here: later events are not in it


@dataclass(frozen=True, order=True)
class Event:
    """Something that happened (or was recorded) about a child, and whether it is a contact."""

    on: date
    agency: str  # health, social_care or education
    code: str  # how the source writes it: an ADT trigger, a case involvement kind
    kind: str  # in words: "attended appointment", "missed appointment", "record update"
    contact: bool


HEALTH_CONTACTS = {"A01": "hospital admission", "A03": "hospital discharge"}


def left_roll_on(child: Child) -> date:
    """The child's last day on a school's roll (both the CTF and the removal notice say it)."""
    return REFERENCE_DATE - timedelta(days=30 + int(child.key[-3:]) % 200)


def history(child: Child, seed: int) -> list[Event]:
    """The child's events, oldest first."""
    rng = random.Random(f"{seed}:contacts:{child.key}")
    events: list[Event] = []
    if child.health_adt:
        events += _health(rng)
    if child.social_care:
        events += _social_care(rng, child)
    if child.left_school:
        day = left_roll_on(child)
        events.append(Event(day, "education", "left", "last day on roll", True))
    return sorted(events)


def _day(rng: random.Random, earliest: int, latest: int = 1) -> date:
    return REFERENCE_DATE - timedelta(days=rng.randrange(latest, earliest))


def _health(rng: random.Random) -> list[Event]:
    events = [Event(_day(rng, 1500, 1100), "health", "A28", "record update", False)]
    attends = rng.random() < 0.75  # a family that keeps its appointments (mostly)
    for _ in range(rng.randrange(1, 5)):
        day = _day(rng, 1000)
        if rng.random() < (0.8 if attends else 0.15):
            events.append(Event(day, "health", "A04", "attended appointment", True))
        else:
            booked = day - timedelta(days=14)
            events.append(Event(booked, "health", "A05", "missed appointment", False))
    if rng.random() < 0.1:
        admitted = _day(rng, 900, 5)
        events.append(Event(admitted, "health", "A01", "hospital admission", True))
        discharged = min(admitted + timedelta(days=rng.randrange(1, 5)), REFERENCE_DATE)
        events.append(Event(discharged, "health", "A03", "hospital discharge", True))
    for _ in range(rng.randrange(0, 3)):
        events.append(Event(_day(rng, 200), "health", "A08", "record update", False))
    return events


def _social_care(rng: random.Random, child: Child) -> list[Event]:
    events: list[Event] = []
    drifts = rng.random() < 0.25  # an open case whose visits stop finding the child
    for kind, start, end, _team in child.episodes:
        last = end or REFERENCE_DATE
        if kind == "referral":
            assessed = start + timedelta(days=7)
            if assessed <= last:
                events.append(Event(assessed, "social_care", "assessment", "assessment", True))
            day = start + timedelta(days=rng.randrange(14, 40))
            stop = last - timedelta(days=rng.randrange(150, 400)) if drifts and not end else last
            while day <= last:
                seen = day <= stop
                events.append(
                    Event(
                        day,
                        "social_care",
                        "visit" if seen else "no_access_visit",
                        "social work visit" if seen else "visit with no one in",
                        seen,
                    )
                )
                day += timedelta(days=rng.randrange(20, 70))
        elif kind == "cpp":
            day = start + timedelta(days=90)
            while day <= last and not (drifts and end is None):
                events.append(Event(day, "social_care", "review", "plan review", True))
                day += timedelta(days=180)
    return events


def census_events(events: Iterable[Event]) -> list[Event]:
    """The contacts a CIN census return carries: assessments and plan reviews in its year."""
    return [
        e
        for e in events
        if e.agency == "social_care"
        and e.code in ("assessment", "review")
        and e.on <= CIN_REFERENCE_DATE
    ]


def last_contact(events: Iterable[Event]) -> Event | None:
    """The latest event that is a contact, or None."""
    contacts = [e for e in events if e.contact]
    return max(contacts) if contacts else None
