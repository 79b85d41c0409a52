"""Benchmark: linkage quality and speed on a synthetic population with known truth, and on
published record-linkage sets nobody here wrote.

Prints pairwise precision, recall and F1, children caught in false merges, twins merged and
children split for rules alone, for rules plus Splink with Splink's own generic comparisons
and blocking, and for rules plus our model (the production one), side by side on the same
records; our blocking's pairs completeness and comparisons per record; then the production run
through the index with records/s and peak memory. Then the same, ours beside Splink's generic
model in the same run, on each published set in ``../shared/samples/record-linkage``
(``PUBLIC_SETS``; BENCH_LINK_PUBLIC=0 skips them). Size with BENCH_LINK_CHILDREN (default
10000). The index is SQLite in a temporary folder. Targets (issue 16): synthetic F1 >= 0.995,
children in false merges <= 0.1%, no twins merged, pairs completeness >= 0.995 (of the true
pairs the model scores 0.9 or more: what blocking costs it); on the published sets, F1 at least
the generic model's.
"""

from __future__ import annotations

import csv
import os
import resource
import time
from pathlib import Path

from workspace import temporary_gateway

SAMPLES = Path(__file__).resolve().parents[1] / ".." / "shared" / "samples" / "record-linkage"
# Published labelled sets (Splink's demo data, MIT; see the samples' MANIFEST.md): the file,
# its label column, and our columns from its own.
PUBLIC_SETS = {
    "fake_1000": (
        "splink/fake_1000.csv",
        "cluster",
        {
            "record_id": "unique_id",
            "given_name": "first_name",
            "family_name": "surname",
            "birth_date": "dob",
            "address": "city",
        },
    ),
    "historical_50k": (
        "splink/historical_figures_with_errors_50k.parquet",
        "cluster",
        {
            "record_id": "unique_id",
            "given_name": "first_name",
            "family_name": "surname",
            "birth_date": "dob",
            "postcode": "postcode_fake",
            "sex": "gender",
        },
    ),
}


def main() -> None:
    children = int(os.environ.get("BENCH_LINK_CHILDREN", "10000"))
    with temporary_gateway() as (root, url):
        from gateway.linkage.probabilistic import generic_settings, train_model
        from gateway.linkage.publish import read_candidates
        from gateway.pipeline import ingest, link_children
        from gateway.sources import source_names
        from gateway.store.engine import session_factory
        from gateway.store.migrate import upgrade
        from gateway.synth import generate

        result = generate(children, 7, root / "inbox")
        upgrade(url)
        for source in source_names():
            ingest(source)
        truth, twins = _truth(result.ground_truth)
        with session_factory(url)() as session:
            candidates, people = read_candidates(session)
        print(f"linkage benchmark: {children} children, {len(people)} current source records")
        from gateway.linkage.evaluate import blocking_recall

        _quality("rules only", candidates, people, None, truth, twins)
        for label, settings, folder in (
            ("rules + Splink generic", generic_settings(), root / "generic"),
            ("rules + our model", None, None),
        ):
            started = time.perf_counter()
            model = train_model(people, folder, settings)
            print(f"{label}: training {time.perf_counter() - started:.1f} s")
            _quality(label, candidates, people, model, truth, twins)
        for line in blocking_recall(people, truth, candidates, model).lines():
            print(f"  {line}")
        started = time.perf_counter()
        summary = link_children()
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"production link_children: {summary.records} records in {seconds:.1f} s "
            f"({summary.records / seconds:,.0f} records/s), {summary.children} children, "
            f"{summary.new_reviews} possible matches for review; peak memory {peak_mb:.0f} MB"
        )
    if os.environ.get("BENCH_LINK_PUBLIC", "1") != "0":
        _public_sets()


def _public_sets() -> None:
    """Ours beside Splink's generic model on each published set, same columns, same run."""
    import tempfile

    from gateway.linkage.evaluate import evaluate_beside_generic

    for name, (file, label, columns) in PUBLIC_SETS.items():
        path = SAMPLES / file
        if not path.exists():
            print(f"{name}: {path} not found, skipped")
            continue
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            result = evaluate_beside_generic(path, label, Path(folder) / "out.csv", columns)
        seconds = time.perf_counter() - started
        verdict = "at least" if result.ours.f1 >= result.generic.f1 else "BELOW"
        print(
            f"{name} ({seconds:.0f} s): our F1 {result.ours.f1:.4f} {verdict} generic's "
            f"{result.generic.f1:.4f}"
        )
        for line in result.lines():
            print(f"  {line}")


def _quality(label, candidates, people, model, truth, twins) -> None:  # type: ignore[no-untyped-def]
    from gateway.linkage.evaluate import pairwise_quality
    from gateway.linkage.resolution import resolve

    started = time.perf_counter()
    resolution = resolve(candidates, people, model)
    seconds = time.perf_counter() - started
    assigned = {m.key: str(n) for n, c in enumerate(resolution.clusters) for m in c.members}
    quality = pairwise_quality(assigned, truth)
    clusters: dict[str, set[str]] = {}
    for key, cluster in assigned.items():
        clusters.setdefault(cluster, set()).add(truth[key])
    twins_merged = sum(1 for c in clusters.values() if len(c) > 1 and c & twins)
    share = quality.children_in_false_merges / quality.true_children
    print(
        f"  {label:24} precision {quality.precision:.4f} recall {quality.recall:.4f} "
        f"F1 {quality.f1:.4f}; children in false merges {quality.children_in_false_merges} "
        f"({share:.2%}); twins merged {twins_merged}; children split {quality.children_split}; "
        f"{seconds:.1f} s"
    )


def _truth(path: Path) -> tuple[dict[tuple[str, str], str], set[str]]:
    truth, twins = {}, set()
    with path.open() as handle:
        for row in csv.DictReader(handle):
            truth[(row["source"], row["record_id"])] = row["child"]
            if row["twin"] == "1":
                twins.add(row["child"])
    return truth, twins


if __name__ == "__main__":
    main()
