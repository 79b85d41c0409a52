"""How several ``run_in_process`` processes share one list of DAGs (``--claims``).

Each takes the next DAG nobody has claimed (a file created with O_EXCL); consecutive ingest DAGs
are independent and run side by side, and any other DAG (linkage) waits until every DAG before
it has a result line. Airflow's metadata is prepared once, one process at a time, before any
run.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PARALLEL_PREFIX = "ingest__"  # DAGs that touch only their own source's batches
WAIT_S = 0.5


def must_finish_first(dag_ids: list[str], position: int) -> set[str]:
    """The DAGs before this one that are not in its run of ingest DAGs."""
    first = position
    if dag_ids[position].startswith(PARALLEL_PREFIX):
        while first > 0 and dag_ids[first - 1].startswith(PARALLEL_PREFIX):
            first -= 1
    return set(dag_ids[:first])


def wait_for(result_file: Path, dag_ids: set[str]) -> None:
    """Wait until every one of these DAGs has a result line (another process may run them)."""
    while dag_ids:
        lines = result_file.read_text(encoding="utf-8").split("\n")[:-1]  # whole lines only
        dag_ids = dag_ids - {json.loads(line)["dag_id"] for line in lines}
        if dag_ids:
            time.sleep(WAIT_S)


def claim(claims: Path, dag_id: str) -> bool:
    """Take a DAG of the shared list for this process; False if another process has it."""
    try:
        os.close(os.open(claims / dag_id, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


@contextmanager
def one_at_a_time(lock_file: Path) -> Iterator[None]:
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_shared_metadata(ensure_pools: Callable[[], None]) -> None:
    """Before processes run DAGs side by side: write the DAGs to the metadata database (as
    ``dag.test()`` does on its first call; two first calls at once would both insert them),
    the pools, and on SQLite the WAL journal, so one process's writes do not stop the other's
    reads."""
    from airflow import settings
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    engine = settings.engine
    if engine is not None and engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    for bundle in manager.get_all_dag_bundles():
        if not bundle.is_initialized:
            bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        sync_bag_to_db(bag, bundle.name, bundle.version)
    ensure_pools()
