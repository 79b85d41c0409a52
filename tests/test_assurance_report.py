"""The partnership assurance report's figures from a hand-made index, on SQLite and PostgreSQL:
counts per month and quarter as the children's dated facts say, suppression applied to what is
published, no child in any file, and the command that writes it."""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

from index_builder import EHE, HEALTH, add_child, add_population, record
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.access.audit import Actor, AuditEvent, append
from gateway.cli import app
from gateway.reports.assurance import build_assurance_report, periods
from gateway.reports.assurance_render import csv_rows, render_html
from gateway.reports.suppression import FEWER_THAN
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry

TODAY = date(2026, 11, 29)
OFFICER = Actor("erin.ehe", "North Yorkshire Council", "ehe_officer")
SOCIAL_WORKER = Actor("sam.social", "North Yorkshire Council", "social_worker")


def _registered(session, n: int) -> None:  # type: ignore[no-untyped-def]
    """``n`` more children registered on 1 March 2026, each with a GP and seen in October."""
    for i in range(n):
        who = {"given_name": f"Kit{i}", "family_name": "Reg", "birth_date": "2015-01-01"}
        add_child(
            session,
            f"C-R{i}",
            [
                record(EHE, f"r{i}", who, education={"ehe": [{"registered_on": "2026-03-01"}]}),
                record(
                    HEALTH,
                    f"rh{i}",
                    who,
                    health={"gp_practice_ods": "B82001"},
                    contacts=[{"kind": "attended appointment", "on": "2026-10-02"}],
                ),
            ],
        )


def _index(index_url: str, extra: int = 0) -> None:
    with session_factory(index_url)() as session:
        add_population(session)
        _registered(session, extra)
        # D (removed to home education on 1 June) looked up by an EHE officer; A only by a
        # social worker (not an EHE team check).
        append(session, AuditEvent(OFFICER, "lookup", "disclosed", child_id="C-D"))
        append(session, AuditEvent(SOCIAL_WORKER, "lookup", "disclosed", child_id="C-A"))
        session.commit()


def test_periods_are_months_then_quarters_cut_to_the_range() -> None:
    found = periods(date(2026, 2, 10), date(2026, 4, 5))
    assert [(p.key, p.start, p.end) for p in found] == [
        ("2026-02", date(2026, 2, 10), date(2026, 2, 28)),
        ("2026-03", date(2026, 3, 1), date(2026, 3, 31)),
        ("2026-04", date(2026, 4, 1), date(2026, 4, 5)),
        ("2026-Q1", date(2026, 2, 10), date(2026, 3, 31)),
        ("2026-Q2", date(2026, 4, 1), date(2026, 4, 5)),
    ]


def test_counts_follow_each_childs_dated_facts(index_url: str) -> None:
    _index(index_url)
    with session_factory(index_url)() as session:
        report = build_assurance_report(
            session, date(2025, 12, 1), date(2026, 11, 30), today=TODAY, suppressed=False
        )
        checked_on = session.scalars(
            select(AuditEntry.at).where(AuditEntry.child_id == "C-D")
        ).one()
    by = {p.key: p for p in report.periods}

    def count(key: str, figure: str) -> int | None:
        return report.count(by[key], figure)

    # B registered September 2025; A registered 12 January 2026; C and D never.
    assert count("2025-12", "registered") == 1
    assert (count("2026-01", "registered"), count("2026-01", "new")) == (2, 1)
    assert count("2026-Q1", "new") == 1 and count("2026-Q1", "registered") == 2
    assert count("2026-11", "ended") == 0
    # Both have a GP; A is known to social care, on a plan, since 2025.
    november = by["2026-11"]
    assert [report.count(november, f) for f in ("gp", "care_now", "care_ever", "plan")] == [
        2,
        1,
        1,
        1,
    ]
    assert report.count(november, "looked_after") == 0
    # B attended on 1 November 2026 (health); A's last contact was the last day on roll.
    assert count("2026-11", "seen3_health") == 1
    assert count("2026-11", "seen6_education") == 0
    assert (count("2026-11", "seen6_any"), count("2026-11", "unseen")) == (1, 1)
    assert count("2026-10", "seen6_any") == 0  # B's contact came in November
    assert count("2026-11", "unseen_never") == 0
    assert report.median(november, "days_unseen") == (date(2026, 11, 30) - date(2026, 1, 10)).days
    # Removed to home education: A in January (unchecked by the EHE team), D in June (checked).
    assert (count("2026-01", "removed"), count("2026-01", "unchecked")) == (1, 1)
    assert (count("2026-06", "removed"), count("2026-06", "checked")) == (1, 1)
    assert count("2026-Q2", "checked") == 1
    wait = (checked_on.date() - date(2026, 6, 1)).days
    assert report.median(by["2026-06"], "days_to_check") == wait


