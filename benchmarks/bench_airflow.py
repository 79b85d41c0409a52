"""Benchmark: mixed-source records from landing to a published index through the real DAGs.

Every ingest DAG and then the linkage DAG run in Airflow (``dag.test()`` in one process, SQLite
metadata, as ``make demo`` runs them). Prints the time per stage and source (the work inside
the tasks, timed by the task wrapper), peak memory, and Airflow's share of the wall time: the
part of the DAG runs not spent in the gateway's own work (Airflow start-up, task start-up,
scheduling gaps). Size with BENCH_AIRFLOW_CHILDREN (default 2000 children; the synthetic
population gives several source records a child). The full target, 1,000,000 records:
BENCH_AIRFLOW_CHILDREN=250000 (about four records a child; the line "records" says exactly).
BENCH_INDEX_URL names an empty PostgreSQL index instead of SQLite.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections import defaultdict
from pathlib import Path

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
        started = time.perf_counter()
        runs = list(run_dags(list(ALL_DAGS)))
        wall = time.perf_counter() - started
        for run in runs:
            print(f"  {run.dag_id:40} {run.state:>10} {run.seconds:>8.1f} s")
        work = _print_stages(Path(os.environ["EHE_STEP_TIMINGS"]))
        loaded = sum(a.loaded for a in accounting_rows(url))
        peak_mb = (
            max(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            )
            / 1024
        )
        print(f"records loaded {loaded} of {records}; wall time landing -> index {wall:.1f} s")
        print(f"records per second {records / wall:.0f}; peak memory {peak_mb:.0f} MB")
        share = max(wall - work, 0.0) / wall
        print(f"Airflow's share of wall time {share:.1%} ({wall - work:.1f} s of {wall:.1f} s)")
        if not all(r.ok for r in runs):
            raise SystemExit("a DAG run did not succeed; see the Airflow log under AIRFLOW_HOME")


def _print_stages(path: Path) -> float:
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for line in path.read_text().splitlines():
        item = json.loads(line)
        totals[item["step"], item["source"]] += item["seconds"]
    print(f"{'stage':14} {'source':28} {'seconds':>8}")
    for (step, source), seconds in sorted(totals.items()):
        print(f"{step:14} {source:28} {seconds:>8.2f}")
    by_stage: dict[str, float] = defaultdict(float)
    for (step, _source), seconds in totals.items():
        by_stage[step] += seconds
    print("per stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(by_stage.items())))
    return sum(totals.values())


if __name__ == "__main__":
    main()
