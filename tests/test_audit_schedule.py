"""The hourly audit checkpoint: a whole log is verified and signed; a broken one raises an
``audit_broken`` alert and signs nothing; missing settings fail at once, naming the setting.
In process on SQLite and PostgreSQL, and once as a real Airflow run of ``audit__checkpoint``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text

from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.audit_integrity import write_key
from gateway.access.audit_schedule import verify_and_checkpoint
from gateway.errors import FatalConfigError
from gateway.recovery import AuditBrokenError, classify
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry

ROOT = Path(__file__).resolve().parents[1]
WHO = Actor("erin.ehe", "North Yorkshire Council", "ehe_officer")


def _log(index_url: str, entries: int = 6) -> None:
    with session_factory(index_url).begin() as session:
        for n in range(entries):
            append(session, AuditEvent(WHO, "lookup", "disclosed", "ehe_enquiry", f"C-{n}"))


def _delete_newest(index_url: str) -> int:
    with session_factory(index_url).begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL session_replication_role = replica"))
        newest = session.scalar(select(func.max(AuditEntry.seq)))
        session.execute(delete(AuditEntry).where(AuditEntry.seq == newest))
    assert newest is not None
    return newest


@pytest.fixture
def signing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A signing key and a checkpoint file path, set as the settings name them."""
    key = tmp_path / "audit.pem"
    write_key(key)
    checkpoints = tmp_path / "append-only" / "checkpoints.jsonl"
    monkeypatch.setenv("EHE_AUDIT_SIGNING_KEY", str(key))
    monkeypatch.setenv("EHE_AUDIT_CHECKPOINTS", str(checkpoints))
    return checkpoints


def test_a_whole_log_is_verified_then_signed(index_url: str, signing: Path) -> None:
    _log(index_url)
    first = verify_and_checkpoint(index_url)
    assert (first.entries, first.checked_against) == (6, 0)
    _log(index_url, 2)
    second = verify_and_checkpoint(index_url)
    assert (second.entries, second.checked_against) == (8, 1)
    assert len(signing.read_text().splitlines()) == 2


def test_a_broken_log_raises_an_audit_alert_and_signs_nothing(
    index_url: str, signing: Path
) -> None:
    _log(index_url)
    verify_and_checkpoint(index_url)
    newest = _delete_newest(index_url)
    with pytest.raises(AuditBrokenError) as raised:
        verify_and_checkpoint(index_url)
    assert f"truncation on chain 1 at entry {newest}" in str(raised.value)
    assert len(signing.read_text().splitlines()) == 1, "nothing signed over a broken log"
    failure = classify(raised.value)
    assert (failure.retriable, failure.alert_kind) == (False, "audit_broken")


def test_missing_settings_fail_at_once_naming_the_setting(
    index_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EHE_AUDIT_SIGNING_KEY", raising=False)
    monkeypatch.delenv("EHE_AUDIT_CHECKPOINTS", raising=False)
    with pytest.raises(FatalConfigError, match="EHE_AUDIT_SIGNING_KEY") as no_key:
        verify_and_checkpoint(index_url)
    assert classify(no_key.value).retriable is False
    monkeypatch.setenv("EHE_AUDIT_SIGNING_KEY", str(tmp_path / "absent.pem"))
    with pytest.raises(FatalConfigError, match="EHE_AUDIT_SIGNING_KEY"):
        verify_and_checkpoint(index_url)
    write_key(tmp_path / "present.pem")
    monkeypatch.setenv("EHE_AUDIT_SIGNING_KEY", str(tmp_path / "present.pem"))
    with pytest.raises(FatalConfigError, match="EHE_AUDIT_CHECKPOINTS"):
        verify_and_checkpoint(index_url)


@pytest.mark.airflow
@pytest.mark.slow
def test_the_dag_signs_hourly_and_alerts_when_the_log_is_broken(
    tmp_path: Path, signing: Path
) -> None:
    """Airflow runs ``audit__checkpoint`` (dag.test()): a checkpoint is appended; after the
    newest entry is deleted the run fails and the alert names the truncation and its entry."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    index = tmp_path / "index.sqlite"
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "EHE_DATA_DIR": str(tmp_path / "data"),
            "EHE_INDEX_URL": f"sqlite:///{index}",
        }
    )
    cli = str(Path(sys.executable).with_name("ehe-gateway"))
    subprocess.run([cli, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    _log(env["EHE_INDEX_URL"])

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [cli, "run-dags", "--dag", "audit__checkpoint"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    whole = run()
    assert whole.returncode == 0, whole.stdout + whole.stderr[-3000:]
    assert len(signing.read_text().splitlines()) == 1
    newest = _delete_newest(env["EHE_INDEX_URL"])
    broken = run()
    assert broken.returncode == 1, broken.stdout
    alerts = [json.loads(x) for x in (tmp_path / "data" / "alerts.jsonl").read_text().splitlines()]
    (alert,) = [a for a in alerts if a["kind"] == "audit_broken"]
    assert alert["dag_id"] == "audit__checkpoint"
    assert f"truncation on chain 1 at entry {newest}" in alert["reason"]
    assert len(signing.read_text().splitlines()) == 1


def test_the_cli_checkpoint_verifies_first_and_signs_nothing_over_a_broken_log(
    index_url: str, signing: Path
) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app as cli

    _log(index_url)
    runner = CliRunner()
    made = runner.invoke(cli, ["audit", "checkpoint"])
    assert made.exit_code == 0, made.output
    assert "checkpoint of 1 chains, 6 entries (verified against 0 earlier" in made.output
    newest = _delete_newest(index_url)
    broken = runner.invoke(cli, ["audit", "checkpoint"])
    assert broken.exit_code == 1
    assert f"truncation on chain 1 at entry {newest}" in broken.output
    assert len(signing.read_text().splitlines()) == 1
