"""Recovery: failures are classified retriable or fatal, reasons carry no record contents, and
stale sources are found; in Airflow, fatal failures fail at once, retriable ones are retried,
and the failure callback alerts with source, batch and reason."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from gateway.errors import (
    BadRecordError,
    BatchGateError,
    FatalConfigError,
    RequestRefusedError,
    RetriableSourceError,
)
from gateway.monitoring.freshness import check_freshness, freshness
from gateway.recovery import StaleSourceError, classify
from gateway.sources import source_names
from gateway.store.engine import session_factory
from gateway.store.tables import Batch

DAGS = Path(__file__).resolve().parents[1] / "dags"
CANARY = "Zebedee Quillfeather 9434765919"


@pytest.mark.parametrize(
    ("error", "retriable"),
    [
        (RetriableSourceError("source x: database unavailable"), True),
        (FatalConfigError("source x: missing config url"), False),
        (BadRecordError("no birth date", position="line 3"), False),
        (BatchGateError("batch b: 9 of 10 failed"), False),
        (StaleSourceError("source x is stale"), False),
        (TimeoutError(), True),
    ],
)
def test_classify_gateway_errors(error: Exception, retriable: bool) -> None:
    failure = classify(error)
    assert failure.retriable is retriable
    assert type(error).__name__ in failure.reason
    assert "source s batch b1:" in failure.describe("s", "b1")


def test_driver_errors_are_retriable_and_never_quote_their_message() -> None:
    """A driver error quotes SQL parameters (record contents): only its type may be said."""
    engine = create_engine("sqlite://")
    with pytest.raises(OperationalError) as caught, engine.connect() as conn:
        conn.execute(text("SELECT * FROM missing_table WHERE name = :n"), {"n": CANARY})
    assert CANARY in str(caught.value)
    failure = classify(caught.value)
    assert failure.retriable
    assert CANARY not in failure.reason and "OperationalError" in failure.reason
    unknown = classify(ValueError(CANARY))
    assert not unknown.retriable and unknown.reason == "ValueError"


def test_what_retrying_cannot_mend_is_fatal() -> None:
    """A constraint the index enforces fails the same way every time; so does a refusal."""
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": 1})
    integrity = classify(caught.value)
    assert not integrity.retriable and "IntegrityError" in integrity.reason
    refused = classify(RequestRefusedError("no agreement covers this"))
    assert not refused.retriable


def _batch(source: str, batch_id: str, status: str, at: datetime) -> Batch:
    return Batch(
        batch_id=batch_id,
        source=source,
        file_name="f",
        sha256="0" * 64,
        size_bytes=1,
        status=status,
        received_at=at,
        updated_at=at,
    )


def test_freshness_finds_stale_sources(index_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    with session_factory(index_url).begin() as session:
        session.add(_batch("health__hl7v2_adt", "a-old", "loaded", now - timedelta(hours=7)))
        session.add(_batch("education__ctf", "c-new", "loaded", now - timedelta(hours=1)))
        # a batch that never loaded is not a good batch
        session.add(_batch("health__hl7v2_adt", "a-new", "gated", now - timedelta(minutes=5)))
    with session_factory(index_url)() as session:
        found = {f.source: f for f in freshness(session, now)}
    assert found["education__ctf"].age_seconds == 3600 and not found["education__ctf"].stale
    assert found["health__hl7v2_adt"].stale  # 7 h > 6 h
    assert (
        found["social_care__case_db"].stale and found["social_care__case_db"].last_good_at is None
    )
    assert check_freshness("education__ctf", index_url=index_url, now=now).age_seconds == 3600
    with pytest.raises(StaleSourceError, match=r"health__hl7v2_adt is stale.*7\.0 h ago"):
        check_freshness("health__hl7v2_adt", index_url=index_url, now=now)
    monkeypatch.setenv("EHE_STALE_AFTER_HOURS_HEALTH__HL7V2_ADT", "8")
    assert not check_freshness("health__hl7v2_adt", index_url=index_url, now=now).stale


@pytest.mark.airflow
@pytest.mark.slow
def test_airflow_retries_retriable_fails_fatal_at_once_and_alerts(
    tmp_path: Path, inbox: Path
) -> None:
    """Real DAG runs: a fatal config error fails at once, a source that cannot be reached is
    retried then fails, the freshness DAG alerts on stale sources; each alert names the
    source and why, and the per-source pools exist."""
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "EHE_DATA_DIR": str(tmp_path / "data"),
            "EHE_INBOX": str(inbox),
            "EHE_DAG_RETRIES": "1",
            "EHE_DAG_RETRY_DELAY_S": "1",
            # the Airflow Connection wins over the gateway's own settings, and points nowhere
            "AIRFLOW_CONN_EHE_EDUCATION__CTF": json.dumps(
                {"conn_type": "fs", "extra": {"path": str(tmp_path / "no-such-folder")}}
            ),
            "EHE_SOURCE_SOCIAL_CARE__CASE_DB_URL": f"sqlite:///{tmp_path}/missing/dir/case.db",
        }
    )
    env.pop("EHE_INDEX_URL", None)
    cli = str(Path(sys.executable).with_name("ehe-gateway"))
    subprocess.run([cli, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    dags = ["ingest__education__ctf", "ingest__social_care__case_db", "monitor__freshness"]
    args = [a for d in dags for a in ("--dag", d)]
    run = subprocess.run(
        [cli, "run-dags", *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    workers = sorted((tmp_path / "airflow" / "dag-runs").glob("*/worker-*.log"))
    log = "\n".join(p.read_text() for p in workers)
    assert run.returncode == 1, run.stdout + log[-3000:]
    states = dict(line.split()[:2] for line in run.stdout.splitlines() if "__" in line.split()[0])
    assert states == dict.fromkeys(dags, "failed"), run.stdout + log[-3000:]

    metadata = sqlite3.connect(tmp_path / "airflow" / "airflow.db")
    tries = dict(
        metadata.execute(
            "SELECT dag_id, max(try_number) FROM task_instance WHERE task_id = 'land' "
            "GROUP BY dag_id"
        ).fetchall()
    )
    assert tries == {"ingest__education__ctf": 1, "ingest__social_care__case_db": 2}
    pools = {row[0] for row in metadata.execute("SELECT pool FROM slot_pool")}
    assert {f"ehe_source__{s}" for s in ("education__ctf", "social_care__case_db")} <= pools
    used = dict(metadata.execute("SELECT dag_id, pool FROM task_instance WHERE task_id='land'"))
    assert used["ingest__education__ctf"] == "ehe_source__education__ctf"

    alerts = [json.loads(x) for x in (tmp_path / "data" / "alerts.jsonl").read_text().splitlines()]
    by_source = {(a["kind"], a["source"]): a for a in alerts}
    ctf = by_source["task_failed", "education__ctf"]
    assert ctf["task_id"] == "land" and "fatal: UnreadablePathError" in ctf["reason"]
    case_db = by_source["task_failed", "social_care__case_db"]
    assert "retriable: RetriableSourceError" in case_db["reason"]
    stale = {a["source"] for a in alerts if a["kind"] == "stale_source"}
    # The index is empty: every source the freshness DAG checks (the registry's sources the
    # demo runs, which the DAG and the freshness check both iterate) is stale.
    assert stale == set(source_names())
    assert all(a["dag_id"] == "monitor__freshness" for a in alerts if a["kind"] == "stale_source")
