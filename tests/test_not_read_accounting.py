"""What a file holds that is not a record of its stream reaches the batch's accounting.

An SSDA903 table that describes no child (episodes, reviews...) and a FHIR resource that is not
a Patient are kept in the landed file and counted on the batch by kind, on SQLite and
PostgreSQL: received = loaded + quarantined + rejected + not read + gated (+ pending), in
``accounting`` (text and ``--json``), the run summary and the validation report. Published
files from /work/shared/samples and tests/samples_extra.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.health.fhir_patients import FhirPatientConnector, count_resources
from gateway.cli import app
from gateway.monitoring.freshness import stale_after
from gateway.pipeline import Accounting, accounting_rows, ingest
from gateway.reports.run_summary import build_summary, render_text
from gateway.reports.validation_data import build_report
from gateway.reports.validation_report import render_html
from gateway.store.engine import session_factory

EXTRA = Path(__file__).parent / "samples_extra"
SSDA903 = "social_care__ssda903"
FHIR = "health__fhir_patient"


def _balanced(a: Accounting) -> bool:
    decided = a.loaded + a.quarantined + a.rejected + a.not_read + a.gated + a.pending
    return a.received == decided


def _drop(tmp_path: Path, *files: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir(exist_ok=True)
    for path in files:
        shutil.copyfile(path, folder / path.name)
    return folder


def test_ssda903_tables_without_a_child_are_counted_on_the_batch(
    index_url: str, samples: Path, tmp_path: Path
) -> None:
    ssda903 = samples / "social-care" / "ssda903"
    drop = _drop(
        tmp_path,
        ssda903 / "liiatools_SSDA903_2020_header.csv",
        ssda903 / "liiatools_SSDA903_2020_episodes.csv",
        ssda903 / "d2i_missing.csv",
    )
    batches = {a.batch: a for a in ingest(SSDA903, path=str(drop), index_url=index_url)}
    rows = {a.batch: a for a in accounting_rows(index_url)}
    assert rows.keys() == batches.keys()
    kinds = sorted(a.not_read_kinds for a in rows.values())
    assert kinds == [(), (("episodes table rows", 5),), (("missing table rows", 43),)]
    for row in rows.values():
        assert row.status == "loaded" and _balanced(row), row
        if row.not_read:  # a table describing no child: nothing loaded, nothing held
            assert (row.received, row.loaded, row.quarantined, row.rejected) == (
                row.not_read,
                0,
                0,
                0,
            )
        else:  # the header table: 5 rows, 3 repeating an earlier row's CHILD (held)
            assert (row.received, row.loaded, row.rejected) == (5, 2, 3)


def test_fhir_resources_other_than_patients_are_counted_and_shown(
    index_url: str, tmp_path: Path
) -> None:
    drop = _drop(
        tmp_path,
        EXTRA / "fhir" / "smart-bulk-10" / "AllergyIntolerance.000.ndjson",
        EXTRA / "fhir" / "nhs-pds" / "Referenced_RelatedPersonBundle.json",
    )
    ingest(FHIR, path=str(drop), index_url=index_url)
    rows = accounting_rows(index_url)
    assert sorted((a.not_read_kinds, a.received) for a in rows) == [
        ((("AllergyIntolerance", 11),), 11),
        ((("RelatedPerson", 1),), 1),
    ]
    assert all(_balanced(a) and a.status == "loaded" for a in rows), rows
    with session_factory(index_url)() as session:
        summary = build_summary(session)
        report = build_report(session, datetime(2026, 11, 29, 12, 0, tzinfo=UTC))
    (line,) = summary.sources
    assert line.balanced and line.not_read == sum(a.not_read for a in rows)
    assert "not read" in render_text(summary)
    runs = report.sources[0].runs
    assert sorted(r.not_read for r in runs) == sorted(a.not_read for a in rows)
    html = render_html(report)
    assert "Not a child record" in html and "AllergyIntolerance 11" in html


def test_the_cli_shows_what_was_kept_not_read(
    index_url: str, samples: Path, tmp_path: Path
) -> None:
    drop = _drop(tmp_path, samples / "social-care" / "ssda903" / "d2i_missing.csv")
    runner = CliRunner()
    ingested = runner.invoke(app, ["ingest", SSDA903, "--path", str(drop)])
    assert ingested.exit_code == 0, ingested.output
    assert "kept not a child record 43 (missing table rows 43)" in ingested.output
    (row,) = json.loads(runner.invoke(app, ["accounting", "--json"]).output)
    assert (row["received"], row["loaded"], row["not_read"], row["not_read_kinds"]) == (
        43,
        0,
        43,
        {"missing table rows": 43},
    )
    text = runner.invoke(app, ["accounting"]).output
    assert "not_read=43" in text and 'not_read_kinds="missing table rows 43"' in text


def test_a_gated_batch_counts_its_records_as_gated_and_the_rest_as_not_read(
    index_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A FHIR Bundle whose count does not match is held whole: its Patient is gated, what is
    not a Patient stays not read, and the sum still holds."""
    pds = EXTRA / "fhir" / "nhs-pds"
    bundle = json.loads((pds / "Referenced_RelatedPersonBundle.json").read_text())
    patient = json.loads((pds / "patient_9000000009.json").read_text())
    bundle["entry"].append({"fullUrl": "urn:uuid:p1", "resource": patient})
    path = tmp_path / "drop" / "bundle.json"
    path.parent.mkdir()
    path.write_text(json.dumps(bundle))
    # A reader that lost a resource: the count without it says one more than was read.
    monkeypatch.setattr(
        FhirPatientConnector, "count_records", lambda self, p: count_resources(p) + 1
    )
    (held,) = ingest(FHIR, path=str(path.parent), index_url=index_url)
    assert held.status == "gated"
    assert (held.received, held.not_read, held.gated) == (2, 1, 1)
    assert _balanced(held)


