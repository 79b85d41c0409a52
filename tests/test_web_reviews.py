"""The review queue pages over real HTTP: ranked list, side by side with the waterfall, and
accept / reject / reopen forms that go through the API's own review code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_server import bearer
from index_builder import add_population, add_review_pair
from sqlalchemy import select
from web_support import served

from gateway.api.app import create_app
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, Link, LinkReview

pytestmark = pytest.mark.parametrize("index_url", ["sqlite"], indirect=True)


@pytest.fixture
def site(index_url: str, data_dir: Path) -> Iterator[tuple[httpx.Client, int]]:
    with session_factory(index_url).begin() as session:
        add_population(session)
        review_id = add_review_pair(session)
    with served(create_app(index_url)) as base, httpx.Client(base_url=base, timeout=10) as http:
        yield http, review_id


def _sign_in(client: httpx.Client, user: str) -> None:
    assert client.post("/sign-in", data={"user": user}).status_code == 303


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found
    return found.group(1)


def _actions(index_url: str) -> list[tuple[str, str]]:
    with session_factory(index_url)() as session:
        return [(e.action, e.actor) for e in session.scalars(select(AuditEntry))]


def test_a_data_engineer_sees_the_pair_side_by_side_with_its_waterfall(
    site: tuple[httpx.Client, int], index_url: str
) -> None:
    client, review_id = site
    _sign_in(client, "dev.data")
    queue = client.get("/reviews")
    assert queue.status_code == 200
    assert f'href="/reviews/{review_id}"' in queue.text and "Home education" in queue.text
    page = client.get(f"/reviews/{review_id}")
    assert page.status_code == 200
    assert "Maisie" in page.text and "Maisy" in page.text and "HG2 9ZZ" in page.text
    assert page.text.count("<rect ") == 7  # prior, five comparisons, final score
    assert "very strong evidence of one child (152 times likelier)" in page.text
    assert f'action="/reviews/{review_id}/accept"' in page.text
    assert f'formaction="/reviews/{review_id}/reject"' in page.text
    assert _actions(index_url) == [
        ("sign_in", "dev.data"),
        ("linkage.review.list", "dev.data"),
        ("linkage.review.show", "dev.data"),
    ]
    assert client.get("/reviews/987654").status_code == 404


def test_accepting_by_form_is_the_apis_decision(
    site: tuple[httpx.Client, int], index_url: str
) -> None:
    client, review_id = site
    _sign_in(client, "dev.data")
    token = _csrf(client.get(f"/reviews/{review_id}").text)
    action = f"/reviews/{review_id}/accept"
    assert client.post(action, data={"reason": "same child"}).status_code == 403  # no token
    blank = client.post(action, data={"reason": " ", "csrf": token})
    assert blank.status_code == 400 and "Say why you decided this" in blank.text
    done = client.post(action, data={"reason": "same child, nickname", "csrf": token})
    assert done.status_code == 303
    assert done.headers["location"] == f"/reviews?decided={review_id}&outcome=accepted"
    banner = client.get(done.headers["location"])
    assert f"Review {review_id} accepted" in banner.text
    with session_factory(index_url)() as session:
        p2 = session.get(Link, ("health__fhir_patient", "p2"))
        assert p2 is not None and (p2.child_id, p2.origin) == ("C-P1", "MANUAL")
    decided = client.get(
        "/api/v1/reviews", params={"state": "accepted"}, headers=bearer("ada.admin")
    )
    assert [r["id"] for r in decided.json()] == [review_id]
    twice = client.post(f"/reviews/{review_id}/reject", data={"reason": "not one", "csrf": token})
    assert twice.status_code == 409 and "reopen it first" in twice.text
    assert f'action="/reviews/{review_id}/reopen"' in twice.text
    reopened = client.post(
        f"/reviews/{review_id}/reopen", data={"reason": "wrong pair", "csrf": token}
    )
    assert reopened.status_code == 303
    rejected = client.post(
        f"/reviews/{review_id}/reject", data={"reason": "twins, in fact", "csrf": token}
    )
    assert rejected.status_code == 303
    with session_factory(index_url)() as session:
        review = session.get(LinkReview, review_id)
        assert review is not None and (review.status, review.reason) == (
            "rejected",
            "twins, in fact",
        )
    decided_actions = {"linkage.review.accept", "linkage.review.reopen", "linkage.review.reject"}
    decisions = [a for a, _ in _actions(index_url) if a in decided_actions]
    assert decisions == [
        "linkage.review.accept",
        "linkage.review.reopen",
        "linkage.review.reject",
    ]


def test_an_ehe_officer_sees_the_queue_but_neither_opens_nor_decides(
    site: tuple[httpx.Client, int], index_url: str
) -> None:
    client, review_id = site
    _sign_in(client, "erin.ehe")
    queue = client.get("/reviews")
    assert queue.status_code == 200 and "p1" in queue.text
    assert f'href="/reviews/{review_id}"' not in queue.text and "Maisie" not in queue.text
    assert client.get(f"/reviews/{review_id}").status_code == 403
    token = _csrf(queue.text)
    refused = client.post(
        f"/reviews/{review_id}/accept", data={"reason": "looks the same", "csrf": token}
    )
    assert refused.status_code == 403
    with session_factory(index_url)() as session:
        review = session.get(LinkReview, review_id)
        assert review is not None and review.status == "open"
