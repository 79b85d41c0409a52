"""Benchmark: the EHE caseload told truly, judged against the synthetic population's truth.

Generates a population (BENCH_CHILDREN, default 1500; seed BENCH_SEED, default 20261129, the
demo's), runs every demo source through the pipeline, links, builds the caseload as an EHE
officer sees it, and compares it with the truth files the generator wrote
(``ground_truth.csv``: which records are which child; ``contact_truth.csv``: each child's last
real contact). Prints, for children on the caseload:

- unseen at 3 and 6 months: recall and precision against the truth's last contact;
- known to social care (the truth: a social care record of the child exists): shown as known,
  or as "held record" when its only social care record is held;
- band "act now": holds every child with a current plan, removed from roll while open to
  social care, or unseen 6 months with no GP (as the caseload's own facts say).

Exit code 1 when a target is missed. Run: ``.venv/bin/python benchmarks/bench_caseload.py``.
"""

from __future__ import annotations

import csv
import os
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

from workspace import temporary_gateway

DAY = date(2026, 11, 29)  # the demo's day (tests' TEST_DAY): a few weeks after the data


def _months_before(day: date, months: int) -> date:
    from gateway.lookup.caseload import months_before

    return months_before(day, months)


def main() -> int:
    children = int(os.environ.get("BENCH_CHILDREN", "1500"))
    seed = int(os.environ.get("BENCH_SEED", "20261129"))
    with temporary_gateway(os.environ.get("BENCH_INDEX_URL")) as (root, url):
        from gateway.linkage.publish import train_on_index
        from gateway.pipeline import ingest, link_children
        from gateway.sources import source_names
        from gateway.store.migrate import upgrade
        from gateway.synth import generate

        started = time.perf_counter()
        result = generate(children, seed, root / "inbox")
        upgrade(url)
        for source in source_names():
            ingest(source, index_url=url)
        link_children(url)  # as `make demo`: rules first, then train, then link with the model
        train_on_index(url)
        link_children(url)
        built = time.perf_counter() - started
        return _judge(url, result.ground_truth, result.contact_truth, children, built)


def _truth(ground_truth: Path, contact_truth: Path) -> tuple[dict, dict, set[str]]:
    records: dict[tuple[str, str], str] = {}
    social: set[str] = set()
    with ground_truth.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            records[(row["source"], row["record_id"])] = row["child"]
            if row["source"].startswith("social_care__"):
                social.add(row["child"])
    with contact_truth.open(newline="", encoding="utf-8") as handle:
        last = {row["child"]: row for row in csv.DictReader(handle)}
    return records, last, social


def _judge(url: str, ground_truth: Path, contact_truth: Path, children: int, built: float) -> int:
    from sqlalchemy import select

    from gateway.lookup.caseload import ehe_caseload
    from gateway.store.engine import session_factory
    from gateway.store.tables import Link

    records, last, social = _truth(ground_truth, contact_truth)
    with session_factory(url)() as session:
        started = time.perf_counter()
        entries = ehe_caseload(session, today=DAY)
        took = time.perf_counter() - started
        truth_of: dict[str, set[str]] = defaultdict(set)
        for child_id, source, record_id in session.execute(
            select(Link.child_id, Link.source, Link.record_id).where(Link.state == "MATCH")
        ):
            if (source, record_id) in records:
                truth_of[child_id].add(records[(source, record_id)])
    print(f"caseload benchmark: {children} children, {len(entries)} on the caseload")
    print(f"pipeline and linkage {built:.1f} s; caseload built in {took:.2f} s")
    missed = 0
    open_rows = [e for e in entries if not e.restricted]
    children_of: dict[str, set[str]] = defaultdict(set)  # truth child -> gateway children
    for child_id, keys in truth_of.items():
        for key in keys:
            children_of[key].add(child_id)
    split = {
        e.child_id
        for e in open_rows
        if any(len(children_of[k]) > 1 for k in truth_of.get(e.child_id, set()))
    }
    print(f"children on the caseload whose records linkage split over two or more: {len(split)}")
    with session_factory(url)() as session:
        for months in (3, 6):
            window = [
                e
                for e in ehe_caseload(session, today=DAY, unseen_months=months)
                if not e.restricted
            ]
            missed += _unseen_figures(window, truth_of, last, split, months)
    known = [e for e in open_rows if truth_of.get(e.child_id, set()) & social]
    held = [e for e in known if any(n.agency == "social_care" for n in e.held_records)]
    shown = [e for e in known if e.social_care not in (None, "never") or e in held]
    missed += len(shown) < len(known)
    print(
        f"known to social care: {len(shown)} of {len(known)} shown as known or held "
        f"({len(shown) / max(len(known), 1):.1%}; {len(held)} with a social care record held)"
    )
    must = [
        e
        for e in open_rows
        if e.on_a_plan
        or (e.removed_while_known_to_social_care and e.social_care == "now")
        or (e.unseen_act_now_window and not e.gp_practice_ods)
    ]
    act_now = [e for e in must if e.band == "act now"]
    missed += len(act_now) < len(must)
    print(f"act now: holds {len(act_now)} of {len(must)} children who must be in it")
    bands = defaultdict(int)
    for e in entries:
        bands[e.band or "restricted"] += 1
    print("bands: " + ", ".join(f"{band} {count}" for band, count in sorted(bands.items())))
    return 1 if missed else 0


def _unseen_figures(
    rows: list, truth_of: dict[str, set[str]], last: dict, split: set[str], months: int
) -> int:
    """Print recall and precision of the caseload's "unseen for ``months``" (all rows, and rows
    whose child linkage kept whole); 1 when either misses the target."""
    missed = 0
    cutoff = _months_before(DAY, months)
    predicted, actual, possibly = set(), set(), set()
    for e in rows:
        keys = truth_of.get(e.child_id, set())
        lasts = [last[k]["last_contact_on"] for k in keys if k in last]
        seen = max((date.fromisoformat(d) for d in lasts if d), default=None)
        if seen is None or seen < cutoff:
            actual.add(e.child_id)
        if e.unseen:  # the caseload's own verdict for this window
            predicted.add(e.child_id)
        if e.possibly_seen:
            possibly.add(e.child_id)
    print(
        f"unseen {months} months in their own records but seen in a possible match waiting for "
        f"review: {len(possibly)} ({len(possibly & actual)} of them truly unseen)"
    )
    for label, leave_out in (("all", set()), ("linked whole", split)):
        truly, flagged = actual - leave_out, predicted - leave_out
        hit = len(flagged & truly)
        recall = hit / len(truly) if truly else 1.0
        precision = hit / len(flagged) if flagged else 1.0
        missed += recall < 1 or precision < 1
        print(
            f"unseen {months} months ({label}): {len(truly)} truly, {len(flagged)} flagged; "
            f"recall {recall:.1%} precision {precision:.1%}"
        )
    return missed


if __name__ == "__main__":
    sys.exit(main())
