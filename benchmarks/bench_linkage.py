"""Benchmark: linkage quality and speed on a synthetic population with known truth.

Prints pairwise precision, recall and F1, children caught in false merges, twins merged, and
the time of each step, for rules alone and for rules plus the trained Splink model. Size with
BENCH_LINK_CHILDREN (default 10000). The index is SQLite in a temporary folder.
"""

from __future__ import annotations

import csv
import os
import resource
import time
from collections import Counter, defaultdict
from pathlib import Path

from workspace import temporary_gateway


def main() -> None:
    children = int(os.environ.get("BENCH_LINK_CHILDREN", "10000"))
    with temporary_gateway() as (root, url):
        from gateway.linkage.publish import train_on_index
        from gateway.pipeline import ingest, link_children
        from gateway.sources import source_names
        from gateway.store.migrate import upgrade
        from gateway.synth import generate

        result = generate(children, 7, root / "inbox")
        upgrade(url)
        for source in source_names():
            ingest(source)
        truth, twins = _truth(result.ground_truth)
        print(f"linkage benchmark: {children} children, {len(truth)} source records")
        started = time.perf_counter()
        link_children()
        _report("rules only", time.perf_counter() - started, url, truth, twins)
        started = time.perf_counter()
        train_on_index()
        print(f"  training: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        summary = link_children()
        _report("rules + Splink", time.perf_counter() - started, url, truth, twins)
        print(f"  possible matches queued for review: {summary.new_reviews}")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory {peak_mb:.0f} MB")


def _truth(path: Path) -> tuple[dict[tuple[str, str], str], set[str]]:
    truth, twins = {}, set()
    with path.open() as handle:
        for row in csv.DictReader(handle):
            truth[(row["source"], row["record_id"])] = row["child"]
            if row["twin"] == "1":
                twins.add(row["child"])
    return truth, twins


def _report(
    label: str, seconds: float, url: str, truth: dict[tuple[str, str], str], twins: set[str]
) -> None:
    from sqlalchemy import create_engine, text

    with create_engine(url).connect() as conn:
        links = conn.execute(text("SELECT source, record_id, child_id FROM link")).all()
    clusters: dict[str, list[str]] = defaultdict(list)
    for source, record_id, child_id in links:
        clusters[child_id].append(truth[(source, record_id)])
    true_sizes = Counter(truth[(s, r)] for s, r, _ in links)
    predicted_pairs = sum(len(c) * (len(c) - 1) // 2 for c in clusters.values())
    correct_pairs = sum(n * (n - 1) // 2 for c in clusters.values() for n in Counter(c).values())
    true_pairs = sum(n * (n - 1) // 2 for n in true_sizes.values())
    precision = correct_pairs / predicted_pairs if predicted_pairs else 1.0
    recall = correct_pairs / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    merged = {child for c in clusters.values() if len(set(c)) > 1 for child in set(c)}
    split = sum(1 for child in true_sizes if sum(1 for c in clusters.values() if child in c) > 1)
    print(
        f"{label}: {len(clusters)} children for {len(true_sizes)} true; precision {precision:.4f}, "
        f"recall {recall:.4f}, F1 {f1:.4f}; children in false merges {len(merged)} "
        f"({len(merged) / len(true_sizes):.2%}); twins merged {len(merged & twins)}; "
        f"children split {split}; {seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
