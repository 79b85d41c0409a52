"""Point-in-time replay: a replay equals the answer actually given, for 100 sampled lookups.

An index is built and changed while lookups are made between the changes: new record versions
arrive (one brings a restricted label, one an identifier that makes linkage relink a record
and merge two children), a reviewer accepts a possible match (a merge), a consent is recorded,
a health practitioner opens a break-glass override. Every lookup goes through the gateway's own
paths (``disclose`` as the API's sync path makes it; on PostgreSQL also the API's async path),
each writing its audit entry with the digest of the answer shown. Then 100 audited lookups
are sampled and each is replayed at its entry's time, with its actor's role, organisation and
purpose: the replay's outcome, fields, clause and answer digest must equal the entry's. On
SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from index_builder import PAIR_WEIGHTS, _who, record
from sqlalchemy import select
from typer.testing import CliRunner

from gateway import clock
from gateway.access.agreements import decide, load_agreements
from gateway.access.audit import Actor
from gateway.access.audit_queries import verify_chain
from gateway.access.break_glass import request_break_glass
from gateway.access.consent import ConsentEvidence, record_consent
from gateway.access.purposes import PURPOSES
from gateway.api.lookup import LookupRequest, _lookup_in
from gateway.linkage.publish import link_children
from gateway.linkage.review import accept
from gateway.policy.async_lookup import AsyncLookups
from gateway.policy.replay import replay
from gateway.read_model import children_of_batch, find_child_id, refresh_restricted
from gateway.store.engine import session_factory
from gateway.store.loader import load_records
from gateway.store.tables import AuditEntry, Link, LinkReview

EHE = "education__ehe_register"
HEALTH = "health__fhir_patient"
CARE = "social_care__case_db"
AGENCY = {EHE: "education", HEALTH: "health", CARE: "social_care"}
NHS = ["9434765919", "9434765927", "9434765935", "9434765943"]
IG = Actor("i.officer", "North Yorkshire Council", "ig_officer")
REVIEWER = Actor("r.reviewer", "data engineering", "data_engineer")
SECOND = Actor("s.second", "data engineering", "admin")
# Who looks, and for what: three allowed by a clause, one by no clause, one needing consent.
LOOKERS = [
    (Actor("e.officer", "North Yorkshire Council", "ehe_officer"), "ehe_enquiry"),
    (
        Actor("s.worker", "North Yorkshire Council Children's Social Care", "social_worker"),
        "child_protection",
    ),
    (
        Actor("h.nurse", "Harrogate and District NHS Foundation Trust", "health_practitioner"),
        "safeguarding_duty",
    ),
    (Actor("d.engineer", "North Yorkshire Council", "data_engineer"), "ehe_enquiry"),
    (Actor("e.officer", "North Yorkshire Council", "ehe_officer"), "voluntary_support"),
    # No clause covers it: refused, until a break-glass override is opened (then disclosed).
    (
        Actor("h.nurse", "Harrogate and District NHS Foundation Trust", "health_practitioner"),
        "child_in_need",
    ),
]
runner = CliRunner()


@dataclass
class Fast:
    """The API's async lookups, on one event loop for the whole test."""

    lookups: AsyncLookups
    loop: asyncio.AbstractEventLoop
    answered: int = 0


def _next_second() -> None:
    """Wait into the next whole second: an audit entry's time is kept to the second, so a
    change and the lookups after it must fall in different seconds."""
    now = time.time()
    time.sleep(1.02 - (now - int(now)))


def _load(index_url: str, batch: str, items: list[dict[str, Any]]) -> None:
    """Records arrive: each a new version, received now; the children they touch re-read their
    restricted verdict (as the pipeline's load does)."""
    received = datetime.now(UTC).isoformat()
    with session_factory(index_url).begin() as session:
        for item in items:
            item["provenance"]["received_at"] = received
            item["provenance"]["batch_id"] = batch
            source = item["provenance"]["source"]
            load_records(session, source, AGENCY[source], batch, [item])
            session.flush()
            refresh_restricted(session, children_of_batch(session, source, batch))


