"""The day the gateway acts on: whether an agreement is in force, who counts as unseen.

Every decision that depends on the date asks ``today()`` here, never the system clock
directly, so a test (or a replay) can fix the day and its result never changes with the day it
runs. Audit timestamps and token lifetimes stay on the real clock: they record when something
happened rather than decide what may be shown.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

_fixed: list[date] = []  # a stack: the innermost fixed day wins


def today() -> date:
    """The fixed day if one is set (tests, replays; or ``EHE_TODAY`` for a whole process),
    else today's date in UTC."""
    if _fixed:
        return _fixed[-1]
    return _configured_day() or datetime.now(UTC).date()


def day_of(instant: datetime) -> date:
    """The day the gateway acted on at ``instant`` (a replay asks it): the fixed day if one is
    set, as ``today`` would have said then, else the instant's date in UTC."""
    if _fixed:
        return _fixed[-1]
    return _configured_day() or instant.astimezone(UTC).date()


@functools.cache  # read once a process: asked on every lookup
def _configured_day() -> date | None:
    from gateway.settings import settings

    return settings().today


@contextmanager
def fixed_day(day: date) -> Iterator[None]:
    """Act as if it were ``day`` inside the block (process-wide: threads see it too)."""
    _fixed.append(day)
    try:
        yield
    finally:
        _fixed.pop()
