"""The FHIR R4 REST connector against a FHIR server on loopback (real HTTP, real FHIR JSON).

Paging, incremental reads, OAuth2 token renewal, every injected fault recovered or surfaced as
the right error with the bookmark where it was, and the whole ingest into an index.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fakes.fhir_server import FakeFhirServer, Fault, appointment_for, encounters_for
from sqlalchemy import select
from typer.testing import CliRunner

from connectors.health.fhir_rest import CONTACT_KEY, FhirRestConnector, read_high_water
from gateway.errors import FatalConfigError, RetriableSourceError
from gateway.mapping import apply_mapping, mapping_for
from gateway.pipeline import accounting_rows, ingest, land_source
from gateway.pipeline.bookmarks import read_bookmark
from gateway.sources import connector_for
from gateway.store.engine import session_factory
from gateway.store.tables import SourceRecord
from gateway.synth import patient_resources

SOURCE = "health__fhir_api"
ENV = "EHE_SOURCE_HEALTH__FHIR_API"
RECEIVED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[FakeFhirServer]:
    fake = FakeFhirServer()
    with fake.serving():
        yield fake


@pytest.fixture
def patients(server: FakeFhirServer) -> list[dict[str, Any]]:
    """120 UK Core Patients on the server; the first three have Encounters, the sixth is
    restricted (PDS S-flag)."""
    chosen = patient_resources(120, seed=4)
    chosen[5]["meta"]["security"] = [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}
    ]
    server.put(chosen)
    for patient in chosen[:3]:
        server.put(encounters_for(patient["id"], 2))
    return chosen


def _read(connector: FhirRestConnector, work: Path, bookmark: str | None = None) -> Any:
    extraction = connector.extract(work, bookmark)
    items = [item for path in extraction.files for item in connector.parse(path)]
    return extraction, items


def _ids(items: list[Any]) -> list[str]:
    return sorted(item.record["id"] for item in items if item.record is not None)


def test_pages_through_every_patient_by_next_link(
    server: FakeFhirServer, patients: list[dict[str, Any]], tmp_path: Path
) -> None:
    connector = FhirRestConnector(server.config(page_size=50))
    extraction, items = _read(connector, tmp_path)
    assert _ids(items) == sorted(p["id"] for p in patients)
    pages = [s for s in server.served("/fhir/Patient?") if s.method == "GET"]
    assert len(pages) == 3 and "_offset=100" in pages[-1].path
    since, _ = read_high_water(extraction.bookmark)
    assert since == max(r["meta"]["lastUpdated"] for r in server.state.resources.values())
    landed = [json.loads(line) for line in extraction.files[0].read_text().splitlines()]
    assert {r["resourceType"] for r in landed} == {"Patient", "Encounter"}


def test_published_pds_patients_keep_nhs_number_gp_and_restriction(
    server: FakeFhirServer, samples: Path, tmp_path: Path
) -> None:
    """The NHS PDS sandbox's Patients, served over FHIR REST, map as the bulk files do."""
    folder = samples / "fhir" / "nhs-pds"
    compound = json.loads((folder / "PatientCompoundName.json").read_text())  # a searchset
    server.put(
        [
            json.loads((folder / "Patient.json").read_text()),
            json.loads((folder / "Sensitive_Patient.json").read_text()),
            *(entry["resource"] for entry in compound["entry"]),
        ]
    )
    _, items = _read(FhirRestConnector(server.config()), tmp_path)
    spec = mapping_for(SOURCE)
    mapped = {
        i.record["id"]: apply_mapping(spec, i.record, batch_id="b", received_at=RECEIVED).record
        for i in items
        if i.record is not None
    }
    assert sorted(mapped) == ["9000000009", "9000000015", "9000000025"]
    plain, restricted = mapped["9000000009"], mapped["9000000025"]
    assert plain is not None and restricted is not None
    assert plain.identity.nhs_number == "9000000009"
    assert plain.identity.nhs_number_verification == "01"
    assert plain.health is not None and plain.health.gp_practice_ods == "Y12345"
    # No Encounter, no contact: meta.lastUpdated (an update, an export) is never one.
    assert plain.contacts == [] and plain.health.last_contact_date is None
    assert restricted.identity.restricted is True and plain.identity.restricted is False


