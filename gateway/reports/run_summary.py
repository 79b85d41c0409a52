"""The summary a data engineer reads after a run: what came in and what became of it."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.store.tables import Batch, Child, HeldRecord, Link, LinkReview, SourceRecord


@dataclass
class SourceLine:
    source: str
    batches: int = 0
    received: int = 0
    loaded: int = 0
    quarantined: int = 0
    rejected: int = 0
    gated: int = 0
    pending: int = 0
    not_read: int = 0
    top_reasons: list[tuple[str, int]] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        decided = self.loaded + self.quarantined + self.rejected + self.not_read + self.gated
        return self.received == decided + self.pending


@dataclass
class RunSummary:
    sources: list[SourceLine]
    children: int
    children_multi_agency: int
    children_by_agency_count: dict[int, int]
    open_reviews: int = 0


def reason_label(reason: dict[str, object]) -> str:
    """A short label for a held item's reason (field names and rules, never values)."""
    stage = reason.get("stage")
    if stage == "validation":
        return f"validation: {reason.get('rule')}"
    return f"{stage}: {reason.get('explain')}"


def build_summary(session: Session, top: int = 3) -> RunSummary:
    lines: dict[str, SourceLine] = {}
    for batch in session.scalars(select(Batch)):
        line = lines.setdefault(batch.source, SourceLine(batch.source))
        line.batches += 1
        line.received += batch.received
        line.loaded += batch.loaded
        line.quarantined += batch.quarantined
        line.rejected += batch.rejected
        line.not_read += batch.not_read
        line.gated += batch.gated
        line.pending += batch.pending
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for source, item_reasons in session.execute(select(HeldRecord.source, HeldRecord.reasons)):
        for reason in item_reasons[:1]:  # the first reason names why it was held
            reasons[source][reason_label(reason)] += 1
    for source, line in lines.items():
        line.top_reasons = reasons[source].most_common(top)
    agencies_per_child = (
        select(Link.child_id, func.count(func.distinct(SourceRecord.agency)).label("n"))
        .join(
            SourceRecord,
            (SourceRecord.source == Link.source) & (SourceRecord.record_id == Link.record_id),
        )
        .where(SourceRecord.is_current.is_(True), Link.state == "MATCH")
        .group_by(Link.child_id)
    ).subquery()
    counted = session.execute(
        select(agencies_per_child.c.n, func.count()).group_by(agencies_per_child.c.n)
    )
    by_count = {int(agencies): int(children) for agencies, children in counted}
    children = (
        session.scalar(select(func.count()).select_from(Child).where(Child.merged_into.is_(None)))
        or 0
    )
    return RunSummary(
        sources=[lines[s] for s in sorted(lines)],
        children=children,
        children_multi_agency=sum(n for k, n in by_count.items() if k > 1),
        children_by_agency_count=by_count,
        open_reviews=session.scalar(
            select(func.count()).select_from(LinkReview).where(LinkReview.status == "open")
        )
        or 0,
    )


def render_text(summary: RunSummary) -> str:
    """Plain text, for terminals and logs alike (counts only, no personal data)."""
    out = [
        "Per source: received = loaded + quarantined + rejected + not read + gated (+ pending)",
        "",
    ]
    header = (
        f"{'source':28} {'batches':>7} {'received':>9} {'loaded':>8} {'quarantined':>11} "
        f"{'rejected':>8} {'not read':>8} {'gated':>6}"
    )
    out += [header, "-" * len(header)]
    for s in summary.sources:
        flag = "" if s.balanced else "  << does not add up"
        waiting = f"  ({s.pending} pending)" if s.pending else ""
        out.append(
            f"{s.source:28} {s.batches:>7} {s.received:>9} {s.loaded:>8} {s.quarantined:>11} "
            f"{s.rejected:>8} {s.not_read:>8} {s.gated:>6}{waiting}{flag}"
        )
        for label, count in s.top_reasons:
            out.append(f"{'':30}{count:>5} x {label}")
    out += [
        "",
        f"Children in the index: {summary.children}",
        f"Children known to more than one agency: {summary.children_multi_agency}",
    ]
    for agencies in sorted(summary.children_by_agency_count):
        out.append(
            f"  known to {agencies} agenc{'y' if agencies == 1 else 'ies'}: "
            f"{summary.children_by_agency_count[agencies]}"
        )
    out.append(f"Possible matches waiting for review: {summary.open_reviews}")
    return "\n".join(out)
