"""The link mark: what an incremental run must pick up that is not a new source row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

import gateway.linkage.publish as publish
from gateway.linkage.incremental import changed_records
from gateway.linkage.resolution import Resolution
from gateway.pipeline import ingest, link_children
from gateway.store.engine import session_factory
from gateway.store.tables import Link, LinkEvent, LinkMark

SOURCE = "education__ehe_register"


def _changed(url: str) -> set[tuple[str, str]]:
    with session_factory(url)() as session:
        mark = session.get(LinkMark, 1)
        assert mark is not None
        return changed_records(session, mark)


def _keys(url: str) -> list[tuple[str, str]]:
    with session_factory(url)() as session:
        return sorted(session.execute(select(Link.source, Link.record_id)).tuples())


def test_a_decision_made_during_a_run_is_the_next_runs_to_link(
    index_url: str, inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(SOURCE, index_url=index_url)
    link_children(index_url)
    assert _changed(index_url) == set(), "nothing new after a run"
    decided = _keys(index_url)[0]
    resolve = publish.resolve

    def resolve_while_an_officer_decides(*args: Any, **kwargs: Any) -> Resolution:
        with session_factory(index_url).begin() as session:  # committed while the run works
            session.add(
                LinkEvent(
                    action="relink",
                    source=decided[0],
                    record_id=decided[1],
                    actor="officer",
                    evidence={},
                )
            )
        return resolve(*args, **kwargs)

    monkeypatch.setattr(publish, "resolve", resolve_while_an_officer_decides)
    link_children(index_url)
    assert _changed(index_url) == {decided}, "the decision is not lost behind the mark"


def test_records_that_lost_their_link_are_linked_again(index_url: str, inbox: Path) -> None:
    ingest(SOURCE, index_url=index_url)
    link_children(index_url)
    before = _keys(index_url)
    lost = before[:3]
    with session_factory(index_url).begin() as session:
        for source, record_id in lost:
            session.execute(delete(Link).where(Link.source == source, Link.record_id == record_id))
    assert _changed(index_url) == set(lost)
    summary = link_children(index_url)
    assert summary.incremental and _keys(index_url) == before
