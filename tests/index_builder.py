"""Put hand-made children straight into an index: records through the loader, links by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from gateway.store.loader import load_records
from gateway.store.tables import Child, Link

AGENCY_OF = {
    "education__ehe_register": "education",
    "health__fhir_patient": "health",
    "social_care__case_db": "social_care",
}


def record(source: str, record_id: str, identity: dict[str, Any], **facts: Any) -> dict[str, Any]:
    """A canonical record in JSON form (``facts``: education=..., health=..., social_care=...)."""
    return {
        "provenance": {
            "source": source,
            "record_id": record_id,
            "batch_id": "hand-made",
            "received_at": datetime(2026, 11, 1, tzinfo=UTC).isoformat(),
        },
        "agency": AGENCY_OF[source],
        "identity": identity,
        **facts,
    }


def add_child(
    session: Session, child_id: str, records: list[dict[str, Any]], restricted: bool = False
) -> None:
    """One child with its records, each linked as an automatic MATCH."""
    session.execute(insert(Child).values(child_id=child_id, restricted=restricted))
    for item in records:
        source = item["provenance"]["source"]
        load_records(session, source, item["agency"], "hand-made", [item])
        session.execute(
            insert(Link).values(
                source=source,
                record_id=item["provenance"]["record_id"],
                child_id=child_id,
                state="MATCH",
                origin="AUTO",
                rule="hand-made",
                evidence={},
            )
        )


EHE = "education__ehe_register"
HEALTH = "health__fhir_patient"
CARE = "social_care__case_db"


def _who(given: str, family: str, born: str, postcode: str = "YO1 7HH") -> dict[str, object]:
    return {
        "given_name": given,
        "family_name": family,
        "birth_date": born,
        "sex": "female",
        "addresses": [{"lines": ["1 Test Street"], "postcode": postcode}],
    }


def _ehe(registered: str | None, left: str | None = None) -> dict[str, object]:
    return {
        "enrolments": [
            {
                "school_id": "8152001",
                "entry_date": "2019-09-01",
                "leaving_date": left,
                "leaving_reason": "EHE" if left else None,
            }
        ],
        "ehe": [{"registered_on": registered}] if registered else [],
    }


def add_population(session: Session) -> None:
    """A: removed to EHE while on a child protection plan, unseen; B: seen, no concerns;
    C: on a school roll (not EHE); D: removed to EHE recently, no GP."""
    add_child(
        session,
        "C-A",
        [
            record(
                EHE,
                "a1",
                _who("Amelia", "Hart", "2015-03-07"),
                education=_ehe("2026-01-12", "2026-01-10"),
                contacts=[{"kind": "last day on roll", "on": "2026-01-10"}],
            ),
            record(
                CARE,
                "a2",
                _who("Amelia", "Hart", "2015-03-07"),
                social_care={
                    "referrals": [{"start_date": "2025-05-01"}],
                    "child_protection_plans": [{"start_date": "2025-06-01"}],
                    "lead_team": "Harrogate Safeguarding",
                },
            ),
            record(
                HEALTH,
                "a3",
                _who("Amelia", "Hart", "2015-03-07"),
                health={"gp_practice_ods": "B82001"},
                contacts=[{"kind": "attended appointment", "on": "2024-01-01"}],
            ),
        ],
    )
    add_child(
        session,
        "C-B",
        [
            record(EHE, "b1", _who("Amelie", "Hart", "2015-03-07"), education=_ehe("2025-09-01")),
            record(
                HEALTH,
                "b2",
                _who("Amelie", "Hart", "2015-03-07"),
                health={"gp_practice_ods": "B82001"},
                contacts=[{"kind": "attended appointment", "on": "2026-11-01"}],
            ),
        ],
    )
    add_child(
        session,
        "C-C",
        [
            record(
                EHE,
                "c1",
                _who("Oliver", "Stone", "2015-07-03", "HG1 1AA"),
                education=_ehe(None),
            ),
        ],
    )
    add_child(
        session,
        "C-D",
        [
            record(
                EHE,
                "d1",
                _who("Ruby", "Lane", "2014-02-02"),
                education=_ehe(None, "2026-06-01"),
                contacts=[{"kind": "last day on roll", "on": "2026-06-01"}],
            ),
        ],
    )


PAIR_WEIGHTS = {
    "prior": -9.5,
    "given_name": 2.75,
    "family_name": 6.0,
    "birth_date": 7.25,
    "sex": 0.5,
    "place": -1.5,
}


def add_review_pair(session: Session, *, restricted: bool = False) -> int:
    """Two children the matcher could not tell apart, and the open review of their records:
    an EHE registration (C-P1) and a health record (C-P2, restricted if asked). Its id."""

    add_child(session, "C-P1", [record(EHE, "p1", _who("Maisie", "Cole", "2016-02-03"))])
    health = record(HEALTH, "p2", _who("Maisy", "Cole", "2016-02-03", "HG2 9ZZ"))
    health["identity"]["restricted"] = restricted
    add_child(session, "C-P2", [health], restricted=restricted)
    return _open_review(session, (EHE, "p1"), (HEALTH, "p2"), 0.93, PAIR_WEIGHTS)


def _open_review(
    session: Session,
    left: tuple[str, str],
    right: tuple[str, str],
    probability: float,
    weights: dict[str, float],
    conflict: str | None = None,
) -> int:
    """An open review of two records as linkage queues it; its id."""
    from gateway.store.tables import LinkReview

    review = LinkReview(
        left_source=left[0],
        left_record_id=left[1],
        right_source=right[0],
        right_record_id=right[1],
        probability=probability,
        match_weights=weights,
        model="test-model",
        status="open",
        conflict=conflict,
    )
    session.add(review)
    session.flush()
    return review.id


TWIN_WEIGHTS = {
    "prior": -9.5,
    "given_name": -3.25,
    "family_name": 6.0,
    "birth_date": 7.25,
    "sex": 0.5,
    "place": 4.0,
    "nhs_number": 0.0,
}
INVALID_NHS_NUMBER = "9434765918"  # 9434765919 passes Modulus 11; this fails its check digit


def add_twin_pair(session: Session, *, conflict: str | None = None) -> int:
    """Twins the matcher scored highly: one birth date, surname and home, two first names.
    Social care knows one (C-T1, whose record carries an NHS number failing its check digit),
    health the other (C-T2). The open review of their records; its id."""

    isla = {**_who("Isla", "Finch", "2017-05-09"), "nhs_number": INVALID_NHS_NUMBER}
    care = {"referrals": [{"start_date": "2026-03-01"}], "lead_team": "Harrogate Safeguarding"}
    add_child(session, "C-T1", [record(CARE, "t1", isla, social_care=care)])
    add_child(session, "C-T2", [record(HEALTH, "t2", _who("Poppy", "Finch", "2017-05-09"))])
    return _open_review(session, (CARE, "t1"), (HEALTH, "t2"), 0.9999, TWIN_WEIGHTS, conflict)
