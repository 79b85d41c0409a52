"""Batch gates on a real index (SQLite and PostgreSQL): a batch that fails a whole-batch check
is stopped with the reason, recorded for the report, and nothing of it reaches the index."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.errors import BatchGateError
from gateway.pipeline import ingest, land_source, load_batches, stage_batch
from gateway.store.engine import session_factory
from gateway.store.tables import Batch, HeldRecord, SourceRecord, ValidationRun

SOURCE = "education__ehe_register"


def _register(inbox: Path) -> tuple[list[str], list[dict[str, str]]]:
    path = next((inbox / "education" / "ehe_register").glob("*.csv"))
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _in_index(index_url: str, batch_id: str) -> tuple[int, int]:
    with session_factory(index_url)() as session:
        records = session.scalar(
            select(func.count()).select_from(SourceRecord).where(SourceRecord.batch_id == batch_id)
        )
        held = session.scalar(
            select(func.count()).select_from(HeldRecord).where(HeldRecord.batch_id == batch_id)
        )
    return int(records or 0), int(held or 0)


def _gate_entry(index_url: str, batch_id: str, rule: str) -> dict[str, object]:
    with session_factory(index_url)() as session:
        run = session.scalar(select(ValidationRun).where(ValidationRun.batch_id == batch_id))
        batch = session.get(Batch, batch_id)
    assert run is not None and batch is not None
    assert batch.status == "gated"
    (entry,) = [e for e in run.summary if e["rule"] == rule]
    return dict(entry)


def test_required_column_entirely_empty_stops_the_batch(
    index_url: str, inbox: Path, tmp_path: Path
) -> None:
    header, rows = _register(inbox)
    for row in rows:
        row["Gender"] = ""
    path = _write(tmp_path / "register_without_sex.csv", header, rows)
    (batch_id,) = land_source(SOURCE, path=str(path), index_url=index_url)
    stage_batch(batch_id, index_url=index_url)
    loaded, stopped = load_batches([batch_id], index_url=index_url)
    assert loaded == []
    (reason,) = stopped
    assert "sex_column_filled failed" in reason and batch_id in reason
    assert "Chloe" not in reason  # counts and ids only, never a value
    assert _in_index(index_url, batch_id) == (0, 0)
    entry = _gate_entry(index_url, batch_id, "sex_column_filled")
    assert entry["failed"] == entry["checked"] > len(rows) - 5  # every record that was mapped


@pytest.fixture
def register_is_a_full_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the CIN census is declared a full snapshot (the register is sent as changes); here
    the register's connector is declared one, as a deployment whose LA sends it whole would."""
    from connectors.registry import connector_class

    monkeypatch.setattr(connector_class(SOURCE), "full_snapshot", True)


@pytest.mark.usefixtures("register_is_a_full_snapshot")
def test_row_count_far_from_last_run_stops_the_batch(
    index_url: str, inbox: Path, tmp_path: Path
) -> None:
    header, rows = _register(inbox)
    (first,) = ingest(SOURCE, path=str(_write(tmp_path / "full.csv", header, rows)))
    assert first.received == len(rows) >= 50
    few = _write(tmp_path / "few.csv", header, rows[:10])
    with pytest.raises(BatchGateError, match="row_count_near_last_run failed"):
        ingest(SOURCE, path=str(few), index_url=index_url)
    with session_factory(index_url)() as session:
        gated = session.scalar(select(Batch).where(Batch.file_name == "few.csv"))
    assert gated is not None
    assert _in_index(index_url, gated.batch_id) == (0, 0)
    entry = _gate_entry(index_url, gated.batch_id, "row_count_near_last_run")
    assert (entry["checked"], entry["last_run"]) == (10, len(rows))


@pytest.mark.usefixtures("register_is_a_full_snapshot")
def test_similar_row_count_passes_and_is_recorded(
    index_url: str, inbox: Path, tmp_path: Path
) -> None:
    header, rows = _register(inbox)
    ingest(SOURCE, path=str(_write(tmp_path / "full.csv", header, rows)), index_url=index_url)
    (second,) = ingest(
        SOURCE, path=str(_write(tmp_path / "most.csv", header, rows[:-5])), index_url=index_url
    )
    with session_factory(index_url)() as session:
        run = session.scalar(select(ValidationRun).where(ValidationRun.batch_id == second.batch))
    assert run is not None
    (entry,) = [e for e in run.summary if e["rule"] == "row_count_near_last_run"]
    assert entry["failed"] == 0 and entry["last_run"] == len(rows)


@pytest.mark.airflow
@pytest.mark.slow
def test_gated_batch_fails_the_dag_run_with_the_reason(inbox: Path, tmp_path: Path) -> None:
    """Run by Airflow (dag.test()): the load task fails at once (no retry) and says why."""
    header, rows = _register(inbox)
    for row in rows:
        row["Gender"] = ""
    drop = tmp_path / "drop"
    drop.mkdir()
    _write(drop / "register.csv", header, rows)
    index = f"sqlite:///{tmp_path / 'index.sqlite'}"
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "EHE_DATA_DIR": str(tmp_path / "data"),
            "EHE_INDEX_URL": index,
            "EHE_SOURCE_EDUCATION__EHE_REGISTER_PATH": str(drop),
            "EHE_DAG_RETRIES": "3",  # a gate must not be retried
        }
    )
    cli = str(Path(sys.executable).with_name("ehe-gateway"))
    subprocess.run([cli, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    run = subprocess.run(
        [cli, "run-dags", "--dag", f"ingest__{SOURCE}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode != 0
    assert f"ingest__{SOURCE}" in run.stdout and "failed" in run.stdout, run.stdout
    log = (tmp_path / "airflow" / "dag-runs.log").read_text(encoding="utf-8")
    assert "sex_column_filled failed" in log
    assert "new_state=failed" in log and "up_for_retry" not in log
    assert _count(index, SourceRecord) == 0 and _count(index, HeldRecord) == 0


def _count(index_url: str, table: type) -> int:
    with session_factory(index_url)() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)
