"""Against the generator's truth: in a synthetic population run through the whole pipeline,
every qualifying event gets exactly one notification per named inbox in one run, and no other
event does. The events are computed here from the generator (its children, their social care
episodes, the day each left the roll, the register's dates) and its truth files (which
records are whose, which were defective, each child's last real contact), not from the index.

Compared over the children the pipeline saw whole: every record of theirs loaded (none held
for a defect) and linked to one child that holds no one else's (linkage's own accuracy is
tested in tests/test_pipeline.py). The unseen rule is the caseload's (six months, here)."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.access.agreements import load_agreements, team_inboxes
from gateway.lookup.caseload import months_before
from gateway.notify.run import notify_teams
from gateway.pipeline import ingest, link_children
from gateway.sources import source_names
from gateway.store.engine import session_factory
from gateway.store.tables import Link, Notification
from gateway.synth.contacts import left_roll_on
from gateway.synth.population import REFERENCE_DATE, make_population

TODAY = date(2026, 11, 29)  # conftest's TEST_DAY
SEED, CHILDREN = 11, 300  # conftest's synthetic_inbox
UNSEEN_MONTHS = 6


def _truth_records(inbox: Path) -> tuple[dict[tuple[str, str], str], set[str]]:
    """(source, record id) -> truth child; the truth children with a defective record."""
    owner, defective = {}, set()
    with (inbox / "ground_truth.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            owner[(row["source"], row["record_id"])] = row["child"]
            if row["defect"]:
                defective.add(row["child"])
    return owner, defective


def _registered_on(record_id: str) -> date:
    """The day the register writer gives a registration (gateway/synth/writers.py)."""
    return REFERENCE_DATE - timedelta(days=20 + int(record_id[-3:]) % 300)


def _expected(inbox: Path, whole: dict[str, str]) -> set[tuple[str, str]]:
    """(event kind, child id) for every event the truth says happened to a child seen whole."""
    owner, _ = _truth_records(inbox)
    registered: dict[str, list[date]] = defaultdict(list)
    for (source, record_id), key in owner.items():
        if source == "education__ehe_register":
            registered[key].append(_registered_on(record_id))
    with (inbox / "contact_truth.csv").open(newline="") as handle:
        last_seen = {r["child"]: r["last_contact_on"] for r in csv.DictReader(handle)}
    cutoff = months_before(TODAY, UNSEEN_MONTHS)
    found = set()
    for child in make_population(CHILDREN, SEED):
        if child.key not in whole or not child.ehe:
            continue
        cid, left = whole[child.key], left_roll_on(child)
        if not last_seen[child.key] or date.fromisoformat(last_seen[child.key]) < cutoff:
            found.add(("unseen", cid))
        referrals = [(s, e) for kind, s, e, _ in child.episodes if kind == "referral"]
        for start, end in referrals:
            if start <= left or end is None:  # known by the day it left, or open now
                found.add(("removed_while_known", cid))
            if start > min([left, max(registered[child.key])]):
                found.add(("known_to_social_care", cid))
    return found


def _whole_children(index_url: str, inbox: Path) -> dict[str, str]:
    """Truth child -> child id, for the children every record of whom is in one child alone."""
    owner, defective = _truth_records(inbox)
    with session_factory(index_url)() as session:
        links = session.execute(
            select(Link.source, Link.record_id, Link.child_id).where(Link.state == "MATCH")
        ).all()
    child_of = {(s, r): c for s, r, c in links}
    ids: dict[str, set[str | None]] = defaultdict(set)
    members: dict[str, set[str]] = defaultdict(set)
    for record, key in owner.items():
        ids[key].add(child_of.get(record))
        if record in child_of:
            members[child_of[record]].add(key)
    return {
        key: next(iter(found))  # type: ignore[misc]
        for key, found in ids.items()
        if key not in defective and len(found) == 1 and None not in found
        and members[next(iter(found))] == {key}  # type: ignore[index]
    }  # fmt: skip


@pytest.mark.slow
def test_every_true_event_once_per_named_inbox_in_one_run(
    index_url: str, inbox: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EHE_SMTP_HOST", raising=False)
    monkeypatch.setenv("EHE_NOTIFY_UNSEEN_MONTHS", str(UNSEEN_MONTHS))
    for source in source_names():
        ingest(source, index_url=index_url)
    link_children(index_url)
    whole = _whole_children(index_url, inbox)
    expected = _expected(inbox, whole)
    kinds = {kind for kind, _ in expected}
    assert kinds == {"unseen", "removed_while_known", "known_to_social_care"}, kinds
    assert len(whole) > 100

    done = notify_teams(index_url)
    inboxes = team_inboxes(load_agreements(), TODAY)
    with session_factory(index_url)() as session:
        rows = session.execute(
            select(Notification.inbox, Notification.event_kind, Notification.child_id)
        ).all()
    considered = set(whole.values())
    for named in inboxes:
        got = [(k, c) for i, k, c in rows if i == named.team and c in considered]
        want = {(k, c) for k, c in expected if named.receives(k)}
        assert sorted(got) == sorted(want), named.team  # each once, none missing, none more
    assert done.failed == 0 and done.sent == done.new == len(rows)
    assert len(list((data_dir / "outbox").glob("*.eml"))) == len(rows)
