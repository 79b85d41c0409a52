"""FHIR R4 UK Core Patient resources as published: bulk NDJSON, single JSON resources, Bundles.

A ``.ndjson`` file is one resource a line (SMART bulk data export); a ``.json`` file is one
resource (a PDS read response) or a Bundle of any type (searchset, collection, transaction,
batch and their responses, document, message), a Bundle inside a Bundle read the same way; a
``.json`` file holding one resource a line is read as NDJSON. Only Patients are records of this
stream: every other resource (an OperationOutcome, a RelatedPerson, an entry with no resource)
is counted by type as not read (``not_read``, and logged with the counts), never silently
dropped. A Patient entry without an ``id`` takes it from its entry's ``fullUrl``. Any text in a
Patient longer than MAX_FIELD characters holds the Patient with the path that is too long.
What is not read reaches the batch's accounting as "kept, not a child record", by type; the
resources are counted without this reader (``count_resources``) for the records-counted gate.

Every resource is validated at the edge with ``fhir.resources.R4B`` (fhir.resources 8 has no R4
package; R4B is R4-compatible for Patient); what passes is yielded as plain FHIR JSON. The JSON
yielded is the resource as received, read once more with ``json.loads`` once the model has
accepted it: the same dict ``model_dump`` would give for what a mapping reads, at a twentieth of
the cost (tests/test_fhir_speed_path.py holds the two equal over every sample and synthetic file).
"""

from __future__ import annotations

import functools
import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from connectors.base import Extracted, FileDropConnector, Stream

log = logging.getLogger(__name__)

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
# Characters in one text of a resource, as in CSV and XML fields; narrative XHTML and
# attachment data (never read) may be longer, up to MAX_CONTENT.
MAX_FIELD = 10_000
MAX_CONTENT = 1_000_000
CONTENT_KEYS = frozenset({"div", "data"})
BOM = b"\xef\xbb\xbf"  # a UTF-8 byte-order mark, as Windows tools write: read past it
KEPT = 4096  # characters of an oversized or unreadable resource kept with its reason


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

    def count_records(self, path: Path) -> int | None:
        return count_resources(path)

    def parse(self, path: Path) -> Iterator[Extracted]:
        self.not_read = Counter()
        if path.suffix == ".ndjson":
            with path.open("rb") as handle:
                yield from self._lines(path, handle)
        else:
            yield from self._document(path)
        if self.not_read:
            log.info(
                "%s: %d resources not read (not a Patient): %s",
                path.name,
                self.not_read.total(),
                ", ".join(f"{kind} {n}" for kind, n in sorted(self.not_read.items())),
            )

    def _lines(self, path: Path, lines: Iterable[bytes]) -> Iterator[Extracted]:
        numbered = (
            (n, line.removeprefix(BOM) if n == 1 else line)
            for n, line in enumerate(lines, start=1)
            if line.strip()
        )
        while block := list(islice(numbered, BLOCK)):
            items = validate_patients([(f"{path.name} line {n}", raw) for n, raw in block])
            yield from self._patients_only(items)

    def _document(self, path: Path) -> Iterator[Extracted]:
        raw = path.read_bytes().removeprefix(BOM)
        try:
            document = json.loads(raw)
        except json.JSONDecodeError as exc:
            if exc.msg == "Extra data":  # one resource a line, under a .json name
                yield from self._lines(path, raw.splitlines(keepends=True))
                return
            yield Extracted(path.name, error=f"not JSON: {exc.msg}", raw=_text(raw[:KEPT]))
            return
        except (UnicodeDecodeError, RecursionError) as exc:
            reason = f"not JSON: {type(exc).__name__}"
            yield Extracted(path.name, error=reason, raw=_text(raw[:KEPT]))
            return
        kind = document.get("resourceType") if isinstance(document, dict) else None
        if kind == "Bundle":
            yield from self._bundle(document, path.name)
        elif kind == "Patient":
            yield validate_patient(raw, path.name)
        elif isinstance(kind, str):
            self.not_read[kind] += 1
        else:
            yield Extracted(path.name, error="not a FHIR resource (no resourceType)")

    def _bundle(self, bundle: dict[str, Any], name: str) -> Iterator[Extracted]:
        """The Patients of a Bundle of any type (collection, searchset, transaction, batch,
        their responses, document, message); a Bundle inside is read the same way. A Patient
        entry without an ``id`` takes it from the entry's ``fullUrl``."""
        entries = bundle.get("entry") or []
        if not isinstance(entries, list):
            yield Extracted(name, error="Bundle.entry is not a list")
            return
        for index, entry in enumerate(entries, start=1):
            position = f"{name} entry {index}"
            resource = entry.get("resource") if isinstance(entry, dict) else None
            kind = resource.get("resourceType") if isinstance(resource, dict) else None
            if resource is None and isinstance(entry, dict):
                self.not_read["Bundle entry without a resource"] += 1
            elif not isinstance(resource, dict) or not isinstance(kind, str):
                yield Extracted(position, error="Bundle entry is not a FHIR resource")
            elif kind == "Bundle":
                yield from self._bundle(resource, position)
            elif kind != "Patient":
                self.not_read[kind] += 1
            else:
                resource = with_id_from_full_url(resource, entry.get("fullUrl"))
                yield validate_patient(json.dumps(resource), position)

    def _patients_only(self, items: Iterator[Extracted]) -> Iterator[Extracted]:
        """Items as they are, except a refused line that is another type of resource: counted
        as not read, the way a Bundle's other entries are."""
        for item in items:
            if item.record is None and item.raw:
                kind = other_resource_type(item.raw)
                if kind is not None:
                    self.not_read[kind] += 1
                    continue
            yield item


