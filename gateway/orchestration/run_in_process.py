"""Run DAGs one after another in this process with ``dag.test()``, as ``airflow dags test`` does.

Usage: python -m gateway.orchestration.run_in_process RESULT_FILE [--claims FOLDER]
[--output FILE] DAG_ID ...

Each run's final state is appended to RESULT_FILE as a JSON line as soon as it is known, so the
caller (``ehe-gateway run-dags``, which ``make demo`` uses) can show progress. One process for
many DAGs pays Airflow's start-up once instead of once a DAG. With ``--claims``, several of
these processes share one list: each takes the next DAG nobody has claimed yet (a file created
in FOLDER with O_EXCL; see ``run_sharing``). Consecutive ingest DAGs are independent and
run side by side on the machine's cores; any other DAG (linkage) starts only once every DAG
before it has finished. The DAGs are those of Airflow's DAGs folder
(``AIRFLOW__CORE__DAGS_FOLDER``). With ``--output`` (the file this process's stdout is
written to), each task's lines are copied to the log file the Airflow UI reads for it
(``task_logs``). Before any run, the pools and the demo's source Connections are made.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from sqlalchemy import select

from gateway.orchestration.run_sharing import (
    claim,
    must_finish_first,
    one_at_a_time,
    prepare_shared_metadata,
    wait_for,
)
from gateway.orchestration.task_logs import output_position, write_task_logs


def main(argv: list[str]) -> int:
    result_file, dag_ids = Path(argv[1]), argv[2:]
    options: dict[str, Path] = {}
    while dag_ids[:1] in (["--claims"], ["--output"]):
        options[dag_ids[0]], dag_ids = Path(dag_ids[1]), dag_ids[2:]
    claims, output = options.get("--claims"), options.get("--output")
    from airflow import settings
    from airflow.dag_processing.dagbag import BundleDagBag

    folder = Path(settings.DAGS_FOLDER)
    bag = BundleDagBag(dag_folder=str(folder), bundle_path=folder)
    if claims is None:
        ensure_pools_and_connections()
    else:
        with one_at_a_time(claims / ".startup.lock"):
            prepare_shared_metadata(ensure_pools_and_connections)
    for position, dag_id in enumerate(dag_ids):
        if claims is not None and not claim(claims, dag_id):
            continue
        wait_for(result_file, must_finish_first(dag_ids, position))
        started = time.perf_counter()
        since = output_position()
        state, run_id = _run(bag, dag_id)
        if output is not None and run_id is not None:
            write_task_logs(output, since, dag_id, run_id)
        seconds = round(time.perf_counter() - started, 1)
        line = json.dumps({"dag_id": dag_id, "state": state, "seconds": seconds}) + "\n"
        # One write of one short line in append mode: lines of processes sharing it never mix.
        with result_file.open("a", encoding="utf-8") as out:
            out.write(line)
    return 0


def ensure_pools_and_connections() -> None:
    ensure_pools()
    ensure_connections()


def ensure_connections() -> None:
    """The Connections the demo's sources are read through: made if missing, brought up to date
    with the gateway's settings if the demo made them; one made by hand is left as it is."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    from gateway.orchestration.connections import MADE_BY_DEMO, demo_connections

    with create_session() as session:
        existing = {c.conn_id: c for c in session.scalars(select(Connection))}
        for conn_id, fields in demo_connections().items():
            old = existing.get(conn_id)
            if old is not None and not (old.description or "").endswith(MADE_BY_DEMO):
                continue
            if old is not None:
                session.delete(old)
                session.flush()
            extra = fields.pop("extra", None)
            conn = Connection(conn_id=conn_id, **fields)
            if extra is not None:
                conn.set_extra(json.dumps(extra))
            session.add(conn)


def ensure_pools() -> None:
    """One pool per source system (the registry's), so no source is hit by more than its
    pool's slots of tasks at once."""
    from airflow.models.pool import Pool

    from gateway.sources import airflow_pools

    for name, pool in airflow_pools().items():
        Pool.create_or_update_pool(
            name, pool["slots"], pool["description"], include_deferred=pool["include_deferred"]
        )


def _run(bag: object, dag_id: str) -> tuple[str, str | None]:
    """The run's final state and its run id (None when it never started)."""
    dags = getattr(bag, "dags", {})
    if dag_id not in dags:
        errors = getattr(bag, "import_errors", {})
        return f"not loaded ({len(errors)} import error(s))" if errors else "no such DAG", None
    dag = dags[dag_id]
    # dag.test() in Airflow 3.3 reads a successful run's deadlines as ids of stored alerts, which
    # its in-memory copy does not have (it fails the run with StatementError); the DAG stored
    # from the DAG files keeps them for the scheduler. The demo has no scheduler to fire them.
    dag.deadline = None
    try:
        run = dag.test()
    except Exception as exc:  # report and go on to the next DAG
        return f"error: {type(exc).__name__}", None
    state = getattr(run, "state", None)
    return str(getattr(state, "value", state)), getattr(run, "run_id", None)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
