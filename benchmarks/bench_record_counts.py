"""Benchmark: what the independent record count costs next to reading a file.

Every file source counts the record starts of a landed file without its reader (tags, CSV data
lines, JSON lines and Bundle entries, MSH and PID segments) for the ``records_counted_match``
gate, so the count runs on every batch. The target: counting costs at most half of
reading, per file. The files: the synthetic inbox (BENCH_COUNT_CHILDREN children, default 300),
its HL7 feed repeated BENCH_COUNT_REPEAT times (default 200), and the published SSDA903
tables. Times are this process's CPU time, best of three, since the machine is shared.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from connectors.registry import CONNECTORS
from gateway.synth import generate

TARGET_SHARE = 0.5
SAMPLES = Path(os.environ.get("EHE_SAMPLES", "/work/shared/samples"))


def _best(run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def main() -> int:
    out = Path(tempfile.mkdtemp())
    generate(children=int(os.environ.get("BENCH_COUNT_CHILDREN", "300")), seed=11, out=out)
    feed = out / "health" / "adt" / "adt_feed.hl7"
    big = out / "health" / "adt" / "adt_feed_x.hl7"
    big.write_bytes(feed.read_bytes() * int(os.environ.get("BENCH_COUNT_REPEAT", "200")))
    cases = [
        ("health__hl7v2_adt", big),
        ("health__fhir_patient", out / "health" / "fhir" / "Patient.ndjson"),
        ("education__ctf", next((out / "education" / "ctf").glob("*.xml"))),
        ("social_care__cin_census", next((out / "social_care" / "cin").glob("*.xml"))),
    ]
    for table in ("d2i_header.csv", "d2i_episodes.csv"):
        path = SAMPLES / "social-care" / "ssda903" / table
        if path.exists():
            cases.append(("social_care__ssda903", path))
    worst = 0.0
    for source, path in cases:
        connector = CONNECTORS[source]({"path": str(path)})
        read = _best(lambda c=connector, p=path: sum(1 for _ in c.read(p)))
        count = _best(lambda c=connector, p=path: c.count_records(p))
        share = count / read if read else 0.0
        worst = max(worst, share)
        print(
            f"{source:24} {path.name:32} {path.stat().st_size:>9} bytes: "
            f"read {read * 1000:8.1f} ms, count {count * 1000:7.1f} ms ({share:.1%} of reading)"
        )
    print(f"worst share {worst:.1%} (target at most {TARGET_SHARE:.0%})")
    return 0 if worst <= TARGET_SHARE else 1


if __name__ == "__main__":
    sys.exit(main())
