"""Run DAGs one after another in this process with ``dag.test()``, as ``airflow dags test`` does.

Usage: python run_dags_in_process.py RESULT_FILE DAG_ID [DAG_ID ...]

Each run's final state is written to RESULT_FILE as a JSON line as soon as it is known, so the
caller (``ehe-gateway run-dags``, which ``make demo`` uses) can show progress. One process for
every DAG pays Airflow's start-up once instead of once a DAG. Not a DAG file: .airflowignore
keeps the dag-processor away from it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    result_file, dag_ids = Path(argv[1]), argv[2:]
    from airflow.dag_processing.dagbag import BundleDagBag

    folder = Path(__file__).resolve().parent
    bag = BundleDagBag(dag_folder=str(folder), bundle_path=folder)
    ensure_pools()
    with result_file.open("w", encoding="utf-8") as out:
        for dag_id in dag_ids:
            started = time.perf_counter()
            state = _run(bag, dag_id)
            seconds = round(time.perf_counter() - started, 1)
            out.write(json.dumps({"dag_id": dag_id, "state": state, "seconds": seconds}) + "\n")
            out.flush()
    return 0


def ensure_pools(slots: int = 2) -> None:
    """One pool per source system, so no source is hit by more than ``slots`` tasks at once."""
    from airflow.models.pool import Pool
    from ehe_dag_factory import SOURCES
    from ehe_tasks import pool_for

    for source in SOURCES:
        Pool.create_or_update_pool(
            pool_for(source), slots, f"work against {source}", include_deferred=False
        )


def _run(bag: object, dag_id: str) -> str:
    dags = getattr(bag, "dags", {})
    if dag_id not in dags:
        errors = getattr(bag, "import_errors", {})
        return f"not loaded ({len(errors)} import error(s))" if errors else "no such DAG"
    try:
        run = dags[dag_id].test()
    except Exception as exc:  # report and go on to the next DAG
        return f"error: {type(exc).__name__}"
    state = getattr(run, "state", None)
    return str(getattr(state, "value", state))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
