"""Run the gateway's DAGs end to end on the embedded default (SQLite metadata, no servers).

The DAGs run in Airflow processes with ``dag.test()`` (what ``airflow dags test`` does), started
as subprocesses so that the core package never imports Airflow. Ingest DAGs are independent of
each other: ``EHE_DAG_WORKERS`` processes (default: one per core, at most two) share them,
each taking the next unclaimed one, largest source first; a DAG after them (linkage) starts
once every ingest run has finished (see ``gateway/orchestration/run_in_process.py``).
Airflow's metadata lives in its own SQLite file under the data folder, never in the index
database. Each call keeps its own log folder (``dag-runs/<UTC time>/``, one file per process,
never overwritten); every task's part of it is also written where the Airflow UI's Logs tab
reads it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gateway import config
from gateway.errors import FatalConfigError
from gateway.settings import LIBRARY_ENVIRONMENT, process_environment, settings
from gateway.sources import demo_dag_ids

# Largest and slowest sources first (the registry's order), so parallel workers finish close
# together; then linkage.
ALL_DAGS = tuple(demo_dag_ids())
RUNNER = "gateway.orchestration.run_in_process"


@dataclass(frozen=True)
class DagRunResult:
    dag_id: str
    state: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.state == "success"


def airflow_environment() -> dict[str, str]:
    env = process_environment()
    env.setdefault("AIRFLOW_HOME", str(config.data_dir() / "airflow"))
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(config.PROJECT_ROOT / "dags"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    # Schedules are Europe/London (the DAGs' start dates); naive times are read as the same.
    env.setdefault("AIRFLOW__CORE__DEFAULT_TIMEZONE", "Europe/London")
    env.setdefault("EHE_INBOX", str(config.inbox_dir()))
    env.setdefault("EHE_DATA_DIR", str(config.data_dir()))
    for name, value in LIBRARY_ENVIRONMENT.items():
        env.setdefault(name, value)
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


def runs_log_dir() -> Path:
    """Where each ``run-dags`` call keeps its log folder."""
    return Path(airflow_environment()["AIRFLOW_HOME"]) / "dag-runs"


def new_log_dir() -> Path:
    """A log folder of its own for one ``run-dags`` call, named by its UTC start time."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(100):
        folder = runs_log_dir() / (stamp if attempt == 0 else f"{stamp}-{attempt}")
        try:
            folder.mkdir(parents=True)
        except FileExistsError:
            continue
        return folder
    raise FatalConfigError(f"cannot make a new log folder under {runs_log_dir()}")


def dag_workers() -> int:
    """How many Airflow processes run independent DAGs at once (``EHE_DAG_WORKERS``)."""
    return max(1, settings().dag_workers or min(2, os.cpu_count() or 1))


def run_dags(
    dag_ids: list[str], workers: int | None = None, log_dir: Path | None = None
) -> Iterator[DagRunResult]:
    """Run the DAGs in order, yielding each result as soon as its run has finished.

    Every process gets the whole list; consecutive ingest DAGs are shared among them, and any
    other DAG waits in the process that claims it until all before it have finished. Each
    process writes ``worker-<n>.log`` in ``log_dir`` (a new folder if not given).
    """
    env = airflow_environment()
    log_dir = log_dir or new_log_dir()
    results = log_dir / "dag-runs.jsonl"
    results.write_text("")
    count = min(workers or dag_workers(), len(dag_ids))
    command = [sys.executable, "-m", RUNNER, str(results)]
    if count > 1:
        claims = Path(tempfile.mkdtemp(prefix="claims-", dir=log_dir))
        command += ["--claims", str(claims)]
    with ExitStack() as stack:
        processes = []
        for n in range(1, count + 1):
            output = log_dir / f"worker-{n}.log"
            out = stack.enter_context(output.open("w", encoding="utf-8"))
            processes.append(
                subprocess.Popen(
                    [*command, "--output", str(output), *dag_ids],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + settings().run_dags_timeout_s
        yield from _follow(results, dag_ids, processes, deadline)


def _follow(
    results: Path, dag_ids: list[str], processes: list[subprocess.Popen[bytes]], deadline: float
) -> Iterator[DagRunResult]:
    """Yield results as their lines appear; stop the processes when all are done or late."""
    done: set[str] = set()
    try:
        while len(done) < len(dag_ids):
            finished = all(p.poll() is not None for p in processes)
            # Only whole lines: another process may be writing the next one.
            for line in results.read_text(encoding="utf-8").split("\n")[:-1]:
                item = json.loads(line)
                if item["dag_id"] not in done:
                    done.add(item["dag_id"])
                    yield DagRunResult(item["dag_id"], item["state"], item["seconds"])
            if finished or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
    for dag_id in dag_ids:
        if dag_id not in done:
            yield DagRunResult(dag_id, "did not run", 0.0)
