"""Run the gateway's DAGs in-process with ``airflow dags test`` (the embedded default).

This drives Airflow's own command line in a subprocess, so the core package never imports
Airflow. Airflow's metadata lives in its own SQLite file under the data folder, never in the
index database.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gateway import config
from gateway.errors import FatalConfigError

log = logging.getLogger(__name__)
INGEST_ORDER = (
    "ingest__education__ctf",
    "ingest__education__ehe_register",
    "ingest__health__fhir_patient",
    "ingest__health__hl7v2_adt",
    "ingest__social_care__case_db",
    "ingest__social_care__cin_census",
)
ALL_DAGS = (*INGEST_ORDER, "link__children")
_FINISHED = re.compile(r"DagRun Finished: dag_id=(\S+?),.*?state=(\w+)")


DAG_TEST_TIMEOUT_S = 900


@dataclass(frozen=True)
class DagTestResult:
    dag_id: str
    state: str
    log_file: Path
    returncode: int

    @property
    def ok(self) -> bool:
        return self.state == "success"


def airflow_environment() -> dict[str, str]:
    env = dict(os.environ)
    home = config.data_dir() / "airflow"
    env.setdefault("AIRFLOW_HOME", str(home))
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(config.PROJECT_ROOT / "dags"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    env.setdefault("EHE_INBOX", str(config.inbox_dir()))
    env.setdefault("EHE_DATA_DIR", str(config.data_dir()))
    env.setdefault("GX_ANALYTICS_ENABLED", "False")
    # `airflow dags test` waits out retry delays; a demo run should fail fast and say why.
    env.setdefault("EHE_DAG_RETRIES", "0")
    # The run's final state is read from Airflow's INFO line "DagRun Finished: ... state=".
    env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"
    return env


def _airflow() -> str:
    beside = Path(sys.executable).with_name("airflow")
    found = str(beside) if beside.exists() else shutil.which("airflow")
    if not found:
        raise FatalConfigError("the airflow command is not installed in this environment")
    return found


def migrate_metadata() -> None:
    env = airflow_environment()
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    subprocess.run([_airflow(), "db", "migrate"], env=env, check=True, capture_output=True)


def test_dag(dag_id: str) -> DagTestResult:
    """Run one DAG once, in-process, logging Airflow's output to a file."""
    env = airflow_environment()
    log_dir = Path(env["AIRFLOW_HOME"]) / "dag-test-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"{dag_id}.log"
    with log_file.open("w", encoding="utf-8") as out:
        try:
            completed = subprocess.run(
                [_airflow(), "dags", "test", dag_id],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                check=False,
                timeout=DAG_TEST_TIMEOUT_S,
            )
            returncode = completed.returncode
        except subprocess.TimeoutExpired:
            returncode = -1
    text = log_file.read_text(encoding="utf-8", errors="replace")
    states = [state for found_id, state in _FINISHED.findall(text) if found_id == dag_id]
    state = states[-1] if states else ("timed out" if returncode == -1 else "unknown")
    if returncode != 0 and state == "success":
        state = "failed"
    return DagTestResult(dag_id, state, log_file, returncode)
