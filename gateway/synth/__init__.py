"""``ehe-gateway synth``: what each agency would send about a synthetic population."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from connectors.registry import CONNECTORS
from connectors.social_care.case_db import INBOX_DATABASE
from gateway.synth import writers
from gateway.synth.contacts import Event, census_events, history, last_contact
from gateway.synth.population import (
    Child,
    Noise,
    Recorded,
    make_population,
    record_as,
    with_duplicates,
)


@dataclass(frozen=True)
class SynthResult:
    children: int
    records: dict[str, int]
    ground_truth: Path
    contact_truth: Path
    register_truth: Path | None = None


def generate(children: int, seed: int, out: Path) -> SynthResult:
    """Write every source's files for a population of ``children`` under ``out``."""
    population = make_population(children, seed)
    rng = random.Random(seed + 1)
    # Each source the demo runs reads its folder of the inbox (the connector declares it).
    folders = {
        source: out / cls.inbox_folder
        for source, cls in CONNECTORS.items()
        if cls.in_demo and cls.inbox_folder
    }
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    by_source = _records(rng, population)
    histories = {child.key: history(child, seed) for child in population}
    writers.write_ctf(
        folders["education__ctf"] / "ctf_815_removed_from_roll.xml", by_source["education__ctf"]
    )
    writers.write_ehe_register(
        folders["education__ehe_register"] / "ehe_cme_register.csv",
        by_source["education__ehe_register"],
    )
    writers.write_fhir_ndjson(
        folders["health__fhir_patient"] / "Patient.ndjson", by_source["health__fhir_patient"]
    )
    messages = writers.write_adt(
        folders["health__hl7v2_adt"] / "adt_feed.hl7",
        by_source["health__hl7v2_adt"],
        histories,
    )
    writers.write_case_db(
        folders["social_care__case_db"] / INBOX_DATABASE,
        by_source["social_care__case_db"],
        histories,
    )
    writers.write_cin_census(
        folders["social_care__cin_census"] / "cin_census_2026.xml",
        by_source["social_care__cin_census"],
        histories,
    )
    writers.write_ssda903(
        folders["social_care__ssda903"] / "ssda903_return_2026.xml",
        by_source["social_care__ssda903"],
    )
    writers.write_removals_from_roll(
        folders["education__removal_from_roll"] / "removals_from_roll.csv",
        by_source["education__removal_from_roll"],
    )
    truth = out / "ground_truth.csv"
    with truth.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        # items: how many items the source's file holds for the record (an ADT patient's
        # messages, each a version of the record; one for every other source).
        writer.writerow(["source", "record_id", "child", "family", "twin", "defect", "items"])
        for source, records in by_source.items():
            for r in records:
                writer.writerow(
                    [
                        source,
                        r.record_id,
                        r.child.key,
                        r.child.family_key,
                        int(r.child.twin),
                        r.defect or "",
                        messages.get(r.record_id, 0) if source == "health__hl7v2_adt" else 1,
                    ]
                )
    contact_truth = _write_contact_truth(
        out / "contact_truth.csv", population, by_source, histories
    )
    register_truth = _write_register_truth(
        out / "register_truth.csv", by_source["education__ehe_register"]
    )
    return SynthResult(
        len(population),
        {s: len(r) for s, r in by_source.items()},
        truth,
        contact_truth,
        register_truth,
    )


def _write_register_truth(path: Path, records: list[Recorded]) -> Path:
    """Each row of the EHE and CME register export: whose it is, which list (EHE or CME), the
    day it gives, and its defect (a row with one is held, and says nothing)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["record_id", "child", "status", "registered_on", "defect"])
        for r in records:
            status = "EHE" if r.child.ehe else "CME"
            day = writers.registered_on(r.record_id).isoformat()
            writer.writerow([r.record_id, r.child.key, status, day, r.defect or ""])
    return path


# Where each agency's contacts are written (and so where the gateway can read them).
CONTACT_SOURCES = {
    "health": ("health__hl7v2_adt",),
    "social_care": ("social_care__case_db", "social_care__cin_census"),
    "education": ("education__ctf", "education__removal_from_roll"),
}


def readable_events(
    child: Child, events: list[Event], readable: dict[str, set[str]]
) -> list[Event]:
    """The child's events the gateway can read: those written in a record of the child that
    has no defect (``readable``: the children with such a record, by source; a record with a
    defect is held, and shows nothing)."""
    found: list[Event] = []
    for agency, sources in CONTACT_SOURCES.items():
        for source in sources:
            if child.key not in readable[source]:
                continue
            own = [e for e in events if e.agency == agency]
            found += census_events(own) if source == "social_care__cin_census" else own
    return sorted(set(found))


def _write_contact_truth(
    path: Path,
    population: list[Child],
    by_source: dict[str, list[Recorded]],
    histories: dict[str, list[Event]],
) -> Path:
    """Each child's last real contact (day, kind, agency) as the readable records show it,
    with how many contacts and how many events that were not contacts (missed appointments,
    visits with no one in, record updates) the child's records hold."""
    kept = {
        source: {r.child.key for r in by_source[source] if r.defect is None}
        for sources in CONTACT_SOURCES.values()
        for source in sources
    }
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "child",
                "last_contact_on",
                "last_contact_kind",
                "last_contact_agency",
                "contacts",
                "not_contacts",
            ]
        )
        for child in population:
            events = readable_events(child, histories[child.key], kept)
            last = last_contact(events)
            writer.writerow(
                [
                    child.key,
                    last.on.isoformat() if last else "",
                    last.kind if last else "",
                    last.agency if last else "",
                    sum(e.contact for e in events),
                    sum(not e.contact for e in events),
                ]
            )
    return path


