"""The assurance report's counts equal those computed from the synthetic truth.

A small synthetic population (300 children, the suite's inbox) through every demo source, linked
as ``make demo`` links (rules, then a trained model); the report's counts with suppression off
(an internal option, never published) against figures computed independently from what the
generator says it wrote: ``ground_truth.csv`` (whose each record is, and which records carry a
defect, so are held and say nothing), ``register_truth.csv`` (each register row's child, list
and day), ``contact_truth.csv`` (each child's last real contact as the readable records show
it), and the population itself (each child's social care episodes and day off roll).

Where linkage splits a child over two index children, or joins two, the index counts that child
differently from the truth: such children are counted from the links and allowed for (one count
each); with none, the figures must be equal, which is what this population gives today.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date
from pathlib import Path

from sqlalchemy import select

from gateway.linkage.publish import train_on_index
from gateway.lookup.caseload import months_before
from gateway.pipeline import ingest, link_children
from gateway.reports.assurance import AssuranceReport, Period, build_assurance_report
from gateway.sources import source_names
from gateway.store.engine import session_factory
from gateway.store.tables import Link
from gateway.synth.contacts import left_roll_on
from gateway.synth.population import make_population

CHILDREN, SEED = 300, 11  # the suite's synthetic inbox (tests/conftest.py)
TODAY = date(2026, 11, 29)
OPEN_KINDS = {"care_now": None, "plan": {"cpp"}, "looked_after": {"lac"}}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


class Truth:
    """The figures as the generator's own files and population say they should be."""

    def __init__(self, inbox: Path) -> None:
        self.population = {c.key: c for c in make_population(CHILDREN, SEED)}
        self.readable: dict[str, set[str]] = defaultdict(set)
        self.record_of: dict[tuple[str, str], str] = {}
        for row in _rows(inbox / "ground_truth.csv"):
            self.record_of[(row["source"], row["record_id"])] = row["child"]
            if not row["defect"]:
                self.readable[row["source"].split("__")[0]].add(row["child"])
                self.readable[row["source"]].add(row["child"])
        self.registered_on: dict[str, date] = {}
        for row in _rows(inbox / "register_truth.csv"):
            if row["status"] == "EHE" and not row["defect"]:
                day = date.fromisoformat(row["registered_on"])
                self.registered_on[row["child"]] = min(
                    day, self.registered_on.get(row["child"], day)
                )
        self.last_contact = {
            row["child"]: date.fromisoformat(row["last_contact_on"])
            for row in _rows(inbox / "contact_truth.csv")
            if row["last_contact_on"]
        }

    def on_register(self, day: date) -> set[str]:
        return {c for c, since in self.registered_on.items() if since <= day}

    def _open(self, child: str, day: date, kinds: set[str] | None) -> bool:
        return child in self.readable["social_care"] and any(
            (kinds is None or kind in kinds) and start <= day and (end is None or end > day)
            for kind, start, end, _team in self.population[child].episodes
        )

    def figures(self, period: Period, latest: bool) -> dict[str, int]:
        on = self.on_register(period.end)
        found = {
            "registered": len(on),
            "new": sum(1 for d in self.registered_on.values() if period.start <= d <= period.end),
            "gp": len(on & self.readable["health"]),
            "care_ever": sum(
                1
                for c in on & self.readable["social_care"]
                if not self.population[c].episodes
                or any(start <= period.end for _k, start, _e, _t in self.population[c].episodes)
            ),
            "removed": sum(
                1
                for c in self.readable["education__ctf"]
                | self.readable["education__removal_from_roll"]
                if self.population[c].ehe
                and period.start <= left_roll_on(self.population[c]) <= period.end
            ),
        }
        for figure, kinds in OPEN_KINDS.items():
            found[figure] = sum(1 for c in on if self._open(c, period.end, kinds))
        if latest:  # the last contact of all is the last contact up to the latest period's end
            for months in (3, 6):
                cut = months_before(period.end, months)
                seen = sum(1 for c in on if c in self.last_contact and self.last_contact[c] >= cut)
                found[f"seen{months}_any"] = seen
            found["unseen"] = len(on) - found["seen6_any"]
        return found


def _linkage_faults(index_url: str, truth: Truth) -> set[str]:
    """Truth children the index holds as two or more children, or together with another."""
    children_of: dict[str, set[str]] = defaultdict(set)
    keys_of: dict[str, set[str]] = defaultdict(set)
    with session_factory(index_url)() as session:
        for child_id, source, record_id in session.execute(
            select(Link.child_id, Link.source, Link.record_id).where(Link.state == "MATCH")
        ):
            key = truth.record_of.get((source, record_id))
            if key:
                children_of[key].add(child_id)
                keys_of[child_id].add(key)
    split = {k for k, ids in children_of.items() if len(ids) > 1}
    joined = {k for keys in keys_of.values() if len(keys) > 1 for k in keys}
    return split | joined


def _build(index_url: str) -> None:
    for source in source_names():
        ingest(source, index_url=index_url)
    link_children(index_url)  # as `make demo`: rules first, then train, then link with the model
    train_on_index(index_url)
    link_children(index_url)


def test_the_reports_counts_equal_the_synthetic_truth(index_url: str, inbox: Path) -> None:
    _build(index_url)
    truth = Truth(inbox)
    with session_factory(index_url)() as session:
        report: AssuranceReport = build_assurance_report(
            session, date(2025, 12, 1), date(2026, 11, 30), today=TODAY, suppressed=False
        )
    cohort = truth.on_register(date(2026, 11, 30)) | {
        c for c, child in truth.population.items() if child.ehe and child.left_school
    }
    faults = _linkage_faults(index_url, truth) & cohort
    latest = report.months()[-1]
    compared = 0
    for period in report.periods:
        expected = truth.figures(period, latest=period.end == latest.end)
        for figure, want in expected.items():
            got = report.count(period, figure)
            assert got is not None
            assert abs(got - want) <= len(faults), (period.key, figure, got, want, len(faults))
            compared += 1
    assert compared > 100
    assert truth.on_register(latest.end), "the population has children on the register"
    assert report.count(latest, "registered") == len(truth.on_register(latest.end))
    # Linkage errors are allowed for above, but stay rare (linkage has its own benchmarks).
    assert len(faults) <= len(cohort) // 20, f"linkage split or joined {len(faults)} children"
