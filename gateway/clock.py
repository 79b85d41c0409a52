"""The day the gateway acts on: whether an agreement is in force, who counts as unseen.

Every decision that depends on the date asks ``today()`` here, never the system clock
directly, so a test (or a replay) can fix the day and its result never changes with the day it
runs. Audit timestamps and token lifetimes stay on the real clock: they record when something
happened rather than decide what may be shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

_fixed: list[date] = []  # a stack: the innermost fixed day wins


def today() -> date:
    """The fixed day if one is set (tests, replays), else today's date in UTC."""
    return _fixed[-1] if _fixed else datetime.now(UTC).date()


@contextmanager
def fixed_day(day: date) -> Iterator[None]:
    """Act as if it were ``day`` inside the block (process-wide: threads see it too)."""
    _fixed.append(day)
    try:
        yield
    finally:
        _fixed.pop()
