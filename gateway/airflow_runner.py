"""Run the gateway's DAGs end to end on the embedded default (SQLite metadata, no servers).

The DAGs run in one Airflow process with ``dag.test()`` (what ``airflow dags test`` does),
started as a subprocess so that the core package never imports Airflow. Airflow's metadata
lives in its own SQLite file under the data folder, never in the index database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gateway import config
from gateway.errors import FatalConfigError

INGEST_ORDER = (
    "ingest__education__ctf",
    "ingest__education__ehe_register",
    "ingest__education__removal_from_roll",
    "ingest__health__fhir_patient",
    "ingest__health__hl7v2_adt",
    "ingest__social_care__case_db",
    "ingest__social_care__cin_census",
    "ingest__social_care__ssda903",
)
ALL_DAGS = (*INGEST_ORDER, "link__children")
RUNNER = config.PROJECT_ROOT / "dags" / "run_dags_in_process.py"
TIMEOUT_S = 1800


@dataclass(frozen=True)
class DagRunResult:
    dag_id: str
    state: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.state == "success"


def airflow_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("AIRFLOW_HOME", str(config.data_dir() / "airflow"))
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(config.PROJECT_ROOT / "dags"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.setdefault("EHE_INBOX", str(config.inbox_dir()))
    env.setdefault("EHE_DATA_DIR", str(config.data_dir()))
    env.setdefault("GX_ANALYTICS_ENABLED", "False")
    # A test run waits out retry delays; here a failure should fail fast and say why.
    env.setdefault("EHE_DAG_RETRIES", "0")
    return env


def _airflow() -> str:
    found = Path(sys.executable).with_name("airflow")
    if not found.exists():
        raise FatalConfigError("the airflow command is not installed in this environment")
    return str(found)


def migrate_metadata() -> None:
    """Create or upgrade Airflow's own metadata database (SQLite by default)."""
    env = airflow_environment()
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    subprocess.run([_airflow(), "db", "migrate"], env=env, check=True, capture_output=True)


def log_file() -> Path:
    return Path(airflow_environment()["AIRFLOW_HOME"]) / "dag-runs.log"


def run_dags(dag_ids: list[str]) -> Iterator[DagRunResult]:
    """Run the DAGs in order, yielding each result as soon as its run has finished."""
    env = airflow_environment()
    results = Path(env["AIRFLOW_HOME"]) / "dag-runs.jsonl"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text("")
    seen = 0
    with log_file().open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            [sys.executable, str(RUNNER), str(results), *dag_ids],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + TIMEOUT_S
        while seen < len(dag_ids):
            finished = process.poll() is not None
            lines = results.read_text(encoding="utf-8").splitlines()
            for line in lines[seen:]:
                item = json.loads(line)
                yield DagRunResult(item["dag_id"], item["state"], item["seconds"])
            seen = len(lines)
            if finished or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if process.poll() is None:
            process.kill()
        process.wait()
    for dag_id in dag_ids[seen:]:
        yield DagRunResult(dag_id, "did not run", 0.0)