def count_resources(path: Path) -> int:
    """The resources a file holds, counted without the Patient reader or its models: the
    non-blank lines of NDJSON (a ``.json`` file of one resource a line too); a Bundle's entries
    (an entry holding a Bundle counts that Bundle's entries instead); one for a single resource
    or anything else that parses as JSON. 0 for a file that is not JSON at all (the reader
    refuses it as one item)."""
    raw = path.read_bytes()
    if path.suffix == ".ndjson":
        return sum(1 for line in raw.split(b"\n") if line.strip())
    raw = raw.removeprefix(BOM)
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            return sum(1 for line in raw.splitlines() if line.strip())
        return 0
    except (UnicodeDecodeError, RecursionError):
        return 0
    return _entries_counted(document)


def _entries_counted(resource: Any) -> int:
    if not isinstance(resource, dict) or resource.get("resourceType") != "Bundle":
        return 1
    entries = resource.get("entry") or []
    if not isinstance(entries, list):
        return 1
    return sum(
        _entries_counted(entry["resource"])
        if isinstance(entry, dict) and isinstance(entry.get("resource"), dict)
        else 1
        for entry in entries
    )


def with_id_from_full_url(resource: dict[str, Any], full_url: Any) -> dict[str, Any]:
    """The resource with an ``id`` taken from its entry's ``fullUrl`` if it has none:
    ``urn:uuid:<id>``, ``urn:oid:<id>`` or ``[base/]Patient/<id>[/_history/<v>]``."""
    if resource.get("id") or not isinstance(full_url, str) or not full_url:
        return resource
    for prefix in ("urn:uuid:", "urn:oid:"):
        if full_url.startswith(prefix):
            return {**resource, "id": full_url[len(prefix) :]}
    tail = full_url.rsplit("Patient/", 1)[1] if "Patient/" in full_url else ""
    found = tail.split("/", 1)[0]
    return {**resource, "id": found} if found else resource


def other_resource_type(raw: str) -> str | None:
    """The resourceType of a JSON resource that is not a Patient (None: a Patient, or not a
    resource at all). Read only for a resource the Patient model refused."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    kind = value.get("resourceType") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) and kind and kind != "Patient" else None


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
    """The resource fhir.resources accepted, as the JSON received (not the model's dump);
    held if any of its text is longer than the index keeps."""
    try:
        record: dict[str, Any] = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # what the model's parser took and json won't
        return _refused(raw, position, f"not JSON: {type(exc).__name__}")
    if len(raw) > MAX_FIELD:  # shorter, and no text in it can be longer than the limit
        too_long = overlong_path(record)
        if too_long is not None:
            limit = _limit(too_long.rpartition(".")[2])
            return _refused(
                raw[:KEPT], position, f"field {too_long} longer than {limit} characters"
            )
    return Extracted(position, record=record)


def overlong_path(value: Any, path: str = "") -> str | None:
    """The path (``name[0].family``) of the first text longer than its limit, else None.

    Every text is held to MAX_FIELD characters, as CSV and XML fields are, except the two
    kinds of content FHIR allows to be large and the index never reads: narrative XHTML
    (``div``) and attachment data (``data``), held to MAX_CONTENT.
    """
    if isinstance(value, dict):
        children: Iterable[tuple[str, Any, int]] = (
            (f"{path}.{key}" if path else key, item, _limit(key)) for key, item in value.items()
        )
    elif isinstance(value, list):
        children = ((f"{path}[{n}]", item, MAX_FIELD) for n, item in enumerate(value))
    else:
        return None
    for where, item, limit in children:
        if isinstance(item, str):
            if len(item) > limit:
                return where
        elif item and (found := overlong_path(item, where)) is not None:
            return found
    return None


def _limit(key: str) -> int:
    return MAX_CONTENT if key in CONTENT_KEYS else MAX_FIELD


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
