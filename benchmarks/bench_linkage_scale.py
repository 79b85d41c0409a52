"""Benchmark: linkage speed at scale, from scratch and incrementally, and how it grows.

For each size N (source records; BENCH_LINK_SCALE_RECORDS, comma-separated, default
"100000,200000"; the issue's target is 1,000,000), in a fresh process: a synthetic population of
about N current source records is ingested into a SQLite index (BENCH_LINK_SCALE_INDEX_URL for
another database, e.g. PostgreSQL), the model is trained (not timed as linking), then

- **from scratch**: ``link_children(full=True)`` links all N records;
- **incremental**: the most recent BENCH_LINK_SCALE_BATCH source record rows (default 10,000)
  are made new again (the high-water mark moved back below them, their blocking keys dropped),
  and ``link_children()`` links them against the index of N.

Prints a row per size: seconds, records/s and peak memory (ru_maxrss of the process, and the
tracemalloc-free figure so the timing is not slowed) for each, and the growth against the first
size. Full size: BENCH_LINK_SCALE_RECORDS=100000,200000,500000,1000000 make bench.

Generating and ingesting a million records takes longer than linking them: with
BENCH_LINK_SCALE_CACHE set to a folder, the ingested SQLite index of each size is kept there
(``<folder>/<size>/index.sqlite``) and later runs copy it instead of ingesting again.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

RECORDS_PER_CHILD = 2.36  # the synthetic population's current source records per child


def main() -> None:
    if len(sys.argv) == 2:
        print(json.dumps(measure(int(sys.argv[1]))))
        return
    sizes = [int(s) for s in os.environ.get("BENCH_LINK_SCALE_RECORDS", "100000,200000").split(",")]
    print(
        "linkage at scale (SQLite unless BENCH_LINK_SCALE_INDEX_URL): size = current source records"
    )
    print(
        f"{'size':>9} {'scratch s':>10} {'rec/s':>8} {'peak MB':>8} | "
        f"{'batch':>6} {'scope':>7} {'incr s':>7} {'rec/s':>7} {'peak MB':>8} | growth"
    )
    first: dict[str, float] | None = None
    for size in sizes:
        out = subprocess.run(
            [sys.executable, __file__, str(size)], check=True, capture_output=True, text=True
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        first = first or row
        growth = (
            f"x{row['records'] / first['records']:.1f} records: scratch "
            f"x{row['scratch_s'] / first['scratch_s']:.1f}, incremental "
            f"x{row['incremental_s'] / first['incremental_s']:.1f}"
        )
        rate = row["records"] / row["scratch_s"]
        print(
            f"{row['records']:>9,} {row['scratch_s']:>10.1f} {rate:>8,.0f}"
            f" {row['scratch_peak_mb']:>8.0f} | {row['batch']:>6,} {row['scope']:>7,}"
            f" {row['incremental_s']:>7.1f} {row['batch'] / row['incremental_s']:>7,.0f}"
            f" {row['peak_mb']:>8.0f} | {growth}",
            flush=True,
        )
        print(f"    (setup: ingest {row['ingest_s']:.0f} s, training {row['train_s']:.0f} s)")


def measure(size: int) -> dict[str, float]:
    sys.path.insert(0, os.path.dirname(__file__))
    from workspace import temporary_gateway

    batch = int(os.environ.get("BENCH_LINK_SCALE_BATCH", "10000"))
    with temporary_gateway(os.environ.get("BENCH_LINK_SCALE_INDEX_URL")) as (root, url):
        from gateway.linkage.publish import link_children, train_on_index
        from gateway.pipeline import ingest
        from gateway.sources import source_names
        from gateway.store.migrate import upgrade
        from gateway.synth import generate

        started = time.perf_counter()
        cache = os.environ.get("BENCH_LINK_SCALE_CACHE")
        cached = Path(cache) / str(size) / "index.sqlite" if cache else None
        if cached and cached.exists() and url.startswith("sqlite"):
            shutil.copyfile(cached, root / "index.sqlite")
            upgrade(url)
        else:
            generate(round(size / RECORDS_PER_CHILD), 7, root / "inbox")
            upgrade(url)
            for source in source_names():
                ingest(source)
            if cached and url.startswith("sqlite"):
                cached.parent.mkdir(parents=True, exist_ok=True)
                _copy_sqlite(root / "index.sqlite", cached)
        ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        train_on_index(url)
        train_s = time.perf_counter() - started

        started = time.perf_counter()
        scratch = link_children(url, full=True)
        scratch_s = time.perf_counter() - started
        scratch_peak = _peak_mb()

        _make_new_again(url, batch)
        started = time.perf_counter()
        incremental = link_children(url)
        incremental_s = time.perf_counter() - started
    return {
        "records": scratch.records,
        "ingest_s": ingest_s,
        "train_s": train_s,
        "scratch_s": scratch_s,
        "scratch_peak_mb": scratch_peak,
        "batch": batch,
        "scope": incremental.records,
        "incremental_s": incremental_s,
        "peak_mb": _peak_mb(),
    }


def _make_new_again(url: str, batch: int) -> None:
    """Move the high-water mark below the last ``batch`` current rows and drop their keys."""
    from sqlalchemy import delete, select

    from gateway.linkage.incremental import with_keys
    from gateway.store.engine import session_factory
    from gateway.store.tables import LinkKey, LinkMark, SourceRecord

    with session_factory(url).begin() as session:
        rows = session.execute(
            select(SourceRecord.id, SourceRecord.source, SourceRecord.record_id)
            .where(SourceRecord.is_current.is_(True))
            .order_by(SourceRecord.id.desc())
            .limit(batch)
        ).all()
        mark = session.get(LinkMark, 1)
        assert mark is not None
        mark.last_source_row = min(row[0] for row in rows) - 1
        keys = [(row[1], row[2]) for row in rows]
        for condition in with_keys(LinkKey.source, LinkKey.record_id, keys):
            session.execute(delete(LinkKey).where(condition))


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy, what is still in the write-ahead log included."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