def _ehe_record(record_id: str, nhs: str, given: str, registered: str) -> dict[str, Any]:
    who = {**_who(given, "Hart", "2015-03-07"), "nhs_number": nhs}
    ehe = {
        "enrolments": [
            {
                "school_id": "8152001",
                "entry_date": "2019-09-01",
                "leaving_date": "2026-01-10",
                "leaving_reason": "EHE",
            }
        ],
        "ehe": [{"registered_on": registered}],
    }
    return record(EHE, record_id, who, education=ehe)


def _health_record(
    record_id: str, nhs: str, given: str, gp: str, *, restricted: bool = False
) -> dict[str, Any]:
    who = {**_who(given, "Hart", "2015-03-07"), "nhs_number": nhs, "restricted": restricted}
    return record(HEALTH, record_id, who, health={"gp_practice_ods": gp})


def _care_record(record_id: str, nhs: str | None, given: str, team: str) -> dict[str, Any]:
    who = {**_who(given, "Stone", "2014-02-02"), "nhs_number": nhs}
    care = {"referrals": [{"start_date": "2025-05-01"}], "lead_team": team}
    return record(CARE, record_id, who, social_care=care)


def _child_of(index_url: str, nhs: str) -> str:
    with session_factory(index_url)() as session:
        found = find_child_id(session, nhs_number=nhs)
    assert found is not None
    return found


def _look(index_url: str, child_ids: list[str], fast: Fast | None) -> int:
    """Every looker looks every child up once (through the API's own paths): how many."""
    agreements = load_agreements()
    made = 0
    for n, child_id in enumerate(child_ids):
        for who, purpose in LOOKERS:
            code = PURPOSES[purpose]
            decision = decide(agreements, who, purpose, clock.today())
            if fast is not None and n % 2 and decision.allowed and not code.requires_consent:
                answer = fast.loop.run_until_complete(
                    fast.lookups.lookup(who, code, child_id, decision)
                )
                if answer is not None:  # None: merged into another (the sync path follows it)
                    fast.answered += 1
                    made += 1
                    continue
            request = LookupRequest(purpose=purpose, child_id=child_id)
            with session_factory(index_url)() as db:
                try:
                    _lookup_in(db, request, who, agreements)
                except Exception as exc:  # a refusal: audited and committed all the same
                    assert getattr(exc, "status_code", None) in (403, 404), exc
            made += 1
    return made


def _build_and_look(index_url: str, fast: Fast | None) -> dict[str, str]:
    """The index's story, with everyone looking between its chapters; the children's ids."""
    _load(
        index_url,
        "b1",
        [
            _ehe_record("e1", NHS[0], "Amelia", "2026-01-12"),
            _health_record("h1", NHS[0], "Amelia", "B82001"),
            _health_record("h3", NHS[3], "Amelie", "B82099"),
            _care_record("s1", NHS[1], "Oliver", "Harrogate Safeguarding"),
            _ehe_record("e2", NHS[2], "Ruby", "2025-09-01"),
            _care_record("s2", None, "Ruby", "Selby Family Support"),
        ],
    )
    link_children(index_url)
    ids = {
        "amelia": _child_of(index_url, NHS[0]),
        "amelie": _child_of(index_url, NHS[3]),
        "oliver": _child_of(index_url, NHS[1]),
        "ruby": _child_of(index_url, NHS[2]),
    }
    with session_factory(index_url)() as session:
        link = session.get(Link, (CARE, "s2"))
        assert link is not None
        ids["ruby_care"] = link.child_id
    with session_factory(index_url).begin() as session:
        review = LinkReview(
            left_source=EHE,
            left_record_id="e2",
            right_source=CARE,
            right_record_id="s2",
            probability=0.93,
            match_weights=PAIR_WEIGHTS,
            model="test-model",
            status="open",
            created_at=datetime.now(UTC),
        )
        session.add(review)
        session.flush()
        review_id = review.id
    everyone = sorted(set(ids.values()))
    _next_second()
    _look(index_url, everyone, fast)  # chapter 1: as first linked, a pair waiting for review

    _next_second()  # new versions: a GP change, a new lead team
    _load(
        index_url,
        "b2",
        [
            _health_record("h1", NHS[0], "Amelia", "B82005"),
            _care_record("s1", NHS[1], "Oliver", "Scarborough Safeguarding"),
        ],
    )
    _next_second()
    _look(index_url, everyone, fast)

    _next_second()  # a reviewer accepts the pair: Ruby's two children merged
    if accept(review_id, REVIEWER, "same child: school and social care agree", index_url) is None:
        accept(review_id, SECOND, "confirmed: same birth date and family", index_url)
    with session_factory(index_url).begin() as session:
        request_break_glass(
            session,
            LOOKERS[-1][0],
            ids["amelia"],
            "child_in_need",
            "Paediatric ward needs to know who to call about a child seen today with injuries",
            agreements=load_agreements(),
        )
        record_consent(
            session,
            LOOKERS[0][0],
            ids["amelia"],
            "voluntary_support",
            ConsentEvidence("parent", date(2026, 11, 20), "written", "case note 17"),
            agreements=load_agreements(),
        )
    _next_second()
    _look(index_url, everyone, fast)

    _next_second()  # a restricted label arrives; Amelie's record now carries Amelia's number
    _load(
        index_url,
        "b3",
        [
            _health_record("h1", NHS[0], "Amelia", "B82005", restricted=True),
            _health_record("h3", NHS[0], "Amelia", "B82099"),
        ],
    )
    link_children(index_url)  # relinks h3 to Amelia's child, merging Amelie's into it
    _next_second()
    _look(index_url, everyone, fast)
    return ids


