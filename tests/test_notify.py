"""Alerts that connect teams, end to end on SQLite and PostgreSQL with a real SMTP server and a
real webhook on loopback: each event once per inbox, no personal data in any message, nothing
new on a second run, failures kept, retried with backoff and audited."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from notify_support import NHS_F, Hook, Mailbox, build_alert_index, smtp_server, webhook_server
from sqlalchemy import func, select

from gateway.access.agreements import load_agreements
from gateway.access.inboxes import Inbox
from gateway.errors import FatalConfigError
from gateway.notify.delivery import retry_failed
from gateway.notify.run import inbox_items, notify_teams
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, NotificationDelivery

AGREEMENTS = Path(__file__).resolve().parents[1] / "agreements"
# Everything personal the hand-made children carry: none of it may appear in an alert.
PERSONAL = [
    "Amelia", "Amelie", "Hart", "Oliver", "Stone", "Ruby", "Lane", "Evie", "Marsh", "Leo",
    "Quinn", "Test Street", "YO1 7HH", "2015-03-07", "7 March 2015", "2014-02-02", "2016-04-04",
    "4 April 2016", "2013-08-08", "8 August 2013", NHS_F, "B82001", "Harrogate Safeguarding",
    "Rosa", "Reed", "2012-12-12", "12 December 2012",
]  # fmt: skip
EXPECTED = {
    ("removed_while_known", "C-A"),
    ("unseen", "C-A"),
    ("known_to_social_care", "C-E"),
    ("held_record", "C-F"),
    ("unseen", "C-R"),
}
# What each alert names: the event, or for a restricted child only that it is restricted.
NAMED = {(("restricted", c) if c == "C-R" else (k, c)) for k, c in EXPECTED}
BROAD = ["removed_while_known", "known_to_social_care", "unseen", "held_record"]
NARROW = ["removed_while_known", "unseen"]


@pytest.fixture
def receivers(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Mailbox, Hook, str]]:
    with smtp_server() as (box, port), webhook_server() as (hook, url):
        monkeypatch.setenv("EHE_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("EHE_SMTP_PORT", str(port))
        monkeypatch.setenv("EHE_NOTIFY_RETRY_S", "60")
        yield box, hook, url


def _inboxes(url: str) -> list[Inbox]:
    org = "North Yorkshire Council"
    return [
        Inbox(
            team="ehe-team",
            name="EHE team",
            organisation=org,
            roles=["ehe_officer"],
            email="ehe@example.org",
            webhook=url,
            events=BROAD,
        ),
        Inbox(
            team="mast",
            name="Screening",
            organisation=org,
            roles=["social_worker"],
            email="mast@example.org",
            events=NARROW,
        ),
    ]


EVENT_WORDS = {
    "Removed from a school roll": "removed_while_known",
    "Became known to social care": "known_to_social_care",
    "Not seen by any agency": "unseen",
    "A record about the child": "held_record",
    "Something your team should know": "restricted",
}


def _received(box: Mailbox) -> Counter[tuple[str, str, str]]:
    """(recipient, event kind, child) of each email received."""
    found: Counter[tuple[str, str, str]] = Counter()
    for recipient, body in box.bodies():
        child = re.search(r"^Child: (\S+)$", body, re.M)
        event = re.search(r"^Event: (.+)$", body, re.M)
        assert child and event, body
        kind = next(k for words, k in EVENT_WORDS.items() if event[1].startswith(words))
        found[(recipient, kind, child[1])] += 1
    return found


def _audited(index_url: str, outcome: str) -> int:
    with session_factory(index_url)() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "notify_delivery", AuditEntry.outcome == outcome)
            )
            or 0
        )


def test_each_event_once_per_inbox_without_personal_data(
    index_url: str, receivers: tuple[Mailbox, Hook, str]
) -> None:
    box, hook, url = receivers
    build_alert_index(index_url)
    inboxes = _inboxes(url)
    first = notify_teams(index_url, inboxes=inboxes)
    assert (first.events, first.new, first.failed) == (5, 8, 0)
    wanted = Counter({("ehe@example.org", k, c): 1 for k, c in NAMED})
    mast = {(k, c) for k, c in EXPECTED if k in NARROW}
    wanted.update({("mast@example.org", k, c): 1 for k, c in NAMED if (k, c) in mast or c == "C-R"})
    assert _received(box) == wanted
    assert sorted((p["event"], p["child_id"]) for p in hook.posts) == sorted(NAMED)
    assert all(p["link"].endswith(f"/inbox/child/{p['child_id']}") for p in hook.posts)
    everything = "\n".join(b for _, b in box.bodies()) + json.dumps(hook.posts)
    for value in PERSONAL:
        assert value not in everything, value
    assert _audited(index_url, "sent") == 8 + 5  # eight emails and five webhook posts

    again = notify_teams(index_url, inboxes=inboxes)
    assert (again.new, again.sent, again.failed) == (0, 0, 0)
    assert sum(_received(box).values()) == 8 and len(hook.posts) == 5
    with session_factory(index_url)() as session:
        listed = inbox_items(session, ["mast"])
    assert {(i.event_kind, i.child_id, i.status) for i in listed} == {
        ("removed_while_known", "C-A", "sent"),
        ("unseen", "C-A", "sent"),
        ("restricted", "C-R", "sent"),
    }


def test_a_failing_server_is_retried_with_backoff_and_never_loses_an_alert(
    index_url: str, receivers: tuple[Mailbox, Hook, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    box, hook, url = receivers
    monkeypatch.setenv("EHE_NOTIFY_MAX_ATTEMPTS", "2")
    build_alert_index(index_url)
    inboxes = _inboxes(url)
    box.failing = hook.failing = True
    start = datetime.now(UTC) + timedelta(seconds=1)  # the new deliveries are due
    failed = notify_teams(index_url, inboxes=inboxes, now=start)
    assert (failed.new, failed.sent, failed.failed) == (8, 0, 13)
    with session_factory(index_url)() as session:
        rows = session.scalars(select(NotificationDelivery)).all()
    assert {(r.status, r.attempts) for r in rows} == {("failed", 1)}
    assert {r.last_error for r in rows} == {
        "SMTP SMTPDataError 451",
        "webhook answered HTTP 503",
    }
    assert _audited(index_url, "delivery_failed") == 13

    # Within the backoff nothing is tried; after it, a second failure; then it stays failed.
    assert notify_teams(index_url, inboxes=inboxes, now=start + timedelta(seconds=30)).failed == 0
    later = start + timedelta(seconds=61)
    assert notify_teams(index_url, inboxes=inboxes, now=later).failed == 13
    gave_up = notify_teams(index_url, inboxes=inboxes, now=later + timedelta(days=2))
    assert (gave_up.sent, gave_up.failed) == (0, 0)
    assert box.messages == [] and hook.posts == []

    box.failing = hook.failing = False
    with session_factory(index_url).begin() as session:
        assert retry_failed(session) == 13
    mended = notify_teams(index_url, inboxes=inboxes, now=datetime.now(UTC) + timedelta(seconds=1))
    assert (mended.new, mended.sent, mended.failed) == (0, 13, 0)
    assert max(_received(box).values()) == 1 and sum(_received(box).values()) == 8
    assert len(hook.posts) == 5
    assert _audited(index_url, "sent") == 13 and _audited(index_url, "delivery_failed") == 26


def test_without_smtp_the_demo_writes_each_email_to_the_outbox(
    index_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EHE_SMTP_HOST", raising=False)
    build_alert_index(index_url)
    inbox = Inbox(
        team="ehe-team",
        name="EHE team",
        organisation="North Yorkshire Council",
        roles=["ehe_officer"],
        email="ehe@example.org",
        events=BROAD,
    )
    assert notify_teams(index_url, inboxes=[inbox]).sent == 5
    files = sorted((data_dir / "outbox").glob("*.eml"))
    assert len(files) == 5
    assert all("Child: C-" in f.read_text() for f in files)


def test_the_demo_agreement_names_two_inboxes() -> None:
    [agreement] = load_agreements(AGREEMENTS)
    assert [b.team for b in agreement.inboxes] == ["ehe-team", "mast"]


BAD_INBOX = """
inboxes:
  - team: health
    name: Health
    organisation: Harrogate and District NHS Foundation Trust
    roles: [ehe_officer]
    email: health@example.org
    events: [unseen]
  - team: ehe-team
    name: EHE
    organisation: Nobody's Council
    roles: [ehe_officer, wizard]
    email: not-an-address
    webhook: ftp://example.org/x
    events: [unseen, fire]
