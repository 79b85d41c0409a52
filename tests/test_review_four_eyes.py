"""Reviewers are told the truth, through the API over real HTTP on SQLite and PostgreSQL:
conflicts first, no bare probability for twins, weights in words, and four eyes on accepting
a conflicting pair (both reviewers recorded on the review, the link and in the audit log)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_server import bearer, serving
from index_builder import add_population, add_review_pair, add_twin_pair
from sqlalchemy import select

from gateway.api.app import create_app
from gateway.glossary import words
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, Link, LinkReview

FIRST, SECOND = "dev.data", "ada.admin"  # a data engineer and an administrator
WHY = "Same child: the GP confirmed one registration"


@pytest.fixture
def api(index_url: str, data_dir: Path) -> Iterator[tuple[httpx.Client, int, int]]:
    """The queue: an ordinary pair touching a home-educated child (Maisie and Maisy) and a
    twin-shaped pair scored 0.9999 (Isla and Poppy, one NHS number failing its check)."""
    with session_factory(index_url).begin() as session:
        add_population(session)
        plain = add_review_pair(session)
        twins = add_twin_pair(session)
    with serving(create_app(index_url)) as client:
        yield client, plain, twins


def _audit(index_url: str) -> list[AuditEntry]:
    with session_factory(index_url)() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def _accept(client: httpx.Client, review_id: int, who: str, reason: str = WHY) -> httpx.Response:
    return client.post(
        f"/api/v1/reviews/{review_id}/accept", json={"reason": reason}, headers=bearer(who)
    )


def test_the_queue_puts_twins_first_with_words_not_a_probability(
    api: tuple[httpx.Client, int, int],
) -> None:
    client, plain, twins = api
    answer = client.get("/api/v1/reviews", headers=bearer("erin.ehe"))
    assert answer.status_code == 200, answer.text
    listed = answer.json()
    assert [r["id"] for r in listed] == [twins, plain], "conflicts rank above a stronger plain"
    twin = listed[0]
    assert twin["probability"] is None, "no bare probability for a twin-shaped pair"
    assert twin["likelihood"] == (
        "These look like twins: same birth date and family name, different first names"
    )
    assert [c["kind"] for c in twin["conflicts"]] == ["twin_shaped", "invalid_check_digit"]
    assert twin["needs_second_reviewer"] and not twin["awaiting_second_reviewer"]
    assert twin["social_care_one_side"] and twin["known_to_social_care"]
    assert twin["evidence"][0] == (
        "birth date matches: very strong evidence of one child (152 times likelier)"
    )
    assert "given name differs: strong evidence of two children" in " ".join(twin["evidence"])
    ordinary = listed[1]
    assert ordinary["probability"] == 0.93 and ordinary["conflicts"] == []
    assert ordinary["likelihood"] == "Match probability 0.930"
    assert not ordinary["needs_second_reviewer"]
    for value in ("Isla", "Poppy", "Finch", "2017-05-09", "9434765918"):
        assert value not in answer.text, "the queue shows no identifying values"


def test_the_pair_shows_its_conflicts_and_every_weight_in_words(
    api: tuple[httpx.Client, int, int],
) -> None:
    client, _, twins = api
    answer = client.get(f"/api/v1/reviews/{twins}", headers=bearer(FIRST))
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert shown["review"]["probability"] is None
    fields = {f["field"]: f for f in shown["fields"]}
    assert fields["nhs_number"]["left"] == "9434765918" and fields["nhs_number"]["right"] is None
    assert fields["nhs_number"]["weight_says"] == (
        "not compared: an NHS number fails its check digit (no evidence either way)"
    )
    assert fields["given_name"]["finding"] == "given name differs"
    assert fields["upn"]["weight_says"] == "not compared: missing on one record"
    steps = {step["label"]: step for step in shown["waterfall"]}
    assert steps["nhs_number"]["meaning"].startswith("not compared: an NHS number fails")
    final = shown["waterfall"][-1]
    assert final["label"] == "final score" and "probability" not in final["meaning"]
    assert "look like twins" in final["meaning"]
    assert all("0.00" not in f["weight_says"] for f in shown["fields"])


def test_accepting_twins_takes_a_reason_and_a_second_reviewer(
    api: tuple[httpx.Client, int, int], index_url: str
) -> None:
    client, _, twins = api
    short = _accept(client, twins, FIRST, "same")
    assert short.status_code == 409 and "at least 10 characters" in short.json()["detail"]

    first = _accept(client, twins, FIRST)
    assert first.status_code == 200, first.text
    assert first.json() == {"id": twins, "status": "awaiting_second_reviewer", "child_id": None}
    with session_factory(index_url)() as session:
        apart = {session.get(Link, key).child_id for key in _twin_keys()}  # type: ignore[union-attr]
    assert apart == {"C-T1", "C-T2"}, "one reviewer alone joins nothing"
    queued = client.get("/api/v1/reviews", headers=bearer(SECOND)).json()[0]
    assert queued["awaiting_second_reviewer"] and queued["first_accepted_by"] == FIRST
    assert queued["status"] == "open"

    again = _accept(client, twins, FIRST)
    assert again.status_code == 409
    assert again.json()["detail"] == (
        f"you accepted review {twins} first: a different reviewer must confirm it"
    )

    second = _accept(client, twins, SECOND, "Confirmed: the GP says one child, one record")
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "accepted" and second.json()["child_id"] == "C-T1"
    with session_factory(index_url)() as session:
        review = session.get(LinkReview, twins)
        assert review is not None
        assert (review.status, review.first_accepted_by, review.decided_by) == (
            "accepted",
            FIRST,
            SECOND,
        )
        assert review.first_reason == WHY and review.first_accepted_at is not None
        for key in _twin_keys():
            link = session.get(Link, key)
            assert link is not None and link.origin == "MANUAL" and link.child_id == "C-T1"
            assert (link.evidence["first_accepted_by"], link.evidence["decided_by"]) == (
                FIRST,
                SECOND,
            )
    decided = [
        (e.action, e.actor, e.outcome, e.reason)
        for e in _audit(index_url)
        if e.action.startswith("linkage.review.accept")
    ]
    assert decided == [
        ("linkage.review.accept_first", FIRST, "awaiting_second", None),
        (
            "linkage.review.accept",
            SECOND,
            "confirmed",
            f"second reviewer; first accepted by {FIRST}",
        ),
    ]
    assert words("linkage.review.accept_first") != "linkage.review.accept_first"
    assert words("awaiting_second") == "Awaiting a second reviewer"


def test_an_identifier_conflict_needs_four_eyes_and_reopening_starts_again(
    index_url: str, data_dir: Path
) -> None:
    with session_factory(index_url).begin() as session:
        add_population(session)
        plain = add_review_pair(session)
        flagged = session.get(LinkReview, plain)
        assert flagged is not None
        flagged.conflict = "NHS number shared; different birth dates"
    with serving(create_app(index_url)) as client:
        shown = client.get(f"/api/v1/reviews/{plain}", headers=bearer(FIRST)).json()["review"]
        assert [c["kind"] for c in shown["conflicts"]] == ["identifier_conflict"]
        assert shown["conflicts"][0]["says"] == (
            "linkage held this pair: NHS number shared; different birth dates"
        )
        assert shown["probability"] == 0.93, "not twin-shaped: the probability still shows"
        assert _accept(client, plain, FIRST).json()["status"] == "awaiting_second_reviewer"
        withdrawn = client.post(
            f"/api/v1/reviews/{plain}/reopen",
            json={"reason": "accepted the wrong pair"},
            headers=bearer(FIRST),
        )
        assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "open"
        queued = client.get("/api/v1/reviews", headers=bearer(FIRST)).json()[0]
        assert not queued["awaiting_second_reviewer"] and queued["first_accepted_by"] is None
        # Withdrawn, the pair needs two reviewers anew: the one who withdrew may be the first.
        assert _accept(client, plain, FIRST).json()["status"] == "awaiting_second_reviewer"
        done = _accept(client, plain, SECOND)
        assert done.json()["status"] == "accepted"


def _twin_keys() -> list[tuple[str, str]]:
    return [("social_care__case_db", "t1"), ("health__fhir_patient", "t2")]


def test_the_command_line_warns_first_and_keeps_four_eyes(index_url: str, data_dir: Path) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app

    with session_factory(index_url).begin() as session:
        twins = add_twin_pair(session)
    runner = CliRunner()
    listed = runner.invoke(app, ["review", "list"])
    assert (
        listed.exit_code == 0 and "twin-shaped" in listed.output and "0.9999" not in listed.output
    )
    shown = runner.invoke(app, ["review", "show", str(twins), "--by", "r.one"])
    assert shown.exit_code == 0, shown.output
    assert "WARNING: these look like twins" in shown.output
    assert "probability" not in shown.output and "four eyes" in shown.output

    def accept(by: str) -> Any:
        return runner.invoke(app, ["review", "accept", str(twins), "--by", by, "--reason", WHY])

    first = accept("r.one")
    assert first.exit_code == 0 and "awaiting a second reviewer" in first.output
    same = accept("r.one")
    assert same.exit_code == 2 and "a different reviewer must confirm it" in same.output
    second = accept("r.two")
    assert second.exit_code == 0 and "both records now belong to C-T1" in second.output
