"""Search and caseload as the policy allows, each recorded in the audit log (refusals too).

Plain functions for the API and the web pages alike: they decide by the agreements, answer
and append the audit entry in the caller's transaction; the caller commits before answering
(also after a ``Refusal``, so the refusal is recorded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from gateway import clock
from gateway.access.agreements import Agreement, SharingDecision, decide
from gateway.access.audit import SHOWN_CANDIDATE, SHOWN_CHILD, Actor, AuditEvent, append
from gateway.access.consent import children_with_consent
from gateway.access.purposes import Purpose
from gateway.lookup.caseload import BANDS, CaseloadEntry, SharedFacts, ehe_caseload
from gateway.lookup.search import Candidate, Demographics, search_children
from gateway.policy.disclosure import Refusal, restricted_notice


def allowed_or_refused(
    session: Session,
    actor: Actor,
    purpose: Purpose,
    *,
    action: str,
    agreements: list[Agreement],
    today: date | None = None,
) -> SharingDecision:
    """The clause covering this actor and purpose; else the refusal is audited and raised."""
    decision = decide(agreements, actor, purpose.code, today or clock.today())
    if not decision.allowed:
        append(
            session,
            AuditEvent(
                actor=actor,
                action=action,
                outcome="refused",
                purpose=purpose.code,
                lawful_basis=purpose.lawful_basis,
                reason=decision.reason,
            ),
        )
        raise Refusal("refused", decision.reason)
    return decision


def audited_search(
    session: Session,
    actor: Actor,
    purpose: Purpose,
    query: Demographics,
    *,
    agreements: list[Agreement],
    limit: int = 10,
) -> list[Candidate]:
    """Candidates for the demographics, if an agreement covers the asker; audited either way."""
    decision = allowed_or_refused(session, actor, purpose, action="search", agreements=agreements)
    consented = _consented(session, purpose)
    candidates = [
        # Which agencies know a candidate is shown only for the agencies the clause covers.
        c.model_copy(update={"known_to": [a for a in c.known_to if a in decision.sources]})
        for c in search_children(session, query, limit=limit)
        if consented is None or c.child_id in consented
    ]
    append(
        session,
        AuditEvent(
            actor=actor,
            action="search",
            outcome="candidates" if candidates else "no_match",
            purpose=purpose.code,
            lawful_basis=purpose.lawful_basis,
            agreement_clause=decision.clause_ref,
            fields_disclosed=[f"{SHOWN_CANDIDATE}{c.child_id}" for c in candidates],
        ),
    )
    return candidates


@dataclass(frozen=True)
class CaseloadFilter:
    """What an officer narrows the caseload to (all unset: every child). A restricted child's
    row carries no facts, so it is listed only when no filter is set: a filter on its facts
    would tell by leaving it in or out."""

    band: str | None = None  # "act now", "check" or "routine"
    agency: str | None = None  # known to this agency
    unseen: bool = False  # unseen for the page's window
    plan: bool = False  # a child protection or child in need plan, or looked after, now
    no_gp: bool = False  # no registered GP known
    held: bool = False  # a record about the child held back

    @property
    def active(self) -> bool:
        return any((self.band, self.agency, self.unseen, self.plan, self.no_gp, self.held))

    def keeps(self, entry: CaseloadEntry) -> bool:
        if entry.restricted:
            return not self.active
        return (
            (self.band is None or entry.band == self.band)
            and (self.agency is None or self.agency in entry.known_to)
            and (not self.unseen or bool(entry.unseen or entry.possibly_seen))
            and (not self.plan or entry.on_a_plan)
            and (not self.no_gp or (entry.gp_practice_ods is None and entry.gp_shared))
            and (not self.held or bool(entry.held_records))
        )


@dataclass(frozen=True)
class CaseloadPage:
    """One page of the caseload: its rows, how many children match, and how many are in each
    band of the whole caseload (counts only)."""

    entries: list[CaseloadEntry]
    matching: int
    page: int
    pages: int
    bands: dict[str, int] = field(default_factory=dict)


def audited_caseload(
    session: Session,
    actor: Actor,
    purpose: Purpose,
    *,
    agreements: list[Agreement],
    unseen_months: int = 6,
    limit: int | None = None,
    today: date | None = None,
) -> list[CaseloadEntry]:
    """The EHE worklist as the asker's clause shares it (up to ``limit`` rows); audited either
    way."""
    shown = audited_caseload_page(
        session,
        actor,
        purpose,
        agreements=agreements,
        unseen_months=unseen_months,
        page_size=limit,
        today=today,
    )
    return shown.entries


def audited_caseload_page(
    session: Session,
    actor: Actor,
    purpose: Purpose,
    *,
    agreements: list[Agreement],
    unseen_months: int = 6,
    filters: CaseloadFilter | None = None,
    page: int = 1,
    page_size: int | None = None,
    today: date | None = None,
) -> CaseloadPage:
    """One page of the EHE worklist as the asker's clause shares it, filtered; one audit entry
    naming the children on the page (a refusal is audited too)."""
    day = today or clock.today()
    decision = allowed_or_refused(
        session, actor, purpose, action="caseload", agreements=agreements, today=day
    )
    shared = SharedFacts(sources=decision.sources, fields=decision.fields)
    consented = _consented(session, purpose)
    every = [
        e
        for e in ehe_caseload(session, today=day, unseen_months=unseen_months, shared=shared)
        if consented is None or e.child_id in consented
    ]
    chosen = filters or CaseloadFilter()
    matching = [e for e in every if chosen.keeps(e)]
    size = max(page_size or len(matching) or 1, 1)
    pages = max(-(-len(matching) // size), 1)
    number = min(max(page, 1), pages)
    entries = [
        _existence_only(e, decision) if e.restricted else e
        for e in matching[(number - 1) * size : number * size]
    ]
    bands = {band: sum(1 for e in every if e.band == band) for band in BANDS}
    append(
        session,
        AuditEvent(
            actor=actor,
            action="caseload",
            outcome="disclosed",
            purpose=purpose.code,
            lawful_basis=purpose.lawful_basis,
            agreement_clause=decision.clause_ref,
            # One entry for the view, naming every child shown (a subject access export finds
            # it for each of them).
            fields_disclosed=[
                *CaseloadEntry.model_fields,
                *(f"{SHOWN_CHILD}{e.child_id}" for e in entries),
            ],
            reason=f"{len(entries)} children listed",
        ),
    )
    return CaseloadPage(entries, len(matching), number, pages, bands)


def _consented(session: Session, purpose: Purpose) -> set[str] | None:
    """Under a purpose that needs the family's consent, only the children whose consent is in
    force may be listed (None: the purpose needs none)."""
    return children_with_consent(session, purpose.code) if purpose.requires_consent else None


def _existence_only(entry: CaseloadEntry, decision: SharingDecision) -> CaseloadEntry:
    """A restricted child's row: that the child is on the caseload, and whom to contact."""
    return CaseloadEntry(
        child_id=entry.child_id, restricted=True, notice=restricted_notice(decision)
    )


@dataclass(frozen=True)
class SearchedSource:
    """A source an identifier lookup searched: its name in words, its agency, when its last
    good batch was loaded, and whether that is older than the source's threshold."""

    source: str
    agency: str
    last_loaded_at: datetime | None
    stale: bool


def searched_sources(session: Session) -> list[SearchedSource]:
    """What a "no match" answer must say: every source the index holds, and how fresh each is
    (a child not found may be in a source that has not sent lately)."""
    from gateway.monitoring.freshness import freshness  # the connector registry's thresholds

    return [
        SearchedSource(f.source, f.source.split("__", 1)[0], f.last_good_at, f.stale)
        for f in freshness(session)
    ]