"""


def test_an_inbox_must_be_a_party_whose_members_may_look_children_up(tmp_path: Path) -> None:
    text = (AGREEMENTS / "north_yorkshire_ehe.yaml").read_text()
    text = text[: text.index("inboxes:")] + BAD_INBOX.split("  - team: ehe-team", maxsplit=1)[0]
    text += "  - team: elsewhere\n    name: X\n    organisation: Nobody\n    roles: [ehe_officer]\n"
    text += "    email: x@example.org\n    events: [unseen]\n"
    (tmp_path / "a.yaml").write_text(text)
    with pytest.raises(FatalConfigError) as caught:
        load_agreements(tmp_path)
    message = str(caught.value)
    assert "inbox elsewhere: organisation 'Nobody' is not a party" in message, message
    assert "inbox health: no clause lets role 'ehe_officer' of 'Harrogate" in message, message


def test_a_bad_inbox_entry_is_named_in_one_error(tmp_path: Path) -> None:
    text = (AGREEMENTS / "north_yorkshire_ehe.yaml").read_text()
    text = text[: text.index("inboxes:")] + BAD_INBOX
    (tmp_path / "a.yaml").write_text(text)
    with pytest.raises(FatalConfigError) as caught:
        load_agreements(tmp_path)
    message = str(caught.value)
    for fragment in (
        "inboxes.1.roles: Value error, unknown role 'wizard'",
        "inboxes.1.email: Value error, email is not an email address",
        "inboxes.1.webhook: Value error, webhook is not an http",
        "inboxes.1.events: Value error, unknown event 'fire'",
    ):
        assert fragment in message, message