def test_ssda903_is_a_full_snapshot_compared_only_with_deliveries_of_children(
    index_url: str, samples: Path, tmp_path: Path
) -> None:
    """The header table is the year's children to date (like the CIN census): a delivery far
    smaller than the last is gated, and a later good one supersedes it. A table of the return
    with no child record in it (OC2) is neither compared with nor a snapshot that supersedes."""
    ssda903 = samples / "social-care" / "ssda903"
    header, *rows = (ssda903 / "d2i_header.csv").read_text().splitlines(keepends=True)

    def delivery(name: str, count: int) -> str:
        path = tmp_path / name
        path.write_text(header + "".join(rows[:count]))
        return str(path)

    (first,) = ingest(SSDA903, path=delivery("h60.csv", 60), index_url=index_url)
    assert first.status == "loaded" and first.received == 60
    (small,) = ingest(SSDA903, path=delivery("h10.csv", 10), index_url=index_url)
    assert small.gate_reasons == (
        "row_count_near_last_run failed (10 records, the last loaded batch had 60)",
    )
    # The OC2 table: a row per child, 2,675 of them, none a child record.
    (oc2,) = ingest(SSDA903, path=str(ssda903 / "d2i_oc2.csv"), index_url=index_url)
    assert (oc2.status, oc2.received, oc2.not_read, oc2.gate_reasons) == (
        "loaded",
        2675,
        2675,
        (),
    )
    statuses = {a.batch: a.status for a in accounting_rows(index_url)}
    assert statuses[small.batch] == "gated"  # a table with no child supersedes nothing
    (later,) = ingest(SSDA903, path=delivery("h55.csv", 55), index_url=index_url)
    assert later.status == "loaded"  # compared with the 60, not with the 2,675 OC2 rows
    statuses = {a.batch: a.status for a in accounting_rows(index_url)}
    assert statuses[small.batch] == "superseded"


def test_ssda903_is_stale_after_a_missed_week(monkeypatch: pytest.MonkeyPatch) -> None:
    assert stale_after(SSDA903) == timedelta(days=8)
    monkeypatch.setenv("EHE_STALE_AFTER_HOURS_SOCIAL_CARE__SSDA903", "9000")  # annual only
    assert stale_after(SSDA903) == timedelta(hours=9000)
