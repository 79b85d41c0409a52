"""Benchmark: loading the index on PostgreSQL against PostgreSQL's own COPY rate, same rows.

Builds BENCH_LOAD_ROWS canonical records (default 100000), then in one scratch database:
1. COPY: psycopg's ``cursor.copy`` writes the same rows (the columns the loader writes, the
   payload as JSON text) into a scratch table shaped and indexed like ``source_record``:
   once timed from the records in memory (making each row and its JSON included, as the loader
   must), once with the tuples built before the clock starts (the bare COPY rate).
2. the loader: ``gateway.store.loader.load_records`` on the same records into the empty index,
   one transaction (the real path: hashing, current-version lookup, COPY, flags).
3. the loader again on the same records: nothing changes, so nothing is written.
Prints rows, seconds, rows a second and the loader's share of the COPY rate (target >= 0.5).
The server is BENCH_PG_ADMIN (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import json
import os
import resource
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg

from gateway.identifiers import nhs_check_digit
from gateway.store.engine import dispose_engine, session_factory
from gateway.store.loader import _content_json, _row, copy_tuple, load_records
from gateway.store.migrate import upgrade
from gateway.store.pg_bulk import COLUMNS

ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
SOURCE = "social_care__case_db"


# Distinct valid test-range numbers, so identifier checks cannot be answered from a cache.
NHS_NUMBERS = [
    f"{n}{check}"
    for n in (f"999{i:06d}" for i in range(0, 20000))
    if (check := nhs_check_digit(n)) is not None
]


def records(n: int) -> list[dict[str, Any]]:
    """Canonical records the size of a real one (about 900 bytes of JSON each)."""
    return [
        {
            "provenance": {
                "source": SOURCE,
                "record_id": f"P{i:08d}",
                "batch_id": "bench",
                "received_at": "2026-11-01T09:00:00+00:00",
            },
            "agency": "social_care",
            "identity": {
                "given_name": "Rowan",
                "family_name": f"Ash{i % 997}",
                "previous_names": [],
                "birth_date": f"201{i % 10}-0{1 + i % 9}-1{i % 10}",
                "sex": "female",
                "addresses": [{"lines": ["1 Station Road", "Whitby"], "postcode": "YO21 1AA"}],
                "nhs_number": NHS_NUMBERS[i % len(NHS_NUMBERS)],
                "upn": None,
                "former_upns": [],
                "local_ids": {"la_social_care": f"P{i:08d}"},
                "restricted": False,
            },
            "education": None,
            "health": None,
            "social_care": {
                "referrals": [{"start_date": "2026-01-15", "end_date": None, "reason": None}],
                "child_in_need": [],
                "child_protection_plans": [],
                "looked_after": [],
                "lead_team": "Northallerton Safeguarding Hub",
            },
        }
        for i in range(n)
    ]


def _tuple(record: dict[str, Any]) -> tuple[Any, ...]:
    """The row the loader would write for a new record, without its hashing or lookups."""
    row = _row(record, source=SOURCE, agency="social_care", batch_id="b", version=1)
    row.update(is_current=True, content_hash="0" * 64, payload_json=_content_json(record))
    return copy_tuple(row)


def copy_seconds(url: str, rows: list[dict[str, Any]], table: str, prebuilt: bool) -> float:
    """COPY the rows into a fresh scratch table; ``prebuilt``: tuples made before the clock."""
    tuples = [_tuple(r) for r in rows] if prebuilt else None
    statement = f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN"
    with psycopg.connect(url) as conn:
        conn.execute(f"CREATE TABLE {table} (LIKE source_record INCLUDING ALL)")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy(statement) as copy:
            for row in tuples if tuples is not None else map(_tuple, rows):
                copy.write_row(row)
        conn.commit()
        return time.perf_counter() - started


def load_seconds(url: str, rows: list[dict[str, Any]]) -> tuple[float, int]:
    started = time.perf_counter()
    with session_factory(url).begin() as session:
        result = load_records(session, SOURCE, "social_care", "bench", rows)
    return time.perf_counter() - started, result.new_versions


def main() -> None:
    n = int(os.environ.get("BENCH_LOAD_ROWS", "100000"))
    name = f"ehe_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN.rsplit('/', 1)[0]}/{name}"
    try:
        upgrade(url)
        rows = records(n)
        size_mb = sum(len(json.dumps(r)) for r in rows[:1000]) / 1000 * n / 1e6
        print(
            f"loader benchmark: {n} canonical records, about {size_mb:.0f} MB of JSON, "
            f"PostgreSQL at {datetime.now(UTC):%H:%M} UTC"
        )
        copy_s = copy_seconds(url, rows, "copy_scratch", prebuilt=False)
        bare_s = copy_seconds(url, rows, "copy_scratch_prebuilt", prebuilt=True)
        load_s, written = load_seconds(url, rows)
        again_s, rewritten = load_seconds(url, rows)
        print(f"{'step':34} {'rows':>8} {'seconds':>8} {'rows/s':>9}")
        print(f"{'COPY from the records':34} {n:>8} {copy_s:>8.2f} {n / copy_s:>9.0f}")
        print(f"{'COPY of tuples built beforehand':34} {n:>8} {bare_s:>8.2f} {n / bare_s:>9.0f}")
        print(f"{'loader, first load':34} {written:>8} {load_s:>8.2f} {n / load_s:>9.0f}")
        print(f"{'loader, same rows again':34} {rewritten:>8} {again_s:>8.2f} {n / again_s:>9.0f}")
        print(
            f"loader / COPY rate: {copy_s / load_s:.2f} against COPY from the records, "
            f"{bare_s / load_s:.2f} against COPY of prebuilt tuples (target >= 0.5); "
            f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )
    finally:
        dispose_engine(url)
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
