"""The review queue through the API, over real HTTP: ranked, explained, decided, audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_server import bearer, serving
from index_builder import PAIR_WEIGHTS, add_population, add_review_pair
from sqlalchemy import select

from gateway.api.app import create_app
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, Child, Link, LinkReview


def _served(index_url: str, *, restricted: bool = False) -> Iterator[tuple[httpx.Client, int]]:
    with session_factory(index_url).begin() as session:
        add_population(session)
        review_id = add_review_pair(session, restricted=restricted)
    with serving(create_app(index_url)) as client:
        yield client, review_id


@pytest.fixture
def api(index_url: str, data_dir: Path) -> Iterator[tuple[httpx.Client, int]]:
    yield from _served(index_url)


def _audit(index_url: str) -> list[tuple[str, str, str | None]]:
    with session_factory(index_url)() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        return [(e.action, e.actor, e.child_id) for e in entries]


def test_the_queue_is_ranked_and_shows_no_values(
    api: tuple[httpx.Client, int], index_url: str
) -> None:
    client, review_id = api
    with session_factory(index_url).begin() as session:
        plain = LinkReview(
            left_source="education__ctf",
            left_record_id="x1",
            right_source="education__ctf",
            right_record_id="x2",
            probability=0.99,
            match_weights={"given_name": 1.0},
            model="m",
        )
        session.add(plain)
    answer = client.get("/api/v1/reviews", headers=bearer("erin.ehe"))
    assert answer.status_code == 200, answer.text
    listed = answer.json()
    # The pair touching a home-educated child comes first, though the other is stronger.
    assert [r["id"] for r in listed] == [review_id, plain.id]
    assert listed[0]["home_education"] and listed[0]["priority"]
    assert listed[0]["strongest"][0] == ["birth_date", 7.25]
    assert "Maisie" not in answer.text and "2016-02-03" not in answer.text
    assert _audit(index_url) == [("linkage.review.list", "erin.ehe", None)]
    closed = client.get("/api/v1/reviews", params={"state": "accepted"}, headers=bearer("iris.ig"))
    assert closed.status_code == 200 and closed.json() == []
    refused = client.get("/api/v1/reviews", headers=bearer("sam.social"))
    assert refused.status_code == 403 and "data_engineer" in refused.json()["detail"]


def test_a_review_shows_both_records_and_explains_every_weight(
    api: tuple[httpx.Client, int], index_url: str
) -> None:
    client, review_id = api
    assert client.get(f"/api/v1/reviews/{review_id}", headers=bearer("erin.ehe")).status_code == 403
    answer = client.get(f"/api/v1/reviews/{review_id}", headers=bearer("dev.data"))
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    fields = {f["field"]: f for f in shown["fields"]}
    assert (fields["given_name"]["left"], fields["given_name"]["right"]) == ("Maisie", "Maisy")
    assert fields["given_name"]["weight"] == 2.75 and not fields["postcode"]["withheld"]
    assert fields["postcode"]["right"] == "HG2 9ZZ"
    bars = shown["waterfall"]
    assert [b["label"] for b in bars] == [
        "prior",
        "given_name",
        "family_name",
        "birth_date",
        "sex",
        "place",
        "final score",
    ]
    assert bars[-1]["weight"] == pytest.approx(sum(PAIR_WEIGHTS.values()))
    assert bars[3]["start"] == pytest.approx(-9.5 + 2.75 + 6.0)
    assert bars[3]["meaning"] == "very strong evidence of one child (152 times likelier)"
    assert bars[5]["meaning"] == "some evidence of two children (2.8 times likelier)"
    assert _audit(index_url) == [("linkage.review.show", "dev.data", "C-P1")]
    missing = client.get("/api/v1/reviews/999999", headers=bearer("dev.data"))
    assert missing.status_code == 404


def test_a_restricted_records_address_is_withheld_but_its_weight_shown(
    index_url: str, data_dir: Path
) -> None:
    for client, review_id in _served(index_url, restricted=True):
        shown = client.get(f"/api/v1/reviews/{review_id}", headers=bearer("dev.data")).json()
        fields = {f["field"]: f for f in shown["fields"]}
        assert fields["postcode"]["withheld"] and fields["address"]["withheld"]
        assert fields["postcode"]["right"] == "withheld: restricted record"
        assert fields["postcode"]["left"] == "YO1 7HH"  # the other record is not restricted
        assert fields["postcode"]["weight"] == -1.5
        assert "HG2 9ZZ" not in str(shown)


def test_accepting_joins_the_children_manually_and_is_audited(
    api: tuple[httpx.Client, int], index_url: str
) -> None:
    client, review_id = api
    path = f"/api/v1/reviews/{review_id}"
    refused = client.post(f"{path}/accept", json={"reason": "same"}, headers=bearer("erin.ehe"))
    assert refused.status_code == 403
    blank = client.post(f"{path}/accept", json={"reason": "  "}, headers=bearer("dev.data"))
    assert blank.status_code == 422
    reason = "same child: nickname, same birth date and family"
    answer = client.post(f"{path}/accept", json={"reason": reason}, headers=bearer("dev.data"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": review_id, "status": "accepted", "child_id": "C-P1"}
    with session_factory(index_url)() as session:
        links = session.scalars(select(Link).where(Link.record_id.in_(("p1", "p2")))).all()
        assert {(lk.child_id, lk.origin) for lk in links} == {("C-P1", "MANUAL")}
        retired = session.get(Child, "C-P2")
        assert retired is not None and retired.merged_into == "C-P1"
        decided = session.get(LinkReview, review_id)
        assert decided is not None
        assert (decided.status, decided.decided_by, decided.reason) == (
            "accepted",
            "dev.data",
            reason,
        )
    again = client.post(
        f"{path}/reject", json={"reason": "changed mind"}, headers=bearer("dev.data")
    )
    assert again.status_code == 409 and "reopen it first" in again.json()["detail"]
    undo = client.post(f"{path}/reopen", json={"reason": "wrong pair"}, headers=bearer("ada.admin"))
    assert undo.status_code == 200 and undo.json()["status"] == "open"
    with session_factory(index_url)() as session:
        p2 = session.get(Link, ("health__fhir_patient", "p2"))
        assert p2 is not None and p2.child_id == "C-P2"
    assert _audit(index_url) == [
        ("linkage.review.accept", "dev.data", "C-P1"),
        ("linkage.review.reopen", "ada.admin", "C-P1"),
    ]


def test_rejecting_keeps_the_records_apart(api: tuple[httpx.Client, int], index_url: str) -> None:
    client, review_id = api
    answer = client.post(
        f"/api/v1/reviews/{review_id}/reject",
        json={"reason": "twins: different given names"},
        headers=bearer("dev.data"),
    )
    assert answer.status_code == 200 and answer.json()["status"] == "rejected"
    with session_factory(index_url)() as session:
        p2 = session.get(Link, ("health__fhir_patient", "p2"))
        assert p2 is not None and p2.child_id == "C-P2"
    missing = client.post(
        "/api/v1/reviews/424242/reject", json={"reason": "nothing"}, headers=bearer("dev.data")
    )
    assert missing.status_code == 404
    assert _audit(index_url) == [("linkage.review.reject", "dev.data", "C-P1")]


def test_the_review_endpoints_are_published(api: tuple[httpx.Client, int]) -> None:
    client, _ = api
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert set(paths["/api/v1/reviews/{review_id}/accept"]) == {"post"}
    assert {"/api/v1/reviews", "/api/v1/reviews/{review_id}"} <= set(paths)
