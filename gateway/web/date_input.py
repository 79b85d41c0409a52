"""Dates typed in GOV.UK's three boxes (day, month, year), each problem with its own message.

The messages follow the GOV.UK Design System's date input pattern: they name the date and
say what to fix ("The start date must include a month", "... must be a real date").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

PARTS = ("day", "month", "year")


@dataclass(frozen=True)
class TypedDate:
    """What was typed in the three boxes, as typed (shown back on an error)."""

    day: str = ""
    month: str = ""
    year: str = ""

    @property
    def empty(self) -> bool:
        return not (self.day.strip() or self.month.strip() or self.year.strip())

    @classmethod
    def of(cls, value: date) -> TypedDate:
        return cls(str(value.day), str(value.month), str(value.year))


def _real_date(parts: dict[str, str]) -> date | None:
    if not all(text.isdigit() for text in parts.values()) or len(parts["year"]) != 4:
        return None
    try:
        return date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
    except ValueError:
        return None


def read_date(
    name: str,
    typed: TypedDate,
    *,
    earliest: date | None = None,
    latest: date | None = None,
) -> tuple[date | None, str | None]:
    """The date, or the message for what is wrong with it (``name`` as in "The start date").
    All three boxes empty is neither: the caller says whether the date is needed."""
    parts = {"day": typed.day.strip(), "month": typed.month.strip(), "year": typed.year.strip()}
    missing = [part for part in PARTS if not parts[part]]
    if len(missing) == len(PARTS):
        return None, None
    if missing:
        return None, f"{name} must include a {' and a '.join(missing)}"
    value = _real_date(parts)
    if value is None:
        return None, f"{name} must be a real date, like 27 3 2015"
    if latest is not None and value > latest:
        return None, f"{name} must be today or in the past"
    if earliest is not None and value < earliest:
        return None, f"{name} must be on or after {earliest.day} {earliest:%B %Y}"
    return value, None


DATE_NAMES = {"from": "The start date", "to": "The end date"}


def typed_period(params: Mapping[str, str]) -> dict[str, TypedDate]:
    """The two dates as typed in their boxes (``from-day``, ``from-month``...)."""
    return {
        name: TypedDate(*(params.get(f"{name}-{part}", "")[:6] for part in PARTS))
        for name in DATE_NAMES
    }


def read_period(
    typed: dict[str, TypedDate], today: date
) -> tuple[date | None, date | None, dict[str, str]]:
    """Start and end (either may be left empty) and a distinct message for each bad date."""
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for name, label in DATE_NAMES.items():
        days[name], problem = read_date(label, typed[name], latest=today)
        if problem:
            errors[name] = problem
    first, last = days["from"], days["to"]
    if first and last and last < first:
        errors["to"] = "The end date must be the same as or after the start date"
    return first, last, errors