def test_what_is_published_is_suppressed_and_names_no_child(index_url: str) -> None:
    _index(index_url, extra=6)
    with session_factory(index_url)() as session:
        report = build_assurance_report(session, date(2026, 1, 1), date(2026, 11, 30), today=TODAY)
    november = next(p for p in report.periods if p.key == "2026-11")
    assert report.text(november, "registered") == "8"  # A, B and six more
    assert report.text(november, "plan") == FEWER_THAN  # A alone
    assert report.count(november, "plan") is None
    assert report.median(november, "days_unseen") is None  # one child behind it
    rows = csv_rows(report)
    for row in rows:
        if row["kind"] != "source" and str(row["count"]).isdigit():
            assert int(row["count"]) == 0 or int(row["count"]) >= 5, row
    html = render_html(report)
    text = html + "".join(str(r) for r in rows)
    assert not re.search(r"C-[A-Z]", text), "a child id in the report"
    for name in ("Amelia", "Hart", "Kit0", "2015-03-07", "B82001"):
        assert name not in text
    assert 'role="img"' in html and "<title id=" in html  # charts with accessible names


def test_the_command_writes_the_files_and_prints_the_headlines(
    index_url: str, tmp_path: Path
) -> None:
    _index(index_url, extra=6)
    out = tmp_path / "assurance"
    period = ["--from", "2026-01-01", "--to", "2026-11-30"]
    result = CliRunner().invoke(
        app, ["report", "assurance", *period, "--out", str(out), "--no-pdf"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "assurance.html").exists()
    with (out / "assurance.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["period"] for r in rows} >= {"2026-01", "2026-11", "2026-Q4"}
    assert "Assurance, November 2026" in result.output
    assert "On the EHE register: 8" in result.output
    bad = CliRunner().invoke(
        app, ["report", "assurance", "--from", "2026-02-01", "--to", "2026-01-01", "--out", "x"]
    )
    assert bad.exit_code != 0


def test_the_monthly_run_writes_last_months_report(
    index_url: str, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """What the report__assurance DAG's task runs: the twelve months to the end of last month,
    into the reports folder."""
    from gateway.reports.assurance_render import build_monthly_report

    monkeypatch.setenv("EHE_REPORTS_DIR", str(tmp_path / "reports"))
    _index(index_url, extra=6)
    html = Path(build_monthly_report(index_url, today=TODAY))
    assert html == tmp_path / "reports" / "assurance" / "assurance.html"
    with (html.parent / "assurance.csv").open(newline="", encoding="utf-8") as handle:
        months = sorted({r["period"] for r in csv.DictReader(handle) if r["kind"] == "month"})
    assert months[0] == "2025-11" and months[-1] == "2026-10" and len(months) == 12


def test_a_restricted_child_is_counted_like_any_other(index_url: str) -> None:
    with session_factory(index_url)() as session:
        add_population(session)
        who = {"given_name": "Rosa", "family_name": "Reed", "birth_date": "2016-04-04"}
        education = {"ehe": [{"registered_on": "2026-02-01"}]}
        add_child(session, "C-S", [record(EHE, "s1", who, education=education)], restricted=True)
        session.commit()
        report = build_assurance_report(
            session, date(2026, 1, 1), date(2026, 2, 28), today=TODAY, suppressed=False
        )
    january, february = report.months()
    assert report.count(january, "registered") == 2
    assert report.count(february, "registered") == 3 and report.count(february, "new") == 1
