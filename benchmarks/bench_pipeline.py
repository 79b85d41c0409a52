"""Benchmark: the whole pipeline on a synthetic population, stage by stage.

Prints, for each stage and source, the records handled, seconds and records a second, with the
size of the data. Size with BENCH_CHILDREN (default 5000); the index is SQLite in a temporary
folder unless BENCH_INDEX_URL names another database (which must be empty).
"""

from __future__ import annotations

import os
import resource
import time

from workspace import temporary_gateway


def main() -> None:
    children = int(os.environ.get("BENCH_CHILDREN", "5000"))
    with temporary_gateway(os.environ.get("BENCH_INDEX_URL")) as (root, url):
        from gateway.pipeline import land_source, link_children, load_batch, stage_batch
        from gateway.sources import source_names
        from gateway.store.migrate import upgrade
        from gateway.synth import generate
        from gateway.validation.runner import validate_records

        validate_records([])  # nothing to check: leaves GX's import out of the stage timings
        started = time.perf_counter()
        result = generate(children, 1, root / "inbox")
        synth_s = time.perf_counter() - started
        upgrade(url)
        backend = url.split(":", 1)[0]
        print(
            f"pipeline benchmark: {children} children, {sum(result.records.values())} source "
            f"records, index on {backend}"
        )
        print(f"{'stage':8} {'source':28} {'records':>8} {'seconds':>8} {'records/s':>10}")
        print(
            f"{'synth':8} {'(all)':28} {sum(result.records.values()):>8} {synth_s:>8.2f} "
            f"{sum(result.records.values()) / synth_s:>10.0f}"
        )
        import great_expectations  # noqa: F401  warm the import so stage times are the work

        for source in source_names():
            _run_source(source, land_source, stage_batch, load_batch)
        started = time.perf_counter()
        summary = link_children()
        link_s = time.perf_counter() - started
        rate = summary.records / link_s
        print(f"{'link':8} {'(all)':28} {summary.records:>8} {link_s:>8.2f} {rate:>10.0f}")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"children in index: {summary.children}; peak memory {peak_mb:.0f} MB")


def _run_source(source: str, land_source, stage_batch, load_batch) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    batch_ids = land_source(source)
    land_s = time.perf_counter() - started
    staged = loaded = 0
    stage_s = load_s = 0.0
    for batch_id in batch_ids:
        started = time.perf_counter()
        staged += stage_batch(batch_id).received
        stage_s += time.perf_counter() - started
        started = time.perf_counter()
        loaded += load_batch(batch_id).loaded
        load_s += time.perf_counter() - started
    print(f"{'land':8} {source:28} {len(batch_ids):>8} {land_s:>8.2f} {'(batches)':>10}")
    print(
        f"{'stage':8} {source:28} {staged:>8} {stage_s:>8.2f} {staged / max(stage_s, 1e-9):>10.0f}"
    )
    print(f"{'load':8} {source:28} {loaded:>8} {load_s:>8.2f} {loaded / max(load_s, 1e-9):>10.0f}")


if __name__ == "__main__":
    main()
