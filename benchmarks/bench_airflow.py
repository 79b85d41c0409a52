"""Benchmark: mixed-source records from landing to a published index through the real DAGs.

Every ingest DAG and then the linkage DAG run in Airflow (``dag.test()``, SQLite metadata, as
``make demo`` runs them: ingest DAGs shared by ``EHE_DAG_WORKERS`` processes, default one per
core up to two). Prints the time per stage and source (the work inside the tasks, timed by the
task wrapper), peak memory (all the benchmark's processes together, sampled), and Airflow's
share of the wall time: the part of it in which no gateway work ran in any process (Airflow
start-up, task start-up, scheduling gaps). Size with BENCH_AIRFLOW_CHILDREN (default 2000
children; the synthetic population gives about 2.6 source records a child, the line "records"
says exactly). The full target, 1,000,000 records: BENCH_AIRFLOW_CHILDREN=390000.
BENCH_INDEX_URL names an empty PostgreSQL index instead of SQLite.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from workspace import temporary_gateway


def main() -> None:
    children = int(os.environ.get("BENCH_AIRFLOW_CHILDREN", "2000"))
    with temporary_gateway(os.environ.get("BENCH_INDEX_URL")) as (root, url):
        os.environ["AIRFLOW_HOME"] = str(root / "airflow")
        os.environ["EHE_STEP_TIMINGS"] = str(root / "steps.jsonl")
        os.environ["EHE_DAG_RETRIES"] = "0"
        from gateway.airflow_runner import ALL_DAGS, migrate_metadata, run_dags
        from gateway.pipeline import accounting_rows
        from gateway.store.migrate import upgrade
        from gateway.synth import generate

        result = generate(children, 1, root / "inbox")
        records = sum(result.records.values())
        upgrade(url)
        started = time.perf_counter()
        migrate_metadata()
        setup_s = time.perf_counter() - started
        print(f"airflow benchmark: {children} children, {records} source records (mixed sources)")
        print(f"index on {url.split(':', 1)[0]}; Airflow metadata set up in {setup_s:.1f} s")
        with peak_memory() as peak:
            started, began = time.perf_counter(), time.time()
            runs = list(run_dags(list(ALL_DAGS)))
            wall = time.perf_counter() - started
        for run in runs:
            print(f"  {run.dag_id:40} {run.state:>10} {run.seconds:>8.1f} s")
        steps = [json.loads(line) for line in Path(os.environ["EHE_STEP_TIMINGS"]).open()]
        _print_stages(steps)
        busy = _busy_seconds(steps, began, began + wall)
        accounting = accounting_rows(url)
        loaded = sum(a.loaded for a in accounting)
        held = sum(a.quarantined + a.rejected for a in accounting)
        received = sum(a.received for a in accounting)
        print(
            f"records received {received} of {records}: loaded {loaded}, held {held}"
            f"{'' if received == loaded + held else ' (DOES NOT ADD UP)'}"
        )
        print(f"wall time landing -> index {wall:.1f} s; records per second {records / wall:.0f}")
        print(f"peak memory {peak[0] / 2**20:.0f} MB (all processes together)")
        idle = max(wall - busy, 0.0)
        print(f"Airflow's share of wall time {idle / wall:.1%} ({idle:.1f} s of {wall:.1f} s)")
        if not all(r.ok for r in runs):
            raise SystemExit("a DAG run did not succeed; see the Airflow log under AIRFLOW_HOME")


@contextmanager
def peak_memory(every_s: float = 0.25) -> Iterator[list[int]]:
    """The largest resident memory of this process and all its descendants together, sampled."""
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        me = psutil.Process()
        while not stop.wait(every_s):
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.Error:  # ended between listing and reading
                    continue
            peak[0] = max(peak[0], total)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


def _busy_seconds(steps: list[dict[str, object]], begin: float, end: float) -> float:
    """How much of [begin, end] some gateway step was running in (the union of the steps)."""
    spans = sorted(
        (max(float(s["started"]), begin), min(float(s["started"]) + float(s["seconds"]), end))  # type: ignore[arg-type]
        for s in steps
    )
    busy, reach = 0.0, begin
    for start, stop in spans:
        if stop > reach:
            busy += stop - max(start, reach)
            reach = stop
    return busy


def _print_stages(steps: list[dict[str, object]]) -> None:
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for item in steps:
        totals[str(item["step"]), str(item["source"])] += float(item["seconds"])  # type: ignore[arg-type]
    print(f"{'stage':14} {'source':28} {'seconds':>8}")
    for (step, source), seconds in sorted(totals.items()):
        print(f"{step:14} {source:28} {seconds:>8.2f}")
    by_stage: dict[str, float] = defaultdict(float)
    for (step, _source), seconds in totals.items():
        by_stage[step] += seconds
    print("per stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(by_stage.items())))


if __name__ == "__main__":
    main()
