"""The review queue: ranked, explained, decided by a person, audited, reversible."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from gateway.access.audit import Actor
from gateway.cli import app
from gateway.linkage.clustering import LinkCandidate, cluster_records
from gateway.linkage.publish import train_on_index
from gateway.linkage.review import (
    ReviewError,
    SameReviewerError,
    accept,
    list_reviews,
    reject,
    reopen,
    review_detail,
)
from gateway.pipeline import ingest, link_children
from gateway.sources import source_names
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, Child, Link, LinkEvent, SourceRecord

runner = CliRunner()
REVIEWER = Actor("r.reviewer", "data engineering", "data_engineer")
SECOND = Actor("s.second", "data engineering", "admin")


def _child(index_url: str, key: tuple[str, str]) -> Link:
    with session_factory(index_url)() as session:
        link = session.get(Link, key)
        assert link is not None
        session.expunge(link)
        return link


def _restrict(index_url: str, key: tuple[str, str]) -> None:
    with session_factory(index_url).begin() as session:
        session.execute(
            update(SourceRecord)
            .where(SourceRecord.source == key[0], SourceRecord.record_id == key[1])
            .values(restricted=True)
        )


def _restricted(index_url: str, child_id: str) -> bool:
    with session_factory(index_url)() as session:
        child = session.get(Child, child_id)
        assert child is not None
        return child.restricted


def _any_restricted(index_url: str, child_id: str) -> bool:
    with session_factory(index_url)() as session:
        keys = session.execute(select(Link.source, Link.record_id).where(Link.child_id == child_id))
        return any(
            session.scalar(
                select(SourceRecord.restricted).where(
                    SourceRecord.source == s,
                    SourceRecord.record_id == r,
                    SourceRecord.is_current.is_(True),
                )
            )
            for s, r in keys.all()
        )


def test_reviewers_decisions_bind_clustering() -> None:
    a = LinkCandidate("s1", "a", "9434765919", None)
    b = LinkCandidate("s2", "b", "9434765919", None)
    c = LinkCandidate("s3", "c", None, None)
    clusters = cluster_records([a, b, c], together=[(a.key, c.key)], apart=[(a.key, b.key)])
    groups = sorted(sorted(m.record_id for m in cl.members) for cl in clusters)
    assert groups == [["a", "c"], ["b"]], "a rejection outranks even the NHS number rule"
    (joined,) = [cl for cl in clusters if len(cl.members) == 2]
    assert set(joined.rules.values()) == {"manual"}


def test_review_queue_end_to_end(index_url: str, inbox: Path, tmp_path: Path) -> None:
    for source in source_names():
        ingest(source, index_url=index_url)
    train_on_index(index_url)
    link_children(index_url)
    items = list_reviews(index_url)
    assert len(items) >= 2, "the synthetic population leaves possible matches for review"
    ranks = [i.rank() for i in items]
    assert ranks == sorted(ranks), "conflicts first, then what a decision changes, strongest"
    risks = [i.assessment.risk for i in items]
    assert risks == sorted(risks, reverse=True) and any(i.priority for i in items)

    first = items[0]
    detail = review_detail(first.id, REVIEWER, index_url)
    assert [f.field for f in detail.fields][:3] == ["given_name", "family_name", "birth_date"]
    assert any(f.left for f in detail.fields), "values are shown to the reviewer"
    assert detail.total_weight == pytest.approx(sum(first.match_weights.values()), abs=0.01)
    chart = tmp_path / "waterfall.svg"
    shown = runner.invoke(
        app, ["review", "show", str(first.id), "--by", "r.reviewer", "--chart", str(chart)]
    )
    assert shown.exit_code == 0, shown.output
    assert "<svg" in chart.read_text() and "final score" in chart.read_text()

    _restrict(index_url, first.right)  # e.g. a PDS S-flag on one of the two records
    reason = "same child: school confirmed"
    if first.assessment.needs_second_reviewer:  # four eyes: a different reviewer confirms
        assert accept(first.id, REVIEWER, reason, index_url) is None
        with pytest.raises(SameReviewerError):
            accept(first.id, REVIEWER, reason, index_url)
        child_id = accept(first.id, SECOND, "confirmed with the school", index_url)
    else:
        child_id = accept(first.id, REVIEWER, reason, index_url)
    assert child_id is not None
    assert _restricted(index_url, child_id), "a restricted record restricts the child it joins"
    left, right = _child(index_url, first.left), _child(index_url, first.right)
    assert left.child_id == right.child_id == child_id
    assert (left.origin, right.origin) == ("MANUAL", "MANUAL")
    with pytest.raises(ReviewError):
        accept(first.id, REVIEWER, "again", index_url)
    # a pair still apart once the first is accepted (the first may have joined another pair)
    second = next(
        i
        for i in items[1:]
        if _child(index_url, i.left).child_id != _child(index_url, i.right).child_id
    )
    reject(second.id, REVIEWER, "different children: checked with school", index_url)

    link_children(index_url)  # the matcher never changes a manual decision
    assert _child(index_url, first.left).child_id == _child(index_url, first.right).child_id
    assert _child(index_url, first.left).origin == "MANUAL"
    assert _child(index_url, second.left).child_id != _child(index_url, second.right).child_id
    assert first.id not in {i.id for i in list_reviews(index_url)}

    reopen(first.id, REVIEWER, "wrong pair accepted", index_url)
    after = _child(index_url, first.left), _child(index_url, first.right)
    assert after[0].child_id != after[1].child_id, "unlinked at once"
    assert {a.origin for a in after} == {"AUTO"}
    assert _restricted(index_url, after[1].child_id)
    assert _restricted(index_url, after[0].child_id) == _any_restricted(
        index_url, after[0].child_id
    )
    assert first.id in {i.id for i in list_reviews(index_url)}

    with session_factory(index_url)() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry))]
        history = {e.action for e in session.scalars(select(LinkEvent))}
    assert {"linkage.review.show", "linkage.review.accept", "linkage.review.reject"} <= set(actions)
    assert "linkage.review.reopen" in actions
    assert {"link", "accept", "reject", "reopen", "unmerge"} <= history


def test_review_cli_lists_and_refuses_unknown(index_url: str) -> None:
    listed = runner.invoke(app, ["review", "list"])
    assert listed.exit_code == 0 and "0 review(s)" in listed.output
    result = runner.invoke(app, ["review", "accept", "99", "--by", "x", "--reason", "y"])
    assert result.exit_code == 2 and "no review 99" in result.output
