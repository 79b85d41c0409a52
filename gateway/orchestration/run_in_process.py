"""Run DAGs one after another in this process with ``dag.test()``, as ``airflow dags test`` does.

Usage: python -m gateway.orchestration.run_in_process RESULT_FILE [--claims FOLDER] DAG_ID ...

Each run's final state is appended to RESULT_FILE as a JSON line as soon as it is known, so the
caller (``ehe-gateway run-dags``, which ``make demo`` uses) can show progress. One process for
many DAGs pays Airflow's start-up once instead of once a DAG. With ``--claims``, several of
these processes share one list: each takes the next DAG nobody has claimed yet (a file created
in FOLDER with O_EXCL; see ``run_sharing``). Consecutive ingest DAGs are independent and
run side by side on the machine's cores; any other DAG (linkage) starts only once every DAG
before it has finished. The DAGs are those of Airflow's DAGs folder
(``AIRFLOW__CORE__DAGS_FOLDER``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from gateway.orchestration.run_sharing import (
    claim,
    must_finish_first,
    one_at_a_time,
    prepare_shared_metadata,
    wait_for,
)


def main(argv: list[str]) -> int:
    result_file, dag_ids = Path(argv[1]), argv[2:]
    claims: Path | None = None
    if dag_ids[:1] == ["--claims"]:
        claims, dag_ids = Path(dag_ids[1]), dag_ids[2:]
    from airflow import settings
    from airflow.dag_processing.dagbag import BundleDagBag

    folder = Path(settings.DAGS_FOLDER)
    bag = BundleDagBag(dag_folder=str(folder), bundle_path=folder)
    if claims is None:
        ensure_pools()
    else:
        with one_at_a_time(claims / ".startup.lock"):
            prepare_shared_metadata(ensure_pools)
    for position, dag_id in enumerate(dag_ids):
        if claims is not None and not claim(claims, dag_id):
            continue
        wait_for(result_file, must_finish_first(dag_ids, position))
        started = time.perf_counter()
        state = _run(bag, dag_id)
        seconds = round(time.perf_counter() - started, 1)
        line = json.dumps({"dag_id": dag_id, "state": state, "seconds": seconds}) + "\n"
        # One write of one short line in append mode: lines of processes sharing it never mix.
        with result_file.open("a", encoding="utf-8") as out:
            out.write(line)
    return 0


def ensure_pools() -> None:
    """One pool per source system (the registry's), so no source is hit by more than its
    pool's slots of tasks at once."""
    from airflow.models.pool import Pool

    from gateway.sources import airflow_pools

    for name, pool in airflow_pools().items():
        Pool.create_or_update_pool(
            name, pool["slots"], pool["description"], include_deferred=pool["include_deferred"]
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
