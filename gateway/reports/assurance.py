"""The partnership assurance report: how well the local system sees children in elective home
education, per month and per quarter of a period. Aggregate only, small numbers suppressed.

Figures for each period (months and calendar quarters, cut to the period asked for), counted
from the read model's children (``assurance_children``): children on the EHE register at the
period's end, new to it and leaving it in the period; of those on it, how many have a GP known,
are known to social care now and ever, are on a child protection plan or looked after, and had
a real contact with each agency (and any) in the 3 and 6 months to the period's end; children
unseen by any agency for the caseload's window (``EHE_CASELOAD_ACT_NOW_UNSEEN_MONTHS``); and
children removed from roll to home education in the period, how many an EHE officer has looked
up since and how long that took. Counts go through ``suppression`` (restricted children are
counted like any other, never singled out). Each source's deliveries in the period and its
freshness now come from the validation report's and the freshness monitor's figures.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from statistics import median

from sqlalchemy.orm import Session

from gateway.monitoring.freshness import freshness
from gateway.reports.assurance_children import AGENCIES, ANY, ChildFacts, ehe_children
from gateway.reports.suppression import Group, Shown, Suppressed, equal, is_small, suppress
from gateway.reports.validation_data import build_report as validation_figures
from gateway.settings import settings

SEEN_WINDOWS = (3, 6)
AGENCY_COLUMNS = (*AGENCIES, ANY)
# (figure, its complement): both are cells, so a small complement is protected too.
SHARES = {
    "gp": "no_gp",
    "care_now": "care_not_now",
    "care_ever": "care_never",
    "plan": "no_plan",
    "looked_after": "not_looked_after",
    "unseen": "not_unseen",
    **{f"seen{m}_{a}": f"not_seen{m}_{a}" for m in SEEN_WINDOWS for a in AGENCY_COLUMNS},
}
STOCK = ("registered", *SHARES, *SHARES.values(), "unseen_never", "unseen_since")
FLOW = ("new", "ended", "removed", "checked", "unchecked")
MEDIAN_FROM = {"days_to_check": "checked", "days_unseen": "unseen_since"}


@dataclass(frozen=True)
class Period:
    key: str  # 2026-03 or 2026-Q1
    kind: str  # "month" or "quarter"
    start: date
    end: date

    @property
    def label(self) -> str:
        if self.kind == "month":
            return self.start.strftime("%B %Y")
        return f"{self.start:%b} to {self.end:%b %Y}"


@dataclass(frozen=True)
class SourceQuality:
    """One source's deliveries received in the period (records, not children) and freshness."""

    source: str
    deliveries: int
    received: int
    loaded: int
    quarantined: int
    rejected: int
    last_good_at: datetime | None
    stale: bool

    @property
    def quarantined_share(self) -> float | None:
        return self.quarantined / self.received if self.received else None


@dataclass
class AssuranceReport:
    start: date
    end: date
    today: date
    unseen_months: int
    periods: list[Period]
    cells: Suppressed
    medians: dict[tuple[str, str], float | None] = field(default_factory=dict)
    sources: list[SourceQuality] = field(default_factory=list)
    suppressed: bool = True

    def months(self) -> list[Period]:
        return [p for p in self.periods if p.kind == "month"]

    def quarters(self) -> list[Period]:
        return [p for p in self.periods if p.kind == "quarter"]

    def count(self, period: Period, figure: str) -> int | None:
        """The count as published (None when suppressed)."""
        return self.cells.value((period.key, figure))

    def text(self, period: Period, figure: str) -> str:
        return self.cells.text((period.key, figure))

    def share(self, period: Period, figure: str, of: str = "registered") -> float | None:
        """The figure as a share of ``of`` (None when either is suppressed or ``of`` is 0)."""
        part, whole = self.count(period, figure), self.count(period, of)
        return part / whole if part is not None and whole else None

    def median(self, period: Period, name: str) -> float | None:
        return self.medians.get((period.key, name))


def month_end(day: date) -> date:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - timedelta(days=1)


def periods(start: date, end: date) -> list[Period]:
    """The months, then the calendar quarters, that the period touches, each cut to it."""
    months: list[Period] = []
    quarters: dict[str, Period] = {}
    day = start.replace(day=1)
    while day <= end:
        first, last = max(day, start), min(month_end(day), end)
        months.append(Period(f"{day:%Y-%m}", "month", first, last))
        quarter = f"{day.year}-Q{(day.month - 1) // 3 + 1}"
        begun = quarters.get(quarter)
        quarters[quarter] = Period(quarter, "quarter", begun.start if begun else first, last)
        day = last + timedelta(days=1)
    return months + list(quarters.values())


def _stock(children: list[ChildFacts], day: date, unseen_months: int) -> dict[str, int]:
    on = [c for c in children if c.registered_at(day)]
    found = {"registered": len(on)}
    flags: dict[str, list[bool]] = {
        "gp": [c.gp for c in on],
        "care_now": [c.care_open_at(day) for c in on],
        "care_ever": [c.care_ever_by(day) for c in on],
        "plan": [c.care_open_at(day, ["child_protection_plans"]) for c in on],
        "looked_after": [c.care_open_at(day, ["looked_after"]) for c in on],
        "unseen": [not c.seen_within(day, unseen_months, ANY) for c in on],
    }
    for months in SEEN_WINDOWS:
        for agency in AGENCY_COLUMNS:
            flags[f"seen{months}_{agency}"] = [c.seen_within(day, months, agency) for c in on]
    for figure, values in flags.items():
        found[figure] = sum(values)
        found[SHARES[figure]] = len(on) - found[figure]
    unseen = [c for c, u in zip(on, flags["unseen"], strict=True) if u]
    found["unseen_never"] = sum(1 for c in unseen if c.last_contact(day) is None)
    found["unseen_since"] = found["unseen"] - found["unseen_never"]
    return found


