"""FHIR R4 UK Core Patient resources from bulk NDJSON files (or a JSON resource or Bundle).

Every resource is validated at the edge with ``fhir.resources.R4B`` (fhir.resources 8 has no R4
package; R4B is R4-compatible for Patient); what passes is yielded as plain FHIR JSON. The JSON
yielded is the resource as received, read once more with ``json.loads`` once the model has
accepted it: the same dict ``model_dump`` would give for what a mapping reads, at a twentieth of
the cost (tests/test_fhir_speed_path.py holds the two equal over every sample and synthetic file).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from connectors.base import Extracted, FileDropConnector, Stream

SCHEMA = {
    "type": "object",
    "required": ["resourceType", "id"],
    "properties": {
        "resourceType": {"const": "Patient"},
        "id": {"type": "string", "minLength": 1},
        "meta": {"type": "object"},
        "identifier": {"type": "array", "items": {"type": "object"}},
        "name": {"type": "array", "items": {"type": "object"}},
        "gender": {"enum": ["male", "female", "other", "unknown"]},
        "birthDate": {"type": "string", "pattern": "^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"},
        "address": {"type": "array", "items": {"type": "object"}},
        "generalPractitioner": {"type": "array", "items": {"type": "object"}},
    },
}
BLOCK = 64  # resources validated together before they are handed on


class FhirPatientConnector(FileDropConnector):
    source = "health__fhir_patient"
    agency = "health"
    schedule = "@hourly"
    inbox_folder = "health/fhir"
    stale_after_hours = 26.0
    description = (
        "FHIR R4 UK Core Patient resources (bulk NDJSON export, or JSON resources/Bundles)"
    )
    patterns = ("*.ndjson", "*.json")
    stream = Stream(
        "patients", primary_key=("id",), bookmark_field="meta.lastUpdated", schema=SCHEMA
    )

    def parse(self, path: Path) -> Iterator[Extracted]:
        if path.suffix == ".ndjson":
            yield from self._lines(path)
        else:
            yield from self._document(path)

    def _lines(self, path: Path) -> Iterator[Extracted]:
        with path.open("rb") as handle:
            numbered = ((n, line) for n, line in enumerate(handle, start=1) if line.strip())
            while block := list(islice(numbered, BLOCK)):
                yield from validate_patients([(f"{path.name} line {n}", raw) for n, raw in block])

    def _document(self, path: Path) -> Iterator[Extracted]:
        raw = path.read_bytes()
        try:
            document = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            yield Extracted(path.name, error=f"not JSON: {type(exc).__name__}", raw=_text(raw))
            return
        if isinstance(document, dict) and document.get("resourceType") == "Bundle":
            for index, entry in enumerate(document.get("entry") or [], start=1):
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict) and resource.get("resourceType") == "Patient":
                    yield validate_patient(json.dumps(resource), f"{path.name} entry {index}")
        else:
            yield validate_patient(raw, path.name)


def validate_patients(block: list[tuple[str, bytes]]) -> Iterator[Extracted]:
    """Validate a block of (position, resource) first, then yield each one's outcome.

    The same validation as one at a time; done a block at a time, so that it does not take
    turns with the caller's mapping of each record, which runs measurably faster (the CPU's
    caches stay with one job; see benchmarks/bench_fhir.py).
    """
    outcomes = [(position, raw, _refusal(raw)) for position, raw in block]
    for position, raw, refusal in outcomes:
        yield _accepted(raw, position) if refusal is None else _refused(raw, position, refusal)


def validate_patient(raw: bytes | str, position: str) -> Extracted:
    """One Patient resource validated against FHIR R4 (R4B models), or the reason it is not."""
    refusal = _refusal(raw)
    return _accepted(raw, position) if refusal is None else _refused(raw, position, refusal)


def _accepted(raw: bytes | str, position: str) -> Extracted:
    """The resource fhir.resources accepted, as the JSON received (not the model's dump)."""
    try:
        record: dict[str, Any] = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # what the model's parser took and json won't
        return _refused(raw, position, f"not JSON: {type(exc).__name__}")
    return Extracted(position, record=record)


def _refused(raw: bytes | str, position: str, reason: str) -> Extracted:
    return Extracted(position, error=reason, raw=_text(raw))


def _refusal(raw: bytes | str) -> str | None:
    """Why fhir.resources refuses this Patient resource; None if it accepts it."""
    try:
        patient = patient_model().model_validate_json(raw)
    except ValidationError as exc:
        return _fhir_error(exc)
    except ValueError as exc:  # wrong resourceType and similar
        return f"not a FHIR Patient: {type(exc).__name__}"
    return None if patient.id else "Patient without an id"


@functools.cache
def patient_model() -> Any:
    """fhir.resources' Patient model, imported on first use: listing the connectors (as the
    DAG files do when Airflow parses them) does not load the FHIR models."""
    from fhir.resources.R4B.patient import Patient

    return Patient


def _fhir_error(exc: ValidationError) -> str:
    """The paths and kinds of the first problems, never the offending values."""
    parts = [
        f"{'.'.join(str(p) for p in e['loc'])}: {e['type']}" if e["loc"] else e["type"]
        for e in exc.errors()[:3]
    ]
    return "invalid FHIR Patient (" + "; ".join(parts) + ")"


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
