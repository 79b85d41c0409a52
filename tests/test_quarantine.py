"""Quarantine on a real index: held with reasons, released after a mapping fix, or rejected."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway import config
from gateway.access.audit import Actor
from gateway.access.audit_integrity import chain_findings
from gateway.mapping.spec import mapping_for
from gateway.pipeline import ingest
from gateway.quarantine import list_held, reject_held, release_batch, show_held
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, SourceRecord

REVIEWER = Actor("dana.engineer", "LA 815 data team", "data_engineer")


@pytest.fixture
def ctf_with_two_defects(inbox: Path, tmp_path: Path) -> tuple[Path, int, int]:
    """The synthetic CTF with one clean pupil's sex coded X and another's birth date blank.

    Returns the file and the ordinals of the two pupils changed.
    """
    text = next((inbox / "education" / "ctf").glob("*.xml")).read_text(encoding="utf-8")
    head, *pupils = text.split("<Pupil>")
    clean = [
        n
        for n, p in enumerate(pupils)
        if re.search(r"<Sex>[FM]</Sex>", p) and re.search(r"<DOB>[0-9-]+</DOB>", p)
    ]
    sex_at, dob_at = clean[0], clean[1]
    pupils[sex_at] = re.sub(r"<Sex>[FM]</Sex>", "<Sex>X</Sex>", pupils[sex_at])
    pupils[dob_at] = re.sub(r"<DOB>[0-9-]+</DOB>", "<DOB></DOB>", pupils[dob_at])
    path = tmp_path / "ctf_with_defects.xml"
    path.write_text("<Pupil>".join([head, *pupils]), encoding="utf-8")
    return path, sex_at + 1, dob_at + 1


def _ours(items: list, key: str) -> object:
    (found,) = [i for i in items if i.item_key == key]
    return found


def test_reject_then_release_after_mapping_fix(
    index_url: str,
    ctf_with_two_defects: tuple[Path, int, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, sex_at, dob_at = ctf_with_two_defects
    (first,) = ingest("education__ctf", path=str(path), index_url=index_url)
    held = list_held(source="education__ctf", index_url=index_url)
    sex_item = _ours(held, f"{path.name} pupil {sex_at}")
    dob_item = _ours(held, f"{path.name} pupil {dob_at}")
    assert sex_item.stage == "mapping" and "identity.sex" in sex_item.first_reason
    assert (dob_item.stage, dob_item.first_reason) == ("validation", "birth_date_required"), (
        dob_item
    )
    content = show_held(sex_item.id, REVIEWER, index_url=index_url).payload
    assert content and "<Sex>" not in content and '"Sex": "X"' in content  # kept, not dropped

    reject_held(
        dob_item.id, "birth date unknown to the school; asked the LA", REVIEWER, index_url=index_url
    )

    fixed = tmp_path / "mappings"
    shutil.copytree(config.MAPPINGS_DIR, fixed)
    yaml = fixed / "education__ctf.yaml"
    yaml.write_text(yaml.read_text().replace("U: unknown}", "U: unknown, X: unknown}"))
    monkeypatch.setattr(config, "MAPPINGS_DIR", fixed)
    mapping_for.cache_clear()
    try:
        after = release_batch(first.batch, REVIEWER, index_url=index_url)
    finally:
        mapping_for.cache_clear()

    assert after.received == first.received
    fixable = sum(1 for i in held if i.first_reason.startswith("identity.sex"))
    assert fixable >= 1
    assert after.loaded == first.loaded + fixable
    assert after.quarantined == first.quarantined - fixable - 1
    assert after.rejected == first.rejected + 1
    assert after.received == after.loaded + after.quarantined + after.rejected
    everything = list_held(source="education__ctf", status=None, index_url=index_url)
    assert _ours(everything, f"{path.name} pupil {sex_at}").status == "released"
    assert _ours(everything, f"{path.name} pupil {dob_at}").status == "rejected"
    with session_factory(index_url)() as session:
        sexes = session.scalars(
            select(SourceRecord.payload).where(SourceRecord.source == "education__ctf")
        )
        assert sum(1 for p in sexes if p["identity"]["sex"] == "unknown") >= 1
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
        assert actions == ["quarantine_show", "quarantine_reject", "quarantine_release"]
        assert chain_findings(session) == []


def test_only_quarantined_items_can_be_rejected(
    index_url: str, ctf_with_two_defects: tuple[Path, int, int]
) -> None:
    from gateway.errors import FatalConfigError

    ingest("education__ctf", path=str(ctf_with_two_defects[0]), index_url=index_url)
    item = list_held(source="education__ctf", index_url=index_url)[0]
    reject_held(item.id, "duplicate of a record already loaded", REVIEWER, index_url=index_url)
    with pytest.raises(FatalConfigError, match="not quarantined"):
        reject_held(item.id, "again", REVIEWER, index_url=index_url)
    with pytest.raises(FatalConfigError, match="needs a reason"):
        reject_held(item.id, " ", REVIEWER, index_url=index_url)


def test_show_prints_failing_values_only_to_allowed_roles(
    index_url: str, ctf_with_two_defects: tuple[Path, int, int]
) -> None:
    """`quarantine show` withholds the failing values from a role not allowed to see them, and
    audits both looks."""
    from typer.testing import CliRunner

    from gateway.cli import app

    path, _sex_at, dob_at = ctf_with_two_defects
    ingest("education__ctf", path=str(path), index_url=index_url)
    held = list_held(source="education__ctf", index_url=index_url)
    dob_item = _ours(held, f"{path.name} pupil {dob_at}")
    assert dob_item.reasons[0]["values"] == {"birth_date": None}
    runner = CliRunner()
    args = ["quarantine", "show", str(dob_item.id), "--by", "sam", "--content"]

    withheld = runner.invoke(app, [*args, "--role", "ehe_officer"])
    assert withheld.exit_code == 0, withheld.output
    assert "birth_date_required" in withheld.output
    assert '"values"' not in withheld.output and '"provenance"' not in withheld.output
    assert "withheld" in withheld.output

    shown = runner.invoke(app, [*args, "--role", "ig_officer"])
    assert shown.exit_code == 0, shown.output
    assert '"values": {"birth_date": null}' in shown.output
    assert '"provenance"' in shown.output  # the kept record, with --content

    with session_factory(index_url)() as session:
        looks = session.execute(
            select(AuditEntry.role, AuditEntry.outcome)
            .where(AuditEntry.action == "quarantine_show")
            .order_by(AuditEntry.seq)
        ).all()
    assert [tuple(look) for look in looks] == [
        ("ehe_officer", "values_withheld"),
        ("ig_officer", "values_shown"),
    ]