def test_second_run_from_bookmark_reads_only_what_changed(
    server: FakeFhirServer, patients: list[dict[str, Any]], tmp_path: Path
) -> None:
    connector = FhirRestConnector(server.config())
    first, _ = _read(connector, tmp_path)
    again, items = _read(connector, tmp_path, first.bookmark)
    assert again.files == [] and items == [] and again.bookmark == first.bookmark
    changed = [{**patients[7], "gender": "unknown"}, {**patients[9], "birthDate": "2016-01-01"}]
    server.put(changed)
    third, items = _read(connector, tmp_path, first.bookmark)
    assert _ids(items) == sorted(p["id"] for p in changed)
    assert read_high_water(third.bookmark)[0] > read_high_water(first.bookmark)[0]  # type: ignore[operator]


def test_a_write_in_the_bookmarks_own_instant_is_not_missed(
    server: FakeFhirServer, patients: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The search is inclusive, and what was read at the bookmark's instant is not read again."""
    connector = FhirRestConnector(server.config())
    first, _ = _read(connector, tmp_path)
    since, seen = read_high_water(first.bookmark)
    assert len(seen) == 1, "the last write's version is remembered with its instant"
    late = {**patients[3], "gender": "unknown"}
    assert server.put([late], same_instant=True) == since
    second, items = _read(connector, tmp_path, first.bookmark)
    assert _ids(items) == [late["id"]]
    assert read_high_water(second.bookmark) == (since, seen | {f"Patient/{late['id']}/_history/2"})
    third, items = _read(connector, tmp_path, second.bookmark)
    assert third.files == [] and items == [] and third.bookmark == second.bookmark


def test_an_older_plain_instant_bookmark_still_reads_from_that_instant(
    server: FakeFhirServer, patients: list[dict[str, Any]], tmp_path: Path
) -> None:
    connector = FhirRestConnector(server.config())
    first, _ = _read(connector, tmp_path)
    since, _ = read_high_water(first.bookmark)
    _, items = _read(connector, tmp_path, since)
    assert len(_ids(items)) == 1, "the resource stamped at the instant itself is read again"
    with pytest.raises(FatalConfigError):
        connector.extract(tmp_path, "{not json")


def test_encounters_give_the_last_contact_and_fetch_unchanged_patients(
    server: FakeFhirServer, patients: list[dict[str, Any]], tmp_path: Path
) -> None:
    connector = FhirRestConnector(server.config())
    first, _ = _read(connector, tmp_path)
    quiet = patients[50]["id"]  # a Patient who has not changed, seen again in clinic
    server.put(encounters_for(quiet, 3, first_day=20))
    server.put(encounters_for("no-such-patient", 1))
    _, items = _read(connector, tmp_path, first.bookmark)
    records = {i.record["id"]: i.record for i in items if i.record is not None}
    assert list(records) == [quiet], "the unchanged Patient is read by id for its Encounters"
    assert records[quiet][CONTACT_KEY] == {
        "date": "2026-10-22T09:20:00Z",
        "class": "AMB",
        "status": "finished",
        "encounters": 3,
    }
    (orphan,) = [i for i in items if i.record is None]
    assert orphan.error == "Encounter or Appointment for a Patient not in this batch"
    assert orphan.raw


def test_a_fulfilled_appointment_is_a_contact_a_missed_one_is_not(
    server: FakeFhirServer, patients: list[dict[str, Any]], tmp_path: Path
) -> None:
    connector = FhirRestConnector(server.config())
    first, _ = _read(connector, tmp_path)
    attended, missed = patients[40]["id"], patients[41]["id"]
    server.put(
        [
            *encounters_for(attended, 1, first_day=5),
            appointment_for(attended, 12),
            appointment_for(missed, 20, status="noshow"),
            appointment_for(missed, 21, status="booked"),
        ]
    )
    _, items = _read(connector, tmp_path, first.bookmark)
    spec = mapping_for(SOURCE)
    mapped = {
        i.record["id"]: apply_mapping(spec, i.record, batch_id="b", received_at=RECEIVED).record
        for i in items
        if i.record is not None
    }
    seen, not_seen = mapped[attended], mapped[missed]
    assert seen is not None and not_seen is not None
    assert [(c.kind, c.on.isoformat()) for c in seen.contacts] == [
        ("attended appointment", "2026-11-12")
    ]
    assert not_seen.contacts == []


def test_expired_token_is_renewed_before_use(tmp_path: Path) -> None:
    fake = FakeFhirServer(token_lifetime_s=1)
    fake.put(patient_resources(5, seed=1))
    with fake.serving():
        connector = FhirRestConnector(fake.config())
        connector.check()
        time.sleep(1.1)
        _, items = _read(connector, tmp_path)
    assert len(_ids(items)) == 5
    assert len(fake.served("/oauth2/token", 200)) >= 2, "a new token before the old one died"
    assert fake.served(status=401) == [], "renewed before use, not after a refusal"


def test_revoked_token_is_renewed_once_on_401(
    server: FakeFhirServer, patients: list[dict[str, Any]], tmp_path: Path
) -> None:
    server.fail(Fault("revoke", "_offset=50"))
    _, items = _read(FhirRestConnector(server.config()), tmp_path)
    assert len(_ids(items)) == len(patients)
    assert len(server.served(status=401)) == 1
    assert len(server.served("/oauth2/token", 200)) == 2


@pytest.mark.parametrize("status", ["401", "403"])
def test_refusal_that_survives_renewal_is_fatal(
    server: FakeFhirServer, patients: list[dict[str, Any]], tmp_path: Path, status: str
) -> None:
    server.fail(Fault(status, "/fhir/Patient"), Fault(status, "/fhir/Patient"))
    with pytest.raises(FatalConfigError, match=f"HTTP {status}"):
        FhirRestConnector(server.config()).extract(tmp_path, None)
    assert list(tmp_path.glob("*.ndjson")) == [], "a failed run lands nothing"


def test_wrong_client_secret_is_fatal_and_not_shown(server: FakeFhirServer) -> None:
    connector = FhirRestConnector(server.config(client_secret="wrong-secret-value"))
    with pytest.raises(FatalConfigError, match="refused the client credentials") as caught:
        connector.check()
    assert "wrong-secret-value" not in str(caught.value)
    assert "wrong-secret-value" not in repr(connector)


def test_missing_settings_are_named() -> None:
    with pytest.raises(FatalConfigError, match="missing config token_url, client_id"):
        FhirRestConnector({"url": "http://127.0.0.1:9/fhir"}).check()


@pytest.mark.parametrize(
    "fault",
    [
        Fault("429", "/fhir/Patient", retry_after="1"),
        Fault("500", "/fhir/Encounter"),
        Fault("slow", "/fhir/Patient", delay_s=6),
        Fault("truncated", "/fhir/Patient"),
        Fault("503", "/oauth2/token"),
    ],
    ids=["429-retry-after", "500", "slow", "truncated", "token-503"],
)
def test_transient_fault_is_recovered(
    server: FakeFhirServer, patients: list[dict[str, Any]], tmp_path: Path, fault: Fault
) -> None:
    server.fail(fault)
    started = time.monotonic()
    _, items = _read(FhirRestConnector(server.config(timeout_s=1)), tmp_path)
    assert len(_ids(items)) == len(patients)
    assert server.state.faults == [], "the fault was met"
    if fault.retry_after:
        assert time.monotonic() - started >= 1.0, "Retry-After is honoured"
    if fault.kind == "slow":
        assert time.monotonic() - started < 5, "the slow answer was given up on, not awaited"


def test_fault_that_outlasts_the_retries_is_retriable(
    server: FakeFhirServer, patients: list[dict[str, Any]], tmp_path: Path
) -> None:
    server.fail(*[Fault("500", "/fhir/Encounter") for _ in range(3)])
    connector = FhirRestConnector(server.config(attempts=3))
    with pytest.raises(RetriableSourceError, match="Encounter search failed after 3 attempts"):
        connector.extract(tmp_path, None)
    assert list(tmp_path.glob("*.ndjson")) == []


def test_retry_after_longer_than_the_run_waits_is_retriable_at_once(
    server: FakeFhirServer, patients: list[dict[str, Any]], tmp_path: Path
) -> None:
    server.fail(Fault("429", "/fhir/Patient", retry_after="3600"))
    started = time.monotonic()
    with pytest.raises(RetriableSourceError, match="asked to wait 3600s"):
        FhirRestConnector(server.config()).extract(tmp_path, None)
    assert time.monotonic() - started < 2


def _configure(monkeypatch: pytest.MonkeyPatch, server: FakeFhirServer) -> None:
    for key, value in server.config().items():
        if key != "url":
            monkeypatch.setenv(f"{ENV}_{key.upper()}", str(value))


def test_ingest_into_the_index_then_nothing_new(
    index_url: str,
    server: FakeFhirServer,
    patients: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _configure(monkeypatch, server)
    (accounting,) = ingest(SOURCE, url=server.base_url, index_url=index_url)
    assert accounting.received == len(patients)
    assert accounting.received == accounting.loaded + accounting.quarantined + accounting.rejected
    assert accounting.loaded >= len(patients) * 0.9
    with session_factory(index_url)() as session:
        rows = {r.record_id: r for r in session.scalars(select(SourceRecord))}
        bookmark = read_bookmark(session, SOURCE)
    seen = rows[patients[0]["id"]].payload
    assert seen["contacts"] == [{"kind": "finished encounter", "on": "2026-10-02"}]
    assert seen["health"]["gp_practice_ods"]
    assert seen["identity"]["nhs_number_verification"] == "01"
    assert rows[patients[5]["id"]].restricted is True
    assert rows[patients[6]["id"]].restricted is False
    assert ingest(SOURCE, url=server.base_url, index_url=index_url) == []
    assert [a.batch for a in accounting_rows(index_url)] == [accounting.batch]
    with session_factory(index_url)() as session:
        assert read_bookmark(session, SOURCE) == bookmark


def test_many_writes_in_one_instant_are_kept_in_the_bookmark(
    index_url: str,
    server: FakeFhirServer,
    patients: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bulk update stamped with one instant: the bookmark holds every version read there."""
    _configure(monkeypatch, server)
    ingest(SOURCE, url=server.base_url, index_url=index_url)
    server.put([{**p, "gender": "unknown"} for p in patients[:12]])
    server.put([{**p, "gender": "other"} for p in patients[12:20]], same_instant=True)
    (second,) = ingest(SOURCE, url=server.base_url, index_url=index_url)
    assert second.received == 20
    with session_factory(index_url)() as session:
        bookmark = read_bookmark(session, SOURCE)
    _, seen = read_high_water(bookmark)
    assert len(seen) == 9 and len(bookmark or "") > 120, "longer than the old column allowed"
    assert ingest(SOURCE, url=server.base_url, index_url=index_url) == []


def test_failed_run_leaves_the_bookmark(
    index_url: str,
    server: FakeFhirServer,
    patients: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _configure(monkeypatch, server)
    monkeypatch.setenv(f"{ENV}_ATTEMPTS", "2")
    ingest(SOURCE, url=server.base_url, index_url=index_url)
    with session_factory(index_url)() as session:
        before = read_bookmark(session, SOURCE)
    server.put([{**patients[3], "gender": "unknown"}])
    server.fail(Fault("500", "/fhir/Encounter"), Fault("500", "/fhir/Encounter"))
    with pytest.raises(RetriableSourceError):
        land_source(SOURCE, url=server.base_url, index_url=index_url)
    with session_factory(index_url)() as session:
        assert read_bookmark(session, SOURCE) == before
    (changed,) = ingest(SOURCE, url=server.base_url, index_url=index_url)
    assert changed.received == 1


def test_cli_ingest_with_url(
    index_url: str,
    server: FakeFhirServer,
    patients: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gateway.cli import app

    _configure(monkeypatch, server)
    result = CliRunner().invoke(app, ["ingest", SOURCE, "--url", server.base_url])
    assert result.exit_code == 0, result.output
    assert f"received {len(patients)}, loaded" in result.output
    assert server.config()["client_secret"] not in result.output


def test_settings_come_from_the_environment(
    server: FakeFhirServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure(monkeypatch, server)
    monkeypatch.setenv(f"{ENV}_URL", server.base_url)
    connector = connector_for(SOURCE)
    assert connector.config["client_secret"] == server.config()["client_secret"]
    assert "client_secret" in connector.secret_fields
    connector.check()
    assert [s.name for s in connector.discover()] == ["patients", "encounters"]
