"""The validation report, built from a real pipeline run: the right counts, no child's details,
a PDF with pages, and Data Docs linked from it."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from pdf_text import pdf_text
from sqlalchemy import select

from gateway.access.audit import Actor
from gateway.pipeline import accounting_rows, ingest
from gateway.quarantine import list_held, reject_held
from gateway.reports.validation_data import build_report
from gateway.reports.validation_report import build_validation_report
from gateway.store.engine import session_factory
from gateway.store.tables import SourceRecord

IG = Actor("ida.officer", "LA 815 information governance", "ig_officer")


def _run_pipeline(index_url: str, samples: Path, inbox: Path, tmp_path: Path) -> None:
    ingest("education__ctf", index_url=index_url)
    ingest("social_care__cin_census", index_url=index_url)
    # One ITK patient, an adult: a one-record batch is judged record by record (held, loaded).
    (adult,) = ingest(
        "health__hl7v2_adt",
        path=str(samples / "hl7v2/nhs-itk-v2.4/ITK_ADT_A01_example.hl7"),
        index_url=index_url,
    )
    assert (adult.status, adult.quarantined) == ("loaded", 1)
    # Forty register entries, thirty without a birth date: the delivery is stopped whole.
    (stopped,) = ingest(
        "education__ehe_register", path=str(_register_mostly_undated(inbox, tmp_path))
    )
    assert stopped.status == "gated"
    (first, *_rest) = list_held(source="education__ctf", index_url=index_url)
    reject_held(first.id, "not one of ours", IG, index_url=index_url)


def _register_mostly_undated(inbox: Path, tmp_path: Path) -> Path:
    source = next((inbox / "education" / "ehe_register").glob("*.csv"))
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header, rows = list(reader.fieldnames or []), list(reader)[:40]
    path = tmp_path / "register.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows({**row, "DOB": ""} if n % 4 else row for n, row in enumerate(rows))
    return path


def test_report_from_a_real_run_has_the_right_counts(
    index_url: str, inbox: Path, samples: Path, tmp_path: Path
) -> None:
    _run_pipeline(index_url, samples, inbox, tmp_path)
    sqlite = index_url.startswith("sqlite")
    files = build_validation_report(
        tmp_path / "report", index_url=index_url, pdf=sqlite, data_docs=sqlite
    )
    html = files.html.read_text(encoding="utf-8")

    with session_factory(index_url)() as session:
        report = build_report(session, now=_now())
    by_source = {s.source: s for s in report.sources}
    for row in accounting_rows(index_url):
        section = by_source[row.source]
        assert section.total("received") == row.received
        assert section.total("loaded") == row.loaded
        assert section.total("quarantined") == row.quarantined
        assert section.total("rejected") == row.rejected
        assert section.total("gated") == row.gated
        assert f"{row.received:,}" in html
    stopped = by_source["education__ehe_register"].latest
    assert (stopped.status, stopped.loaded, stopped.gated, stopped.gates_failed) == (
        "gated",
        0,
        40,
        ["held_share_within_limit"],
    )
    assert "STOPPED" in html and "more than 50% of its records failed serious checks" in html

    ctf = by_source["education__ctf"]
    rules = {r.rule: r for r in ctf.rules}
    assert rules["birth_date_required"].failed >= 1
    assert rules["birth_date_required"].checked == ctf.total("checked")
    # Every rejection is under its reason: unreadable or repeated items rejected on arrival,
    # and the one the reviewer rejected.
    assert sum(r.rejected for r in ctf.reasons) == ctf.total("rejected")
    arrived_rejected = [
        i
        for i in list_held(source="education__ctf", status="rejected", index_url=index_url)
        if i.stage == "connector"
    ]
    assert ctf.total("rejected") == len(arrived_rejected) + 1
    assert [(d.role, d.action) for d in report.decisions] == [("ig_officer", "rejected")]
    assert "A birth date is needed to tell children apart." in html

    _assert_no_child_details(index_url, html)
    if sqlite:
        _assert_pdf_and_data_docs(files)


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _assert_no_child_details(index_url: str, html: str) -> None:
    """Counts and reasons only: no NHS number, UPN or birth date of any record appears."""
    with session_factory(index_url)() as session:
        payloads = session.scalars(select(SourceRecord.payload)).all()
    identities = [p["identity"] for p in payloads]
    assert identities
    for identity in identities:
        for key in ("nhs_number", "upn", "birth_date", "family_name"):
            value = identity.get(key)
            if value and len(value) > 4:
                assert value not in html, key


def _assert_pdf_and_data_docs(files) -> None:  # type: ignore[no-untyped-def]
    assert files.pdf is not None
    data = files.pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 2
    text = pdf_text(data).replace(" ", "")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert f"Page1of{pages}" in text and f"Page{pages}of{pages}" in text  # every page numbered
    assert text.count("Validationreport:everyrunupto") == pages  # the running title
    assert files.data_docs is not None and files.data_docs.exists()
    link = files.data_docs.resolve().as_uri()  # absolute: a copied report still finds it
    assert link.startswith("file:///")
    assert f'href="{link}"' in files.html.read_text(encoding="utf-8")
    pages = list(files.data_docs.parent.rglob("validations/**/*.html"))
    assert pages, "a Data Docs page per recorded run"


def test_cli_writes_the_report(index_url: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app
    from gateway.cli.report import report_app

    assert any(group.typer_instance is report_app for group in app.registered_groups)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["report", "validation", "--out", str(out), "--no-pdf", "--no-data-docs"]
    )
    assert result.exit_code == 0, result.output
    html = (out / "validation.html").read_text(encoding="utf-8")
    assert "Validation report" in html and "No held record has been released" in html


def test_without_chromium_the_command_says_plainly_no_pdf_was_made(
    index_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    import gateway.reports.pdf
    from gateway.cli import app

    monkeypatch.setattr(gateway.reports.pdf, "CHROMIUM", str(tmp_path / "no-chromium"))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["report", "validation", "--out", str(out), "--no-data-docs"])
    assert result.exit_code == 0, result.output
    assert "PDF: not made, because chromium is not installed" in result.output
    assert "apt-get install chromium" in result.output
    assert not (out / "validation.pdf").exists() and (out / "validation.html").exists()
