"""The data-sharing report: counts from the audit log, break-glass review state, HTML and PDF."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from gateway.access.agreements import Agreement, Party, load_agreements
from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.break_glass import close_review, open_break_glass
from gateway.access.purposes import PURPOSES
from gateway.cli import app
from gateway.reports.sharing import build_sharing_report
from gateway.reports.sharing_render import render_html
from gateway.store.engine import session_factory
from gateway.store.tables import BreakGlass

OFFICER = Actor("ehe.officer@la815.example", "LA 815", "ehe_officer")
NURSE = Actor("gp.nurse@nhs.example", "NHS ICB", "health_practitioner")
SOCIAL = Actor("sam.social", "LA 815 Children's Social Care", "social_worker")
IG = Actor("ig.officer@la815.example", "LA 815", "ig_officer")
REASON = "Strategy discussion today; family not engaging with the EHE team"


def _with_the_test_organisations_as_parties() -> list[Agreement]:
    """The demo agreement with this test's made-up organisations as parties, so their
    practitioners may break the glass under it."""
    base = load_agreements()[0]
    extra = [
        Party(organisation=o, contact="test") for o in (NURSE.organisation, SOCIAL.organisation)
    ]
    return [base.model_copy(update={"parties": [*base.parties, *extra]})]


def _disclose(actor: Actor, purpose: str, child: str, action: str = "lookup") -> AuditEvent:
    chosen = PURPOSES[purpose]
    return AuditEvent(
        actor=actor,
        action=action,
        outcome="disclosed",
        purpose=chosen.code,
        lawful_basis=chosen.lawful_basis,
        child_id=child,
        fields_disclosed=["child_id", "known_to"],
    )


def _fill(index_url: str) -> None:
    """Lookups, refusals, two break-glass overrides (one used twice, one reviewed) and
    administrative entries, the way the access policy records them."""
    with session_factory(index_url).begin() as session:
        for event in (
            _disclose(OFFICER, "ehe_enquiry", "C-1"),
            _disclose(OFFICER, "ehe_enquiry", "C-1", action="caseload"),
            _disclose(OFFICER, "ehe_enquiry", "C-2", action="caseload"),
            _disclose(NURSE, "safeguarding_duty", "C-1"),
            AuditEvent(actor=NURSE, action="lookup", outcome="no_purpose"),
            AuditEvent(
                actor=NURSE, action="lookup", outcome="not_found", purpose="child_protection"
            ),
        ):
            append(session, event)
        agreements = _with_the_test_organisations_as_parties()
        used = open_break_glass(
            session, NURSE, "C-3", "child_protection", REASON, agreements=agreements
        )
        waiting = open_break_glass(
            session, SOCIAL, "C-2", "ehe_enquiry", REASON, agreements=agreements
        )
        append(session, AuditEvent(NURSE, "break_glass", "recorded", "child_protection"))
        for _ in range(2):
            under = _disclose(NURSE, "child_protection", "C-3")
            under.outcome, under.agreement_clause = "break_glass", f"break-glass:{used.id}"
            append(session, under)
        close_review(session, used.id, IG, "Justified: a s.47 enquiry was under way")
        append(session, AuditEvent(IG, "break_glass_review", "recorded", child_id="C-3"))
        append(session, AuditEvent(IG, "audit_query", "viewed"))
        append(session, AuditEvent(IG, "quarantine_release", "released"))
        assert waiting.review_state == "open"


def test_report_counts_what_the_audit_log_holds(index_url: str) -> None:
    _fill(index_url)
    today = datetime.now(UTC).date()
    with session_factory(index_url)() as session:
        report = build_sharing_report(session, today, today)
        empty = build_sharing_report(session, today - timedelta(days=9), today - timedelta(days=1))
    assert (report.requests, report.disclosed, report.refused) == (8, 6, 2)
    assert report.by_organisation["LA 815"] == {"disclosed": 3}
    assert report.by_organisation["NHS ICB"] == {"disclosed": 3, "refused": 2}
    assert report.by_role["health_practitioner"]["refused"] == 2
    assert report.by_purpose["(none stated)"] == {"refused": 1}
    assert report.by_purpose["ehe_enquiry"]["disclosed"] == 3
    assert report.by_basis[PURPOSES["child_protection"].lawful_basis]["disclosed"] == 2
    assert sorted(report.refusals) == [
        ("no_purpose", "NHS ICB", "health_practitioner", "(none stated)"),
        ("not_found", "NHS ICB", "health_practitioner", "child_protection"),
    ]
    # Break-glass overrides from the access policy's own list: review state and lookups made.
    states = {u.child_id: (u.review_state, u.lookups, u.user) for u in report.break_glass}
    assert states == {
        "C-3": ("closed", 2, "gp.nurse@nhs.example"),
        "C-2": ("open", 0, "sam.social"),
    }
    assert report.break_glass_open == 1
    to_whom = {
        child: sorted((r.organisation, r.role, r.times) for r in recipients)
        for child, recipients in report.children.items()
    }
    assert to_whom == {
        "C-1": [("LA 815", "ehe_officer", 2), ("NHS ICB", "health_practitioner", 1)],
        "C-2": [("LA 815", "ehe_officer", 1)],
        "C-3": [("NHS ICB", "health_practitioner", 2)],
    }
    assert report.by_action["audit_query"] == 1 and report.by_action["quarantine_release"] == 1
    assert (empty.requests, len(empty.break_glass), len(empty.children)) == (0, 0, 0)
    # An override opened in an earlier period, closed today, shows as closed in that period.
    yesterday = today - timedelta(days=1)
    with session_factory(index_url).begin() as session:
        session.execute(
            update(BreakGlass)
            .where(BreakGlass.child_id == "C-3")
            .values(opened_at=datetime.combine(yesterday, time(12), tzinfo=UTC))
        )
    with session_factory(index_url)() as session:
        earlier = build_sharing_report(session, yesterday, yesterday)
    assert [(u.child_id, u.review_state) for u in earlier.break_glass] == [("C-3", "closed")]
    html = render_html(empty)
    assert "0 break-glass uses in this period" in html and html.count("<svg") == 4


@pytest.mark.parametrize("index_url", ["sqlite"], indirect=True)
def test_cli_writes_html_csv_and_pdf(index_url: str, tmp_path: Path) -> None:
    _fill(index_url)
    today = datetime.now(UTC).date().isoformat()
    out = tmp_path / "sharing"
    result = CliRunner().invoke(
        app, ["report", "sharing", "--from", today, "--to", today, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "8 requests, 6 disclosed, 2 refused, 2 break-glass uses, 3 children" in result.output
    html = (out / "sharing.html").read_text(encoding="utf-8")
    assert "Data sharing report" in html and "<svg" in html and "C-3" in html
    assert (out / "disclosures.csv").read_text().splitlines()[0].startswith("child_id,organisation")
    assert len((out / "disclosures.csv").read_text().splitlines()) == 1 + 4
    pdf = (out / "sharing.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    backwards = CliRunner().invoke(
        app, ["report", "sharing", "--from", today, "--to", "2000-01-01", "--out", str(out)]
    )
    assert backwards.exit_code != 0 and "before --from" in backwards.output


def test_every_pdf_page_has_the_running_title_time_made_and_page_number(tmp_path: Path) -> None:
    from pdf_text import pdf_text

    from gateway.reports.pdf import chromium_available
    from gateway.reports.sharing import SharingReport
    from gateway.reports.sharing_render import write_report

    if not chromium_available():
        pytest.skip("chromium is not installed")
    report = SharingReport(datetime(2026, 11, 1).date(), datetime(2026, 11, 29).date())
    written = write_report(report, tmp_path)
    text = pdf_text((tmp_path / "sharing.pdf").read_bytes()).replace(" ", "")
    pages = int(re.findall(r"Page1of(\d+)", text)[0])
    assert pages >= 2 and f"Page{pages}of{pages}" in text
    title = "Datasharingreport,1November2026to29November2026"
    assert text.count(title) == pages  # the running title, once a page
    assert text.count("Generated") == pages and "UTC" in text
    assert len(written) == 3