def _flow(children: list[ChildFacts], period: Period) -> dict[str, int]:
    def within(day: date | None) -> bool:
        return day is not None and period.start <= day <= period.end

    removed = [c for c in children if within(c.removed_on)]
    return {
        "new": sum(1 for c in children if any(within(s.start) for s in c.register)),
        "ended": sum(1 for c in children if any(within(s.end) for s in c.register)),
        "removed": len(removed),
        "checked": sum(1 for c in removed if c.first_check),
        "unchecked": sum(1 for c in removed if not c.first_check),
    }


def _medians(children: list[ChildFacts], period: Period, unseen_months: int) -> dict[str, float]:
    day = period.end
    waits = [
        (c.first_check - c.removed_on).days
        for c in children
        if c.removed_on and c.first_check and period.start <= c.removed_on <= day
    ]
    unseen = [
        (day - last.on).days
        for c in children
        if c.registered_at(day) and not c.seen_within(day, unseen_months, ANY)
        for last in [c.last_contact(day)]
        if last is not None
    ]
    found: dict[str, float] = {}
    if waits:
        found["days_to_check"] = float(median(waits))
    if unseen:
        found["days_unseen"] = float(median(unseen))
    return found


def groups(all_periods: list[Period]) -> Iterator[Group]:
    """Every equation a reader could use: a total and its parts (per period), the same figure
    twice (a quarter's end is its last month's end), a quarter's flows as the sum of its
    months', and a month's register as the last month's plus new less ended."""
    months = [p for p in all_periods if p.kind == "month"]
    for period in all_periods:
        k = period.key
        for figure, complement in SHARES.items():
            yield Group(((k, figure), (k, complement)), total=(k, "registered"))
        yield Group(((k, "unseen_never"), (k, "unseen_since")), total=(k, "unseen"))
        yield Group(((k, "checked"), (k, "unchecked")), total=(k, "removed"))
    for quarter in (p for p in all_periods if p.kind == "quarter"):
        inside = [m for m in months if quarter.start <= m.start and m.end <= quarter.end]
        last = next(m for m in inside if m.end == quarter.end)
        for figure in STOCK:
            yield equal((quarter.key, figure), (last.key, figure))
        for figure in FLOW:
            yield Group(tuple((m.key, figure) for m in inside), total=(quarter.key, figure))
    for before, month in pairwise(months):
        yield Group(
            ((before.key, "registered"), (month.key, "new")),
            total=(month.key, "registered"),
            minus=((month.key, "ended"),),
        )


def _source_quality(session: Session, start: date, end: date, now: datetime) -> list[SourceQuality]:
    first = datetime.combine(start, time.min, tzinfo=UTC)
    after = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    fresh = {f.source: f for f in freshness(session, now)}
    found = []
    for section in validation_figures(session, now).sources:
        runs = [r for r in section.runs if first <= _utc(r.received_at) < after]
        item = fresh.get(section.source)
        found.append(
            SourceQuality(
                source=section.source,
                deliveries=len(runs),
                received=sum(r.received for r in runs),
                loaded=sum(r.loaded for r in runs),
                quarantined=sum(r.quarantined for r in runs),
                rejected=sum(r.rejected for r in runs),
                last_good_at=item.last_good_at if item else None,
                stale=item.stale if item else True,
            )
        )
    return found


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_assurance_report(
    session: Session,
    start: date,
    end: date,
    *,
    today: date,
    now: datetime | None = None,
    suppressed: bool = True,
) -> AssuranceReport:
    """The report for ``start``..``end`` (inclusive days). ``suppressed=False`` keeps every
    count as it is: for tests against the synthetic truth only, never published."""
    unseen_months = settings().caseload_act_now_unseen_months
    children = ehe_children(session, today)
    every = periods(start, end)
    counts: dict[Hashable, int] = {}
    found: dict[tuple[str, str], float] = {}
    for period in every:
        figures = {**_stock(children, period.end, unseen_months), **_flow(children, period)}
        counts.update({(period.key, name): n for name, n in figures.items()})
        for name, value in _medians(children, period, unseen_months).items():
            found[(period.key, name)] = value
    if suppressed:
        cells = suppress(counts, groups(every))
    else:
        cells = Suppressed(counts, {c: Shown.VALUE for c in counts})
    medians: dict[tuple[str, str], float | None] = dict(found)
    for (key, name), value in found.items() if suppressed else []:
        behind = cells.value((key, MEDIAN_FROM[name]))  # a median of fewer than 5 is not shown
        medians[(key, name)] = value if behind is not None and not is_small(behind) else None
    report = AssuranceReport(start, end, today, unseen_months, every, cells, medians)
    report.sources = _source_quality(session, start, end, now or datetime.now(UTC))
    report.suppressed = suppressed
    return report