def _replay_equals_every_sampled_lookup(index_url: str, fast: Fast | None) -> None:
    ids = _build_and_look(index_url, fast)
    agreements = load_agreements()
    with session_factory(index_url)() as session:
        lookups = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "lookup").order_by(AuditEntry.seq)
        ).all()
        assert len(lookups) >= 100
        sample = random.Random(19).sample(list(lookups), 100)
        outcomes, differ_now = set(), 0
        now = datetime.now(UTC)
        for entry in sample:
            who = Actor(entry.actor, entry.organisation, entry.role)
            assert entry.child_id is not None and entry.purpose is not None
            asked = {"actor": who, "purpose": PURPOSES[entry.purpose], "agreements": agreements}
            seen = replay(session, IG, entry.child_id, entry.at, **asked).entry
            assert seen is not None, f"entry {entry.seq}: no child {entry.child_id} then"
            assert (seen.outcome, seen.agreement_clause) == (entry.outcome, entry.agreement_clause)
            assert seen.fields_disclosed == list(entry.fields_disclosed), entry.seq
            assert seen.fields_refused == list(entry.fields_refused), entry.seq
            assert seen.answer_digest == entry.answer_digest, f"entry {entry.seq} differs"
            outcomes.add(entry.outcome)
            # The control: the same lookup replayed as the index is now.
            today = replay(session, IG, entry.child_id, now, **asked).entry
            assert today is not None
            differ_now += (today.outcome, today.answer_digest) != (seen.outcome, seen.answer_digest)
        session.commit()
    # The sample holds every kind of answer, and many an answer the index as it is now would
    # not give (so a replay that read the present instead of the past could not pass).
    assert {"disclosed", "restricted", "refused", "no_consent", "break_glass"} <= outcomes
    assert differ_now >= 30, differ_now
    print(f"replays equal: 100 of 100; answered otherwise as of now: {differ_now}")
    with session_factory(index_url)() as session:
        assert verify_chain(session).intact
        replays = session.scalars(select(AuditEntry).where(AuditEntry.action == "replay")).all()
        assert len(replays) == 200 and {r.actor for r in replays} == {IG.user}
    assert ids["amelie"] != ids["amelia"]


def test_a_replay_equals_the_answer_given_for_100_sampled_lookups(index_url: str) -> None:
    _replay_equals_every_sampled_lookup(index_url, None)


def test_the_same_through_the_async_path_too(pg_index_url: str) -> None:
    """On PostgreSQL the API's async path answers half the allowed lookups: its entries carry
    the digest too, and replays equal them."""
    fast = Fast(AsyncLookups(pg_index_url, 2), asyncio.new_event_loop())
    try:
        _replay_equals_every_sampled_lookup(pg_index_url, fast)
        assert fast.answered >= 20, "the async path answered too few to tell"
    finally:
        fast.loop.run_until_complete(fast.lookups.close())
        fast.loop.close()