def _keyed_by_upn(records: list[Recorded]) -> list[Recorded]:
    seen: set[str] = set()
    keyed = []
    for r in records:
        repeated = r.child.upn in seen
        seen.add(r.child.upn)
        keyed.append(
            replace(
                r,
                record_id=r.child.upn,
                upn=r.child.upn,
                defect="repeated_upn" if repeated else r.defect,
            )
        )
    return keyed


def _records(rng: random.Random, population: list[Child]) -> dict[str, list[Recorded]]:
    def recorded(
        prefix: str, chosen: list[Child], noise: Noise, defects: tuple[str, ...]
    ) -> list[Recorded]:
        records = [record_as(rng, c, f"{prefix}{c.key[1:]}", noise, defects) for c in chosen]
        return with_duplicates(rng, records, noise, "D")

    education = Noise(missing_nhs=0.7)
    health = Noise(missing_nhs=0.02, missing_upn=1.0, nickname=0.03)
    social = Noise(missing_nhs=0.3, missing_upn=0.2)
    census = Noise(missing_nhs=1.0, missing_upn=0.05, duplicate=0.0)
    result = {
        "education__ctf": recorded(
            "CTF",
            [c for c in population if c.left_school],
            education,
            ("missing_birth_date", "bad_sex_code"),
        ),
        "education__ehe_register": recorded(
            "EHE",
            [c for c in population if c.ehe or c.cme],
            education,
            ("impossible_date", "ragged_row"),
        ),
        "health__fhir_patient": recorded(
            "CHIS",
            [c for c in population if c.health_fhir],
            health,
            ("not_json", "future_birth_date"),
        ),
        "health__hl7v2_adt": recorded(
            "RCB", [c for c in population if c.health_adt], health, ("truncated_message",)
        ),
        "social_care__case_db": recorded(
            "P", [c for c in population if c.social_care], social, ("missing_birth_date",)
        ),
    }
    # A CTF is keyed by UPN: the pupil's record id in it is the UPN itself, so a duplicate
    # pupil repeats the key, and the gateway holds the repeat.
    result["education__ctf"] = _keyed_by_upn(result["education__ctf"])
    # The census comes out of the same case system: its LAchildID is the case person id.
    result["social_care__cin_census"] = [
        record_as(rng, c, f"P{c.key[1:]}", census, ("missing_birth_date",))
        for c in population
        if c.cin_census
    ]
    # The looked-after return comes out of the same case system, keyed the same way.
    result["social_care__ssda903"] = [
        record_as(rng, c, f"P{c.key[1:]}", census, ())
        for c in population
        if any(kind == "lac" for kind, *_ in c.episodes)
    ]
    # Schools notify the LA of each pupil they remove from roll (the CTF follows).
    result["education__removal_from_roll"] = [
        record_as(rng, c, f"ROR{c.key[1:]}", education, ()) for c in population if c.left_school
    ]
    return result


def patient_resources(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` valid UK Core Patient resources (FHIR JSON) for a synthetic population.

    NHS number with its verification status, names (with former surnames), address, GP
    practice ODS code and, for some, a restricted ``meta.security`` label: what a child health
    system's FHIR API or bulk export would send. For benchmarks and the test FHIR server.
    """
    rng = random.Random(seed + 2)
    noise = Noise(missing_nhs=0.02, missing_upn=1.0, nickname=0.03)
    population = make_population(count, seed)
    return [
        writers.fhir_patient(record_as(rng, child, f"CHIS{child.key[1:]}", noise, ()))
        for child in population[:count]
    ]
